"""Time to diagnosis at a pace below the operator's capacity (creation to the watch seeing
Diagnosed), and the LLM calls of re-diagnoses of one Incident.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from benchmarks.api_servers import Backend
from benchmarks.counted_operator import Running, llm_settings, running_operator
from benchmarks.incidents import create, incident_body, key_of
from benchmarks.measure import load_average, percentile
from benchmarks.phases import DONE_PHASES, not_diagnosed

from kubetriage.models.case import Case
from kubetriage.models.incident import GROUP, PLURAL, VERSION
from tests.support.openai_server import ScriptedOpenAIServer


def bench_latency(
    backend: Backend,
    cases: Sequence[Case],
    *,
    count: int,
    interval: float,
    concurrency: int,
    server: ScriptedOpenAIServer | None,
) -> dict[str, Any]:
    """Incidents created one every ``interval`` seconds; creation (request returned) to the
    watch seeing Diagnosed."""
    with running_operator(backend, cases, llm_settings(server, concurrency=concurrency)) as run:
        warm = incident_body(cases[0], "bench-warmup", datetime.now(UTC))
        create(run.api, warm)
        run.watcher.wait_done([key_of(warm)], within=60)
        requests_before = len(server.chat_bodies) if server else 0
        created: dict[str, float] = {}
        started = time.monotonic()
        for i in range(count):
            due = started + i * interval
            time.sleep(max(0.0, due - time.monotonic()))
            body = incident_body(cases[i % len(cases)], f"bench-lat-{i:04d}", datetime.now(UTC))
            create(run.api, body)
            created[key_of(body)] = time.monotonic()
        finished = run.watcher.wait_done(list(created), within=300)
        if not any(k in run.watcher.done_at for k in created):
            raise RuntimeError(f"no Incident was diagnosed (watch error: {run.watcher.error})")
        latencies = [
            (run.watcher.done_at[k] - t) * 1000
            for k, t in created.items()
            if k in run.watcher.done_at
        ]
        phases = [run.watcher.phases.get(k) for k in created]
        result: dict[str, Any] = {
            "api": run.server.label,
            "count": count,
            "concurrency": concurrency,
            "interval_ms": interval * 1000,
            "completed": len(latencies),
            "all_completed": finished,
            "diagnosed": phases.count("Diagnosed"),
            "not_diagnosed": not_diagnosed(run.watcher, list(created)),
            "p50_ms": statistics.median(latencies),
            "p95_ms": percentile(latencies, 0.95),
            "max_ms": max(latencies),
            "peak_in_flight": run.watcher.peak_in_flight,
            "load": load_average(),
        }
        if server is not None:
            result["llm_requests"] = len(server.chat_bodies) - requests_before
            result |= bench_repeats(run, server, cases[0])
        return result


def _wait_generation(run: Running, namespace: str, name: str, within: float = 60) -> dict[str, Any]:
    """Wait until the Incident's current generation is diagnosed; returns its status."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        body = cast(
            "dict[str, Any]",
            run.api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name),
        )
        status = body.get("status") or {}
        if status.get("phase") in DONE_PHASES and status.get("observedGeneration") == body[
            "metadata"
        ].get("generation"):
            return dict(status)
        time.sleep(0.02)
    raise RuntimeError(f"{namespace}/{name} was not re-diagnosed within {within}s")


def bench_repeats(run: Running, server: ScriptedOpenAIServer, case: Case) -> dict[str, Any]:
    """LLM calls for re-diagnoses: a spec change that leaves the evidence as it was
    (severity, twice), one that changes it (title), and a new Incident identical to an
    existing one."""
    body = incident_body(case, "bench-repeat", datetime.now(UTC))
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    calls = len(server.chat_bodies)
    create(run.api, body)
    _wait_generation(run, namespace, name)
    first = len(server.chat_bodies) - calls
    rows: list[dict[str, Any]] = [{"step": "new Incident", "llm_requests": first}]
    for severity in ("critical", "warning"):
        calls = len(server.chat_bodies)
        run.api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": {"severity": severity}}
        )
        status = _wait_generation(run, namespace, name)
        rows.append(
            {
                "step": f"spec.severity -> {severity} (evidence unchanged)",
                "llm_requests": len(server.chat_bodies) - calls,
                "cached": bool((status.get("diagnosis") or {}).get("llm", {}).get("cached")),
            }
        )
    calls = len(server.chat_bodies)
    run.api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": {"title": "a new title"}}
    )
    status = _wait_generation(run, namespace, name)
    rows.append(
        {
            "step": "spec.title changed (title is evidence)",
            "llm_requests": len(server.chat_bodies) - calls,
            "cached": bool((status.get("diagnosis") or {}).get("llm", {}).get("cached")),
        }
    )
    twin = incident_body(case, "bench-repeat-twin", datetime.now(UTC))
    twin["spec"] = dict(body["spec"])
    calls = len(server.chat_bodies)
    create(run.api, twin)
    _wait_generation(run, namespace, "bench-repeat-twin")
    rows.append(
        {
            "step": "second Incident, same spec and evidence",
            "llm_requests": len(server.chat_bodies) - calls,
        }
    )
    return {"repeats": rows}
