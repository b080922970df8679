"""Checks the split-configuration rule: a Secret (or ConfigMap) that a Deployment's containers
read through their environment is written, and its replicas run on both sides of the write
(some started before it, some after), all running and ready, with the symptom after it: the
replicas disagree on the value, so the workload is restarted, not the object corrected.

Everything is real: Evidence models built by ``tests.support.evidence`` and the full analyzer
registry via ``run_analyzers``; nothing is mocked.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ConfigReference,
    ContainerState,
    PodEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category

_SECRET = ObjectRef(kind="Secret", namespace="shop", name="session-keys")
_WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="web")


def _replica(
    suffix: str, started_minutes_ago: float, *, via: str, ready: bool = True
) -> PodEvidence:
    refs = [ConfigReference(kind="Secret", name="session-keys", key="signing-key", via=via)]
    state = ContainerState(state="running", started_at=ago(started_minutes_ago))
    app = make.container("app", state=state, ready=ready)
    return make.app_pod(
        f"web-5d8f7c9b4-{suffix}", app, config_refs=refs, created_at=ago(started_minutes_ago)
    )


def _split(
    starts: tuple[float, ...] = (9000, 9000, 40),
    *,
    written_minutes_ago: float = 70,
    via: str = "env SESSION_KEY",
    alert_minutes_ago: float = 25,
    ready: bool = True,
) -> Evidence:
    write = ChangeEvidence(
        at=ago(written_minutes_ago),
        kind="config",
        object=_SECRET,
        aspects=["metadata"],
        details=["Updated by ExternalSecret: Updated Secret"],
    )
    pods = [
        _replica(f"x{i}", start, via=via, ready=ready or i < len(starts) - 1)
        for i, start in enumerate(starts)
    ]
    return make.evidence(
        workload=make.deployment("web", replicas=len(starts)),
        pods=pods,
        changes=[write],
        alerts=[
            AlertEvidence(
                labels={"alertname": "LoginLoop", "namespace": "shop"},
                starts_at=ago(alert_minutes_ago),
                status="firing",
            )
        ],
    )


def test_replicas_started_on_both_sides_of_a_secret_write_are_restarted() -> None:
    finding = assert_leads(analyze(_split()), Category.CONFIG_MISSING, Action.RESTART, _WORKLOAD)
    assert finding.analyzer == "split-config"
    assert any("before the write" in e.fact for e in finding.evidence)
    assert any("after the write" in e.fact for e in finding.evidence)


def test_env_from_reads_split_the_same_way() -> None:
    finding = analyze(_split(via="envFrom")).findings[0]
    assert (finding.analyzer, finding.action) == ("split-config", Action.RESTART)


def test_every_replica_started_before_the_write_agrees() -> None:
    # Near miss: all replicas hold the old value; nothing splits them.
    result = analyze(_split(starts=(9000, 9000, 9000)))
    assert "split-config" not in result.fired


def test_every_replica_started_after_the_write_agrees() -> None:
    result = analyze(_split(starts=(40, 30, 20)))
    assert "split-config" not in result.fired


def test_a_mounted_secret_is_refreshed_in_place() -> None:
    # Near miss: a Secret volume is updated by the kubelet; start times do not split values.
    result = analyze(_split(via="volume session-keys"))
    assert "split-config" not in result.fired


def test_a_new_replica_that_is_not_ready_is_another_story() -> None:
    # Near miss: the replica that read the new value fails; the value itself may be wrong.
    result = analyze(_split(ready=False))
    assert "split-config" not in result.fired


def test_a_symptom_older_than_the_write_is_not_its_consequence() -> None:
    result = analyze(_split(alert_minutes_ago=200, written_minutes_ago=70))
    assert not [
        f for f in by_category(result, Category.CONFIG_MISSING) if f.analyzer == "split-config"
    ]


def test_replicas_of_two_revisions_are_a_rollout_under_way() -> None:
    # Near miss: the newer replica belongs to another ReplicaSet; the rollout is the story.
    ev = _split()
    newest = ev.pods[-1]
    other = ObjectRef(kind="ReplicaSet", namespace="shop", name="web-6c7d8e9f0")
    pods = [*ev.pods[:-1], newest.model_copy(update={"owner": other})]
    assert "split-config" not in analyze(ev.model_copy(update={"pods": pods})).fired
