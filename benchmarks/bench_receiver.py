"""Benchmark of the Alertmanager webhook receiver over real HTTP against the Kubernetes API
emulator: throughput in alerts/s, alert-to-Incident latency p50/p95 (200 stored -> the
Incident object exists in the API), and a storm of 10,000 alerts in 100 groups that must
produce exactly 100 Incidents with no alert lost. Run by hand:
``.venv/bin/python benchmarks/bench_receiver.py``; writes ``benchmarks/results/receiver.md``.

The receiver (real aiohttp app, bounded queue, workers, kubernetes client) runs in this
process's event loop, the emulator in its own thread, clients post with aiohttp. A 503 from
the receiver is retried after a short pause (Alertmanager would wait ``Retry-After``; the
pause is shortened so the run stays short, and the number of 503s is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
from kubernetes import client as k8s
from kubernetes import watch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from benchmarks.measure import percentile  # noqa: E402

from kubetriage.kubeclient import api_client  # noqa: E402
from kubetriage.models.incident import GROUP, PLURAL, VERSION  # noqa: E402
from kubetriage.receiver import Receiver  # noqa: E402
from kubetriage.replay.emulator import EmulatorThread  # noqa: E402
from tests.integration.alertmanager_fixtures import (  # noqa: E402
    TOKEN,
    prepare_cluster,
    receiver_settings,
    webhook_alert,
    webhook_payload,
)

RETRY_PAUSE = 0.2  # Alertmanager would wait Retry-After (5 s); shortened to bound the run
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _notification(group: int, first: int, count: int, tag: str) -> dict[str, Any]:
    alerts = [
        webhook_alert(
            {
                "alertname": "KubePodCrashLooping",
                "namespace": "bench",
                "pod": f"{tag}-g{group}-p{i}",
                "severity": "warning",
            }
        )
        for i in range(first, first + count)
    ]
    return webhook_payload(
        alerts,
        group_labels={"alertname": "KubePodCrashLooping", "namespace": "bench"},
        group_key=f'{{}}:{{run="{tag}", group="{group}"}}',
    )


def _serve_emulator(kubeconfig: str, ready: Any, stop: Any) -> None:
    """Child process: the API emulator with the CRD, until ``stop`` is set."""
    with EmulatorThread(kubeconfig_path=kubeconfig) as emulator:
        prepare_cluster(emulator, "bench")
        ready.set()
        stop.wait()


class Watcher:
    """Records when each Incident is first seen by a watch on the API (in a thread), as a
    controller would see it."""

    def __init__(self, client: k8s.ApiClient) -> None:
        self.api = k8s.CustomObjectsApi(client)
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        resource_version = None
        while not self._stop.is_set():
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                self.api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                "bench",
                PLURAL,
                timeout_seconds=1,
                resource_version=resource_version,
            )
            for event in stream:
                self.seen.setdefault(event["object"]["metadata"]["name"], time.monotonic())
                resource_version = event["object"]["metadata"]["resourceVersion"]

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], busy: list[int]
) -> tuple[float, str]:
    """Post until stored; returns the time of the 200 and the Incident name."""
    while True:
        async with session.post(f"{url}/alerts", json=body, headers=HEADERS) as response:
            answer = await response.json()
            if response.status == 200:
                return time.monotonic(), str(answer["incident"])
            if response.status != 503:
                raise RuntimeError(f"unexpected {response.status}: {answer}")
            busy[0] += 1
            await asyncio.sleep(RETRY_PAUSE)


async def latency(
    receiver: Receiver, session: aiohttp.ClientSession, client: k8s.ApiClient, samples: int
) -> list[float]:
    """One new group at a time on an idle receiver: 200 (stored) -> the Incident seen by a watch."""
    results = []
    with Watcher(client) as watcher:
        for i in range(samples):
            accepted, name = await _post(
                session, receiver.url, _notification(i, 0, 1, "latency"), [0]
            )
            while name not in watcher.seen:  # noqa: ASYNC110 - the watcher is a thread
                await asyncio.sleep(0.001)
            results.append((watcher.seen[name] - accepted) * 1000)
    await receiver.drain()
    return results


async def storm(
    receiver: Receiver,
    session: aiohttp.ClientSession,
    client: k8s.ApiClient,
    *,
    groups: int,
    alerts: int,
    per_notification: int,
    clients: int,
    tag: str,
) -> dict[str, Any]:
    per_group = alerts // groups
    bodies = [
        _notification(g, first, per_notification, tag)
        for first in range(0, per_group, per_notification)
        for g in range(groups)
    ]
    busy = [0]
    failed_before = receiver.stats.failed
    writes_before = dict(receiver.stats.written)
    first_accept: dict[str, float] = {}
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            accepted, name = await _post(session, receiver.url, body, busy)
            first_accept.setdefault(name, accepted)

    with Watcher(client) as watcher:
        started = time.monotonic()
        await asyncio.gather(*(sender() for _ in range(clients)))
        accepted_at = time.monotonic()
        await receiver.drain()
        written_at = time.monotonic()
        await asyncio.sleep(0.05)
    listed = cast(
        "dict[str, Any]",
        await asyncio.to_thread(
            k8s.CustomObjectsApi(client).list_namespaced_custom_object,
            GROUP,
            VERSION,
            "bench",
            PLURAL,
        ),
    )
    items = listed["items"]
    storm_items = [
        i for i in items if i["status"]["alertGroup"]["groupKey"].startswith(f'{{}}:{{run="{tag}"')
    ]
    recorded = sum(
        len(i["spec"]["alerts"]) + i["status"]["alertGroup"].get("omitted", 0) for i in storm_items
    )
    notifications = sum(i["status"]["alertGroup"]["notifications"] for i in storm_items)
    latencies = [(watcher.seen[n] - t) * 1000 for n, t in first_accept.items() if n in watcher.seen]
    return {
        "notifications_sent": len(bodies),
        "alerts_sent": len(bodies) * per_notification,
        "incidents": len(storm_items),
        "alerts_recorded": recorded,
        "notifications_recorded": notifications,
        "busy_503": busy[0],
        "accept_seconds": accepted_at - started,
        "total_seconds": written_at - started,
        "latency_ms": latencies,
        "failed": receiver.stats.failed - failed_before,
        "batches": sum(receiver.stats.written.values()) - sum(writes_before.values()),
    }


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python "
        f"{platform.python_version()}, aiohttp {aiohttp.__version__}"
    )


async def main_async(args: argparse.Namespace) -> str:
    settings = receiver_settings(
        webhook_queue_size=args.queue_size, webhook_workers=args.workers, incident_namespace="bench"
    )
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    with tempfile.TemporaryDirectory(prefix="bench-receiver-") as tmp:
        kubeconfig = str(Path(tmp) / "kubeconfig")
        server = spawn.Process(target=_serve_emulator, args=(kubeconfig, ready, stop))
        server.start()
        try:
            if not ready.wait(60):
                raise RuntimeError("the emulator process did not start")
            client = api_client(kubeconfig)
            watch_client = api_client(kubeconfig)
            receiver = Receiver(settings, client)
            await receiver.start()
            try:
                async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=args.clients)
                ) as session:
                    idle = await latency(receiver, session, watch_client, args.latency_samples)
                    results = []
                    for run in range(args.repeat):
                        results.append(
                            await asyncio.wait_for(
                                storm(
                                    receiver,
                                    session,
                                    watch_client,
                                    groups=args.groups,
                                    alerts=args.alerts,
                                    per_notification=args.per_notification,
                                    clients=args.clients,
                                    tag=f"storm{run}",
                                ),
                                timeout=args.timeout,
                            )
                        )
            finally:
                await receiver.stop()
                client.close()  # type: ignore[no-untyped-call]
                watch_client.close()  # type: ignore[no-untyped-call]
        finally:
            stop.set()
            server.join(30)

    def ok(result: dict[str, Any]) -> bool:
        return bool(
            result["incidents"] == args.groups
            and result["alerts_recorded"] == args.alerts
            and result["notifications_recorded"] == result["notifications_sent"]
            and result["failed"] == 0
        )

    rows = []
    for run, result in enumerate(results, 1):
        latency_ms = result["latency_ms"]
        rows.append(
            f"| {run} | {result['incidents']} | {result['alerts_recorded']} | "
            f"{result['notifications_recorded']} | {result['busy_503']} | {result['batches']} | "
            f"{result['accept_seconds']:.2f} | {result['total_seconds']:.2f} | "
            f"{result['alerts_sent'] / result['total_seconds']:.0f} | "
            f"{percentile(latency_ms, 0.5):.0f} / {percentile(latency_ms, 0.95):.0f} | "
            f"{'yes' if ok(result) else '**NO**'} |"
        )
    throughputs = [r["alerts_sent"] / r["total_seconds"] for r in results]
    all_ok = all(ok(r) for r in results)
    lines = [
        "# Alertmanager receiver benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_machine()}. The Kubernetes API "
        "emulator runs in a child process; the receiver, the HTTP clients and a watch on "
        "Incidents share the benchmark process; real HTTP everywhere (clients -> receiver -> "
        "kubernetes client -> emulator). The emulator validates every write against the CRD "
        "schema in Python and shares the same 2 CPUs, so it is part of what is measured. "
        f"Receiver: {args.workers} workers, queue of {args.queue_size} notifications.",
        "",
        "## Storm",
        "",
        f"Each run: {args.alerts} alerts in {args.groups} groups, sent as "
        f"{results[0]['notifications_sent']} notifications of {args.per_notification} alerts "
        f"by {args.clients} concurrent clients (interleaved across groups); a 503 is retried "
        f"after {RETRY_PAUSE * 1000:.0f} ms (Alertmanager would wait Retry-After). Checked "
        "per run: exactly one Incident per group, every alert recorded (spec.alerts + "
        "status.alertGroup.omitted), every notification counted. Latency: the first 200 of a "
        "group -> its Incident's ADDED event on a watch (includes time queued behind other "
        "groups).",
        "",
        "| run | Incidents | alerts recorded | notifications counted | 503s | writes "
        "(coalesced batches) | all accepted (s) | all written (s) | alerts/s | "
        "latency p50 / p95 (ms) | nothing lost |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *rows,
        "",
        f"Throughput (accepted and written into Incidents): median "
        f"{statistics.median(throughputs):.0f} alerts/s (min {min(throughputs):.0f}, max "
        f"{max(throughputs):.0f}) over {len(results)} runs; the machine is shared, so runs vary.",
        "",
        "## Latency on an idle receiver",
        "",
        f"{len(idle)} notifications for new groups, one at a time; 200 (stored) -> the "
        "Incident's ADDED event arrives on a watch.",
        "",
        "| p50 | p95 | max |",
        "| ---: | ---: | ---: |",
        f"| {statistics.median(idle):.1f} ms | {percentile(idle, 0.95):.1f} ms | "
        f"{max(idle):.1f} ms |",
        "",
        "Command: `"
        + " ".join([".venv/bin/python benchmarks/bench_receiver.py", *sys.argv[1:]])
        + "`",
        "",
    ]
    if not all_ok:
        lines.insert(
            2, "**FAILED: the storm lost alerts or created the wrong number of Incidents.**\n"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--per-notification", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--queue-size", type=int, default=200)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="storm runs")
    parser.add_argument("--timeout", type=float, default=120.0, help="bound on each storm")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "receiver.md"
    )
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    args.output.write_text(report)
    print(report)
    return 0 if "FAILED" not in report else 1


if __name__ == "__main__":
    sys.exit(main())
