"""Benchmark: do notifications delay diagnoses? Time from an Incident's creation to phase
Diagnosed with no sink, with a healthy Slack, and with a Slack that answers every call
3 s late (the client gives up after 1 s, the SDK retries, the notifier retries); and, for
the healthy Slack, creation to the message being posted and the number of messages.

Run alone (``.venv/bin/python benchmarks/bench_notify.py [--incidents N]``); writes
``benchmarks/results/notify.md``. Real: the Kubernetes API emulator (HTTP, own thread), the
operator (Kopf + pipeline, no LLM, ``tests.support.operator.OperatorThread``), slack-sdk
against the scripted Slack Web API (``tests.support.chat_servers``). Incidents are the
shared example cases' alerts, round robin, one every 300 ms (below capacity: this is
latency, not queueing).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from benchmarks.api_servers import load_cases  # noqa: E402
from benchmarks.incidents import create, incident_body  # noqa: E402
from benchmarks.measure import load_average, percentile  # noqa: E402
from kubernetes import client as k8s  # noqa: E402

from kubetriage.kubeclient import api_client  # noqa: E402
from kubetriage.replay.cases import load_case_set  # noqa: E402
from kubetriage.replay.emulator import EmulatorThread  # noqa: E402
from kubetriage.settings import Settings  # noqa: E402
from tests.support.chat_servers import ScriptedSlackServer, slow  # noqa: E402
from tests.support.operator import OperatorThread  # noqa: E402

CASES = ROOT / "tests" / "cases" / "examples"
PACE_SECONDS = 0.3


def _watch(
    cluster: EmulatorThread, keys: list[tuple[str, str]], stop: threading.Event
) -> dict[str, dict[str, float]]:
    """First time each Incident was seen Diagnosed and with a Notified condition."""
    seen: dict[str, dict[str, float]] = {}

    def poll() -> None:
        while not stop.is_set():
            for namespace, name in list(keys):
                body = cluster.emulator.get("incidents", name, namespace) or {}
                status = body.get("status") or {}
                marks = seen.setdefault(f"{namespace}/{name}", {})
                if status.get("phase") == "Diagnosed":
                    marks.setdefault("diagnosed", time.monotonic())
                if any(c.get("type") == "Notified" for c in status.get("conditions") or []):
                    marks.setdefault("notified", time.monotonic())
            time.sleep(0.01)

    threading.Thread(target=poll, daemon=True).start()
    return seen


def scenario(label: str, count: int, slack: ScriptedSlackServer | None) -> dict[str, Any]:
    cases = load_case_set(CASES)
    values: dict[str, Any] = {"memory_enabled": False, "metrics_port": 0, "concurrency": 4}
    if slack is not None:
        values |= {
            "slack_bot_token": slack.token,
            "slack_channel": "C0BENCH",
            "slack_api_url": slack.api_url,
            "notify_timeout_seconds": 1.0,
        }
    settings = Settings(**values)
    created: dict[str, float] = {}
    keys: list[tuple[str, str]] = []
    stop = threading.Event()
    load = load_average()
    with EmulatorThread() as cluster:
        load_cases(cases, cluster)
        client = api_client(cluster.kubeconfig_path)
        api = k8s.CustomObjectsApi(client)
        seen = _watch(cluster, keys, stop)
        with OperatorThread(cluster.kubeconfig_path, settings=settings):
            now = datetime.now(UTC)
            for index in range(count):
                body = incident_body(cases[index % len(cases)], f"bench-{index}", now)
                key = (body["metadata"]["namespace"], body["metadata"]["name"])
                created[f"{key[0]}/{key[1]}"] = time.monotonic()
                create(api, body)
                keys.append(key)
                time.sleep(PACE_SECONDS)
            deadline = time.monotonic() + 120
            wanted = "notified" if slack is not None else "diagnosed"
            while time.monotonic() < deadline and not all(
                wanted in seen.get(k, {}) for k in created
            ):
                time.sleep(0.1)
        stop.set()
        client.close()  # type: ignore[no-untyped-call]
    diagnosed = [
        (seen[k]["diagnosed"] - t) * 1000 for k, t in created.items() if "diagnosed" in seen[k]
    ]
    notified = [
        (seen[k]["notified"] - t) * 1000 for k, t in created.items() if "notified" in seen[k]
    ]
    return {
        "label": label,
        "incidents": count,
        "diagnosed": len(diagnosed),
        "p50": percentile(diagnosed, 0.5),
        "p95": percentile(diagnosed, 0.95),
        "notified": len(notified),
        "notified_p50": percentile(notified, 0.5) if notified else None,
        "messages": len(slack.messages) if slack is not None else None,
        "load": load,
    }


def report(rows: Sequence[dict[str, Any]], command: str) -> str:
    lines = [
        "# Notifications and time to diagnosis",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}. Command: `{command}`. "
        "The machine is shared: the load average before each scenario is given.",
        "",
        "| Slack | incidents | diagnosed | create → Diagnosed p50 ms | p95 ms "
        "| Notified condition written | create → Notified p50 ms | Slack messages | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        notified_p50 = "-" if row["notified_p50"] is None else f"{row['notified_p50']:.0f}"
        lines.append(
            f"| {row['label']} | {row['incidents']} | {row['diagnosed']} | {row['p50']:.0f} "
            f"| {row['p95']:.0f} | {row['notified']} | {notified_p50} "
            f"| {'-' if row['messages'] is None else row['messages']} | {row['load']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "notify.md")
    args = parser.parse_args(argv)
    rows = [scenario("none", args.incidents, None)]
    with ScriptedSlackServer() as healthy:
        rows.append(scenario("healthy", args.incidents, healthy))
    with ScriptedSlackServer() as late:
        late.script(*[slow(seconds=3.0) for _ in range(args.incidents * 20)])
        rows.append(scenario("every answer 3 s late", args.incidents, late))
    command = "python benchmarks/bench_notify.py " + " ".join(argv or sys.argv[1:])
    text = report(rows, command.strip())
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
