"""One module per ``kubetriage`` subcommand. Each defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args, settings) -> int`` (exit code); ``kubetriage.cli``
lists them. Commands parse flags and hand over to the library; they hold no logic of their
own beyond presentation."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kubetriage.settings import Settings
    from kubetriage.telemetry import Telemetry

_T = TypeVar("_T")


def telemetry_from_env(command: str) -> Telemetry | None:
    """The process's telemetry from the standard ``OTEL_*`` variables (read here, once),
    for every command that diagnoses; None (after saying why) when they are invalid."""
    from kubetriage.telemetry import Telemetry
    from kubetriage.telemetry_config import TelemetryConfig, TelemetryConfigError

    try:
        return Telemetry.from_config(TelemetryConfig.from_env(os.environ))
    except TelemetryConfigError as error:
        print(f"kubetriage {command}: {error}", file=sys.stderr)
        return None


def run_traced(command: str, job: Callable[[Telemetry], Coroutine[Any, Any, _T]]) -> _T | None:
    """Run ``job`` on a new event loop with the process's telemetry (OTEL_*: the same spans
    and metrics as ``run``), flushed and shut down after; None (after saying why) when the
    variables are invalid."""
    telemetry = telemetry_from_env(command)
    if telemetry is None:
        return None
    try:
        return asyncio.run(job(telemetry))
    finally:
        telemetry.shutdown()


def without_llm(settings: Settings) -> Settings:
    """``--llm none``: the settings with any configured model endpoint ignored."""
    return settings.model_copy(update={"llm_base_url": None, "llm_model": None})


def add_replay_arguments(parser: argparse.ArgumentParser, *, timeout_help: str | None) -> None:
    """The options every replaying command shares (``diagnose``, ``eval``)."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timeout", type=float, default=120.0, help=timeout_help)
    parser.add_argument(
        "--memory-from",
        type=Path,
        default=None,
        metavar="DIR",
        help="seed a fresh incident memory with the solved cases in DIR (the replayed case "
        "excluded)",
    )
