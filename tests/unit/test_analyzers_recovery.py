"""A callee that failed once and came back by itself before the alert: the caller's errors
were the restart's, so no dependency-failure finding; a SIGKILL with no memory limit on a
calm node is no OOM; and the unknown that remains is handed to the troubled workload.
Synthetic evidence; the real analyzers and combiner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubetriage.analyzers.log_times import line_time
from kubetriage.combine import combine
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    ContainerState,
    NodeEvidence,
    PodCondition,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    NOW,
    ago,
    analyze,
    app_pod,
    by_category,
    container,
    event,
    evidence,
    log,
    service,
)

CALLEE = ObjectRef(kind="Deployment", namespace="shop", name="orders")


def _killed_once(*, restarts: int = 1, reason: str = "Error", back: float = 9) -> ContainerEvidence:
    return container(
        "orders",
        restarts=restarts,
        state=ContainerState(state="running", started_at=ago(back)),
        last_state=ContainerState(
            state="terminated", reason=reason, exit_code=137, finished_at=ago(back + 0.1)
        ),
    )


def _node(*pressures: str) -> NodeEvidence:
    return NodeEvidence(
        name="worker-1",
        ready="True",
        conditions=[
            PodCondition(type=kind, status="True" if kind in pressures else "False")
            for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
        ],
    )


def _incident(
    lines: str,
    callee: ContainerEvidence | None = None,
    *,
    nodes: list[NodeEvidence] | None = None,
    **kw: Any,
) -> Evidence:
    """A namespace-wide incident: ``web`` calls Service ``orders`` and logs ``lines``."""
    return evidence(
        target=ObjectRef(kind="Namespace", name="shop"),
        pods=[
            app_pod("web-5c8d7f9b6-k2m4p", container("web")),
            app_pod("orders-6f7b9c8d5-x8z2q", callee or _killed_once()),
        ],
        services=[service("orders", ready=1, matching=1)],
        nodes=[_node()] if nodes is None else nodes,
        logs=[log("web-5c8d7f9b6-k2m4p", "web", lines)],
        **kw,
    )


# Calls refused at 09:50:47-52; the callee came back at 09:51:00 (9 minutes before NOW).
BEFORE = """
2026/11/20 09:50:47 [error] upstream failure: could not connect to orders:9090 (connection refused)
2026/11/20 09:50:52 [error] upstream failure: could not connect to orders:9090 (connection refused)
"""


def test_a_callee_back_before_the_alert_is_no_failing_dependency() -> None:
    result = analyze(_incident(BEFORE))
    assert not by_category(result, Category.DEPENDENCY_FAILURE)
    # Exit 137 without OOMKilled, no memory limit, a node with no memory pressure: no OOM.
    assert not by_category(result, Category.OOM_KILLED)


def test_the_unknown_that_remains_goes_to_the_workload_that_restarted() -> None:
    ev = _incident(BEFORE)
    diagnosis = combine(
        evidence=ev,
        findings=list(analyze(ev).findings),
        opinion=None,
        llm=LLMUsage(used=False, reason="not configured"),
        similar=[],
    )
    assert diagnosis.category is Category.UNKNOWN
    top = diagnosis.remediations[0]
    assert (top.action, top.target) == (Action.ESCALATE, CALLEE)
    # It says what would decide it: what killed the callee, which came back at 09:51.
    assert "what killed that container" in diagnosis.root_cause
    assert any("has run ready since 09:51:00" in e.fact for e in diagnosis.evidence)


@pytest.mark.parametrize(
    ("lines", "callee"),
    [
        # A call failed after it was back: it is still failing.
        (
            BEFORE
            + "2026/11/20 09:58:02 [error] could not connect to orders:9090 (connection refused)",
            None,
        ),
        # It restarted more than once: it fails repeatedly.
        (BEFORE, _killed_once(restarts=3)),
        # Its last run was OOMKilled: a cause in evidence.
        (BEFORE, _killed_once(reason="OOMKilled")),
        # It is not ready now.
        (
            BEFORE,
            container(
                "orders",
                ready=False,
                restarts=1,
                last_state=ContainerState(state="terminated", exit_code=137, finished_at=ago(9)),
            ),
        ),
        # The failing calls carry no time: nothing orders them against its return.
        ("upstream failure: could not connect to orders:9090 (connection refused)", None),
    ],
    ids=["failing-after", "repeated", "oom-killed", "not-ready", "untimed"],
)
def test_a_callee_still_failing_or_with_a_cause_stays_a_dependency(
    lines: str, callee: ContainerEvidence | None
) -> None:
    found = by_category(analyze(_incident(lines, callee)), Category.DEPENDENCY_FAILURE)
    assert [f.target.name for f in found] == ["orders"]


def test_a_sigkill_without_limit_is_an_oom_only_where_the_node_ran_short() -> None:
    pressed = analyze(_incident(BEFORE, nodes=[_node("MemoryPressure")]))
    assert by_category(pressed, Category.OOM_KILLED)
    system_oom = event(
        "SystemOOM", "System OOM encountered", name="worker-1", kind="Node", namespace=None
    )
    assert by_category(analyze(_incident(BEFORE, events=[system_oom])), Category.OOM_KILLED)
    # Its node was not read: nothing says it was calm.
    assert by_category(analyze(_incident(BEFORE, nodes=[])), Category.OOM_KILLED)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2026-11-20T09:58:11Z ERROR boom", datetime(2026, 11, 20, 9, 58, 11, tzinfo=UTC)),
        ("[2026-11-20 09:58:11.092] boom", datetime(2026, 11, 20, 9, 58, 11, tzinfo=UTC)),
        ("ERROR 2026-11-20 09:58:11,092 boom", datetime(2026, 11, 20, 9, 58, 11, tzinfo=UTC)),
        ("2026/11/20 09:50:47 [error] 8#8: boom", datetime(2026, 11, 20, 9, 50, 47, tzinfo=UTC)),
        ("[2026-Nov-20 09:50:54.770102] <info>: x", datetime(2026, 11, 20, 9, 50, 54, tzinfo=UTC)),
        (
            "E1120 09:50:47.123456       1 x.go:12] boom",
            datetime(2026, 11, 20, 9, 50, 47, tzinfo=UTC),
        ),
        (
            '{"level":"error","ts":"2026-11-20T09:58:41.1+01:00"}',
            datetime(2026, 11, 20, 8, 58, 41, tzinfo=UTC),
        ),
        # logfmt: Go's slog and logrus put the time first, go-kit after the level.
        (
            "time=2026-11-20T09:58:51.204Z level=ERROR msg=x",
            datetime(2026, 11, 20, 9, 58, 51, tzinfo=UTC),
        ),
        ('time="2026-11-20T09:58:51Z" level=error', datetime(2026, 11, 20, 9, 58, 51, tzinfo=UTC)),
        (
            "level=info ts=2026-11-20T09:58:51.1Z caller=x",
            datetime(2026, 11, 20, 9, 58, 51, tzinfo=UTC),
        ),
        ("connection refused", None),
        ("certificate expires 2026-12-01 00:00:00", None),
        ("msg=renewed expires=2026-12-01T00:00:00Z", None),
    ],
)
def test_line_time(line: str, expected: datetime | None) -> None:
    assert line_time(line, NOW) == expected


def test_klog_year_is_the_latest_not_after_now() -> None:
    assert line_time("I1231 23:59:59.1 x] y", NOW) == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
