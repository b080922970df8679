"""``kubetriage run``: the operator against the current cluster (kubeconfig or in-cluster),
with the Alertmanager webhook receiver served in the same asyncio loop.

The receiver is on by default and refuses to start without ``KUBETRIAGE_WEBHOOK_TOKEN``
unless ``KUBETRIAGE_WEBHOOK_ALLOW_UNAUTHENTICATED=true``; ``--no-webhook`` (or
``KUBETRIAGE_WEBHOOK_ENABLED=false``) runs the operator alone.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kubetriage.commands import telemetry_from_env
from kubetriage.settings import Settings

if TYPE_CHECKING:
    from kubetriage.assembly import AssembledOperator
    from kubetriage.handlers import RunOptions
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
    options: RunOptions,
    *,
    webhook: bool,
    interactions: SlackInteractions | None = None,
) -> None:
    """Run the operator and, when ``webhook``, the receiver, until the operator stops (or
    ``options.stop_flag`` is set); the receiver drains its queue before the loop ends and is
    ready once the operator is (``options.ready_flag``, made here when not given)."""
    from kubetriage.receiver import Receiver

    ctx = operator.context
    ready = options.ready_flag or asyncio.Event()
    options = dataclasses.replace(options, ready_flag=ready)
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
        # Closes the notifier, the LLM connections and the memory store's lock when it ends.
        await operator.run(options)
    finally:
        if receiver is not None:
            await receiver.stop()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.app import build_interactions
    from kubetriage.assembly import assemble_operator
    from kubetriage.handlers import RunOptions
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
                RunOptions(
                    namespaces=namespaces,
                    standalone=args.standalone or settings.standalone,
                    liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
                ),
                webhook=webhook,
                interactions=interactions,
            )
        )
    finally:
        telemetry.shutdown()  # flush the last spans and metrics
    return 0
