"""One module per ``kubetriage`` subcommand. Each defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args, settings) -> int`` (exit code); ``kubetriage.cli``
lists them. Commands parse flags and hand over to the library; they hold no logic of their
own beyond presentation."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubetriage.telemetry import Telemetry


def telemetry_from_env(command: str) -> Telemetry | None:
    """The process's telemetry from the standard ``OTEL_*`` variables (read here, once),
    for every command that diagnoses; None (after saying why) when they are invalid."""
    from kubetriage.telemetry import Telemetry, TelemetryConfig, TelemetryConfigError

    try:
        return Telemetry.from_config(TelemetryConfig.from_env(os.environ))
    except TelemetryConfigError as error:
        print(f"kubetriage {command}: {error}", file=sys.stderr)
        return None
