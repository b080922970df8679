"""``kubetriage diagnose CASE_DIR [--json]``: replay one shared-format case offline through
the emulated API and the real operator, and print the diagnosis."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kubetriage.commands import add_replay_arguments, run_traced
from kubetriage.settings import Settings

NAME = "diagnose"
HELP = "replay one incident case offline and print the diagnosis"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case_dir", type=Path)
    add_replay_arguments(parser, timeout_help=None)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.models.incident import Condition
    from kubetriage.render import diagnosis_json, render_diagnosis
    from kubetriage.replay.cases import CaseError, load_case
    from kubetriage.replay.session import replay_case

    try:
        case = load_case(args.case_dir)
    except CaseError as error:
        print(f"kubetriage: {error}", file=sys.stderr)
        return 2
    outcome = run_traced(
        NAME,
        lambda telemetry: replay_case(
            case,
            settings,
            within=args.timeout,
            memory_from=args.memory_from,
            telemetry=telemetry,
        ),
    )
    if outcome is None:
        return 2
    conditions = [Condition.model_validate(c) for c in outcome.status.get("conditions", [])]
    if args.json:
        body = diagnosis_json(outcome.diagnosis, phase=outcome.phase, conditions=conditions)
        body["incident"] = outcome.incident_name
        body["timedOut"] = outcome.timed_out
        print(json.dumps(body, indent=2))
    else:
        print(
            render_diagnosis(
                outcome.diagnosis,
                name=outcome.incident_name,
                phase=outcome.phase,
                conditions=conditions,
            )
        )
    if outcome.timed_out:
        print(f"kubetriage: no diagnosis within {args.timeout}s", file=sys.stderr)
        return 1
    return 0 if outcome.phase == "Diagnosed" else 1
