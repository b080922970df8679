"""Least privilege, proven by the real RBAC authorizer, with the apiserver's audit log as the
record of what the operator does. In both RBAC modes the operator and the Alertmanager receiver
run as a ServiceAccount token bound to exactly the ServiceAccount, (Cluster)Roles and bindings
the Helm chart renders (peering on, the chart's remediation policy, an LLM budget kept in a
ConfigMap, configured from the chart's environment) and handle the three shared example cases
on workloads broken by kwok Stages: two Incidents applied with kubectl, one created by the
receiver from an Alertmanager webhook; a feedback patch is acknowledged and an approved memory
increase is executed. Every request the ServiceAccount made is then read from the audit log:
none was denied but the one the namespace mode accepts on purpose; the chart's rules (matched
by tests/support/rbac.py) allow exactly what the real authorizer allowed; every rule the chart
grants is exercised or listed with the reason it is kept; requests outside the rules (reading
a Secret, deleting a namespace) are Forbidden.
Real: kube-apiserver with RBAC and its JSON audit log, etcd, controllers, scheduler, kwok, Helm
rendering (helm-python-sdk), Kopf, the pipeline, the receiver (aiohttp), the remediation
executor and policy, kubectl, the official openai client against a scripted OpenAI-compatible
server that refuses every request. Runs on the local control plane only: it needs the
apiserver's audit log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from kubetriage.alerts import spec_from_alerts
from kubetriage.crd import render_incident_crd_yaml
from kubetriage.models.case import Case
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import case_alert
from kubetriage.replay.snapshot import log_placement
from kubetriage.settings import Settings
from tests.e2e.conftest import Cluster
from tests.e2e.test_remediation_e2e import _approve, _outcome
from tests.integration.alertmanager_fixtures import (
    ReceiverThread,
    post,
    webhook_alert,
    webhook_payload,
)
from tests.support.audit_log import AuditEvent
from tests.support.cases import EXAMPLES, case_dirs
from tests.support.chart import NAMESPACE, REPO, manifests, of_kind
from tests.support.cluster import LocalCluster
from tests.support.openai_server import ScriptedOpenAIServer, error
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for
from tests.support.rbac import Request, allowed, grants_for

pytestmark = pytest.mark.e2e

MANIFESTS = Path(__file__).parent / "manifests"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
READ_VERBS = {"get", "list", "watch"}
WEBHOOK_TOKEN = "rbac-coverage-token"
SERVICE_ACCOUNT = "kubetriage"  # the chart's, in the release namespace
MODES = ("cluster", "namespace")

# The example cases' workloads on the cluster: (manifest, namespace, app, the pod reasons
# that show it broke; none: it runs healthy and only its log tells).
OOM, FEEDBACK, VIA_WEBHOOK = (
    "example-oom-csv-exporter",
    "example-external-api-503",
    "example-image-tag-typo",
)
WORKLOADS = {
    OOM: ("oom.yaml", "exports", "csv-exporter", {"OOMKilled"}),
    FEEDBACK: ("external-api.yaml", "newsletter", "mailer", set()),
    VIA_WEBHOOK: (
        "image-pull.yaml",
        "marketing-site",
        "landing-page",
        {"ErrImagePull", "ImagePullBackOff"},
    ),
}

# Requests the namespace-scoped mode denies on purpose: (verb, group, resource, subresource,
# namespace). Node events live in the "default" namespace, outside the watched ones; a
# namespace-scoped install does not reach into it, so that evidence is lost there (the
# collector records the 403 as a collection error).
KNOWN_DENIED = {
    "namespace": {("list", "", "events", "", "default"): "node events live in default"},
    "cluster": {},
}

# Granted but not exercised by these flows: (group, resource) never touched, and
# (group, resource, verb) writes never made, each with why the chart keeps it.
UNEXERCISED_READS = {
    ("apps", "daemonsets"): "read when the target is a DaemonSet",
    ("apps", "controllerrevisions"): "revision history of StatefulSets/DaemonSets",
    ("batch", "cronjobs"): "read when the target is a CronJob",
    ("cert-manager.io", "certificaterequests"): "why a Certificate's renewal fails",
    ("cert-manager.io", "issuers"): "whether a Certificate's Issuer is Ready",
    ("networking.k8s.io", "ingressclasses"): "which controller serves an Ingress of the target",
    ("discovery.k8s.io", "endpointslices"): (
        "read when a Service the incident depends on has no Endpoints object"
    ),
    ("", "persistentvolumes"): (
        "read under a cluster-wide install when the incident's pods, or a followed "
        "callee's, have bound claims (an NFS server, a CSI provisioner or a storage system "
        "behind them)"
    ),
    ("policy", "poddisruptionbudgets"): (
        "read when the incident's pods sit on a cordoned node or an eviction is refused"
    ),
    ("networking.istio.io", "gateways"): "read when a probed host has no Ingress or route",
    ("argoproj.io", "applications"): (
        "read when an Argo CD application alert does not name its destination namespace"
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (
        "read when an event says 'failed calling webhook'"
    ),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): (
        "read when an event says 'failed calling webhook'"
    ),
    ("apiregistration.k8s.io", "apiservices"): (
        "read when an HPA of the incident cannot get its metrics"
    ),
    ("kyverno.io", "policies"): "read when the kubelet says a Secret is missing",
    ("kyverno.io", "clusterpolicies"): "read when the kubelet says a Secret is missing",
    ("kafka.strimzi.io", "kafkausers"): "read when the kubelet says a Secret is missing",
    ("dapr.io", "components"): "read when a pod of the incident runs a Dapr sidecar",
    ("postgresql.cnpg.io", "clusters"): (
        "read when a CloudNativePG Cluster controls a pod of the incident"
    ),
    ("ceph.rook.io", "cephclusters"): (
        "listed when a pod of the incident mounts a claim of a Rook-Ceph CSI driver"
    ),
    ("longhorn.io", "volumes"): "read when a pod of the incident mounts a Longhorn claim",
    ("kueue.x-k8s.io", "localqueues"): (
        "read when a namespace-wide alert names a Kueue ClusterQueue (cluster_queue)"
    ),
    ("keda.sh", "triggerauthentications"): (
        "read when a KEDA trigger of the incident's workload names an authenticationRef"
    ),
    ("apiextensions.crossplane.io", "compositeresourcedefinitions"): (
        "read when the kubelet says a Secret is missing"
    ),
    # Asked for by the chart's spec; no more than patch on the workload already allows.
    ("apps", "deployments/scale"): "the executor scales by patching the Deployment itself",
    ("apps", "statefulsets/scale"): "the executor scales by patching the StatefulSet itself",
}
SCALE = "granted by the spec; scale-out patches the workload itself"
UNEXERCISED_WRITES = {
    ("kubetriage.io", "incidents", "update"): "granted by the spec; no caller yet",
    ("kubetriage.io", "incidents/status", "update"): "granted by the spec; no caller yet",
    ("", "events", "patch"): "granted by the spec; Kopf only creates Events",
    ("apps", "statefulsets", "patch"): "remediations of StatefulSets (the cases are Deployments)",
    **{
        ("apps", f"{kind}/scale", verb): SCALE
        for kind in ("deployments", "statefulsets")
        for verb in ("get", "patch", "update")
    },
    ("kopf.dev", "kopfpeerings", "create"): "granted by the spec; Kopf never creates peerings",
    ("kopf.dev", "clusterkopfpeerings", "create"): "granted by the spec; Kopf never creates",
}

# Lets the operator execute the approved memory increase of the OOM example case.
REMEDIATION_POLICY = {
    "apiVersion": "kubetriage.io/v1alpha1",
    "kind": "RemediationPolicy",
    "rules": [{"actions": ["increase-memory"], "kinds": ["Deployment"], "namespaces": ["exports"]}],
}


@dataclass
class Run:
    """One mode's flows: the rendered chart, and the ServiceAccount's requests while the
    operator ran (`calls`) and afterwards, outside the chart's rules on purpose (`probes`)."""

    docs: list[dict[str, Any]]
    calls: list[AuditEvent]
    probes: list[AuditEvent]


