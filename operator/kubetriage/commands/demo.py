"""``kubetriage demo [--keep] [--llm auto|none]``: the embedded default, nothing to start."""

from __future__ import annotations

import argparse
import sys

from kubetriage.commands import run_traced, without_llm
from kubetriage.settings import Settings

NAME = "demo"
HELP = "replay bundled incidents on an emulated cluster (no cluster, no API key)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", action="store_true", help="stay up until interrupted")
    parser.add_argument(
        "--llm",
        choices=("auto", "none"),
        default="auto",
        help="auto: a configured endpoint, else the local model when installed",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.replay.demo import run_demo

    if args.llm == "none":
        settings = without_llm(settings)
    code = run_traced(
        NAME,
        lambda telemetry: run_demo(
            settings, keep=args.keep, out=sys.stdout, llm=args.llm, telemetry=telemetry
        ),
    )
    return 2 if code is None else code
