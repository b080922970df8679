"""``kubectl triage``: the kubectl plugin (console script ``kubectl-triage``; kubectl runs
any ``kubectl-<name>`` on PATH). A thin client of the same models, with the user's
kubeconfig and RBAC:

- ``list [-n NS | -A]``: Incidents with phase, severity, category, confidence, target
- ``show INC``: the diagnosis as ``kubetriage diagnose``/``demo`` print it
- ``timeline INC``: what happened when (alerts, conditions, events, notifications,
  remediation, learning), oldest first
- ``approve INC ID [--by WHO]``: ``spec.approve`` (+ ``approvedBy``), exactly as
  ``kubectl patch --type merge`` would
- ``feedback INC [--helpful|--not-helpful] [--category C] [--action A] [--note TEXT]``
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import Condition, Feedback, IncidentStatus
from kubetriage.models.vocabulary import Action, Category
from kubetriage.render import render_diagnosis


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return "?"
    seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _status(body: dict[str, Any]) -> IncidentStatus:
    try:
        return IncidentStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return IncidentStatus()


def render_list(items: list[dict[str, Any]], *, now: datetime, namespaces: bool) -> str:
    """The table ``kubectl triage list`` prints."""
    header = ["NAME", "PHASE", "SEVERITY", "CATEGORY", "CONFIDENCE", "TARGET", "AGE"]
    if namespaces:
        header.insert(0, "NAMESPACE")
    rows = [header]
    for item in sorted(
        items, key=lambda i: (i["metadata"].get("namespace", ""), i["metadata"]["name"])
    ):
        status = _status(item)
        diagnosis = status.diagnosis
        row = [
            item["metadata"]["name"],
            status.phase.value,
            str((item.get("spec") or {}).get("severity", "")),
            diagnosis.category.value if diagnosis else "",
            f"{diagnosis.confidence:.2f}" if diagnosis else "",
            status.target or "",
            _age(item["metadata"].get("creationTimestamp"), now),
        ]
        if namespaces:
            row.insert(0, item["metadata"].get("namespace", ""))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def timeline_entries(
    body: dict[str, Any], events: list[dict[str, Any]]
) -> list[tuple[datetime, str]]:
    """Everything with a time on the Incident and its Events, oldest first."""
    entries: list[tuple[datetime, str]] = []
    meta = body.get("metadata") or {}

    def add(when: datetime | str | None, text: str) -> None:
        if when is None or when == "":
            return
        if isinstance(when, str):
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        entries.append((when if when.tzinfo else when.replace(tzinfo=UTC), text))

    add(meta.get("creationTimestamp"), "created")
    status = _status(body)
    group = status.alert_group
    if group is not None:
        add(group.first_seen, f"alert group first seen ({group.receiver or 'alertmanager'})")
        add(group.last_seen, f"last notification ({group.notifications} so far)")
        add(group.resolved_at, "alerts resolved")
    for cond in status.conditions:
        add(cond.last_transition_time, f"{cond.type}={cond.status} {cond.reason}: {cond.message}")
    for event in events:
        when = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
        add(
            when,
            f"event {event.get('type', '')} {event.get('reason', '')}: {event.get('message', '')}",
        )
    remediation = status.remediation
    if remediation is not None:
        add(
            remediation.approved_at,
            f"remediation {remediation.id} approved by {remediation.approved_by}",
        )
        add(
            remediation.applied_at,
            f"remediation {remediation.id}: {remediation.result.value} ({remediation.reason})",
        )
    if status.learned is not None:
        add(status.learned.at, f"learned as {status.learned.category.value}")
    notes = status.notifications
    if notes is not None and notes.slack is not None:
        add(notes.slack.posted_at, f"Slack message posted in {notes.slack.channel}")
        add(notes.slack.last_reply_at, "Slack thread reply")
    if notes is not None and notes.teams is not None:
        add(notes.teams.sent_at, "Teams card sent")
    if notes is not None and notes.cloud_events is not None:
        add(notes.cloud_events.sent_at, f"CloudEvent {notes.cloud_events.transition} sent")
    return sorted(entries, key=lambda e: e[0])


def feedback_patch(args: argparse.Namespace) -> dict[str, Any]:
    """spec.feedback as ``kubectl patch --type merge`` sends it; raises ValueError when
    nothing was given."""
    feedback = Feedback(
        helpful=args.helpful,
        correct_category=Category(args.category) if args.category else None,
        action_taken=Action(args.action) if args.action else None,
        resolution=args.note,
        by=args.by,
    )
    body = feedback.dump_k8s()
    if set(body) <= {"by"}:
        raise ValueError("say something: --helpful, --not-helpful, --category, --action or --note")
    return {"spec": {"feedback": body}}


def _parser() -> argparse.ArgumentParser:
    # kubectl passes everything after "triage" as is: the flags go on every subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", type=Path, default=None)
    common.add_argument("--context", default=None)
    common.add_argument("-n", "--namespace", default=None)
    parser = argparse.ArgumentParser(prog="kubectl triage", description="kubetriage Incidents")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="Incidents and their diagnoses", parents=[common])
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    for name, text in (("show", "the diagnosis"), ("timeline", "what happened when")):
        sub.add_parser(name, help=text, parents=[common]).add_argument("incident")
    approve = sub.add_parser(
        "approve", help="approve one remediation (the policy decides)", parents=[common]
    )
    approve.add_argument("incident")
    approve.add_argument("remediation", help="the remediation id, e.g. r1")
    approve.add_argument("--by", default=None, help="who approves (default: your login)")
    feedback = sub.add_parser("feedback", help="tell memory what was right", parents=[common])
    feedback.add_argument("incident")
    helpful = feedback.add_mutually_exclusive_group()
    helpful.add_argument("--helpful", dest="helpful", action="store_true", default=None)
    helpful.add_argument("--not-helpful", dest="helpful", action="store_false")
    feedback.add_argument("--category", choices=[c.value for c in Category])
    feedback.add_argument("--action", choices=[a.value for a in Action])
    feedback.add_argument("--note", default=None, help="what fixed it (the resolution)")
    feedback.add_argument("--by", default=None)
    return parser


def _default_namespace(kubeconfig: Path | None, context: str | None) -> str:
    try:
        contexts, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None
        )
    except (k8s_config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), active) if context else active
    return str((chosen or {}).get("context", {}).get("namespace") or "default")


def _events(client: k8s.ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    listed = k8s.CoreV1Api(client).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    raw = client.sanitize_for_serialization(listed)  # type: ignore[no-untyped-call]
    items: list[dict[str, Any]] = raw.get("items") or []
    return [e for e in items if (e.get("involvedObject") or {}).get("kind") == "Incident"]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    namespace = args.namespace or _default_namespace(args.kubeconfig, args.context)
    client = api_client(args.kubeconfig, context=args.context)
    store = IncidentStore(client)
    try:
        return asyncio.run(_run(args, namespace, store, client))
    except ApiException as error:
        reason = error.reason or "error"
        print(f"kubectl triage: the API answered {error.status} {reason}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"kubectl triage: {error}", file=sys.stderr)
        return 2
    finally:
        client.close()  # type: ignore[no-untyped-call]


async def _run(
    args: argparse.Namespace, namespace: str, store: IncidentStore, client: k8s.ApiClient
) -> int:
    now = datetime.now(UTC)
    if args.command == "list":
        items = await store.list(None if args.all_namespaces else namespace)
        print(render_list(items, now=now, namespaces=args.all_namespaces))
        return 0
    if args.command == "approve":
        by = args.by or f"kubectl:{getpass.getuser()}"
        await store.patch(
            namespace, args.incident, {"spec": {"approve": args.remediation, "approvedBy": by}}
        )
        print(f"incident.kubetriage.io/{args.incident} approved {args.remediation} (by {by})")
        return 0
    if args.command == "feedback":
        if args.by is None:
            args.by = f"kubectl:{getpass.getuser()}"
        await store.patch(namespace, args.incident, feedback_patch(args))
        print(f"incident.kubetriage.io/{args.incident} feedback recorded")
        return 0
    body = await store.get(namespace, args.incident)
    if args.command == "show":
        status = body.get("status") or {}
        raw = status.get("diagnosis")
        print(
            render_diagnosis(
                Diagnosis.model_validate(raw) if raw else None,
                name=f"{namespace}/{args.incident}",
                phase=status.get("phase"),
                conditions=[Condition.model_validate(c) for c in status.get("conditions") or []],
            )
        )
        return 0
    events = await asyncio.to_thread(_events, client, namespace, args.incident)
    for when, text in timeline_entries(body, events):
        print(f"{when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}  {text}")
    return 0


def entrypoint() -> None:
    sys.exit(main())
