"""Checks the clients a mesh proxy's policy denies for presenting no mesh identity, the fail-open
injectors behind them, and the unmeshed-clients rule.

Evidence side (``kubetriage.evidence.refused_clients`` and ``kubetriage.evidence.pod_injectors``
through the real builder): Linkerd's "Request denied ... client.tls=None(...) client.ip=<ip>"
on the callee's proxy maps the address to the client's pod and Deployment with the pod's
containers; a denial of a client that did present TLS names no client. A mutating webhook
that fails open, injects pods on CREATE and selects that pod while its Service has no ready
endpoint is reported as a webhook not observed; one whose objectSelector leaves the pod out
is not. Analyzer side (``kubetriage.analyzers.mesh_injection``): a denied client whose pod runs
no mesh proxy is restarted onto the mesh; with its fail-open injector OOM-killed, the
injector's memory leads; the near misses: a denied client that runs the proxy, an injector
that fails closed (the webhook rules speak for it).

Real: raw Pod, ReplicaSet, Deployment, Service, Endpoints and MutatingWebhookConfiguration
manifests as the API returns them, the pure builder, Evidence models from
``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.mesh_injection import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads

CALLEE = ObjectRef(kind="Deployment", namespace="ledger", name="ledger-api")
CLIENT = ObjectRef(kind="Deployment", namespace="mail", name="mailer")
INJECTOR = ObjectRef(kind="Deployment", namespace="mesh", name="injector")
ADDRESS = "10.42.6.57"
POD = "mailer-7d9-abcde"


def _denied(tls: str = "None(NoClientHello)") -> str:
    return (
        "[1382442.118021s]  INFO ThreadId(01) inbound:server{port=8080}:http: "
        "linkerd_app_inbound::policy::http: Request denied server.group= server.kind=default "
        "server.name=all-authenticated route.group= route.kind=default route.name=default "
        f"client.tls={tls} client.ip={ADDRESS}"
    )


def _owned(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}]


def _client_objects() -> list[dict[str, Any]]:
    template = {
        "metadata": {"labels": {"app": CLIENT.name}},
        "spec": {"containers": [{"name": "app", "image": "mailer:3"}]},
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": CLIENT.name, "namespace": CLIENT.namespace},
            "spec": {"selector": {"matchLabels": {"app": CLIENT.name}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{CLIENT.name}-7d9",
                "namespace": CLIENT.namespace,
                "labels": {"app": CLIENT.name},
                "ownerReferences": _owned("Deployment", CLIENT.name),
            },
            "spec": {"selector": {"matchLabels": {"app": CLIENT.name}}, "template": template},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": POD,
                "namespace": CLIENT.namespace,
                "labels": {"app": CLIENT.name},
                "ownerReferences": _owned("ReplicaSet", f"{CLIENT.name}-7d9"),
            },
            "spec": {"containers": [{"name": "app", "image": "mailer:3"}]},
            "status": {"phase": "Running", "podIP": ADDRESS},
        },
    ]


def _injector_objects(object_selector: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    labels = {"component": "injector"}
    hook: dict[str, Any] = {
        "name": "injector.mesh.example",
        "clientConfig": {"service": {"name": "injector", "namespace": "mesh", "path": "/"}},
        "failurePolicy": "Ignore",
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["pods"],
            }
        ],
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": ["kube-system"],
                }
            ]
        },
        "sideEffects": "None",
    }
    if object_selector is not None:
        hook["objectSelector"] = object_selector
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "mesh-injector"},
            "webhooks": [hook],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "injector", "namespace": "mesh"},
            "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 8443}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "injector", "namespace": "mesh"},
            "subsets": [{"ports": [{"port": 8443}], "notReadyAddresses": [{"ip": "10.42.1.37"}]}],
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "injector-5c9-qz7lx", "namespace": "mesh", "labels": labels},
            "spec": {"containers": [{"name": "injector", "image": "injector:2"}]},
            "status": {
                "phase": "Running",
                "podIP": "10.42.1.37",
                "containerStatuses": [
                    {
                        "name": "injector",
                        "ready": False,
                        "restartCount": 14,
                        "image": "injector:2",
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
                    }
                ],
            },
        },
    ]


def _logs(tls: str = "None(NoClientHello)") -> list[Any]:
    return [make.log("ledger-api-1", "linkerd-proxy", _denied(tls), namespace="ledger")]


def test_a_client_denied_for_no_mesh_identity_is_mapped_to_its_pod_and_containers() -> None:
    evidence = built(_client_objects(), CALLEE, logs=_logs())
    [client] = evidence.refused_clients
    assert (client.ref, client.address, client.pod, client.refusal) == (
        CLIENT,
        ADDRESS,
        POD,
        "unmeshed",
    )
    assert [c.name for c in client.containers] == ["app"]


def test_a_denied_client_that_presented_tls_is_no_unmeshed_client() -> None:
    logs = _logs("Some(Established { client_id: Some(ClientId(x)) })")
    assert built(_client_objects(), CALLEE, logs=logs).refused_clients == []


def test_the_fail_open_injector_selecting_the_denied_pod_is_a_suspect() -> None:
    evidence = built([*_client_objects(), *_injector_objects()], CALLEE, logs=_logs())
    [hook] = [w for w in evidence.webhooks if w.name == "injector.mesh.example"]
    assert (hook.observed, hook.failure_policy, hook.failure) == (False, "Ignore", "no-endpoints")
    assert [(b.kind, b.name) for b in hook.blocked] == [("Pod", POD)]


def test_an_injector_whose_object_selector_leaves_the_pod_out_is_no_suspect() -> None:
    selector = {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": [CLIENT.name]}]}
    objects = [*_client_objects(), *_injector_objects(selector)]
    assert built(objects, CALLEE, logs=_logs()).webhooks == []


# --- the rule ----------------------------------------------------------------------------


def _client(*containers: str) -> RefusedClientEvidence:
    return RefusedClientEvidence(
        ref=CLIENT,
        address=ADDRESS,
        pod=POD,
        line=_denied(),
        refusal="unmeshed",
        containers=[make.container(name) for name in containers],
    )


def _injector(policy: str = "Ignore") -> WebhookEvidence:
    trouble = PodTrouble(
        pod="injector-5c9-qz7lx",
        container="injector",
        waiting="CrashLoopBackOff",
        restarts=14,
        last_terminated="OOMKilled",
    )
    return WebhookEvidence(
        name="injector.mesh.example",
        failure="no-endpoints",
        message="no ready endpoint for service mesh/injector",
        blocked=[ObjectRef(kind="Pod", namespace=CLIENT.namespace, name=POD)],
        configuration=ObjectRef(kind="MutatingWebhookConfiguration", name="mesh-injector"),
        failure_policy=policy,
        service=ObjectRef(kind="Service", namespace="mesh", name="injector"),
        observed=False,
        backend=DependencyEvidence(
            service=make.service("injector", "mesh", ready=0, matching=1),
            workload=INJECTOR,
            failing_pods=[trouble],
        ),
    )


def _evidence(client: RefusedClientEvidence, *webhooks: WebhookEvidence) -> Evidence:
    assert CALLEE.namespace is not None
    return make.evidence(
        workload=make.deployment(CALLEE.name, CALLEE.namespace),
        refused_clients=[client],
        webhooks=list(webhooks),
    )


def test_a_denied_client_without_the_mesh_proxy_is_restarted_onto_the_mesh() -> None:
    found = assert_leads(
        analyze(_evidence(_client("app"))), Category.NETWORK, Action.RESTART, CLIENT
    )
    assert (found.analyzer, found.confidence) == ("unmeshed-clients", CONFIDENCE.unmeshed_client)


def test_silent_when_the_denied_client_runs_the_mesh_proxy() -> None:
    result = analyze(_evidence(_client("linkerd-proxy", "app")))
    assert "unmeshed-clients" not in result.fired


def test_the_oom_killed_fail_open_injector_leads_over_the_clients_restart() -> None:
    result = analyze(_evidence(_client("app"), _injector()))
    found = assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, INJECTOR)
    assert found.confidence == CONFIDENCE.injector_oom
    assert any(f.action is Action.RESTART and f.target == CLIENT for f in result.findings)


def test_an_injector_that_fails_closed_is_left_to_the_webhook_rules() -> None:
    result = analyze(_evidence(_client("app"), _injector("Fail")))
    unmeshed = [f for f in result.findings if f.analyzer == "unmeshed-clients"]
    assert [(f.category, f.target) for f in unmeshed] == [(Category.NETWORK, CLIENT)]
