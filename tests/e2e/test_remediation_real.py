"""An approved remediation on real objects: the OOM scenario's Deployment (broken by a kwok
Stage on the local control plane, or for real on another cluster) is diagnosed, a person
approves the memory increase with `kubectl patch`, the operator dry-runs the patch on the
server, applies it (the real Deployment controller rolls out a new ReplicaSet), and the
recorded undo command restores the previous limits. On the local control plane the audit log
shows the server-side dry run before the real patch.
Real: kube-apiserver (server-side dry-run, strategic merge patch), etcd, the Deployment
controller, kwok, kubectl, Kopf, the operator, the remediation executor and policy.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from kubetriage.settings import Settings
from tests.e2e.conftest import Cluster
from tests.e2e.test_remediation_e2e import _approve, _diagnose, _get, _memory, _outcome, _policy
from tests.support.operator import OperatorThread

pytestmark = pytest.mark.e2e

MANIFESTS = Path(__file__).parent / "manifests"
NAMESPACE, WORKLOAD = "exports", "csv-exporter"


def _revisions(cluster: Cluster) -> set[str]:
    out = cluster.kubectl(
        "get", "replicasets", "-n", NAMESPACE, "-l", f"app={WORKLOAD}", "-o",
        "jsonpath={.items[*].metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    ).stdout  # fmt: skip
    return set(out.split())


def test_approved_memory_increase_on_a_real_deployment(
    crd_installed: Cluster, tmp_path: Path
) -> None:
    cluster = crd_installed
    cluster.break_workload(MANIFESTS / "oom.yaml", NAMESPACE, WORKLOAD, {"OOMKilled"})
    before = _revisions(cluster)
    policy = _policy(
        tmp_path,
        rules=[{"actions": ["increase-memory"], "namespaces": [NAMESPACE]}],
        bounds={"maxMemoryFactor": 1.5},
    )
    settings = Settings(memory_enabled=False, policy_file=policy)
    with OperatorThread(cluster.kubeconfig, settings=settings):
        diagnosed = _diagnose(cluster, NAMESPACE, WORKLOAD, "oom-real")
        assert diagnosed["status"]["diagnosis"]["category"] == "oom-killed"
        top = diagnosed["status"]["diagnosis"]["remediations"][0]
        assert top["action"] == "increase-memory"
        assert top["target"]["name"] == WORKLOAD
        _approve(cluster, NAMESPACE, "oom-real", top["id"], "alice@example.com")
        status = _outcome(cluster, NAMESPACE, "oom-real", top["id"])
    record = status["remediation"]
    assert record["result"] == "Applied", record
    assert record["dryRun"] is True
    deployment = _get(cluster, "deployment", NAMESPACE, WORKLOAD)
    assert _memory(deployment) == ("384Mi", "384Mi")  # 1.5 x 256Mi, the policy's bound
    # The real Deployment controller rolled the change out as a new revision.
    cluster.wait_for(lambda: len(_revisions(cluster) - before) >= 1, "a new ReplicaSet")
    if cluster.local is not None:
        patches = [
            e.uri
            for e in cluster.local.audit_events()
            if e.verb == "patch" and e.resource == "deployments" and e.name == WORKLOAD
        ]
        dry = [i for i, uri in enumerate(patches) if "dryRun=All" in uri]
        real = [i for i, uri in enumerate(patches) if "dryRun" not in uri]
        assert dry, patches
        assert real, patches
        assert dry[-1] < real[-1]

    undo = record["undo"]
    args = shlex.split(undo["command"])
    assert args[0] == "kubectl"
    cluster.kubectl(*args[1:])
    assert _memory(_get(cluster, "deployment", NAMESPACE, WORKLOAD)) == ("256Mi", "256Mi")
