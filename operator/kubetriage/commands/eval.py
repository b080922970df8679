"""``kubetriage eval CASES_DIR [--json] [--llm none|configured] [--memory-from DIR] [--workers N]``:
replay a directory of shared-format cases end to end and score the diagnoses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kubetriage.commands import add_replay_arguments, run_traced, without_llm
from kubetriage.settings import Settings

NAME = "eval"
HELP = "replay a directory of incident cases and score the diagnoses"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cases_dir", type=Path)
    add_replay_arguments(parser, timeout_help="per case, seconds")
    parser.add_argument(
        "--llm",
        choices=("none", "configured"),
        default="configured",
        help="'none' ignores any configured LLM endpoint (analyzers and memory only)",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="replays at once per process")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes to split the cases across (about one core each); "
        "OpenTelemetry export covers only --workers 1",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="exit non-zero when the set's score is below this share (CI floor)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.replay.cases import CaseError, load_case_set
    from kubetriage.replay.evaluate import evaluate, render_table

    try:
        cases = load_case_set(args.cases_dir)
    except CaseError as error:
        print(f"kubetriage: {error}", file=sys.stderr)
        return 2
    missing = [c.id for c in cases if c.expect is None]
    if missing:
        print(f"kubetriage: cases without expect cannot be scored: {missing}", file=sys.stderr)
        return 2
    if args.llm == "none":
        settings = without_llm(settings)

    def progress(result: object) -> None:
        if not args.json:
            print(".", end="", file=sys.stderr, flush=True)

    report = run_traced(
        NAME,
        lambda telemetry: evaluate(
            cases,
            settings,
            concurrency=max(1, args.concurrency),
            within=args.timeout,
            memory_from=args.memory_from,
            on_result=progress,
            telemetry=telemetry,
            workers=max(1, args.workers),
        ),
    )
    if report is None:
        return 2
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(file=sys.stderr)
        print(render_table(report))
    if args.min_score is not None and report.score < args.min_score:
        print(
            f"kubetriage: score {report.score:.2%} is below the floor {args.min_score:.2%}",
            file=sys.stderr,
        )
        return 1
    return 0
