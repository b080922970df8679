"""Checks the ``time-shift`` metamorphic transform (``tools/metamorphic_time.py``): every
time a case carries moves by one offset, in the form it was written in, and nothing else
moves.

Real: the case loader's and the replay's own reading of a case's "now" (``case_time``) and
of log line times (``line_time``) on the shifted copy; the example cases transformed on disk
and loaded by the strict case model. Synthetic: the small case and log lines below.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from tools.metamorphic import transform_case_set
from tools.metamorphic_time import OFFSET, Shift, time_shift

from kubetriage.analyzers.log_times import line_time
from kubetriage.models.case import Case
from kubetriage.replay.session import case_time
from tests.support.cases import EXAMPLES

NOW = datetime(2026, 11, 20, 10, 0)
SHIFT = Shift(OFFSET, NOW)


def _case() -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "report-29919480-x2x9k",
            "namespace": "shop",
            "creationTimestamp": "2026-11-20T09:50:00Z",
            "labels": {"job-name": "report-29919480"},
            "managedFields": [{"manager": "kubelet", "time": "2026-11-20T09:58:01Z"}],
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "app",
                    "lastState": {"terminated": {"finishedAt": "2026-11-20T09:58:01Z"}},
                }
            ]
        },
    }
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "report-29919480-x2x9k.187a", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "report-29919480-x2x9k"},
        "lastTimestamp": "2026-11-20T09:58:30Z",
        "message": "Back-off restarting failed container",
    }
    return {
        "id": "x",
        "alert": {
            "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop"},
            "annotations": {"description": "since 2026-11-20 09:50:00 UTC"},
            "startsAgo": "5m",
        },
        "cluster": [pod, event],
        "logs": {
            "shop/report-29919480-x2x9k/app": (
                '{"ts":1795168681.25,"level":"error","msg":"boom","bytes":1795168681}\n'
                "2026-11-20T09:58:59.123456Z ERROR boom\n"
            )
        },
        "metrics": {
            "interval": "1m",
            "series": [
                {
                    "series": 'certmanager_certificate_expiration_timestamp_seconds{name="web"}',
                    "values": "1795341600x60",
                },
                {
                    "series": 'container_memory_working_set_bytes{pod="p"}',
                    "values": "1795168681x60",
                },
            ],
        },
        "expect": {
            "category": "crash-loop",
            "actions": ["rollback"],
            "target": {"kind": "CronJob", "namespace": "shop", "name": "report"},
        },
    }


def test_every_time_moves_by_the_offset_and_the_answer_names_the_same_objects() -> None:
    case = _case()
    out = time_shift(case)
    assert case == _case(), "a transform must not change its input"
    pod, event = out["cluster"]
    assert pod["metadata"]["creationTimestamp"] == "2026-12-27T15:03:00Z"
    assert pod["metadata"]["managedFields"][0]["time"] == "2026-12-27T15:11:01Z"
    terminated = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert terminated["finishedAt"] == "2026-12-27T15:11:01Z"
    assert event["lastTimestamp"] == "2026-12-27T15:11:30Z"
    assert out["alert"]["annotations"]["description"] == "since 2026-12-27 15:03:00 UTC"
    assert out["alert"]["startsAgo"] == "5m", "an age is no time"
    # A CronJob's Job is named after its scheduled minute: every occurrence moves alike.
    job = f"report-{29919480 + int(OFFSET.total_seconds()) // 60}"
    assert pod["metadata"]["labels"]["job-name"] == job
    assert event["involvedObject"]["name"] == f"{job}-x2x9k"
    assert event["metadata"]["name"] == f"{job}-x2x9k.187a"
    assert list(out["logs"]) == [f"shop/{job}-x2x9k/app"]
    assert out["expect"] == case["expect"], "the same objects are expected"
    (expiry, memory) = out["metrics"]["series"]
    assert expiry["values"] == f"{1795341600 + int(OFFSET.total_seconds())}x60"
    assert memory["values"] == "1795168681x60", "a byte count that looks like a time stays"


def test_the_logs_move_in_their_own_formats_and_other_numbers_stay() -> None:
    seconds = int(OFFSET.total_seconds())
    log = time_shift(_case())["logs"]
    (text,) = log.values()
    first, second = text.splitlines()
    assert first == (
        f'{{"ts":{1795168681 + seconds}.25,"level":"error","msg":"boom","bytes":1795168681}}'
    )
    assert second == "2026-12-27T15:11:59.123456Z ERROR boom"


def test_each_written_form_keeps_its_shape() -> None:
    forms = {
        "2026-11-20T09:58:01.123+01:00 x": "2026-12-27T15:11:01.123+01:00 x",
        "2026/11/20 09:58:01 x": "2026/12/27 15:11:01 x",
        "2026-11-20 09:58:01,412 INFO x": "2026-12-27 15:11:01,412 INFO x",
        "2026.11.20 09:58:01.224117 [ 812 ]": "2026.12.27 15:11:01.224117 [ 812 ]",
        "I1120 09:58:01.123456       1 x.go:12] x": "I1227 15:11:01.123456       1 x.go:12] x",
        '10.0.0.1 - - [20/Nov/2026:09:58:01 +0000] "GET /"': (
            '10.0.0.1 - - [27/Dec/2026:15:11:01 +0000] "GET /"'
        ),
        "date: Fri, 20 Nov 2026 09:58:01 GMT": "date: Sun, 27 Dec 2026 15:11:01 GMT",
        "1:M 20 Nov 2026 09:58:01.118 * Ready": "1:M 27 Dec 2026 15:11:01.118 * Ready",
        "at Fri Nov 20 09:15:00 UTC 2026": "at Sun Dec 27 14:28:00 UTC 2026",
        "20-Nov-2026 09:58:01.441 SEVERE": "27-Dec-2026 15:11:01.441 SEVERE",
        "[2026-Nov-20 09:58:01.441231] <error>": "[2026-Dec-27 15:11:01.441231] <error>",
        "26/11/20 09:30:14 INFO SparkContext": "26/12/27 14:43:14 INFO SparkContext",
        "INFO 11-20 09:57:26 api_server.py:528]": "INFO 12-27 15:10:26 api_server.py:528]",
        "Time: 09:58:41 UTC 11/20/2026": "Time: 15:11:41 UTC 12/27/2026",
        "Nov 20 09:58:01 ip-10-0-1-7 kernel: x": "Dec 27 15:11:01 ip-10-0-1-7 kernel: x",
        "ts=1795168681123 level=warn": "ts=1798384261123 level=warn",
        "1795168731.201     88 10.40.30.51 TCP_TUNNEL/200": (
            "1798384311.201     88 10.40.30.51 TCP_TUNNEL/200"
        ),
        "flush chunk '1-1795168631.817204551.flb'": "flush chunk '1-1798384211.817204551.flb'",
        "Threshold quantity: 1824226792, available": "Threshold quantity: 1824226792, available",
        "model gs://m/ranker/2026-11-18/model.onnx": "model gs://m/ranker/2026-11-18/model.onnx",
        "backup-20261120-0412 done in 5m": "backup-20261120-0412 done in 5m",
    }
    for before, after in forms.items():
        assert SHIFT.text(before) == after, before


def test_the_replay_reads_the_shifted_case_as_happening_offset_later() -> None:
    case = _case()
    before, after = (Case.model_validate(c) for c in (case, time_shift(case)))
    assert case_time(before) is not None
    assert case_time(after) == case_time(before) + OFFSET  # type: ignore[operator]
    now = datetime(2027, 1, 1, tzinfo=UTC)
    for line in ("I1120 09:58:01.123456 1 x.go:1] x", "2026-11-20T09:58:01Z x"):
        stamp = line_time(line, now)
        assert stamp is not None
        assert line_time(SHIFT.text(line), now) == stamp + OFFSET


def test_the_shifted_examples_load_and_their_times_move_together(tmp_path: Path) -> None:
    for written in transform_case_set("time-shift", EXAMPLES, tmp_path):
        shifted = Case.model_validate(yaml.safe_load(written.read_text()))
        original = Case.model_validate(
            yaml.safe_load((EXAMPLES / written.parent.name / "case.yaml").read_text())
        )
        assert shifted.expect == original.expect
        when = case_time(original)
        if when is not None:
            assert case_time(shifted) == when + OFFSET
