"""Checks the node agents read when the API server throttles, and the agent-api-load rule.

Evidence side (``kubetriage.evidence.agent_rollouts`` through the real builder): the
DaemonSets with the rollouts their ControllerRevisions record, only when the incident's own
lines carry the API server's 429 as client-go relays it. Analyzer side
(``kubetriage.analyzers.api_load``): the throttled workload did not change and exactly one
agent rolled out a change of how it runs right before: that DaemonSet is rolled back, above
the workload's own crash loop; and the near misses: the agent rolled out long before, its
change touched nothing that decides its calls, two agents rolled out, the workload changed
itself, the lines do not say the API server throttles.

Real: raw DaemonSet and ControllerRevision manifests as the API returns them, the pure
builder, Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kubetriage.analyzers.api_load import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import AgentRolloutEvidence
from kubetriage.models.object_evidence import ChangeEvidence, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, controller_revision_manifest
from tests.support.evidence import NOW, ago, analyze, assert_leads

OWN = ObjectRef(kind="Deployment", namespace="cert-manager", name="cert-manager")
AGENT = ObjectRef(kind="DaemonSet", namespace="observability", name="node-telemetry")
OTHER = ObjectRef(kind="DaemonSet", namespace="kube-system", name="log-shipper")
THROTTLED = (
    'E1120 09:57:05.301442 1 reflector.go:158] "Unhandled Error" err="failed to list '
    "*v1.Secret: the server has received too many requests and has asked us to try again "
    'later (get secrets)"'
)


def _revision(number: int, args: list[str], created: datetime) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": AGENT.name}},
        "spec": {"containers": [{"name": "agent", "image": f"agent:{number}", "args": args}]},
    }
    return controller_revision_manifest(
        AGENT, number, template, created=created, labels={"app": AGENT.name}
    )


def _objects() -> list[dict[str, Any]]:
    new = _revision(8, ["--pod-metadata-source=apiserver"], NOW - timedelta(minutes=29))
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": AGENT.name, "namespace": AGENT.namespace},
        "spec": {
            "selector": {"matchLabels": {"app": AGENT.name}},
            "template": new["data"]["spec"]["template"],
        },
        "status": {"desiredNumberScheduled": 64, "numberReady": 64},
    }
    old = _revision(7, ["--pod-metadata-source=kubelet"], NOW - timedelta(days=40))
    return [daemonset, old, new]


def test_the_agents_rollouts_are_read_when_the_api_server_throttles() -> None:
    assert OWN.namespace is not None
    logs = [make.log("cert-manager-7gf-tw4hk", "controller", THROTTLED, namespace=OWN.namespace)]
    evidence = built(_objects(), OWN, logs=logs)
    [agent] = evidence.agent_rollouts
    assert (agent.ref, agent.nodes) == (AGENT, 64)
    assert agent.changes[0].aspects == ["image", "args"]


def test_no_agents_are_read_when_it_is_not_throttled() -> None:
    logs = [make.log("cert-manager-7gf-tw4hk", "controller", "leader lost", namespace="x")]
    assert built(_objects(), OWN, logs=logs).agent_rollouts == []


# --- the rule ----------------------------------------------------------------------------


def _agent(ref: ObjectRef, *aspects: str, minutes_ago: float = 29) -> AgentRolloutEvidence:
    return AgentRolloutEvidence(
        ref=ref, nodes=64, changes=[make.rollout_change(ref, 7, *aspects, minutes_ago=minutes_ago)]
    )


def _evidence(
    *,
    agents: list[AgentRolloutEvidence] | None = None,
    own_changes: list[ChangeEvidence] | None = None,
    log_text: str = THROTTLED,
) -> Evidence:
    assert OWN.namespace is not None
    return make.evidence(
        target=OWN,
        workload=WorkloadEvidence(ref=OWN, desired_replicas=1, ready_replicas=0),
        pods=[
            make.pod(
                "cert-manager-7gf-tw4hk",
                make.crash_looping("controller", restarts=6),
                namespace=OWN.namespace,
                replica_set="cert-manager-7gf",
            )
        ],
        alerts=[
            AlertEvidence(
                labels={"alertname": "KubePodCrashLooping", "namespace": OWN.namespace},
                starts_at=ago(9),
                status="firing",
            )
        ],
        logs=[make.log("cert-manager-7gf-tw4hk", "controller", log_text, namespace=OWN.namespace)],
        changes=own_changes or [],
        agent_rollouts=agents if agents is not None else [_agent(AGENT, "image", "args")],
    )


def _load(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "agent-api-load"]


def test_the_agent_that_rolled_out_before_the_throttling_is_rolled_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)
    assert finding.analyzer == "agent-api-load"
    assert finding.confidence == CONFIDENCE
    assert any("too many requests" in e.fact for e in finding.evidence)
    assert any("64 nodes" in e.fact for e in finding.evidence)


def test_one_changed_agent_among_long_unchanged_ones_is_still_the_suspect() -> None:
    agents = [_agent(AGENT, "args"), _agent(OTHER, "image", minutes_ago=60 * 24 * 9)]
    assert_leads(analyze(_evidence(agents=agents)), Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)


def test_silent_when_the_agent_rolled_out_long_before_the_onset() -> None:
    assert not _load(_evidence(agents=[_agent(AGENT, "image", minutes_ago=60 * 6)]))


def test_silent_when_the_agents_change_touched_nothing_that_decides_its_calls() -> None:
    assert not _load(_evidence(agents=[_agent(AGENT, "labels", "tolerations")]))


def test_silent_when_two_agents_rolled_out() -> None:
    assert not _load(_evidence(agents=[_agent(AGENT, "image"), _agent(OTHER, "args")]))


def test_silent_when_the_workload_rolled_out_itself() -> None:
    own = make.rollout_change(OWN, 5, "image", minutes_ago=20)
    assert not _load(_evidence(own_changes=[own]))


def test_silent_when_the_api_server_does_not_throttle() -> None:
    assert not _load(_evidence(log_text="E1120 leaderelection.go:429] context deadline exceeded"))


def test_silent_without_agent_rollouts() -> None:
    assert not _load(_evidence(agents=[]))
