"""Checks the callee-probe-failure rule: a dependency the workload fails on, short of ready
replicas because the kubelet restarts its pods for a liveness probe that reaches nothing, is
its probe (more so when its latest rollout changed that probe); a probe that times out, or a
dependency with every replica ready, is not.

Everything is real: Evidence models built by ``tests.support.evidence`` and the full analyzer
registry via ``run_analyzers``; nothing is mocked.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, naming

WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")


def _callee(why: str, *, changed: bool = False, ready: int = 1) -> Evidence:
    """The caller's calls to Service shop/web fail; web's pods are restarted by their
    liveness probe, which fails with ``why``."""
    pods = ["web-6b8d9c7f4d-k7x2p", "web-6b8d9c7f4d-r4vqn"]
    dep = DependencyEvidence(
        service=ServiceEvidence(name="web", namespace="shop", selector={"app": "web"}),
        workload=WEB,
        named_by=naming("pod proxy-1 env FRONTEND_HOST"),
        desired_replicas=2,
        ready_replicas=ready,
        pods=2,
        failing_pods=[
            PodTrouble(
                pod=pods[0],
                container="web",
                waiting="CrashLoopBackOff",
                restarts=10,
                last_terminated="Error",
            )
        ],
        warnings=[f"Pod/{p} Unhealthy: Liveness probe failed: {why}" for p in pods],
        changes=[
            ChangeEvidence(
                at=ago(38),
                kind="rollout",
                object=WEB,
                aspects=["probes"],
                details=["revision 2 -> 3", "web livenessProbe changed"],
            )
        ]
        if changed
        else [],
    )
    failing = make.log("proxy-1", "proxy", '"GET / HTTP/1.1" 503 UH no healthy upstream')
    return make.evidence(workload=make.deployment(), dependencies=[dep], logs=[failing])


def test_a_callee_restarted_by_a_liveness_probe_that_reaches_nothing_is_its_probe() -> None:
    refused = 'Get "http://10.0.1.71:8081/": dial tcp 10.0.1.71:8081: connect: connection refused'
    finding = assert_leads(analyze(_callee(refused)), Category.PROBE_FAILURE, Action.FIX_PROBE, WEB)
    changed = assert_leads(
        analyze(_callee(refused, changed=True)), Category.PROBE_FAILURE, Action.FIX_PROBE, WEB
    )
    assert changed.confidence > finding.confidence
    # A probe that times out may only report a process too busy to answer: not blamed here.
    slow = 'Get "http://10.0.1.71:8080/": context deadline exceeded'
    assert not [f for f in analyze(_callee(slow)).findings if f.analyzer == "callee-probe-failure"]
    # All replicas ready: the callee serves, whatever its probe says.
    full = analyze(_callee(refused, ready=2))
    assert not [f for f in full.findings if f.analyzer == "callee-probe-failure"]
