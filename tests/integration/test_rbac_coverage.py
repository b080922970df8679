"""The chart's RBAC covers what the operator really calls, and grants little more: configured
from the rendered chart's environment, the real operator (Kopf + pipeline, peering on, an LLM
budget kept in a ConfigMap) and the Alertmanager receiver handle the three shared example
cases (two Incidents created directly, one from a webhook), acknowledge a feedback patch and
execute an approved remediation against the Kubernetes API emulator, once cluster-wide and
once restricted to the cases' namespaces; every API request they made (the emulator's audit
log) is checked against the rendered chart's Roles/ClusterRoles of the matching RBAC mode.
Real: Helm rendering, the emulator over HTTP, Kopf, the receiver (aiohttp), the kubernetes
client, the pipeline, the remediation executor and policy, the official openai client against
a scripted OpenAI-compatible server that refuses every request."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import yaml

from kubetriage.alerts import spec_from_alerts
from kubetriage.crd import build_incident_crd
from kubetriage.kubeclient import api_client
from kubetriage.models.case import Case
from kubetriage.receiver import Receiver
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import AuditRecord, EmulatorThread, KubeEmulator
from kubetriage.replay.session import case_alert, load_case_into
from kubetriage.settings import Settings
from tests.integration.alertmanager_fixtures import webhook_alert, webhook_payload
from tests.support.cases import EXAMPLES
from tests.support.chart import NAMESPACE, REPO, manifests, of_kind
from tests.support.openai_server import ScriptedOpenAIServer, error
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for
from tests.support.rbac import Request, allowed, grants_for

SHARED_CASES = EXAMPLES
TEST_AGENT = "kubetriage-rbac-coverage-test"
SERVICE_ACCOUNT = "kubetriage"
READ_VERBS = {"get", "list", "watch"}

# Calls the namespace-scoped mode denies on purpose. Node events live in the "default"
# namespace, outside the watched ones; a namespace-scoped install does not reach into it,
# so that evidence is lost there (the collector records the 403 as a collection error).
KNOWN_DENIED = {
    "namespace": {("list", "", "events", "", "default"): "node events live in default"},
    "cluster": {},
}

# Granted but not exercised by these flows: (group, resource) never touched, and
# (group, resource, verb) writes never made, each with why the chart keeps it.
UNEXERCISED_READS = {
    ("apps", "statefulsets"): "read when the target is a StatefulSet",
    ("apps", "daemonsets"): "read when the target is a DaemonSet",
    ("apps", "controllerrevisions"): "revision history of StatefulSets/DaemonSets",
    ("batch", "jobs"): "read when the target is a Job",
    ("batch", "cronjobs"): "read when the target is a CronJob",
    ("cert-manager.io", "certificates"): "cert-manager evidence (toggle rbac.certManager)",
    ("cert-manager.io", "certificaterequests"): "why a Certificate's renewal fails",
    ("cert-manager.io", "issuers"): "whether a Certificate's Issuer is Ready",
    # Asked for by the chart's spec; no more than patch on the workload already allows.
    ("apps", "deployments/scale"): "the executor scales by patching the Deployment itself",
    ("apps", "statefulsets/scale"): "the executor scales by patching the StatefulSet itself",
}
UNEXERCISED_WRITES = {
    ("kubetriage.io", "incidents", "update"): "granted by the spec; no caller yet",
    ("kubetriage.io", "incidents/status", "update"): "granted by the spec; no caller yet",
    ("", "events", "patch"): "granted by the spec; Kopf only creates Events",
    ("apps", "statefulsets", "patch"): "remediations of StatefulSets (the cases are Deployments)",
    ("apps", "deployments/scale", "get"): "granted by the spec; scale-out patches the Deployment",
    ("apps", "deployments/scale", "patch"): "granted by the spec; scale-out patches the Deployment",
    (
        "apps",
        "deployments/scale",
        "update",
    ): "granted by the spec; scale-out patches the Deployment",
    ("apps", "statefulsets/scale", "get"): "granted by the spec; scale-out patches the object",
    ("apps", "statefulsets/scale", "patch"): "granted by the spec; scale-out patches the object",
    ("apps", "statefulsets/scale", "update"): "granted by the spec; scale-out patches the object",
    ("kopf.dev", "kopfpeerings", "create"): "granted by the spec; Kopf never creates peerings",
    ("kopf.dev", "clusterkopfpeerings", "create"): "granted by the spec; Kopf never creates",
}


# Lets the operator execute the approved memory increase of the OOM example case.
REMEDIATION_POLICY = {
    "apiVersion": "kubetriage.io/v1alpha1",
    "kind": "RemediationPolicy",
    "rules": [{"actions": ["increase-memory"], "kinds": ["Deployment"], "namespaces": ["exports"]}],
}


WEBHOOK_TOKEN = "rbac-coverage-token"


class ReceiverThread:
    """The Alertmanager receiver on its own event loop, beside the operator thread, as
    ``kubetriage run`` serves it in one process (same credentials, so same RBAC)."""

    def __init__(self, kubeconfig: Path, settings: Settings) -> None:
        self.client = api_client(kubeconfig)
        self.settings = settings
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._receiver: Receiver | None = None

    async def _start(self) -> str:
        self._receiver = Receiver(self.settings, self.client, ready=lambda: True)
        return await self._receiver.start(host="127.0.0.1", port=0)

    def __enter__(self) -> ReceiverThread:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._receiver is not None:
            asyncio.run_coroutine_threadsafe(self._receiver.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
        self.client.close()  # type: ignore[no-untyped-call]

    def post(self, case: Case) -> None:
        labels = dict(case.alert.labels)
        payload = webhook_payload(
            [webhook_alert(labels, annotations=dict(case.alert.annotations))],
            group_labels={"alertname": labels["alertname"], "namespace": _namespace(case)},
        )
        request = urllib.request.Request(
            f"{self.url}/alerts",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {WEBHOOK_TOKEN}",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@dataclass
class Run:
    values: dict[str, Any]
    docs: list[dict[str, Any]]
    calls: list[AuditRecord]


def _cases() -> list[Case]:
    return [load_case(p) for p in sorted(SHARED_CASES.iterdir()) if (p / "case.yaml").is_file()]


def _namespace(case: Case) -> str:
    return case.alert.labels.get("namespace") or NAMESPACE


def _incident(case: Case) -> dict[str, Any]:
    spec = spec_from_alerts([case_alert(case, datetime.now(UTC))])
    return {
        "apiVersion": "kubetriage.io/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": case.id, "namespace": _namespace(case)},
        "spec": spec.dump_k8s(),
    }


def _patch_spec(url: str, namespace: str, name: str, spec: dict[str, Any]) -> None:
    """A user's kubectl-style merge patch of an Incident, marked with the test's User-Agent."""
    request = urllib.request.Request(
        f"{url}/apis/kubetriage.io/v1alpha1/namespaces/{namespace}/incidents/{name}",
        data=json.dumps({"spec": spec}).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json", "User-Agent": TEST_AGENT},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _status(emulator: KubeEmulator, case: Case) -> dict[str, Any]:
    body = emulator.get("incidents", case.id, _namespace(case)) or {}
    return dict(body.get("status") or {})


def _run_flows(tmp: Path, values: dict[str, Any]) -> Run:
    """Diagnose the three cases under an LLM budget, give feedback on one, approve the OOM
    case's remediation."""
    # A model that refuses every request (HTTP 400, not retried): the diagnoses stay the
    # analyzers', while each call still goes through the budget kept in a ConfigMap.
    with ScriptedOpenAIServer(default=error(400, "refused by the test")) as server:
        llm = {"baseUrl": server.base_url, "model": "scripted", "budget": {"callsPerMinute": 60}}
        return _run_flows_with(tmp, {**values, "llm": llm})


