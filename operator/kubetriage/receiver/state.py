"""From webhook notifications to Incident writes: pure mapping and merging.

Called by ``kubetriage.receiver.writer`` with the Incident as read from the API (or None) and
the batch of notifications queued for its alert group; returns the spec and status patches
to write. No I/O, so every decision below is unit-tested without a cluster.

Decisions (also in docs/alertmanager.md):

- **One alert group = one Incident.** The name is ``incident_name(alertname, groupKey)``:
  Alertmanager's grouping is the operator's statement of what belongs together and is what
  pages a person, so one page is one incident. A per-alert fingerprint would split one
  outage (say 30 crash-looping pods of one Deployment) into 30 diagnoses. The alertname part
  comes from ``groupLabels`` (stable for a groupKey), never from the alerts, whose mix changes.
- **Namespace**: where the alerts' targets live (the tenancy rule, ``kubetriage.tenancy``,
  lets an Incident read only its own namespace). That is the group's namespace label
  (``exported_namespace`` over ``namespace``, as in target resolution; stable for the
  groupKey, unlike ``commonLabels``) when every alert's own label names that same namespace;
  otherwise ``settings.incident_namespace``, the cluster-scope namespace. Also the fallback
  when the operator watches only some namespaces and this is not one, or when the namespace
  does not exist. An existing Incident is found in either place, so a group whose mix
  changes keeps its one Incident; its ``spec.target`` is only ever one its namespace may
  reach.
- **Repeats** merge alerts by fingerprint; the spec only changes when the alerts do (so a
  repeat notification does not re-diagnose), counts and times live in ``status.alertGroup``.
- **Resolution**: a notification whose status is ``resolved`` (every alert in the group
  resolved) moves the Incident to ``Resolved``. **Re-fire**: a firing notification for a
  Resolved Incident reopens the same Incident (phase ``Pending``, ``Reopened`` condition,
  ``alertGroup.reopened`` + 1); the status is written before the spec so the operator's
  update handler, which skips Resolved incidents, sees the spec change and diagnoses again.
- A group whose first notification is already resolved creates nothing: there is nothing to
  triage.
- **Size**: an Incident stays far below the API server's ~1.5 MB object limit by
  construction. Each stored alert keeps at most 64 labels (names clipped to 128 characters)
  and 64 annotations, each map within ``ALERT_MAP_BYTES`` (``summary``, ``description``,
  ``message``, ``runbook_url`` first); ``spec.alerts`` holds the best-ranked alerts that fit
  in ``ALERTS_BYTES``. What was cut is counted in ``status.alertGroup`` (``omitted``,
  ``clipped``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from kubetriage.alerts import incident_name, label_fingerprint, severity_of, spec_from_alerts
from kubetriage.evidence.targets import resolve_target, target_namespace
from kubetriage.models.base import ObjectRef, valid_items
from kubetriage.models.incident import (
    GROUP,
    KIND,
    VERSION,
    Alert,
    AlertGroupStatus,
    IncidentSpec,
    Phase,
)
from kubetriage.models.vocabulary import Severity
from kubetriage.receiver.payload import WebhookAlert, WebhookPayload
from kubetriage.status import condition, conditions_body, merge_conditions, parse_conditions
from kubetriage.tenancy import Scope

TRACEPARENT_ANNOTATION = "kubetriage.io/traceparent"
# Spec fields the receiver owns; feedback/approve belong to people and are never written.
OWNED_SPEC_FIELDS = ("title", "description", "severity", "source", "target", "alerts")
MAX_OMITTED_FINGERPRINTS = 1000
# CRD bounds for one stored alert (crd._alert).
_MAX_LABELS, _MAX_LABEL_VALUE, _MAX_LABEL_NAME = 64, 1024, 128
_MAX_ANNOTATION_VALUE = 8192
# Bytes (as stored, roughly: UTF-8 of names and values) of one alert's labels, and of its
# annotations; and of all of spec.alerts. With these, spec stays under ~420 KiB.
ALERT_MAP_BYTES = 8 * 1024
ALERTS_BYTES = 384 * 1024
_FIRST_ANNOTATIONS = ("summary", "description", "message", "runbook_url")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class Notification:
    """One accepted webhook request."""

    payload: WebhookPayload
    received_at: datetime
    traceparent: str | None = None


@dataclass(frozen=True)
class Placement:
    name: str
    namespaces: tuple[str, ...]  # where to look and create, preferred first
    # Whether creation may fall back to the next namespace when the first does not exist.
    create_fallback: bool = True


@dataclass(frozen=True)
class IncidentWrite:
    """What to write for one batch. ``status_first`` when the phase changes: the operator
    must see the new phase before it sees the spec change."""

    spec_patch: dict[str, Any] | None  # a merge patch body (metadata + spec), None: no change
    status_patch: dict[str, Any]
    status_first: bool
    transition: Literal["resolve", "reopen"] | None
    alert_group: AlertGroupStatus
    spec: IncidentSpec


def valid_traceparent(value: str | None) -> str | None:
    """The W3C ``traceparent`` header when well formed (stored as an annotation), else None."""
    if value is None:
        return None
    value = value.strip().lower()
    return value if _TRACEPARENT.match(value) and not value.startswith("ff") else None


def placement(
    payload: WebhookPayload, *, incident_namespace: str, watched: list[str] | None = None
) -> Placement:
    alertname = payload.group_labels.get("alertname") or "alertgroup"
    name = incident_name(alertname, payload.group_key)
    namespace = target_namespace(payload.group_labels) or ""
    usable = bool(_DNS_LABEL.match(namespace)) and (not watched or namespace in watched)
    if not usable or namespace == incident_namespace:
        return Placement(name, (incident_namespace,))
    if all(target_namespace(a.labels) == namespace for a in payload.alerts):
        return Placement(name, (namespace, incident_namespace))
    # An alert names another namespace than the group's: only the cluster-scope namespace
    # may look at all of them. Looked up in both places (an earlier notification may have
    # created it in the group's namespace).
    return Placement(name, (incident_namespace, namespace), create_fallback=False)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def _clip_map(
    values: dict[str, str], max_value: int, *, first: tuple[str, ...] = ()
) -> dict[str, str]:
    """At most 64 entries (``first`` names, then by name), names clipped, each value to
    ``max_value`` and all of them to ``ALERT_MAP_BYTES``; later values get what is left."""
    order = [k for k in first if k in values] + sorted(k for k in values if k not in first)
    clipped: dict[str, str] = {}
    left = ALERT_MAP_BYTES
    for key in order[:_MAX_LABELS]:
        name = key[:_MAX_LABEL_NAME]
        if name in clipped or left <= _utf8_len(name):
            continue
        left -= _utf8_len(name)
        value = values[key][: min(max_value, left)]
        while _utf8_len(value) > left:  # multi-byte characters: shorten until it fits
            value = value[: max(0, len(value) - (_utf8_len(value) - left))]
        clipped[name] = value
        left -= _utf8_len(value)
    return clipped


def was_clipped(alert: WebhookAlert, stored: Alert) -> bool:
    return stored.labels != alert.labels or stored.annotations != alert.annotations


def _stored_size(alert: Alert) -> int:
    return len(json.dumps(alert.dump_k8s(), ensure_ascii=False).encode("utf-8", "replace"))


def _real_time(value: datetime | None) -> datetime | None:
    # Alertmanager sends 0001-01-01T00:00:00Z for "not set" (endsAt of a firing alert).
    return value if value is not None and value.year > 1 else None


def stored_alert(alert: WebhookAlert) -> Alert:
    """The alert as kept in ``spec.alerts``: within the CRD's bounds, with a fingerprint.
    A firing alert's ``endsAt`` is dropped: Alertmanager moves it forward on every
    notification, and a spec that changes on every repeat would re-diagnose each time."""
    return Alert(
        status=alert.status,
        labels=_clip_map(alert.labels, _MAX_LABEL_VALUE),
        annotations=_clip_map(alert.annotations, _MAX_ANNOTATION_VALUE, first=_FIRST_ANNOTATIONS),
        starts_at=_real_time(alert.starts_at),
        ends_at=_real_time(alert.ends_at) if alert.status == "resolved" else None,
        fingerprint=(alert.fingerprint or label_fingerprint(alert.labels))[:64],
        generator_url=alert.generator_url[:4096] or None,
    )


def _key(alert: Alert) -> str:
    return alert.fingerprint or label_fingerprint(alert.labels)


def _rank(alert: Alert) -> tuple[int, int, float]:
    """Kept first: firing before resolved, most severe, newest."""
    started = alert.starts_at.timestamp() if alert.starts_at else 0.0
    return (
        0 if alert.status != "resolved" else 1,
        _SEVERITY_RANK[severity_of(alert.labels)],
        -started,
    )


def strong_target(alerts: list[Alert]) -> ObjectRef | None:
    """The target a strong label names (pod, workload, PVC, Service, node), else None. The
    weak hints (``job``, the bare namespace) are left to the operator, which checks them
    against the cluster."""
    without_job = [
        a.model_copy(update={"labels": {k: v for k, v in a.labels.items() if k != "job"}})
        for a in alerts
    ]
    target = resolve_target(None, without_job)
    if target is None or target.kind == "Namespace":
        return None
    # A label value no object could be named after would fail the CRD's bounds.
    if len(target.name) > 253 or len(target.namespace or "") > 63:
        return None
    return target


def _within_budget(ranked: list[Alert], max_alerts: int) -> tuple[list[Alert], list[Alert]]:
    """The best-ranked alerts, at most ``max_alerts`` and ``ALERTS_BYTES`` together."""
    kept: list[Alert] = []
    used = 0
    for index, alert in enumerate(ranked[:max_alerts]):
        size = _stored_size(alert)
        if kept and used + size > ALERTS_BYTES:
            return kept, ranked[index:]
        kept.append(alert)
        used += size
    return kept, ranked[len(kept) :]


def should_create(batch: list[Notification]) -> bool:
    return bool(batch) and batch[-1].payload.status == "firing"


def _existing_alerts(spec: dict[str, Any]) -> list[Alert]:
    # A hand-edited entry the model rejects is replaced, not fatal.
    return valid_items(Alert, spec.get("alerts"))


def _existing_group(status: dict[str, Any]) -> AlertGroupStatus:
    try:
        return AlertGroupStatus.model_validate(status.get("alertGroup") or {})
    except ValidationError:
        return AlertGroupStatus()


def _owned_spec(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        dumped = IncidentSpec.model_validate(spec).dump_k8s()
    except ValidationError:
        return {}
    return {k: dumped[k] for k in OWNED_SPEC_FIELDS if k in dumped}


def _resolved_time(notification: Notification) -> datetime:
    ends = [t for a in notification.payload.alerts if (t := _real_time(a.ends_at)) is not None]
    return max(ends) if ends else notification.received_at


def plan_write(
    existing: dict[str, Any] | None,
    batch: list[Notification],
    *,
    batch_id: str,
    max_alerts: int = 100,
    scope: Scope | None = None,
) -> IncidentWrite:
    """Fold a batch of notifications (oldest first) into the Incident ``existing``.

    Idempotent for a batch: when ``status.alertGroup.lastBatch`` already is ``batch_id`` (an
    earlier attempt wrote the status, then lost a conflict on the spec), counters are not
    added again. ``scope``: the tenancy rule for the Incident's namespace; a label-named
    target outside it is not written into ``spec.target``.
    """
    if not batch:
        raise ValueError("plan_write needs at least one notification")
    existing = existing or {}
    spec_raw = existing.get("spec") or {}
    status_raw = existing.get("status") or {}
    previous = _existing_group(status_raw)
    repeated = previous.last_batch == batch_id
    last = batch[-1]

    merged: dict[str, Alert] = {_key(a): a for a in _existing_alerts(spec_raw)}
    clipped_now = 0
    for notification in batch:
        for raw_alert in notification.payload.alerts:
            alert = stored_alert(raw_alert)
            merged[_key(alert)] = alert
            clipped_now += was_clipped(raw_alert, alert)
    ranked = sorted(merged.values(), key=_rank)
    kept, dropped = _within_budget(ranked, max_alerts)

    overflow = previous.omitted - len(previous.omitted_fingerprints)
    kept_keys = {_key(a) for a in kept}
    omitted = [f for f in previous.omitted_fingerprints if f not in kept_keys]
    omitted += [_key(a) for a in dropped if _key(a) not in set(omitted)]
    if len(omitted) > MAX_OMITTED_FINGERPRINTS:
        overflow += len(omitted) - MAX_OMITTED_FINGERPRINTS
        omitted = omitted[-MAX_OMITTED_FINGERPRINTS:]

    spec = spec_from_alerts(kept, max_alerts=max_alerts)
    spec.target = strong_target(kept)
    if spec.target is not None and scope is not None and not scope.may_target(spec.target):
        # Not this Incident's to reach: the operator picks among the labels it may read.
        spec.target = None
    new_owned = {k: v for k, v in spec.dump_k8s().items() if k in OWNED_SPEC_FIELDS}
    old_owned = _owned_spec(spec_raw)
    # A target a person set stays; the receiver never removes fields it did not write.
    spec_changed = any(old_owned.get(k) != v for k, v in new_owned.items())

    phase = status_raw.get("phase")
    transition: Literal["resolve", "reopen"] | None = None
    if existing and phase == Phase.RESOLVED.value and last.payload.status == "firing":
        transition = "reopen"
    elif existing and phase != Phase.RESOLVED.value and last.payload.status == "resolved":
        transition = "resolve"

    group = AlertGroupStatus(
        group_key=last.payload.group_key,
        receiver=last.payload.receiver[:256] or None,
        notifications=previous.notifications + (0 if repeated else len(batch)),
        first_seen=previous.first_seen or batch[0].received_at,
        last_seen=last.received_at,
        firing=sum(1 for a in ranked if a.status != "resolved"),
        resolved=sum(1 for a in ranked if a.status == "resolved"),
        omitted=len(omitted) + overflow,
        omitted_fingerprints=omitted,
        truncated=last.payload.truncated_alerts,
        clipped=previous.clipped + (0 if repeated else clipped_now),
        reopened=previous.reopened + (1 if transition == "reopen" and not repeated else 0),
        resolved_at=previous.resolved_at,
        last_batch=batch_id,
    )
    status_patch: dict[str, Any] = {}
    conditions = parse_conditions(status_raw.get("conditions"))
    if transition == "resolve":
        resolved_at = _resolved_time(last)
        group.resolved_at = resolved_at
        status_patch["phase"] = Phase.RESOLVED.value
        status_patch["conditions"] = conditions_body(
            merge_conditions(
                conditions,
                [
                    condition(
                        "Resolved",
                        "True",
                        "AlertsResolved",
                        f"all alerts of the group resolved ({len(last.payload.alerts)} in the "
                        "last notification)",
                        now=resolved_at,
                    )
                ],
            )
        )
    elif transition == "reopen":
        group.resolved_at = None
        firing = sum(1 for a in last.payload.alerts if a.status == "firing")
        status_patch["phase"] = Phase.PENDING.value
        status_patch["conditions"] = conditions_body(
            merge_conditions(
                conditions,
                [
                    condition("Resolved", "False", "AlertsFiringAgain", "", now=last.received_at),
                    condition(
                        "Reopened",
                        "True",
                        "AlertsFiringAgain",
                        f"{firing} alert(s) fired again after resolution; reopened "
                        f"{group.reopened} time(s)",
                        now=last.received_at,
                    ),
                ],
            )
        )
    group_body = group.dump_k8s()
    if group.resolved_at is None and previous.resolved_at is not None:
        group_body["resolvedAt"] = None  # merge patch: null removes the field
    status_patch["alertGroup"] = group_body

    traceparent = next(
        (t for n in reversed(batch) if (t := valid_traceparent(n.traceparent))), None
    )
    spec_patch: dict[str, Any] | None = None
    if spec_changed or not existing:
        spec_patch = {"spec": new_owned}
        if traceparent:
            spec_patch["metadata"] = {"annotations": {TRACEPARENT_ANNOTATION: traceparent}}
    return IncidentWrite(
        spec_patch=spec_patch,
        status_patch=status_patch,
        status_first=transition is not None,
        transition=transition,
        alert_group=group,
        spec=spec,
    )


def alertmanager_group_key(group_labels: dict[str, str], route_key: str = "{}") -> str:
    """The ``groupKey`` Alertmanager sends for a group of the route ``route_key`` ("{}" is
    the root route): the route's key, then the group labels sorted by name."""
    labels = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(group_labels.items()))
    return f"{route_key}:{{{labels}}}"


