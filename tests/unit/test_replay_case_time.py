"""Checks when a replayed case is "now": the latest observed timestamp in its objects or at
the start of its log lines, rounded up to the minute, so the backfilled metrics end where the
objects and logs place the present (a metric step and a rollout then share one clock).

Real: ``kubetriage.replay.session.case_time`` over ``Case`` models built in the test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubetriage.models.case import Case
from kubetriage.replay.session import case_time


def _case(logs: dict[str, str], *, event_time: str = "2026-11-20T09:44:00Z") -> Case:
    event: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "shop"},
        "lastTimestamp": event_time,
    }
    return Case(
        id="c",
        alert={"labels": {"alertname": "X"}, "startsAgo": "5m"},
        cluster=[event],
        logs=logs,
    )


def test_objects_alone_set_the_time() -> None:
    assert case_time(_case({})) == datetime(2026, 11, 20, 9, 44, tzinfo=UTC)


def test_later_log_lines_move_now_forward_in_any_common_format() -> None:
    logs = {
        "shop/a/app": "2026-11-20T09:50:01Z started\n2026-11-20 09:58:11.092 UTC [61] ERROR: x\n",
        "shop/b/app": "[2026-11-20 09:52:00] INFO ok\nno timestamp here\n",
        "shop/c/app": "ERROR 2026-11-20T09:57:00+01:00 in another zone\n",
    }
    assert case_time(_case(logs)) == datetime(2026, 11, 20, 9, 59, tzinfo=UTC)


def test_earlier_log_lines_do_not_move_now_back() -> None:
    logs = {"shop/a/app": "2026-11-20T08:00:00Z old line\n"}
    assert case_time(_case(logs)) == datetime(2026, 11, 20, 9, 44, tzinfo=UTC)


def test_a_malformed_date_is_ignored() -> None:
    logs = {"shop/a/app": "2026-13-45T99:00:00Z garbage\n"}
    assert case_time(_case(logs)) == datetime(2026, 11, 20, 9, 44, tzinfo=UTC)


def test_log_times_are_read_by_the_analyzers_parser_in_every_format_it_knows() -> None:
    # nginx's slash date, Boost.Log's month name and klog's year-less header: the replay
    # places "now" with the same parser the analyzers order log lines with.
    for line in (
        "2026/11/20 09:58:40 [error] 40#40: *7 no live upstreams",
        "[2026-Nov-20 09:58:01.441502] <error>: connect() refused",
        "W1120 09:58:42.771104       7 controller.go:1216] no active Endpoint",
        '{"t":"2026-11-20T09:58:03Z","level":"error"}',
    ):
        assert case_time(_case({"shop/a/app": line + "\n"})) == datetime(
            2026, 11, 20, 9, 59, tzinfo=UTC
        ), line


def test_a_klog_line_takes_its_year_from_the_objects() -> None:
    logs = {"shop/a/app": "W1120 09:58:42.771104 7 controller.go:1216] no active Endpoint\n"}
    case = _case(logs, event_time="2025-11-20T09:44:00Z")
    assert case_time(case) == datetime(2025, 11, 20, 9, 59, tzinfo=UTC)