def _cases() -> dict[str, Case]:
    return {case.id: case for case in map(load_case, case_dirs(EXAMPLES))}


def _get(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def _status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(_get(cluster, "incident", name, "-n", namespace).get("status") or {})


def _pod_names(cluster: Cluster, namespace: str, app: str) -> list[str]:
    pods = _get(cluster, "pods", "-n", namespace, "-l", f"app={app}")["items"]
    return [p["metadata"]["name"] for p in pods]


def _remove_namespaces(cluster: Cluster) -> None:
    """Delete the cases' namespaces (their Incidents too) and the release namespace (the LLM
    budget's ConfigMap) and wait until they are gone, so each mode starts from the same fresh
    workloads and budget, and the next test finds none of them Terminating."""
    namespaces = sorted({namespace for _, namespace, _, _ in WORKLOADS.values()} | {NAMESPACE})
    # The namespace controller deletes a namespace's content in passes and waits between
    # them (a Deployment's pods first wait out their grace period, then its ReplicaSet and
    # the Deployment are found in a later pass): ~25 s per namespace here. Emptied first
    # (controllers orphaning their pods, the pods with no grace period: kwok nodes run no
    # process to stop), a namespace goes in one pass.
    for namespace in namespaces:
        cluster.kubectl("delete", "deployments,replicasets", "--all", "-n", namespace,
                        "--cascade=orphan")  # fmt: skip
        cluster.kubectl("delete", "pods", "--all", "-n", namespace, "--grace-period=0", "--force")
    cluster.kubectl("delete", "namespace", "--ignore-not-found", "--timeout=55s", *namespaces)


def _break_workloads(cluster: Cluster, cases: dict[str, Case]) -> None:
    """Apply each case's workload, wait until it shows the case's symptom, and give its
    containers the case's log lines where the case puts them."""
    for case_id, (manifest, namespace, app, reasons) in WORKLOADS.items():
        logs = [(c, text, prev) for _, _, c, text, prev in log_placement(cases[case_id])]
        if reasons:
            cluster.break_workload(MANIFESTS / manifest, namespace, app, reasons, logs)
            continue
        cluster.kubectl("apply", "-f", str(MANIFESTS / manifest))
        cluster.kubectl("rollout", "status", f"deployment/{app}", "-n", namespace, "--timeout=55s")
        for pod in _pod_names(cluster, namespace, app):
            for container, text, previous in logs:
                cluster.set_logs(namespace, pod, container, text, previous)


def _incident(cluster: Cluster, case: Case) -> dict[str, Any]:
    """The Incident the receiver would create for the case's alert, naming the pod that
    really runs on this cluster where the alert names a pod."""
    _, namespace, app, _ = WORKLOADS[case.id]
    labels = dict(case.alert.labels)
    if "pod" in labels:
        labels["pod"] = _pod_names(cluster, namespace, app)[0]
    alert = case_alert(
        case.model_copy(update={"alert": case.alert.model_copy(update={"labels": labels})}),
        datetime.now(UTC),
    )
    return {
        "apiVersion": "kubetriage.io/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": case.id, "namespace": namespace},
        "spec": spec_from_alerts([alert]).dump_k8s(),
    }


