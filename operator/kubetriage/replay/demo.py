"""``kubetriage demo``: the product on its embedded default, with nothing to start by hand.

It starts the Kubernetes API emulator, an embedded Qdrant store seeded with a few resolved
past incidents, the local embedding model, the real operator (and its webhook receiver when
available), a local Prometheus holding the incidents' metric history when the binary is
installed, and a local LLM when ``kubetriage[local-llm]`` is installed. Then it replays the
bundled incidents and prints them as ``kubectl get inc`` would, followed by each diagnosis.
With ``keep`` it stays up until SIGINT/SIGTERM so a person can drive it with kubectl.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TextIO

from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
from kubetriage.memory.store import IncidentMemory
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.incident import Condition
from kubetriage.redaction import redact_text
from kubetriage.render import render_diagnosis
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.children import owned_tempdir, sweep_stale
from kubetriage.replay.local_llm import MODEL_NAME, LocalModelServer, find_local_model
from kubetriage.replay.promtool import (
    PROMETHEUS_BINARY,
    PROMETHEUS_WORKDIR_PREFIX,
    LocalPrometheus,
    backfill,
    write_openmetrics,
)
from kubetriage.replay.seeding import seed_from_cases
from kubetriage.replay.session import (
    ReplayEnvironment,
    ReplayOutcome,
    case_alert,
    case_time,
    replay_clock,
)
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry

DEMO_WORKDIR_PREFIX = "kubetriage-demo-"


@contextlib.contextmanager
def _bundled(folder: str) -> Iterator[Path]:
    with resources.as_file(resources.files("kubetriage") / "demo" / folder) as path:
        yield path


def _age(seconds: float) -> str:
    return f"{int(seconds)}s" if seconds < 120 else f"{int(seconds // 60)}m"


def render_incident_table(outcomes: list[ReplayOutcome], now: datetime) -> str:
    """The rows ``kubectl get inc -A`` prints (the CRD's printer columns)."""
    rows = [("NAMESPACE", "NAME", "PHASE", "SEVERITY", "CATEGORY", "CONFIDENCE", "TARGET", "AGE")]
    for o in outcomes:
        d = o.diagnosis
        rows.append(
            (
                o.namespace,
                o.incident_name,
                o.phase or "",
                o.severity or "",
                d.category.value if d else "",
                f"{d.confidence:g}" if d else "",
                str(o.status.get("target") or ""),
                _age((now - o.created_at).total_seconds()) if o.created_at else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _start_prometheus(cases: list[Case], now: datetime, workdir: Path) -> LocalPrometheus | None:
    if not (shutil.which(PROMETHEUS_BINARY) and shutil.which("promtool")):
        return None
    data = workdir / "prometheus"
    for case in cases:
        if case.metrics and case.metrics.series:
            text = write_openmetrics(
                case.metrics.series, parse_go_duration(case.metrics.interval), now
            )
            backfill(text, data)
    return LocalPrometheus(data_dir=data).start()


async def run_demo(
    settings: Settings,
    *,
    keep: bool,
    out: TextIO,
    llm: str = "auto",
    telemetry: Telemetry | None = None,
) -> int:
    with _bundled("incidents") as incidents_dir, _bundled("history") as history_dir:
        incidents = load_case_set(incidents_dir)
        history = load_case_set(history_dir)
    captured = [t for t in (case_time(c) for c in incidents) if t is not None]
    now = max(captured) if captured else datetime.now(UTC)
    # What a demo killed with -9 left behind (its helpers died with it: die_with_parent).
    sweep_stale((DEMO_WORKDIR_PREFIX, PROMETHEUS_WORKDIR_PREFIX))
    with contextlib.ExitStack() as stack:
        workdir = owned_tempdir(DEMO_WORKDIR_PREFIX)
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        print("kubetriage demo: an emulated cluster, the real operator, no API key.", file=out)
        memory_path = workdir / "memory"
        with IncidentMemory(OnnxMiniLMEmbedder(), redact=redact_text, path=memory_path) as memory:
            seeded = seed_from_cases(memory, history, cluster=settings.cluster_name)
        print(f"  memory:     embedded Qdrant with {len(seeded)} resolved past incidents", file=out)
        settings = settings.model_copy(
            update={"qdrant_path": memory_path, "qdrant_url": None, "memory_enabled": True}
        )

        prometheus = _start_prometheus(incidents, now, workdir)
        if prometheus is not None:
            stack.callback(prometheus.stop)
            settings = settings.model_copy(update={"prometheus_url": prometheus.url})
            print(
                f"  prometheus: {prometheus.url} (backfilled with the incidents' history)", file=out
            )
        else:
            print("  prometheus: not installed; metrics are not used", file=out)

        model = find_local_model() if llm == "auto" and not settings.llm_configured else None
        if settings.llm_configured:
            print(f"  llm:        {settings.llm_model} at {settings.llm_base_url}", file=out)
        elif model is not None:
            print(
                f"  llm:        starting {MODEL_NAME} locally (small: plumbing, not judgement)",
                file=out,
            )
            server = stack.enter_context(LocalModelServer(model))
            settings = settings.model_copy(
                update={
                    "llm_base_url": server.base_url,
                    "llm_model": MODEL_NAME,
                    "llm_prompt_max_chars": 8_000,
                    "llm_max_output_tokens": 512,
                    "llm_timeout_seconds": 300.0,
                    "diagnosis_timeout_seconds": 900.0,
                }
            )
        else:
            print(
                "  llm:        none installed (pip install 'kubetriage[local-llm]'); "
                "diagnoses come from the analyzers and memory",
                file=out,
            )

        async with ReplayEnvironment(
            settings, clock=replay_clock(now), serve_metrics=keep, telemetry=telemetry
        ) as env:
            created: list[tuple[str, str]] = []
            for case in incidents:
                env.load_case(case)
            for case in incidents:
                created.append(await env.post_alerts([case_alert(case, now)]))
            print(f"  replaying {len(created)} incidents ...\n", file=out)
            budget = settings.diagnosis_timeout_seconds + 30
            outcomes = await asyncio.gather(
                *(env.wait_for(ns, name, within=budget) for ns, name in created)
            )
            print("$ kubectl get inc -A", file=out)
            print(render_incident_table(list(outcomes), datetime.now(UTC)), file=out)
            for outcome in outcomes:
                conditions = [
                    Condition.model_validate(c) for c in outcome.status.get("conditions", [])
                ]
                print("", file=out)
                print(
                    render_diagnosis(
                        outcome.diagnosis,
                        name=f"{outcome.namespace}/{outcome.incident_name}",
                        phase=outcome.phase,
                        conditions=conditions,
                    ),
                    file=out,
                )
            if keep:
                print("", file=out)
                print(f"kubeconfig: {env.cluster.kubeconfig_path}", file=out)
                if env.webhook_url:
                    print(f"webhook: {env.webhook_url}", file=out)
                    print(f"webhook-token: {env.webhook_token}", file=out)
                if env.metrics_url:
                    print(f"metrics: {env.metrics_url}", file=out)
                if prometheus is not None:
                    print(f"prometheus: {prometheus.url}", file=out)
                print("(Ctrl-C to stop)", file=out, flush=True)
                await _wait_for_signal()
            failed = [o for o in outcomes if o.phase != "Diagnosed"]
            return 1 if failed else 0


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
