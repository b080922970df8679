"""One scenario per category family on a real cluster: ordinary manifests (tests/e2e/manifests)
are applied, and break either through a kwok Stage chosen by the pod template's
kubetriage.io/fault label (crash, missing config, failing readiness probe, a bad new revision)
or through the control plane itself (the scheduler's FailedScheduling, a PVC no provisioner
serves, a Service whose selector matches nothing); an Incident applied with kubectl ends
Diagnosed with the expected category, first action and target.
Real: kube-apiserver, etcd, controller-manager, scheduler, kwok (fake kubelets), kubectl,
Kopf, the operator (no LLM, no memory). Runs on another cluster with
KUBETRIAGE_E2E_KUBECONFIG, where the same manifests break for real.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster
from tests.support.incidents import incident
from tests.support.operator import OperatorThread

pytestmark = pytest.mark.e2e

MANIFESTS = Path(__file__).parent / "manifests"


@dataclass(frozen=True)
class Scenario:
    manifests: tuple[str, ...]
    namespace: str
    workload: str
    # What shows that the manifests broke: pod waiting/termination reasons, or event reasons.
    pod_reasons: frozenset[str]
    event_reasons: frozenset[str]
    category: str
    actions: frozenset[str]  # the first remediation's action is one of these
    target: tuple[str, str]  # (kind, name) of the first remediation


SCENARIOS = {
    "crash-loop": Scenario(
        ("crash-loop.yaml",), "ledger", "ledger-consumer", frozenset({"Error"}), frozenset(),
        "crash-loop", frozenset({"restart", "rollback", "escalate"}),
        ("Deployment", "ledger-consumer"),
    ),
    "config-missing": Scenario(
        ("config-missing.yaml",), "reporting", "report-api",
        frozenset({"CreateContainerConfigError"}), frozenset(), "config-missing",
        frozenset({"fix-config"}), ("ConfigMap", "report-settings"),
    ),
    "probe-failure": Scenario(
        ("probe-failure.yaml",), "checkout", "cart", frozenset(), frozenset({"Unhealthy"}),
        "probe-failure", frozenset({"fix-probe"}), ("Deployment", "cart"),
    ),
    "unschedulable": Scenario(
        ("unschedulable.yaml",), "analytics", "batch-scorer", frozenset(),
        frozenset({"FailedScheduling"}), "unschedulable",
        frozenset({"free-capacity", "increase-cpu"}), ("Deployment", "batch-scorer"),
    ),
    "storage": Scenario(
        ("storage.yaml",), "search", "indexer", frozenset(), frozenset({"FailedScheduling"}),
        "storage", frozenset({"expand-storage", "fix-config", "escalate"}),
        ("PersistentVolumeClaim", "index-data"),
    ),
    "network": Scenario(
        ("network.yaml",), "payments", "payments-api", frozenset(), frozenset(), "network",
        frozenset({"fix-network"}), ("Service", "payments-api"),
    ),
    "bad-rollout": Scenario(
        ("bad-rollout-v1.yaml", "bad-rollout-v2.yaml"), "storefront", "frontend",
        frozenset({"Error"}), frozenset(), "bad-rollout", frozenset({"rollback"}),
        ("Deployment", "frontend"),
    ),
}  # fmt: skip


def _pods(cluster: Cluster, namespace: str, app: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json")
    return list(json.loads(out.stdout)["items"])


def _pod_reasons(cluster: Cluster, namespace: str, app: str) -> set[str]:
    return {
        reason
        for p in _pods(cluster, namespace, app)
        for s in (p.get("status") or {}).get("containerStatuses") or []
        for reason in (
            ((s.get("state") or {}).get("waiting") or {}).get("reason"),
            ((s.get("lastState") or {}).get("terminated") or {}).get("reason"),
        )
        if reason
    }


def _event_reasons(cluster: Cluster, namespace: str) -> set[str]:
    out = cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    return {e["reason"] for e in json.loads(out)["items"]}


def _ready(cluster: Cluster, namespace: str, app: str, replicas: int) -> bool:
    pods = _pods(cluster, namespace, app)
    statuses = [(p.get("status") or {}).get("containerStatuses") or [] for p in pods]
    return len(pods) == replicas and all(s and all(c.get("ready") for c in s) for s in statuses)


def _break(cluster: Cluster, scenario: Scenario) -> None:
    *earlier, last = scenario.manifests
    for manifest in earlier:  # earlier revisions roll out healthy first
        cluster.kubectl("apply", "-f", str(MANIFESTS / manifest))
        cluster.wait_for(
            lambda: _ready(cluster, scenario.namespace, scenario.workload, 2), "revision 1 ready"
        )
    cluster.kubectl("apply", "-f", str(MANIFESTS / last))
    if scenario.pod_reasons:
        cluster.wait_for(
            lambda: bool(
                _pod_reasons(cluster, scenario.namespace, scenario.workload) & scenario.pod_reasons
            ),
            f"pods showing {set(scenario.pod_reasons)}",
        )
    if scenario.event_reasons:
        cluster.wait_for(
            lambda: scenario.event_reasons <= _event_reasons(cluster, scenario.namespace),
            f"events {set(scenario.event_reasons)}",
        )
    if not scenario.pod_reasons and not scenario.event_reasons:
        cluster.wait_for(
            lambda: _ready(cluster, scenario.namespace, scenario.workload, 2),
            "the healthy pods behind the broken Service",
        )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_is_diagnosed_on_a_real_cluster(crd_installed: Cluster, name: str) -> None:
    cluster = crd_installed
    scenario = SCENARIOS[name]
    _break(cluster, scenario)
    kind = "Service" if scenario.target[0] == "Service" else "Deployment"
    target_name = scenario.target[1] if kind == "Service" else scenario.workload
    manifest = incident(
        f"{name}-incident",
        scenario.namespace,
        title=f"{target_name} is failing",
        workload=target_name,
        kind=kind,
        severity="warning",
    )
    with OperatorThread(cluster.kubeconfig):
        cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump(manifest))

        def status() -> dict[str, Any]:
            out = cluster.kubectl(
                "get", "incident", f"{name}-incident", "-n", scenario.namespace, "-o", "json"
            ).stdout
            return dict(json.loads(out).get("status") or {})

        cluster.wait_for(lambda: status().get("phase") in {"Diagnosed", "Failed"}, "diagnosis")
        final = status()
    assert final["phase"] == "Diagnosed", final
    diagnosis = final["diagnosis"]
    top = diagnosis["remediations"][0]
    assert (diagnosis["category"], top["action"]) in {
        (scenario.category, a) for a in scenario.actions
    }, (diagnosis["category"], top["action"], diagnosis.get("summary"))
    assert (top["target"]["kind"], top["target"]["name"]) == scenario.target, top["target"]
