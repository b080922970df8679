"""One command for every benchmark: ``.venv/bin/python benchmarks/run.py [--quick]`` (what
``make benchmarks`` runs). Runs ``bench_diagnosis``, ``bench_receiver`` and ``bench_memory``
as child processes (each in a fresh interpreter, so one's memory or threads cannot skew the
next), then writes ``benchmarks/RESULTS.md``: the machine, the date, the command, the
diagnosis tables, the receiver and memory results, and where we stand against the public
anchors (HolmesGPT, k8sgpt).

A full run writes each benchmark's results into ``benchmarks/results/`` (their usual files)
and RESULTS.md; ``--quick`` runs small sizes into a temporary directory and only prints where
its report is, so a smoke run never replaces measured results. ``--only`` picks benchmarks
(the others' existing result files are still summarised).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    # None: the script always writes results/<output_file>, so --quick skips it.
    output_flag: str | None
    output_file: str
    full_args: tuple[str, ...]
    quick_args: tuple[str, ...]
    note: str


BENCHMARKS = (
    Benchmark(
        name="diagnosis",
        script="bench_diagnosis.py",
        output_flag="--out",
        output_file="diagnosis.md",
        full_args=(),
        quick_args=("--quick",),
        note="time to diagnosis, throughput and concurrency, RSS, prompt size, LLM calls",
    ),
    Benchmark(
        name="receiver",
        script="bench_receiver.py",
        output_flag="--output",
        output_file="receiver.md",
        full_args=(),
        quick_args=("--alerts", "1000", "--groups", "20", "--latency-samples", "20"),
        note="Alertmanager webhook receiver: storm of alerts, alert-to-Incident latency",
    ),
    Benchmark(
        name="memory",
        script="bench_memory.py",
        output_flag="--out",
        output_file="memory.md",
        # The owner's published configuration: 100k local-mode inserts take over half an
        # hour on this class of machine (see results/memory.md).
        full_args=(
            "--sizes",
            "10000",
            "--base-texts",
            "500",
            "--queries",
            "10",
            "--embed-texts",
            "64",
        ),
        quick_args=(
            "--sizes",
            "500",
            "--base-texts",
            "50",
            "--queries",
            "5",
            "--embed-texts",
            "16",
        ),
        note="incident memory: embedding throughput, Qdrant search latency",
    ),
    Benchmark(
        name="memory_loo",
        script="bench_memory_loo.py",
        output_flag=None,
        output_file="memory_loo.md",
        full_args=(),
        quick_args=(),
        note="incident memory: leave-one-out retrieval quality over tests/cases",
    ),
    Benchmark(
        name="cluster",
        script="bench_cluster.py",
        output_flag="--out",
        output_file="cluster.md",
        full_args=(),
        quick_args=("--quick",),
        note="local control plane: start-up, teardown, 100 Incidents by kubectl apply",
    ),
)


def machine_description() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return [
        "| | |",
        "| --- | --- |",
        f"| CPU | {model}, {os.cpu_count()} logical cores |",
        f"| RAM | {mem_kib / 1024 / 1024:.1f} GiB |",
        f"| kernel | {platform.system()} {platform.release()} ({platform.machine()}) |",
        f"| Python | {platform.python_version()} ({sys.executable}) |",
        "| shared | yes: other engineers run tests on it at the same time; each table gives "
        "the load average it saw |",
    ]


def run_benchmark(bench: Benchmark, out_dir: Path, quick: bool) -> tuple[int, float]:
    output = os.path.relpath(out_dir / bench.output_file, ROOT)
    command = [
        sys.executable,
        str(BENCH / bench.script),
        *(bench.quick_args if quick else bench.full_args),
        *((bench.output_flag, output) if bench.output_flag else ()),
    ]
    print(f"== {bench.name}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    code = subprocess.call(command, cwd=ROOT)
    return code, time.monotonic() - started


def _section(path: Path) -> list[str]:
    """A results file's body, its headings pushed one level down, without its title."""
    if not path.exists():
        return [f"_Not run yet: `{path}` does not exist._"]
    lines = path.read_text().splitlines()
    body = lines[1:] if lines and lines[0].startswith("# ") else lines
    return [f"#{line}" if line.startswith("##") else line for line in body]


