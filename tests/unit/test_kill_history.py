"""Checks that a container's old kill is read as history, not as the incident: a last state
OOMKilled (or SIGKILL) that ended hours ago on a container that has run ready since, with its
working set now clear of the limit, earns no oom-killed finding; a kill that is recent, a
container not serving, or memory climbing back to the limit keeps it; an "unknown" diagnosis
names the old exit it ruled out.

Everything is real: Evidence models built by ``tests.support.evidence``, the full analyzer
registry via ``run_analyzers``, ``pods.exit_is_history`` and ``unknown.explain_unknown``;
nothing is mocked.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.pods import HISTORY_EXIT_SECONDS, exit_is_history
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerEvidence, ContainerState, MetricSummary
from kubetriage.models.vocabulary import Category
from kubetriage.unknown import explain_unknown
from tests.support import evidence as make
from tests.support.evidence import NOW, analyze, by_category

LIMIT = 512 * 1024**2
HISTORY_MINUTES = HISTORY_EXIT_SECONDS / 60


def _killed(
    minutes_ago: float,
    *,
    reason: str | None = "OOMKilled",
    ready: bool = True,
    restarts: int = 1,
) -> ContainerEvidence:
    """Container ``app`` whose last run ended (exit 137) ``minutes_ago`` and that has run
    since (``ready`` or not)."""
    finished = NOW - timedelta(minutes=minutes_ago)
    return make.container(
        "app",
        ready=ready,
        restarts=restarts,
        state=ContainerState(state="running", started_at=finished + timedelta(seconds=2)),
        last_state=ContainerState(
            state="terminated",
            reason=reason,
            exit_code=137,
            started_at=finished - timedelta(days=6),
            finished_at=finished,
        ),
        limits={"memory": "512Mi"},
    )


def _working_set(share: float) -> list[MetricSummary]:
    return [
        make.metric(
            'container_memory_working_set_bytes{namespace="shop",container="app"}',
            last=share * LIMIT,
            first=share * LIMIT,
            labels={"container": "app"},
            trend="flat",
        )
    ]


def _latency_alert(ev: Evidence) -> Evidence:
    return ev.model_copy(
        update={"alert": make.alert(alertname="HighRequestLatency", namespace="shop")}
    )


def _oom_findings(ev: Evidence) -> list[Finding]:
    return by_category(analyze(_latency_alert(ev)), Category.OOM_KILLED)


def test_yesterdays_oom_kill_on_a_container_serving_since_is_history() -> None:
    ev = make.checkout_evidence(_killed(27 * 60), metrics=_working_set(0.6))
    assert _oom_findings(ev) == []


def test_an_old_sigkill_is_history_too() -> None:
    ev = make.checkout_evidence(_killed(20 * 60, reason="Error"), metrics=_working_set(0.5))
    assert _oom_findings(ev) == []


def test_an_old_kill_with_no_working_set_read_is_history() -> None:
    assert _oom_findings(make.checkout_evidence(_killed(30 * 60))) == []


def test_an_old_kill_with_memory_back_at_the_limit_is_still_the_incident() -> None:
    ev = make.checkout_evidence(_killed(10 * 60), metrics=_working_set(0.92))
    found = _oom_findings(ev)
    assert found
    assert found[0].confidence >= 0.9


def test_a_recent_kill_is_the_incident_whatever_the_memory_now() -> None:
    ev = make.checkout_evidence(_killed(40), metrics=_working_set(0.4))
    found = _oom_findings(ev)
    assert found
    assert found[0].confidence >= 0.9


def test_an_old_kill_on_a_container_not_ready_is_still_read() -> None:
    ev = make.checkout_evidence(_killed(27 * 60, ready=False), metrics=_working_set(0.5))
    assert _oom_findings(ev)


def test_a_fresh_kill_on_another_pod_keeps_the_finding() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        pods=[
            make.pod("checkout-7d9f6c8b5-old01", _killed(27 * 60)),
            make.pod("checkout-7d9f6c8b5-new02", _killed(12, restarts=4)),
        ],
        metrics=_working_set(0.6),
    )
    found = _oom_findings(ev)
    assert found
    assert found[0].confidence >= 0.9


def test_history_starts_at_the_threshold_and_needs_a_serving_container() -> None:
    ev = make.evidence()
    assert not exit_is_history(ev, _killed(HISTORY_MINUTES - 1))
    assert exit_is_history(ev, _killed(HISTORY_MINUTES))
    assert not exit_is_history(ev, _killed(HISTORY_MINUTES * 3, ready=False))
    waiting = _killed(HISTORY_MINUTES * 3).model_copy(
        update={"state": make.waiting("CrashLoopBackOff")}
    )
    assert not exit_is_history(ev, waiting)
    assert not exit_is_history(ev, make.container("app"))


def _unknown_facts(ev: Evidence) -> list[str]:
    return [e.fact for claim in explain_unknown(ev).because for e in claim.evidence]


def test_an_unknown_diagnosis_names_the_old_kill_it_ruled_out() -> None:
    facts = _unknown_facts(make.checkout_evidence(_killed(27 * 60), metrics=_working_set(0.6)))
    assert "container app last terminated OOMKilled 1d 3h ago and has run ready since" in facts


def test_an_unknown_diagnosis_does_not_call_a_recent_exit_history() -> None:
    facts = _unknown_facts(make.checkout_evidence(_killed(40, reason="Error")))
    assert not any("has run ready since" in f for f in facts)
