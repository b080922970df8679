"""Checks which controller references the live collector climbs through to a pod's workload
(``kubetriage.evidence.kube``): a workload, and the pod controlling a pod (Spark on Kubernetes
makes the driver pod the owner of its executors). Near misses: a pod owned by a custom
resource, a ConfigMap owned by a pod (not a pod's chain), a bare reference without a kind.

Pure: the decision over raw metadata; the climb itself runs against the API emulator in
``tests/integration/test_evidence_parity.py``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.kube import _climbable


def _ref(kind: str | None, name: str = "owner") -> dict[str, Any]:
    return {"kind": kind, "name": name, "controller": True}


def test_a_pod_climbs_through_a_workload_or_its_controlling_pod() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "job-exec-1"}}
    assert _climbable(pod, _ref("ReplicaSet"))
    assert _climbable(pod, _ref("Job"))
    assert _climbable(pod, _ref("Pod", "job-driver"))


def test_custom_owners_and_non_pods_owned_by_pods_stop_the_climb() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "worker-0"}}
    assert not _climbable(pod, _ref("SparkApplication"))
    assert not _climbable(pod, _ref(None))
    config_map = {"kind": "ConfigMap", "metadata": {"name": "spark-drv-conf-map"}}
    assert not _climbable(config_map, _ref("Pod", "job-driver"))