def _post_webhook(url: str, case: Case) -> None:
    labels = dict(case.alert.labels)
    payload = webhook_payload(
        [webhook_alert(labels, annotations=dict(case.alert.annotations))],
        group_labels={"alertname": labels["alertname"], "namespace": labels["namespace"]},
    )
    code, _, answer = post(url, payload, token=WEBHOOK_TOKEN)
    assert code == 200, answer


def _chart_settings(docs: list[dict[str, Any]], policy_file: Path) -> tuple[Settings, list[str]]:
    """The operator's settings exactly as the chart's Deployment sets them (every literal
    KUBETRIAGE_* variable), on loopback and without memory; and the namespaces its flags
    watch."""
    (deployment,) = of_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--standalone" not in container["args"]
    watched = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--namespace=")]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            if name.startswith("KUBETRIAGE_"):
                patch.setenv(name, value)
        settings = Settings(
            memory_enabled=False,
            policy_file=policy_file,
            webhook_token=WEBHOOK_TOKEN,
            webhook_host="127.0.0.1",
            webhook_port=0,
            llm_max_retries=0,
        )
    assert settings.namespaces == watched
    return settings, watched


def _run_flows(local: LocalCluster, tmp: Path, values: dict[str, Any]) -> Run:
    # A model that refuses every request (HTTP 400, not retried): the diagnoses stay the
    # analyzers', while each call still goes through the budget kept in a ConfigMap.
    with ScriptedOpenAIServer(default=error(400, "refused by the test")) as server:
        llm = {"baseUrl": server.base_url, "model": "scripted", "budget": {"callsPerMinute": 60}}
        return _run_flows_with(local, tmp, {**values, "llm": llm})


