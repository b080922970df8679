"""The ``kubetriage`` command line: ``run`` (the operator), ``diagnose`` (replay one case
offline), ``crd`` (print or write the CRD) and ``version``. Parses flags, builds
``Settings`` and the clients once, and hands them down; no logic of its own."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from kubetriage import __version__
from kubetriage.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetriage", description="AI-assisted SRE triage for Kubernetes Incidents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator against the current cluster")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], help="repeatable")
    scope.add_argument("-A", "--all-namespaces", action="store_true")
    run.add_argument("--kubeconfig", type=Path, default=None)
    run.add_argument("--context", default=None)
    run.add_argument("--concurrency", type=int, default=None)
    run.add_argument("--standalone", action="store_true", help="no peering (one replica)")

    diagnose = sub.add_parser("diagnose", help="replay one incident case offline")
    diagnose.add_argument("case_dir", type=Path)
    diagnose.add_argument("--json", action="store_true", help="print one JSON object")
    diagnose.add_argument("--timeout", type=float, default=120.0)

    crd = sub.add_parser("crd", help="print the Incident CRD, or write it into the repo")
    crd.add_argument("--write", type=Path, nargs="*", default=None, metavar="FILE")

    sub.add_parser("version", help="print the version")
    return parser


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.app import build_stages
    from kubetriage.handlers import OperatorContext, run_operator
    from kubetriage.incidents import IncidentStore
    from kubetriage.kubeclient import api_client

    if args.concurrency is not None:
        settings = settings.model_copy(update={"concurrency": args.concurrency})
    namespaces = [] if args.all_namespaces else (args.namespace or settings.namespaces)
    client = api_client(args.kubeconfig, context=args.context)
    ctx = OperatorContext(
        settings=settings,
        stages=build_stages(settings, client),
        incidents=IncidentStore(client, request_timeout=settings.kube_request_timeout_seconds),
        api_client=client,
    )
    asyncio.run(
        run_operator(
            ctx,
            namespaces=namespaces,
            standalone=args.standalone or settings.standalone,
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
        )
    )
    return 0


def _diagnose(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.models.incident import Condition
    from kubetriage.render import diagnosis_json, render_diagnosis
    from kubetriage.replay.cases import CaseError, load_case
    from kubetriage.replay.session import replay_case

    try:
        case = load_case(args.case_dir)
    except CaseError as error:
        print(f"kubetriage: {error}", file=sys.stderr)
        return 2
    outcome = asyncio.run(replay_case(case, settings, within=args.timeout))
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


def _crd(args: argparse.Namespace) -> int:
    from kubetriage.crd import render_incident_crd_yaml

    text = render_incident_crd_yaml()
    if args.write is None:
        sys.stdout.write(text)
        return 0
    for path in args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "version":
        print(f"kubetriage {__version__}")
        return 0
    if args.command == "crd":
        return _crd(args)
    settings = Settings()
    if args.command == "run":
        return _run(args, settings)
    if args.command == "diagnose":
        return _diagnose(args, settings)
    raise AssertionError(f"unhandled command {args.command}")
