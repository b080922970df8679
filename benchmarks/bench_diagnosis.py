"""Benchmark of the operator's diagnosis path: time to diagnosis (p50/p95, without an LLM
and with an instant scripted one), throughput of a burst of Incidents with the peak number
of diagnoses in flight against ``settings.concurrency``, operator RSS (in-process, and a
separate ``kubetriage run`` process for a clean figure), prompt tokens per diagnosis over a
case set, and LLM calls per incident (one; none when a re-diagnosis sees the same evidence).

Run by ``benchmarks/run.py`` (or alone: ``.venv/bin/python benchmarks/bench_diagnosis.py
[--quick]``); writes ``benchmarks/results/diagnosis.md`` and a JSON twin for the runner.

Everything real except the model: the Kubernetes API emulator (HTTP, in this process, own
thread), the operator (Kopf + pipeline, ``tests.support.operator.OperatorThread``) or the
``kubetriage run`` CLI in a child process, and ``tests.support.openai_server`` answering
every chat completion at once with the same valid answer. Phases are observed through a
watch on Incidents, so "in flight" is what the API server saw: Incidents in phase
Investigating, in resourceVersion order.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from benchmarks.api_servers import REAL_HALVES, Backend, RealApiServer, emulated  # noqa: E402
from benchmarks.diagnosis_burst import bench_burst, bench_subprocess_memory  # noqa: E402
from benchmarks.diagnosis_latency import bench_latency  # noqa: E402
from benchmarks.diagnosis_report import report, within_limit  # noqa: E402
from benchmarks.measure import proc_memory  # noqa: E402
from benchmarks.prompt_size import bench_prompt_size  # noqa: E402

from kubetriage.replay.cases import load_case_set  # noqa: E402
from tests.support.cluster import LocalCluster, cluster_bin_dir  # noqa: E402
from tests.support.llm_samples import valid_answer  # noqa: E402
from tests.support.openai_server import ScriptedOpenAIServer, answer  # noqa: E402

SHARED_CASES = ROOT / "tests" / "cases" / "examples"


def _shown(arg: str) -> str:
    """A command-line argument as the report shows it: paths inside the repository relative
    to it, so a report names no machine's directories."""
    path = Path(arg)
    if path.is_absolute() and path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return arg


@dataclasses.dataclass(frozen=True)
class Sizes:
    latency: int
    interval_ms: float
    latency_concurrency: int
    # (concurrency, incidents, Kopf idle_timeout or None for the shipped default)
    bursts: tuple[tuple[int, int, float | None], ...]
    subprocess_burst: int


FULL = Sizes(
    latency=200,
    interval_ms=200,
    latency_concurrency=16,
    bursts=((4, 1000, None), (16, 1000, None), (4, 40, 5.0), (16, 160, 5.0)),
    subprocess_burst=1000,
)
QUICK = Sizes(
    latency=20,
    interval_ms=200,
    latency_concurrency=16,
    bursts=((4, 50, None), (16, 100, None), (4, 8, 5.0), (16, 32, 5.0)),
    subprocess_burst=50,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--cases", type=Path, default=SHARED_CASES, help="incidents' cases")
    parser.add_argument("--prompt-cases", type=Path, default=ROOT / "tests" / "cases" / "train")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "diagnosis.md"
    )
    parser.add_argument(
        "--report-from", type=Path, default=None, help="re-render a run's JSON; run nothing"
    )
    parser.add_argument(
        "--api-servers",
        choices=("both", "emulator", "local"),
        default="both",
        help="time to diagnosis and bursts on the emulator, the local control plane "
        "(tests/support/cluster.py; needs `make cluster-bin`) or both, in one run",
    )
    args = parser.parse_args(argv)
    if args.report_from is not None:
        args.out.write_text(report(json.loads(args.report_from.read_text())))
        return 0
    sizes = QUICK if args.quick else FULL
    cases = load_case_set(args.cases)
    command = " ".join(
        [
            ".venv/bin/python benchmarks/bench_diagnosis.py",
            *(_shown(arg) for arg in (sys.argv[1:] if argv is None else argv)),
        ]
    )
    results: dict[str, Any] = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "command": command,
        "sizes": dataclasses.asdict(sizes),
        "rss_start_kib": proc_memory()["VmRSS"],
    }
    interval = sizes.interval_ms / 1000
    latency: list[dict[str, Any]] = []
    results["latency"], results["burst"] = latency, []
    with contextlib.ExitStack() as stack:
        backends: list[Backend] = []
        if args.api_servers in ("both", "emulator"):
            backends.append(emulated)
        timed = cases
        if args.api_servers in ("both", "local"):
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-diag-")))
            cluster = stack.enter_context(LocalCluster(workdir, bin_dir=cluster_bin_dir()))
            backends.append(RealApiServer(cluster))
            # The same workloads on every API server: the cases with a real-cluster half.
            timed = [case for case in cases if case.id in REAL_HALVES]
        server = stack.enter_context(ScriptedOpenAIServer(default=answer(valid_answer())))
        for backend in backends:
            for mode, llm in (("none", None), ("scripted, instant", server)):
                print(f"latency, LLM {mode} ({sizes.latency}) ...", flush=True)
                latency.append(
                    {"mode": mode}
                    | bench_latency(
                        backend,
                        timed,
                        count=sizes.latency,
                        interval=interval,
                        concurrency=sizes.latency_concurrency,
                        server=llm,
                    )
                )
        for concurrency, count, idle in sizes.bursts:
            # The idle_timeout experiment runs on the emulator only.
            for backend in backends if idle is None else backends[:1]:
                print(f"burst of {count}, concurrency {concurrency}, idle {idle} ...", flush=True)
                results["burst"].append(
                    bench_burst(
                        backend,
                        timed,
                        count=count,
                        concurrency=concurrency,
                        server=server,
                        idle_timeout=idle,
                    )
                )
        print(f"subprocess memory, burst of {sizes.subprocess_burst} ...", flush=True)
        results["memory"] = bench_subprocess_memory(
            cases, count=sizes.subprocess_burst, concurrency=16, server=server
        )
    # Last: the tokenizers it loads would otherwise count in the in-process RSS above.
    print("prompt size ...", flush=True)
    results["prompt"] = bench_prompt_size(args.prompt_cases)
    text = report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    print(text)
    ok = all(r["all_completed"] for r in [*latency, *results["burst"]]) and all(
        within_limit(r) for r in results["burst"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