def _run_flows_with(local: LocalCluster, tmp: Path, values: dict[str, Any]) -> Run:
    """Diagnose the three cases (one arriving as a webhook), give feedback on one, approve
    the OOM case's remediation; then probe requests outside the rules."""
    cluster = Cluster(kubeconfig=local.kubeconfig, emulator=None, local=local)
    cases = _cases()
    docs = manifests(values)
    # The remediation policy exactly as the chart mounts it.
    (policy_map,) = [c for c in of_kind(docs, "ConfigMap") if "policy.yaml" in c["data"]]
    policy_file = tmp / "policy.yaml"
    policy_file.write_text(policy_map["data"]["policy.yaml"])
    settings, watched = _chart_settings(docs, policy_file)
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    (account,) = of_kind(rbac, "ServiceAccount")
    assert account["metadata"]["name"] == SERVICE_ACCOUNT
    peering = of_kind(docs, "ClusterKopfPeering") + of_kind(docs, "KopfPeering")

    _remove_namespaces(cluster)
    _break_workloads(cluster, cases)
    cluster.kubectl("create", "namespace", NAMESPACE)
    for group in (rbac, peering):
        cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(group))
    token = cluster.kubectl(
        "create", "token", SERVICE_ACCOUNT, "-n", NAMESPACE, "--duration=1h"
    ).stdout.strip()
    kubeconfig = local.kubeconfig_with_token(tmp / "operator.kubeconfig", token)
    oom, feedback, via_webhook = cases[OOM], cases[FEEDBACK], cases[VIA_WEBHOOK]
    oom_ns, feedback_ns, webhook_ns = (WORKLOADS[c][1] for c in (OOM, FEEDBACK, VIA_WEBHOOK))
    started = time.time()
    try:
        with (
            OperatorThread(kubeconfig, settings=settings, namespaces=watched, standalone=False),
            ReceiverThread(settings, kubeconfig) as receiver,
        ):
            for case in (oom, feedback):
                incident = _incident(cluster, case)
                cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump(incident))
            _post_webhook(receiver.url, via_webhook)
            for namespace, name in ((oom_ns, oom.id), (feedback_ns, feedback.id)):
                wait_for(
                    partial(_status, cluster, namespace, name),
                    until=lambda s: s.get("phase") in {"Diagnosed", "Failed"},
                    what=f"{name} diagnosed",
                    within=120,
                )
            wait_for(
                lambda: [
                    i
                    for i in _get(cluster, "incidents", "-n", webhook_ns)["items"]
                    if (i.get("status") or {}).get("phase") == "Diagnosed"
                ],
                what="the webhook's Incident diagnosed",
                within=120,
            )
            cluster.kubectl(
                "patch", "incident", feedback.id, "-n", feedback_ns, "--type=merge", "-p",
                json.dumps({"spec": {"feedback": {"helpful": True, "resolution": "fixed"}}}),
            )  # fmt: skip
            wait_for(
                lambda: _status(cluster, feedback_ns, feedback.id),
                until=lambda s: s.get("observedGeneration") == 2,
                what="feedback acknowledged",
                within=120,
            )
            top = _status(cluster, oom_ns, oom.id)["diagnosis"]["remediations"][0]
            assert top["action"] == "increase-memory"
            _approve(cluster, oom_ns, oom.id, top["id"], "alice@example.com")
            assert _outcome(cluster, oom_ns, oom.id, top["id"])["remediation"]["result"] == (
                "Applied"
            )
        ended = time.time()
        for args in (
            ("get", "secrets", "-n", oom_ns),
            ("delete", "namespace", oom_ns, "--dry-run=server"),
        ):
            result = cluster.kubectl(*args, kubeconfig=kubeconfig, check=False)
            assert (result.returncode, "Forbidden" in result.stderr) == (1, True), result.stderr
        probed = time.time()
    finally:
        for group in (peering, rbac):
            cluster.kubectl(
                "delete", "--ignore-not-found", "-f", "-", input_text=yaml.safe_dump_all(group)
            )
    user = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
    mine = [e for e in local.audit_events() if e.user == user]
    return Run(
        docs=docs,
        calls=[e for e in mine if started <= e.received < ended],
        probes=[e for e in mine if ended <= e.received < probed],
    )


@pytest.fixture(scope="module")
def runs(
    local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Run]]:
    namespaces = sorted({namespace for _, namespace, _, _ in WORKLOADS.values()})
    remediation = {"enabled": True, "policy": REMEDIATION_POLICY}
    values: dict[str, dict[str, Any]] = {
        "cluster": {"remediation": remediation},
        "namespace": {
            "rbac": {"scope": "namespace"},
            "watchNamespaces": namespaces,
            "remediation": remediation,
        },
    }
    crd = tmp_path_factory.mktemp("crd") / "crd.yaml"
    crd.write_text(render_incident_crd_yaml())
    local_cluster.kubectl("apply", "-f", str(crd), "-f", str(REPO / "crds" / "kopf-peering.yaml"))
    local_cluster.kubectl("wait", "--for=condition=Established", "crd/incidents.kubetriage.io")
    try:
        yield {
            mode: _run_flows(local_cluster, tmp_path_factory.mktemp(mode), values[mode])
            for mode in MODES
        }
    finally:
        _remove_namespaces(Cluster(local_cluster.kubeconfig, emulator=None, local=local_cluster))


