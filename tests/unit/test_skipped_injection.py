"""Checks pods a fail-open injector skipped, the skipped-injection rule, and an expiry series
that names the cert-manager Certificate it measures.

Evidence side (``kubetriage.evidence.skipped_injections`` through the real builder): of two
replicas of one Deployment whose templates carry the same labels (but the pod-template-hash)
and annotations, the one running nothing beyond its template while the other runs containers
admission added was skipped by its injector; the fail-open pod-creating webhook selecting it
is reported, not observed, with the Certificates of its Service's namespace. Near misses: a
release whose template dropped the injection annotation (templates that differ are never
compared), and a webhook that fails closed.

Analyzer side (``kubetriage.analyzers.skipped_injection``): that injector's serving
Certificate (the one whose Secret its pods mount) has expired: certificate-expiry, renew it,
ahead of the release that surfaced the bare pod. Near miss: the Certificate is still valid.
The certificate analyzer (``kubetriage.analyzers.certificates``): a cert-manager expiry series
whose ``name`` label names a Certificate in view (a webhook's) renews it; naming none in view,
it still escalates to the workload.

Real: raw Deployment, ReplicaSet, Pod, Service, Endpoints, MutatingWebhookConfiguration and
cert-manager Certificate manifests, the pure builder and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.certificates import check_certificate
from kubetriage.analyzers.skipped_injection import CONFIDENCE
from kubetriage.evidence.skipped_injections import injected_containers, skipped_pods
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import GenericObjectEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads

APP = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
CERT = ObjectRef(
    kind="Certificate", namespace="agents", name="injector-tls", api_version="cert-manager.io/v1"
)
ASKS = {"agent.example.com/inject": "true", "agent.example.com/role": "checkout"}
EXPIRED = "2026-11-19T14:00:00Z"
VALID = "2027-03-01T00:00:00Z"


def _owned(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}]


def _template(image: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": APP.name}, "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def _revision(hash_: str, number: int, image: str, annotations: dict[str, str]) -> Any:
    template = _template(image, annotations)
    template["metadata"]["labels"] = {"app": APP.name, "pod-template-hash": hash_}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{APP.name}-{hash_}",
            "namespace": APP.namespace,
            "labels": {"app": APP.name, "pod-template-hash": hash_},
            "annotations": {"deployment.kubernetes.io/revision": str(number)},
            "ownerReferences": _owned("Deployment", APP.name),
            "creationTimestamp": "2026-11-06T09:58:00Z" if number == 1 else "2026-11-20T09:38:00Z",
        },
        "spec": {"replicas": 1, "template": template},
        "status": {"replicas": 1},
    }


def _pod(hash_: str, image: str, injected: bool, created: str) -> Any:
    containers = [{"name": "app", "image": image}]
    spec: dict[str, Any] = {"containers": containers}
    statuses: list[dict[str, Any]] = [
        {"name": "app", "ready": injected, "restartCount": 0 if injected else 7, "image": image}
    ]
    if injected:
        containers.append({"name": "agent", "image": "agent:1"})
        spec["initContainers"] = [{"name": "agent-init", "image": "agent:1"}]
        statuses.append({"name": "agent", "ready": True, "restartCount": 0, "image": "agent:1"})
    else:
        statuses[0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
        statuses[0]["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{APP.name}-{hash_}-x1",
            "namespace": APP.namespace,
            "labels": {"app": APP.name, "pod-template-hash": hash_},
            "annotations": dict(ASKS),
            "ownerReferences": _owned("ReplicaSet", f"{APP.name}-{hash_}"),
            "creationTimestamp": created,
        },
        "spec": spec,
        "status": {"phase": "Running", "containerStatuses": statuses},
    }


def _app(new_annotations: dict[str, str] = ASKS) -> list[Any]:
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": APP.name,
                "namespace": APP.namespace,
                "annotations": {"deployment.kubernetes.io/revision": "2"},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": APP.name}},
                "template": _template("checkout:2", new_annotations),
            },
            "status": {"replicas": 2, "readyReplicas": 1},
        },
        _revision("7b6d8f5c92", 1, "checkout:1", ASKS),
        _revision("58f7c9d6b4", 2, "checkout:2", new_annotations),
        _pod("7b6d8f5c92", "checkout:1", True, "2026-11-06T09:58:10Z"),
        _pod("58f7c9d6b4", "checkout:2", False, "2026-11-20T09:38:02Z"),
    ]


def _injector(policy: str = "Ignore", not_after: str = EXPIRED) -> list[Any]:
    labels = {"component": "injector"}
    hook = {
        "name": "agent.example.com",
        "clientConfig": {"service": {"name": "injector", "namespace": "agents", "path": "/"}},
        "failurePolicy": policy,
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["pods"],
            }
        ],
        "sideEffects": "None",
    }
    expired = not_after == EXPIRED
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "agent-injector"},
            "webhooks": [hook],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "injector", "namespace": "agents"},
            "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 8080}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "injector", "namespace": "agents"},
            "subsets": [{"ports": [{"port": 8080}], "addresses": [{"ip": "10.52.1.5"}]}],
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "injector-6f9-t7m", "namespace": "agents", "labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "injector",
                        "image": "injector:1",
                        "volumeMounts": [{"name": "certs", "mountPath": "/etc/webhook/certs"}],
                    }
                ],
                "volumes": [{"name": "certs", "secret": {"secretName": "injector-tls"}}],
            },
            "status": {
                "phase": "Running",
                "podIP": "10.52.1.5",
                "containerStatuses": [{"name": "injector", "ready": True, "restartCount": 0}],
            },
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": CERT.name, "namespace": CERT.namespace},
            "spec": {"secretName": "injector-tls", "dnsNames": ["injector.agents.svc"]},
            "status": {
                "notAfter": not_after,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False" if expired else "True",
                        "reason": "Expired" if expired else "Ready",
                    }
                ],
            },
        },
    ]


def _pods_and_sets(objects: list[Any]) -> tuple[list[Any], list[Any]]:
    return (
        [o for o in objects if o["kind"] == "Pod"],
        [o for o in objects if o["kind"] == "ReplicaSet"],
    )


def test_what_admission_added_is_what_the_pod_runs_beyond_its_template() -> None:
    objects = _app()
    old_pod, old_set = objects[3], objects[1]
    assert injected_containers(old_pod, old_set) == {"agent", "agent-init"}
    assert injected_containers(objects[4], objects[2]) == set()


def test_the_bare_replica_of_a_template_asking_the_same_was_skipped() -> None:
    pods, sets = _pods_and_sets(_app())
    assert [p["metadata"]["name"] for p in skipped_pods(pods, sets)] == ["checkout-58f7c9d6b4-x1"]


def test_a_release_that_dropped_the_injection_annotation_skipped_nothing() -> None:
    pods, sets = _pods_and_sets(_app({"agent.example.com/role": "checkout"}))
    assert skipped_pods(pods, sets) == []


def test_the_fail_open_injector_of_the_skipped_pod_is_reported_with_its_certificates() -> None:
    evidence = built([*_app(), *_injector()], APP)
    [hook] = evidence.webhooks
    assert (hook.name, hook.failure_policy, hook.observed) == ("agent.example.com", "Ignore", False)
    assert [(b.kind, b.name) for b in hook.blocked] == [("Pod", "checkout-58f7c9d6b4-x1")]
    assert [c.ref.name for c in hook.certificates] == [CERT.name]


def test_an_injector_that_fails_closed_is_no_suspect_of_a_skipped_call() -> None:
    assert built([*_app(), *_injector("Fail")], APP).webhooks == []


def test_the_expired_certificate_of_the_skipped_injector_is_renewed_over_the_release() -> None:
    result = analyze(built([*_app(), *_injector()], APP))
    found = assert_leads(result, Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, CERT)
    assert (found.analyzer, found.confidence) == ("skipped-injection", CONFIDENCE.expired_injector)


def test_silent_while_the_injectors_certificate_is_valid() -> None:
    result = analyze(built([*_app(), *_injector(not_after=VALID)], APP))
    assert "skipped-injection" not in result.fired


# --- the expiry series names its Certificate ----------------------------------------------


def _series_evidence(name: str) -> Evidence:
    expired_at = make.NOW.timestamp() - 20 * 3600
    series = make.metric(
        f'certmanager_certificate_expiration_timestamp_seconds{{name="{name}"}}',
        last=expired_at,
        labels={"name": name},
    )
    hook = WebhookEvidence(
        name="agent.example.com",
        failure="other",
        message="",
        failure_policy="Ignore",
        observed=False,
        certificates=[GenericObjectEvidence(ref=CERT)],
    )
    assert APP.namespace is not None
    workload = make.deployment(APP.name, APP.namespace)
    return make.evidence(workload=workload, metrics=[series], webhooks=[hook])


def test_an_expiry_series_naming_a_certificate_in_view_renews_that_certificate() -> None:
    [found] = check_certificate(_series_evidence(CERT.name))
    assert (found.action, found.target) == (Action.RENEW_CERTIFICATE, CERT)


def test_an_expiry_series_naming_no_certificate_in_view_escalates_to_the_workload() -> None:
    [found] = check_certificate(_series_evidence("elsewhere-tls"))
    assert (found.action, found.target.kind) == (Action.ESCALATE, "Deployment")