def group_notification(
    alerts: list[Alert],
    *,
    received_at: datetime,
    group_by: tuple[str, ...] = ("alertname", "namespace"),
    receiver: str = "kubetriage",
) -> Notification:
    """The webhook notification Alertmanager would send for ``alerts`` (one group, grouped
    by ``group_by`` on the root route): lets replay tooling create exactly the Incident the
    receiver would."""
    first = alerts[0].labels if alerts else {}
    group_labels = {k: first[k] for k in group_by if k in first}
    payload = WebhookPayload.model_validate(
        {
            "version": "4",
            "groupKey": alertmanager_group_key(group_labels),
            "status": "firing" if any(a.status != "resolved" for a in alerts) else "resolved",
            "receiver": receiver,
            "groupLabels": group_labels,
            "alerts": [
                {
                    "status": a.status or "firing",
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": a.starts_at,
                    "endsAt": a.ends_at,
                    "fingerprint": a.fingerprint or label_fingerprint(a.labels),
                    "generatorURL": a.generator_url or "",
                }
                for a in alerts
            ],
        }
    )
    return Notification(payload=payload, received_at=received_at)


def new_incident(name: str, namespace: str, write: IncidentWrite) -> dict[str, Any]:
    """The body to create an Incident from a plan made with ``existing=None``."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "kubetriage-receiver"},
    }
    annotations = ((write.spec_patch or {}).get("metadata") or {}).get("annotations")
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": metadata,
        "spec": write.spec.dump_k8s(),
    }
