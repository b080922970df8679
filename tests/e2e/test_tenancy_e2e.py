"""End to end: the tenancy rule (``kubetriage.tenancy``) against the confused-deputy attacks
of issue 10. An Incident created in ``team-a`` cannot make kubetriage read another
namespace's pods, logs and events, nor change another namespace's Deployment by approving a
remediation; an Incident in a cluster-scope namespace (the operator's own) can. Every
refusal is a condition (reason ``TargetOutsideNamespace``). Real: the emulated API server
over HTTP and its audit log, kubectl, the kubernetes client, Kopf, the pipeline, the policy
file on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kubetriage.settings import Settings
from tests.e2e.conftest import Cluster
from tests.e2e.test_remediation_e2e import (
    OOM,
    _approve,
    _deployment_writes,
    _diagnose,
    _get,
    _load,
    _memory,
    _outcome,
    _policy,
    _wait,
)
from tests.support.incidents import incident
from tests.support.operator import OperatorThread

READ_VERBS = {"get", "list", "watch"}


def _create(cluster: Cluster, namespace: str, name: str, spec: dict[str, Any]) -> None:
    body = incident(name, namespace, **spec)
    done = cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump(body), check=False)
    assert done.returncode == 0, done.stderr


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions: dict[str, dict[str, Any]] = {c["type"]: c for c in status.get("conditions") or []}
    return conditions[kind]


def _reads_in(cluster: Cluster, namespace: str) -> list[str]:
    """Reads of anything but Incidents in ``namespace`` (the operator's, kubectl's own are
    cleared before the step under test)."""
    assert cluster.emulator is not None
    return [
        f"{r.verb} {r.resource}/{r.name}"
        for r in cluster.emulator.audit
        if r.namespace == namespace and r.verb in READ_VERBS and r.resource != "incidents"
    ]


def test_incident_cannot_target_another_namespace_and_reads_nothing_there(
    emulated: Cluster,
) -> None:
    cluster = emulated
    assert cluster.emulator is not None
    namespace, workload, case_dir = OOM
    _load(cluster, case_dir)
    cluster.kubectl("create", "namespace", "team-a")
    with OperatorThread(cluster.kubeconfig, settings=Settings(memory_enabled=False)):
        cluster.emulator.clear_audit()
        _create(
            cluster,
            "team-a",
            "x",
            {
                "title": "steal",
                "target": {"kind": "Deployment", "namespace": namespace, "name": workload},
            },
        )
        body = _wait(cluster, "team-a", "x", lambda s: s.get("phase") == "Failed")
        failed = _condition(body["status"], "Diagnosed")
        assert failed["reason"] == "TargetOutsideNamespace"
        assert f"Deployment/{namespace}/{workload}" in failed["message"]
        assert "diagnosis" not in body["status"]
        assert _reads_in(cluster, namespace) == []

        # An alert naming another namespace's pod is refused the same way.
        _create(
            cluster,
            "team-a",
            "by-label",
            {
                "title": "steal by label",
                "source": "alertmanager",
                "alerts": [
                    {"labels": {"alertname": "X", "namespace": namespace, "pod": "anything"}}
                ],
            },
        )
        body = _wait(cluster, "team-a", "by-label", lambda s: s.get("phase") == "Failed")
        assert _condition(body["status"], "Diagnosed")["reason"] == "TargetOutsideNamespace"
        assert _reads_in(cluster, namespace) == []


def test_a_cluster_scope_namespace_may_target_other_namespaces(emulated: Cluster) -> None:
    cluster = emulated
    namespace, workload, case_dir = OOM
    _load(cluster, case_dir)
    cluster.kubectl("create", "namespace", "ops")
    settings = Settings(memory_enabled=False, cluster_scope_namespaces=["ops"])
    with OperatorThread(cluster.kubeconfig, settings=settings):
        _create(
            cluster,
            "ops",
            "x",
            {
                "title": "exporter",
                "target": {"kind": "Deployment", "namespace": namespace, "name": workload},
            },
        )
        body = _wait(cluster, "ops", "x", lambda s: s.get("phase") in {"Diagnosed", "Failed"})
        assert body["status"]["phase"] == "Diagnosed", body["status"]
        assert body["status"]["diagnosis"]["category"] == "oom-killed"


def test_approval_from_another_namespace_is_refused_at_execution(
    emulated: Cluster, tmp_path: Path
) -> None:
    """The diagnosis is written as it was before the rule existed (a remediation on another
    namespace's Deployment); approving it from team-a must not change that Deployment, even
    with a policy allowing the action everywhere."""
    cluster = emulated
    namespace, workload, case_dir = OOM
    _load(cluster, case_dir)
    cluster.kubectl("create", "namespace", "team-a")
    policy = _policy(tmp_path, rules=[{"actions": ["increase-memory"], "namespaces": ["*"]}])
    settings = Settings(memory_enabled=False, policy_file=policy)
    with OperatorThread(cluster.kubeconfig, settings=settings):
        # A legitimate diagnosis in the workload's own namespace, to copy its status.
        diagnosed = _diagnose(cluster, namespace, workload, "oom")
        top = diagnosed["status"]["diagnosis"]["remediations"][0]
        assert top["target"]["namespace"] == namespace
        _create(cluster, "team-a", "x", {"title": "forged"})
        _wait(cluster, "team-a", "x", lambda s: s.get("phase") in {"Diagnosed", "Failed"})
        status = {
            "phase": "Diagnosed",
            "diagnosis": diagnosed["status"]["diagnosis"],
        }
        cluster.kubectl(
            "patch",
            "inc",
            "x",
            "-n",
            "team-a",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            json.dumps({"status": status}),
        )
        before = _memory(_get(cluster, "deployment", namespace, workload))
        assert cluster.emulator is not None
        cluster.emulator.clear_audit()
        _approve(cluster, "team-a", "x", top["id"], "mallory@example.com")
        outcome = _outcome(cluster, "team-a", "x", top["id"])
        assert outcome["remediation"]["result"] == "Rejected"
        assert outcome["remediation"]["reason"] == "TargetOutsideNamespace"
        remediated = _condition(outcome, "Remediated")
        assert (remediated["status"], remediated["reason"]) == (
            "False",
            "TargetOutsideNamespace",
        )
        assert _deployment_writes(cluster, workload) == []
        assert _memory(_get(cluster, "deployment", namespace, workload)) == before
