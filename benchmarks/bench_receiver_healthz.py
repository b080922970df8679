"""Benchmark: ``/healthz`` latency of the webhook receiver while large notifications arrive.

Issue 10 measured 1.7-2.3 s for ``/healthz`` while 16 notifications of ~690 KB were posted
at once (the chart's liveness timeout is 5 s). The receiver now parses bodies above 64 KiB in
a thread; this measures ``/healthz`` (sequential GETs) during such a burst. Run by hand:
``.venv/bin/python benchmarks/bench_receiver_healthz.py [--posts 16] [--rounds 3]``; writes
``benchmarks/results/receiver_healthz.md``. The receiver runs in this process's event loop,
the API emulator in a child process (in production the API server is not in the operator's
interpreter, so it must not compete for its GIL here), as in ``bench_receiver.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from kubetriage.kubeclient import api_client  # noqa: E402
from kubetriage.receiver import Receiver  # noqa: E402
from kubetriage.replay.emulator import EmulatorThread  # noqa: E402
from tests.integration.alertmanager_fixtures import (  # noqa: E402
    TOKEN,
    crashloop_labels,
    prepare_cluster,
    receiver_settings,
    webhook_alert,
    webhook_payload,
)

HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _serve_emulator(kubeconfig: str, ready: Any, stop: Any) -> None:
    """Child process: the API emulator with the CRD, until ``stop`` is set."""
    with EmulatorThread(kubeconfig_path=kubeconfig) as emulator:
        prepare_cluster(emulator, "exports")
        ready.set()
        stop.wait()


def _body(n: int, alerts: int) -> bytes:
    payload = webhook_payload(
        [
            webhook_alert(
                crashloop_labels(pod=f"big-{n}-{i}"),
                annotations={"summary": "crash looping", "description": "x" * 120},
            )
            for i in range(alerts)
        ],
        group_labels={"alertname": f"Big{n}", "namespace": "exports"},
    )
    return json.dumps(payload).encode()


async def _round(url: str, bodies: list[bytes]) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def post(body: bytes) -> int:
            async with session.post(f"{url}/alerts", data=body, headers=HEADERS) as response:
                await response.read()
                return response.status

        posts = [asyncio.create_task(post(b)) for b in bodies]
        while not all(p.done() for p in posts):
            started = time.perf_counter()
            async with session.get(f"{url}/healthz") as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
        statuses = [p.result() for p in posts]
    return latencies, statuses


async def main_async(args: argparse.Namespace) -> str:
    bodies = [_body(n, args.alerts) for n in range(args.posts)]
    size = statistics.mean(len(b) for b in bodies)
    rows = []
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    with tempfile.TemporaryDirectory(prefix="bench-healthz-") as tmp:
        kubeconfig = str(Path(tmp) / "kubeconfig")
        server = spawn.Process(target=_serve_emulator, args=(kubeconfig, ready, stop))
        server.start()
        if not ready.wait(60):
            raise RuntimeError("the emulator process did not start")
        client = api_client(kubeconfig)
        receiver = Receiver(receiver_settings(), client)
        url = await receiver.start("127.0.0.1", 0)
        try:
            for run in range(1, args.rounds + 1):
                latencies, statuses = await _round(url, bodies)
                ms = sorted(x * 1000 for x in latencies)
                p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
                rows.append(
                    f"| {run} | {len(ms)} | {statistics.median(ms):.1f} | {p95:.1f} | "
                    f"{ms[-1]:.1f} | {sorted(set(statuses))} |"
                )
        finally:
            await receiver.stop()
            client.close()  # type: ignore[no-untyped-call]
            stop.set()
            server.join(30)
    return "\n".join(
        [
            "# /healthz during large webhook posts",
            "",
            f"{args.posts} notifications of {args.alerts} alerts (~{size / 1000:.0f} KB each) "
            "posted at once; /healthz requested back to back until all are answered.",
            "",
            "| round | /healthz requests | p50 ms | p95 ms | max ms | post statuses |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=16)
    parser.add_argument("--alerts", type=int, default=1600, help="alerts per notification")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/receiver_healthz.md")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