ANCHORS = """\
## Where we stand: LLM calls per incident

Measured here (section "LLM calls per incident" above): **one chat completion per new
Incident**, and **none** when an Incident is re-diagnosed on unchanged evidence (the
previous diagnosis is reused). A change to anything in the evidence (the title is part of
it) pays for one new call, and a *second* Incident with identical evidence makes its own
call: the reuse is per Incident (its status), keyed by the evidence hash.

Public anchors, from reading the projects' source (no figure of theirs is quoted: none was
measured here, and we did not run either tool):

- **HolmesGPT** (robusta-dev/holmesgpt, `holmes/core/tool_calling_llm.py`,
  `ToolCallingLLM.call`): an agentic tool-calling loop, `while i < max_steps`, asking the
  model once per iteration and running the tools it requests, with tools withheld on the
  last step to force an answer (plus an optional post-processing call). One investigation
  therefore costs one model call per step, several whenever a tool is used, bounded by
  `max_steps`, each re-sending the growing conversation.
- **k8sgpt** (k8sgpt-ai/k8sgpt, `pkg/analysis/analysis.go`, `GetAIResults`): with
  `--explain`, a loop over the analyzer results, one per failing object; for each,
  `getAIResultForSanitizedFailures` returns the cached answer for the same failure texts
  (unless the cache is disabled) or makes one `GetCompletion` call.

So one incident that touches several failing objects costs us one call, k8sgpt one per
failing object, HolmesGPT one per investigation step. Repeats: we pay nothing to
re-diagnose an Incident whose evidence did not change; k8sgpt's cache, keyed by the failure
text, also covers a different run seeing the same failures, which ours does not (a new
Incident with identical evidence costs one call). This compares call structure only, not
latency, cost or diagnosis quality.
"""


def write_report(
    out_dir: Path, command: str, ran: Sequence[tuple[Benchmark, int, float]], target: Path
) -> None:
    lines = [
        "# kubetriage benchmarks",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`.",
        "",
        "## Machine",
        "",
        *machine_description(),
        "",
        "Benchmarks run this time: "
        + (
            ", ".join(f"{b.name} ({s:.0f} s, exit {c})" for b, c, s in ran)
            if ran
            else "none (report regenerated from existing results)"
        )
        + ". Each section below is its benchmark's own results file, linked; numbers are "
        "what that run measured on this machine.",
        "",
    ]
    for bench in BENCHMARKS:
        path = out_dir / bench.output_file
        link = os.path.relpath(path, target.parent)
        lines += [
            f"## {bench.name.replace('_', ' ').capitalize()}: {bench.note}",
            "",
            f"Source: [`{link}`]({link}), `benchmarks/{bench.script}`.",
            "",
            *_section(path),
            "",
        ]
    lines.append(ANCHORS)
    target.write_text("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, into a temp dir")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[b.name for b in BENCHMARKS],
        default=None,
        help="run only these (the report still includes the others' existing results)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="run nothing; rewrite RESULTS.md"
    )
    args = parser.parse_args(argv)
    command = " ".join([".venv/bin/python benchmarks/run.py", *(argv or sys.argv[1:])])
    out_dir = Path(tempfile.mkdtemp(prefix="kubetriage-bench-")) if args.quick else RESULTS
    target = out_dir / "RESULTS.md" if args.quick else BENCH / "RESULTS.md"
    selected = (
        [] if args.report_only else [b for b in BENCHMARKS if not args.only or b.name in args.only]
    )
    ran: list[tuple[Benchmark, int, float]] = []
    for bench in selected:
        if args.quick and bench.output_flag is None:
            print(f"== {bench.name}: skipped in --quick (it cannot write elsewhere)")
            continue
        code, seconds = run_benchmark(bench, out_dir, args.quick)
        ran.append((bench, code, seconds))
    write_report(out_dir, command, ran, target)
    print(f"report: {target}")
    failed = [b.name for b, code, _ in ran if code != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
