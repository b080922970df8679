"""Throughput of a burst of Incidents stored at once, with the peaks of work in flight and
the in-process RSS, optionally with Kopf's queueing idle timeout forced; and the RSS of a
separate ``kubetriage run`` process through such a burst.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.api_servers import Backend, load_cases
from benchmarks.counted_operator import llm_settings, running_operator
from benchmarks.incidents import create, incident_body, key_of
from benchmarks.measure import free_port, load_average, proc_memory, reset_peak_rss
from benchmarks.operator_hooks import kopf_queueing
from benchmarks.phases import PhaseWatcher, not_diagnosed
from kubernetes import client as k8s

from kubetriage.kubeclient import api_client
from kubetriage.models.case import Case
from kubetriage.replay.emulator import EmulatorThread
from tests.support.cases import REPO
from tests.support.openai_server import ScriptedOpenAIServer


def bench_burst(
    backend: Backend,
    cases: Sequence[Case],
    *,
    count: int,
    concurrency: int,
    server: ScriptedOpenAIServer,
    idle_timeout: float | None = None,
) -> dict[str, Any]:
    """``count`` Incidents stored in one emulator call (all ADDED at once); time until the
    watch has seen every one terminal, and the peaks of work in flight."""
    settings = llm_settings(server, concurrency=concurrency)
    queueing: dict[str, Any] = {}
    with (
        kopf_queueing(idle_timeout, queueing),
        running_operator(backend, cases, settings) as run,
    ):
        warm = incident_body(cases[0], "bench-warmup", datetime.now(UTC))
        create(run.api, warm)
        run.watcher.wait_done([key_of(warm)], within=60)
        now = datetime.now(UTC)
        bodies = [
            incident_body(cases[i % len(cases)], f"bench-burst-{i:04d}", now) for i in range(count)
        ]
        requests_before = len(server.chat_bodies)
        reset_peak_rss()
        rss_before = proc_memory()
        started = time.monotonic()
        run.server.store_all(bodies)
        loaded = time.monotonic() - started
        keys = [key_of(b) for b in bodies]
        finished = run.watcher.wait_done(keys, within=900)
        last = max((run.watcher.done_at.get(k, 0.0) for k in keys), default=started)
        elapsed = last - started
        rss_after = proc_memory()
        phases = [run.watcher.phases.get(k) for k in keys]
        return {
            "api": run.server.label,
            "count": count,
            "concurrency": concurrency,
            "kopf_idle_timeout": idle_timeout,
            "kopf_queueing": queueing,
            "all_completed": finished,
            "diagnosed": phases.count("Diagnosed"),
            "not_diagnosed": not_diagnosed(run.watcher, keys),
            "diagnosed_again": sorted(run.watcher.again.intersection(keys)),
            "load_seconds": loaded,
            "seconds": elapsed,
            "per_second": count / elapsed if elapsed > 0 else 0.0,
            "peak_investigating": run.watcher.peak_in_flight,
            "peak_collections": run.collections.peak,
            "peak_model_calls": run.model_calls.peak,
            "llm_requests": len(server.chat_bodies) - requests_before,
            "rss_before_kib": rss_before["VmRSS"],
            "rss_after_kib": rss_after["VmRSS"],
            "rss_peak_kib": rss_after["VmHWM"],
            "load": load_average(),
        }


def bench_subprocess_memory(
    cases: Sequence[Case], *, count: int, concurrency: int, server: ScriptedOpenAIServer
) -> dict[str, Any]:
    """RSS of ``kubetriage run`` in its own process: idle (after one diagnosis) and while a
    burst of ``count`` Incidents is diagnosed (sampled every 100 ms, plus VmHWM)."""
    with EmulatorThread() as cluster:
        load_cases(cases, cluster)
        env = dict(os.environ)
        env.update(
            {
                "KUBETRIAGE_MEMORY_ENABLED": "false",
                "KUBETRIAGE_METRICS_PORT": "0",
                "KUBETRIAGE_HEALTH_PORT": str(free_port()),
                "KUBETRIAGE_LLM_BASE_URL": server.base_url,
                "KUBETRIAGE_LLM_MODEL": "scripted",
                "KUBETRIAGE_LLM_MAX_RETRIES": "0",
                "PYTHONPATH": str(REPO / "operator"),
            }
        )
        command = [
            sys.executable,
            "-m",
            "kubetriage",
            "run",
            "--kubeconfig",
            str(cluster.kubeconfig_path),
            "--all-namespaces",
            "--standalone",
            "--no-webhook",
            "--concurrency",
            str(concurrency),
        ]
        log = Path(tempfile.gettempdir()) / "kubetriage-bench-operator.log"
        with (
            log.open("w") as log_file,
            PhaseWatcher(cluster.url, cluster.emulator.token) as watcher,
        ):
            child = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                client = api_client(cluster.kubeconfig_path)
                api = k8s.CustomObjectsApi(client)
                warm = incident_body(cases[0], "bench-warmup", datetime.now(UTC))
                create(api, warm)
                if not watcher.wait_done([key_of(warm)], within=120):
                    raise RuntimeError(f"the operator subprocess did not diagnose; see {log}")
                time.sleep(2.0)
                idle = proc_memory(child.pid)
                reset_peak_rss(child.pid)
                now = datetime.now(UTC)
                bodies = [
                    incident_body(cases[i % len(cases)], f"bench-mem-{i:04d}", now)
                    for i in range(count)
                ]
                keys = [key_of(b) for b in bodies]
                started = time.monotonic()
                cluster.emulator.load(bodies)
                samples: list[int] = []
                deadline = started + 600
                while time.monotonic() < deadline:
                    samples.append(proc_memory(child.pid)["VmRSS"])
                    if watcher.wait_done(keys, within=0.1):
                        break
                elapsed = max(watcher.done_at.get(k, 0.0) for k in keys) - started
                loaded = proc_memory(child.pid)
                client.close()  # type: ignore[no-untyped-call]
            finally:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        return {
            "count": count,
            "concurrency": concurrency,
            "idle_rss_kib": idle["VmRSS"],
            "idle_peak_kib": idle["VmHWM"],
            "load_rss_max_sampled_kib": max(samples),
            "load_peak_kib": loaded["VmHWM"],
            "after_rss_kib": loaded["VmRSS"],
            "seconds": elapsed,
            "peak_investigating": watcher.peak_in_flight,
            "diagnosed": sum(watcher.phases.get(k) == "Diagnosed" for k in keys),
            "failures": sorted({watcher.failures[k] for k in keys if k in watcher.failures}),
            "load": load_average(),
        }
