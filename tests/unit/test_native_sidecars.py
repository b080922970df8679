"""Checks the unsupported-sidecar rule: a pod held initializing for long behind a running
init container with ``restartPolicy: Always`` on a node whose kubelet predates sidecar
support (1.29) is a fix of the workload's pod template. Near misses: the same pod on a 1.30
kubelet, a plain init container that waits (no restartPolicy), a pod still young, a node whose
kubelet version is unknown. And the evidence builder reads both facts from the raw objects.

Everything is real: Evidence models from ``tests.support.evidence``, ``build_evidence`` via
``tests.support.built``, and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.native_sidecars import CONFIDENCE, kubelet_minor
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerEvidence, NodeEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads

POD = "settle-6c5d8f9b47-8fzq2"
SETTLE = ObjectRef(kind="Deployment", namespace="shop", name="settle")
NODE = "batch-1"


def _proxy(restart_policy: str | None = "Always") -> ContainerEvidence:
    return make.container(
        "linkerd-proxy",
        "cr.l5d.io/linkerd/proxy:edge-24.11.8",
        ready=False,
        init=True,
        restart_policy=restart_policy,
    )


def _evidence(
    kubelet: str | None = "v1.27.16-eks-a737599",
    *,
    restart_policy: str | None = "Always",
    minutes: float = 90,
) -> Evidence:
    first = make.container(
        "linkerd-init", init=True, ready=True, state=make.terminated("Completed", 0)
    )
    app = make.container("settle", ready=False, state=make.waiting("PodInitializing"))
    pod = make.app_pod(
        POD,
        first,
        _proxy(restart_policy),
        app,
        node=NODE,
        phase="Pending",
        created_at=make.ago(minutes),
        conditions=[
            PodCondition(type="Initialized", status="False", reason="ContainersNotInitialized"),
            PodCondition(type="Ready", status="False", reason="ContainersNotReady"),
        ],
    )
    return make.evidence(
        pods=[pod],
        workload=make.deployment("settle", ready=0),
        nodes=[NodeEvidence(name=NODE, ready="True", kubelet_version=kubelet)],
    )


def _unsupported(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "unsupported-sidecar"]


def test_a_native_sidecar_on_a_1_27_kubelet_is_a_fix_of_the_pod_template() -> None:
    finding = assert_leads(analyze(_evidence()), Category.CONFIG_MISSING, Action.FIX_CONFIG, SETTLE)
    assert finding.analyzer == "unsupported-sidecar"
    assert finding.confidence == CONFIDENCE.unsupported_sidecar
    assert finding.params == {"container": "linkerd-proxy"}
    assert any("v1.27.16" in e.fact for e in finding.evidence)


def test_a_kubelet_with_sidecar_support_is_not_this_rule() -> None:
    assert not _unsupported(_evidence("v1.30.6-eks-7f9249a"))


def test_a_plain_init_container_that_waits_is_not_a_sidecar() -> None:
    assert not _unsupported(_evidence(restart_policy=None))


def test_a_young_pod_is_still_starting() -> None:
    assert not _unsupported(_evidence(minutes=3))


def test_an_unknown_kubelet_version_decides_nothing() -> None:
    assert not _unsupported(_evidence(None))


def test_kubelet_minor_reads_distribution_suffixed_versions() -> None:
    assert kubelet_minor(NodeEvidence(name="n", kubelet_version="v1.28.3+rke2r1")) == 28
    assert kubelet_minor(NodeEvidence(name="n", kubelet_version="v1.31.5-gke.1233000")) == 31
    assert kubelet_minor(NodeEvidence(name="n", kubelet_version="v2.0.0")) is None
    assert kubelet_minor(NodeEvidence(name="n")) is None


def _raw_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "shop", "uid": "u1"},
        "spec": {
            "nodeName": NODE,
            "initContainers": [
                {"name": "linkerd-proxy", "image": "proxy:1", "restartPolicy": "Always"},
                {"name": "migrate", "image": "app:1"},
            ],
            "containers": [{"name": "settle", "image": "app:1"}],
        },
        "status": {"phase": "Running"},
    }


def _raw_node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE, "uid": "n1"},
        "status": {"nodeInfo": {"kubeletVersion": "v1.27.16-eks-a737599"}},
    }


def test_the_builder_reads_restart_policy_and_kubelet_version() -> None:
    ev = built([_raw_pod(), _raw_node()], ObjectRef(kind="Pod", namespace="shop", name=POD))
    (pod,) = ev.pods
    policies = {c.name: c.restart_policy for c in pod.containers}
    assert policies == {"linkerd-proxy": "Always", "migrate": None, "settle": None}
    assert [n.kubelet_version for n in ev.nodes] == ["v1.27.16-eks-a737599"]
