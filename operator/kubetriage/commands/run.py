"""``kubetriage run``: the operator against the current cluster (kubeconfig or in-cluster),
with the Alertmanager webhook receiver served in the same asyncio loop.

The receiver is on by default and refuses to start without ``KUBETRIAGE_WEBHOOK_TOKEN``
unless ``KUBETRIAGE_WEBHOOK_ALLOW_UNAUTHENTICATED=true``; ``--no-webhook`` (or
``KUBETRIAGE_WEBHOOK_ENABLED=false``) runs the operator alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kubetriage.commands import telemetry_from_env
from kubetriage.settings import Settings

if TYPE_CHECKING:
    from kubetriage.assembly import AssembledOperator
    from kubetriage.notify.interactions import SlackInteractions

NAME = "run"
HELP = "run the operator (and the Alertmanager receiver) against the current cluster"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], help="repeatable")
    scope.add_argument("-A", "--all-namespaces", action="store_true")
    parser.add_argument("--kubeconfig", type=Path, default=None)
    parser.add_argument("--context", default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--standalone", action="store_true", help="no peering (one replica)")
    parser.add_argument(
        "--no-webhook", action="store_true", help="do not serve the Alertmanager receiver"
    )
    parser.add_argument("--webhook-port", type=int, default=None)


async def serve(
    operator: AssembledOperator,
    *,
    namespaces: list[str],
    standalone: bool,
    webhook: bool,
    liveness_endpoint: str | None = None,
    stop_flag: asyncio.Event | None = None,
    interactions: SlackInteractions | None = None,
) -> None:
    """Run the operator and, when ``webhook``, the receiver, until the operator stops (or
    ``stop_flag`` is set); the receiver drains its queue before the loop ends."""
    from kubetriage.handlers import run_operator
    from kubetriage.receiver import Receiver

    ctx = operator.context
    ready = asyncio.Event()
    receiver = (
        Receiver(ctx.settings, ctx.api_client, ready=ready.is_set, metrics=ctx.metrics)
        if webhook
        else None
    )
    if receiver is not None and ctx.metrics is not None:
        receiver.app.middlewares.append(ctx.metrics.webhook_middleware())
    if receiver is not None and interactions is not None:
        interactions.install(receiver.app)  # Slack buttons: POST /slack/interactions
    if receiver is not None:
        await receiver.start()
    try:
        await run_operator(
            ctx,
            namespaces=namespaces,
            standalone=standalone,
            ready_flag=ready,
            stop_flag=stop_flag,
            liveness_endpoint=liveness_endpoint,
        )
    finally:
        if receiver is not None:
            await receiver.stop()
        await operator.aclose()  # the notifier, the LLM connections, the memory store's lock


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.app import build_interactions
    from kubetriage.assembly import assemble_operator
    from kubetriage.kubeclient import api_client
    from kubetriage.llm.budget import BudgetLimits
    from kubetriage.receiver import ReceiverConfigError, receiver_token
    from kubetriage.settings import SecretFileError

    if args.concurrency is not None:
        settings = settings.model_copy(update={"concurrency": args.concurrency})
    if args.webhook_port is not None:
        settings = settings.model_copy(update={"webhook_port": args.webhook_port})
    try:
        BudgetLimits.from_settings(settings)  # limits no call fits in: fail before connecting
    except ValueError as error:
        print(f"kubetriage run: {error}", file=sys.stderr)
        return 2
    webhook = settings.webhook_enabled and not args.no_webhook
    if webhook:
        try:
            receiver_token(settings)  # fail before connecting to anything
        except ReceiverConfigError as error:
            print(f"kubetriage run: {error}", file=sys.stderr)
            return 2
    telemetry = telemetry_from_env(NAME)
    if telemetry is None:
        return 2
    namespaces = [] if args.all_namespaces else (args.namespace or settings.namespaces)
    # One source of truth for the scope: the receiver places Incidents only where the
    # operator watches.
    settings = settings.model_copy(update={"namespaces": namespaces})
    client = api_client(args.kubeconfig, context=args.context)
    try:
        operator = assemble_operator(
            settings, client, telemetry=telemetry, metrics=True, notify=True
        )
        interactions = build_interactions(settings, operator.context.incidents)
    except SecretFileError as error:
        print(f"kubetriage run: {error}", file=sys.stderr)
        return 2
    if interactions is not None and not webhook:
        print(
            "kubetriage run: the Slack buttons are served on the webhook port, which is off; "
            "messages are posted without working buttons",
            file=sys.stderr,
        )
    try:
        asyncio.run(
            serve(
                operator,
                namespaces=namespaces,
                standalone=args.standalone or settings.standalone,
                webhook=webhook,
                liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
                interactions=interactions,
            )
        )
    finally:
        telemetry.shutdown()  # flush the last spans and metrics
    return 0