def _run_flows_with(tmp: Path, values: dict[str, Any]) -> Run:
    docs = manifests(values)
    (deployment,) = of_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    watched = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--namespace=")]
    assert "--standalone" not in container["args"]
    # The remediation policy exactly as the chart mounts it.
    (policy_map,) = [c for c in of_kind(docs, "ConfigMap") if "policy.yaml" in c["data"]]
    policy_file = tmp / "policy.yaml"
    policy_file.write_text(policy_map["data"]["policy.yaml"])
    cases = {c.id: c for c in _cases()}
    assert len(cases) == 3
    oom, feedback = cases["example-oom-csv-exporter"], cases["example-external-api-503"]
    via_webhook = cases["example-image-tag-typo"]
    with EmulatorThread(kubeconfig_path=tmp / "kubeconfig") as cluster:
        emulator = cluster.emulator
        emulator.load([build_incident_crd()])
        emulator.load(list(yaml.safe_load_all((REPO / "crds" / "kopf-peering.yaml").read_text())))
        # The peering objects exactly as the chart creates them.
        emulator.load(of_kind(docs, "ClusterKopfPeering") + of_kind(docs, "KopfPeering"))
        for case in cases.values():
            load_case_into(emulator, case)
        emulator.clear_audit()
        settings = Settings(
            memory_enabled=False,
            peering_name=env["KUBETRIAGE_PEERING_NAME"],
            incident_namespace=env["KUBETRIAGE_INCIDENT_NAMESPACE"],
            namespaces=json.loads(env.get("KUBETRIAGE_NAMESPACES") or "[]"),
            policy_file=policy_file,
            webhook_token=WEBHOOK_TOKEN,
            llm_base_url=env["KUBETRIAGE_LLM_BASE_URL"],
            llm_model=env["KUBETRIAGE_LLM_MODEL"],
            llm_max_retries=0,
            llm_calls_per_minute=int(env["KUBETRIAGE_LLM_CALLS_PER_MINUTE"]),
            llm_budget_namespace=env["KUBETRIAGE_LLM_BUDGET_NAMESPACE"],
            llm_budget_configmap=env["KUBETRIAGE_LLM_BUDGET_CONFIGMAP"],
        )
        assert settings.namespaces == watched
        with (
            OperatorThread(
                cluster.kubeconfig_path, settings=settings, namespaces=watched, standalone=False
            ),
            ReceiverThread(cluster.kubeconfig_path, settings) as receiver,
        ):
            emulator.load([_incident(oom), _incident(feedback)])
            receiver.post(via_webhook)
            for case in (oom, feedback):
                wait_for(
                    lambda c=case: _status(emulator, c).get("phase") in ("Diagnosed", "Failed"),
                    what=f"{case.id} diagnosed",
                    within=90,
                )
            wait_for(
                lambda: (
                    [
                        i
                        for i in emulator.objects("incidents", _namespace(via_webhook))
                        if (i.get("status") or {}).get("phase") == "Diagnosed"
                    ]
                    != []
                ),
                what="the webhook's Incident diagnosed",
                within=90,
            )
            _patch_spec(
                cluster.url,
                _namespace(feedback),
                feedback.id,
                {"feedback": {"helpful": True, "resolution": "fixed"}},
            )
            wait_for(
                lambda: _status(emulator, feedback).get("observedGeneration") == 2,
                what="feedback acknowledged",
                within=90,
            )
            top = _status(emulator, oom)["diagnosis"]["remediations"][0]
            assert top["action"] == "increase-memory"
            _patch_spec(
                cluster.url,
                _namespace(oom),
                oom.id,
                {"approve": top["id"], "approvedBy": "alice@example.com"},
            )
            wait_for(
                lambda: (
                    (_status(emulator, oom).get("remediation") or {}).get("result")
                    not in (None, "Applying")
                ),
                what="remediation executed",
                within=90,
            )
            assert _status(emulator, oom)["remediation"]["result"] == "Applied"
        calls = [r for r in emulator.audit if r.user_agent != TEST_AGENT]
    return Run(values=values, docs=docs, calls=calls)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    namespaces = sorted({_namespace(c) for c in _cases()})
    remediation = {"enabled": True, "policy": REMEDIATION_POLICY}
    return {
        "cluster": _run_flows(tmp_path_factory.mktemp("cluster"), {"remediation": remediation}),
        "namespace": _run_flows(
            tmp_path_factory.mktemp("namespace"),
            {
                "rbac": {"scope": "namespace"},
                "watchNamespaces": namespaces,
                "remediation": remediation,
            },
        ),
    }