def _request(event: AuditEvent) -> Request:
    return Request(
        verb=event.verb,
        group=event.group,
        resource=event.resource,
        subresource=event.subresource,
        namespace=event.namespace,
        name=event.name,
        path=urlsplit(event.uri).path,
    )


def _key(event: AuditEvent) -> tuple[str, str, str, str, str]:
    return (event.verb, event.group, event.resource, event.subresource, event.namespace)


def _denied(event: AuditEvent) -> bool:
    return event.code == 403 or event.decision == "forbid"


@pytest.mark.parametrize("mode", MODES)
def test_the_flows_ran_as_the_service_account(runs: dict[str, Run], mode: str) -> None:
    calls = runs[mode].calls
    made = {(e.verb, e.resource, e.subresource) for e in calls}
    # Evidence reads, Incident and status writes (the receiver's create), Events, the LLM
    # budget's ConfigMap, peering keep-alives, the remediation's dry run and patch.
    assert {("get", "pods", "log"), ("patch", "incidents", "status")} <= made, made
    assert {("create", "incidents", ""), ("create", "events", "")} <= made, made
    assert {("create", "configmaps", ""), ("patch", "configmaps", "")} <= made, made
    assert any(e.resource.endswith("kopfpeerings") and e.verb == "patch" for e in calls)
    patches = [e.uri for e in calls if (e.verb, e.resource) == ("patch", "deployments")]
    assert any("dryRun=All" in uri for uri in patches), patches
    assert any("dryRun" not in uri for uri in patches), patches
    assert not any(e.resource == "secrets" for e in calls)


@pytest.mark.parametrize("mode", MODES)
def test_nothing_was_denied_but_what_the_mode_accepts(runs: dict[str, Run], mode: str) -> None:
    """Every request the real authorizer decided on, and each accepted denial is still made
    (else it should be removed from KNOWN_DENIED) and still denied."""
    calls = runs[mode].calls
    assert {e.decision for e in calls} <= {"allow", "forbid"}
    assert {_key(e) for e in calls if _denied(e)} == set(KNOWN_DENIED[mode])


@pytest.mark.parametrize("mode", MODES)
def test_the_chart_rules_allow_what_the_authorizer_allowed(runs: dict[str, Run], mode: str) -> None:
    """The rendered chart's rules, matched by tests/support/rbac.py, decide every request of
    the flows and the probes as the real RBAC authorizer did."""
    run = runs[mode]
    grants = grants_for(run.docs, NAMESPACE, SERVICE_ACCOUNT)
    decisions = {(_request(e), e.decision) for e in run.calls + run.probes}
    disagree = [
        (request, decision)
        for request, decision in decisions
        if allowed(grants, request) != (decision == "allow")
    ]
    assert disagree == []


@pytest.mark.parametrize("mode", MODES)
def test_requests_outside_the_chart_are_forbidden(runs: dict[str, Run], mode: str) -> None:
    denied = {(e.verb, e.resource) for e in runs[mode].probes if _denied(e)}
    assert denied == {("list", "secrets"), ("delete", "namespaces")}


def test_every_granted_rule_is_used_or_explained(runs: dict[str, Run]) -> None:
    rules = [
        rule
        for run in runs.values()
        for role in of_kind(run.docs, "ClusterRole") + of_kind(run.docs, "Role")
        for rule in role["rules"]
    ]
    calls = [_request(e) for run in runs.values() for e in run.calls]
    used_reads = {(r.group, r.resource_path) for r in calls}
    used_writes = {(r.group, r.resource_path, r.verb) for r in calls if r.verb not in READ_VERBS}
    unexplained: list[tuple[str, ...]] = []
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                if (group, resource) not in used_reads | set(UNEXERCISED_READS) and not any(
                    (group, resource, v) in used_writes for v in rule["verbs"]
                ):
                    unexplained.append((group, resource))
                for verb in set(rule["verbs"]) - READ_VERBS:
                    if (group, resource, verb) not in used_writes | set(UNEXERCISED_WRITES):
                        unexplained.append((group, resource, verb))
    assert unexplained == []
    # An explanation for something the flows do use is stale.
    stale_reads = [k for k in UNEXERCISED_READS if k in used_reads]
    stale_writes = [k for k in UNEXERCISED_WRITES if k in used_writes]
    assert (stale_reads, stale_writes) == ([], [])


def test_non_resource_requests_are_discovery_only(runs: dict[str, Run]) -> None:
    paths = {_request(e).path for run in runs.values() for e in run.calls if not e.resource}
    grants = grants_for(runs["cluster"].docs, NAMESPACE, SERVICE_ACCOUNT)
    assert all(allowed(grants, Request("get", "", "", path=p)) for p in paths), paths
