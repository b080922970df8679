"""The ``kubetriage`` command line. Each subcommand lives in ``kubetriage.commands``; this
module only builds the parser, reads ``Settings`` once and dispatches."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from types import ModuleType

from kubetriage.commands import crd, demo, diagnose, eval, memory, run, version
from kubetriage.settings import Settings

COMMANDS: tuple[ModuleType, ...] = (run, diagnose, eval, demo, memory, crd, version)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetriage", description="AI-assisted SRE triage for Kubernetes Incidents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_arguments(sub.add_parser(command.NAME, help=command.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handlers: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        command.NAME: command.run for command in COMMANDS
    }
    return handlers[args.command](args, Settings())