def _request(record: AuditRecord) -> Request:
    return Request(
        verb=record.verb,
        group=record.group,
        resource=record.resource,
        subresource=record.subresource,
        namespace=record.namespace,
        name=record.name,
        path=record.path,
    )


def _key(record: AuditRecord) -> tuple[str, str, str, str, str]:
    return (record.verb, record.group, record.resource, record.subresource, record.namespace)


@pytest.mark.parametrize("mode", ["cluster", "namespace"])
def test_every_operator_call_is_allowed_by_the_chart(runs: dict[str, Run], mode: str) -> None:
    run = runs[mode]
    grants = grants_for(run.docs, NAMESPACE, SERVICE_ACCOUNT)
    # The flows really ran: evidence reads, status writes, events and peering keep-alives.
    made = {(r.verb, r.resource, r.subresource) for r in run.calls}
    assert {("get", "pods", "log"), ("patch", "incidents", "status")} <= made
    assert ("create", "events", "") in made
    # The LLM budget's usage was saved in its ConfigMap.
    assert {("create", "configmaps", ""), ("patch", "configmaps", "")} <= made
    assert any(r.resource.endswith("kopfpeerings") and r.verb == "patch" for r in run.calls)
    denied = {_key(r) for r in run.calls if not allowed(grants, _request(r))}
    unexpected = denied - set(KNOWN_DENIED[mode])
    assert unexpected == set(), f"the chart's {mode} RBAC denies calls the operator makes"
    assert not any(r.resource == "secrets" for r in run.calls)


def test_the_known_denials_are_real(runs: dict[str, Run]) -> None:
    """Each KNOWN_DENIED entry is still made (else it should be removed) and still denied."""
    run = runs["namespace"]
    grants = grants_for(run.docs, NAMESPACE, SERVICE_ACCOUNT)
    denied = {_key(r) for r in run.calls if not allowed(grants, _request(r))}
    assert denied == set(KNOWN_DENIED["namespace"])


def test_every_granted_rule_is_used_or_explained(runs: dict[str, Run]) -> None:
    # The cluster-mode ClusterRoles are the superset of what either mode grants.
    rules = [r for role in of_kind(runs["cluster"].docs, "ClusterRole") for r in role["rules"]]
    calls = [r for run in runs.values() for r in run.calls]
    used_reads = {(r.group, _request(r).resource_path) for r in calls}
    used_writes = {
        (r.group, _request(r).resource_path, r.verb) for r in calls if r.verb not in READ_VERBS
    }
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
    paths = {r.path for run in runs.values() for r in run.calls if not r.resource}
    grants = grants_for(runs["cluster"].docs, NAMESPACE, SERVICE_ACCOUNT)
    assert all(allowed(grants, Request("get", "", "", path=p)) for p in paths), paths
