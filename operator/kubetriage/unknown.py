"""What a diagnosis says when no known failure pattern fits: what was checked, what looked
healthy, what was ruled out by time (an exit hours old, served through since), and what
evidence is missing or would decide it. "Unknown" is still useful at 3 a.m.
when it tells the on-call engineer where not to look and what to get next.

Pure: a function of the (redacted) evidence and of how the metrics stage went; called by the
combiner. The text is built with ``kubetriage.prose``.
"""

from __future__ import annotations

import re

from kubetriage import prose
from kubetriage.analyzers.pods import exit_is_history, last_exit_ago
from kubetriage.analyzers.recency import RECENT_ROLLOUT, is_recent, revision_age
from kubetriage.analyzers.recovery import recoveries
from kubetriage.analyzers.support import (
    RATE_FUNCTION,
    incident_subject,
    item,
    owner_workload,
    pod_source,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Narrative

_METRICS_MISSING = {
    "not_configured": "none, Prometheus is not configured (set KUBETRIAGE_PROMETHEUS_URL)",
    "unavailable": "none, Prometheus did not answer",
    "no_data": "none, Prometheus had no series for these pods",
}


_ERROR_LINE = re.compile(r"(?i)\b(error|fail(ed|ure)?|exception|fatal|panic|timeout)\b")
_COUNTER = re.compile(r"_(total|bucket|count|sum)\b")
# A series that grew or fell at least this much over the window is worth naming.
MOVED = 1.5


def _moved(evidence: Evidence) -> list[str]:
    """The series that moved the most, as ``name 0.2 -> 1.4``."""
    changes: list[tuple[float, str, str]] = []
    for metric in evidence.metrics:
        if _COUNTER.search(metric.name or metric.query) and not RATE_FUNCTION.search(metric.query):
            continue  # a raw counter always rises; only a rate says something changed
        low = metric.first if metric.first is not None else metric.min
        if metric.last is None or low is None or low <= 0 or metric.last <= 0:
            continue
        ratio = max(metric.last / low, low / metric.last)
        if ratio >= MOVED:
            label = metric.name or metric.query
            text = f"{label} {prose.number(low)} -> {prose.number(metric.last)}"
            changes.append((ratio, label, text))
    ranked: dict[str, str] = {}
    for _, label, text in sorted(changes, key=lambda c: -c[0]):
        ranked.setdefault(label, text)  # the biggest move of each series name
    return list(ranked.values())


def _checked_workload(evidence: Evidence) -> ObjectRef | None:
    """The one workload whose pods were checked when the alert named no object (an absent
    series' alert carries only its selector's labels): what the evidence speaks about."""
    owners = {o.key(): o for p in evidence.pods if (o := owner_workload(p)) is not None}
    return next(iter(owners.values())) if len(owners) == 1 else None


def _past_exits(evidence: Evidence) -> list[EvidenceItem]:
    """The containers whose last exit is history (``pods.exit_is_history``): a kill or crash
    that ended hours before and was served through since, named so that nobody chases it."""
    found: list[EvidenceItem] = []
    for pod in evidence.pods:
        for container in pod.containers:
            last, ago = container.last_state, last_exit_ago(evidence, container)
            if container.init or last is None or ago is None:
                continue
            if exit_is_history(evidence, container):
                how = last.reason or f"exit code {last.exit_code}"
                found.append(
                    item(
                        pod_source(pod),
                        f"container {container.name} last terminated {how} "
                        f"{prose.duration(ago)} ago and has run ready since",
                    )
                )
    return found


def explain_unknown(evidence: Evidence, *, metrics_status: str = "ok") -> Narrative:
    """The narrative of an "unknown" diagnosis and, as its claims' evidence, the facts that
    were checked (each claim cites what it rests on)."""
    subject = incident_subject(evidence) or _checked_workload(evidence)
    alert = next((a.labels.get("alertname") for a in evidence.alerts), None)
    what = prose.obj(subject) if subject else (f"the {alert} alert" if alert else "this incident")
    aside = f"alert {alert}" if alert and subject else ""

    pods = [p for p in evidence.pods if p.containers]
    ready = [p for p in pods if all(c.ready for c in p.containers if not c.init)]
    restarts = sum(c.restart_count for p in pods for c in p.containers)
    pending = sum(1 for p in evidence.pods if p.phase == "Pending")
    if evidence.pods:
        pod_text = (
            f"{prose.count(len(evidence.pods), 'pod')}, {len(ready)} ready, "
            f"{prose.count(restarts, 'restart')}" + (f", {pending} Pending" if pending else "")
        )
    else:
        pod_text = "no pods for it"
    pod_fact = EvidenceItem(source="pods", fact=pod_text)

    current = next((r for r in evidence.revisions if r.current), None)
    age = revision_age(evidence, current)
    if current is not None and age is not None:
        rollout = (
            f"revision {current.revision} rolled out {prose.duration(age)} ago"
            if is_recent(age)
            else f"no rollout in the last {prose.duration(RECENT_ROLLOUT.total_seconds())}"
        )
    else:
        rollout = "no revision history"
    rollout_fact = EvidenceItem(source="revisions", fact=rollout)

    moved = _moved(evidence)
    if evidence.metrics:
        metrics_text = (
            f"{prose.count(len(evidence.metrics), 'metric series', 'metric series')} checked"
            + (f"; {prose.listing(moved, limit=2)}" if moved else "; none moved much")
        )
    else:
        metrics_text = _METRICS_MISSING.get(metrics_status, "no metric series were returned")
    metrics_fact = EvidenceItem(source="metrics", fact=metrics_text)

    warnings = [e for e in evidence.events if e.type == "Warning"]
    errors = sum(1 for log in evidence.logs for line in log.lines if _ERROR_LINE.search(line))
    services = [s.name for s in evidence.services]
    seen = [
        prose.count(len(warnings), "warning event"),
        f"{prose.count(len(evidence.logs), 'log tail')} ({prose.count(errors, 'error line')})",
        f"Services {prose.listing(services)}" if services else "no Services",
    ]
    context_fact = EvidenceItem(source="evidence", fact=", ".join(seen))

    missing: list[str] = []
    if not evidence.pods:
        missing.append("the pods behind it (their states and events)")
    if not evidence.metrics:
        missing.append("latency, error-rate and saturation metrics for the alert's service")
    if not evidence.logs:
        missing.append("log tails of its containers")
    missing.append("a change that lines up with the alert's start (a deploy, a config edit)")

    because = [
        prose.claim(
            f"Checked {pod_text}; {rollout}" if evidence.pods else f"Found {pod_text}; {rollout}",
            pod_fact,
            rollout_fact,
        ),
        prose.claim(f"Metrics: {metrics_text}", metrics_fact),
        prose.claim(f"Also seen: {', '.join(seen)}, none matching a known pattern", context_fact),
        prose.claim(f"What would decide it: {prose.listing(missing, limit=3)}"),
    ]
    past = _past_exits(evidence)
    if past:
        # An old kill is the loudest fact and the first thing a reader would chase.
        because[2] = prose.claim(
            f"Also seen: {', '.join(seen)}, none matching a known pattern; an earlier exit "
            "ended hours before the alert and was served through since",
            context_fact,
            *past[:2],
        )
    recovered = recoveries(evidence)
    if recovered:
        # A callee that failed once and came back before the alert: the errors were its
        # restart's; what killed it is the open question, not a change or a metric.
        because[-1] = prose.claim(
            "A Service it calls restarted once, after which no call to it failed; what "
            "would decide it is what killed that container (a person, a tool, the runtime)",
            *recovered[:2],
        )
    fix = {
        "not_configured": "configure Prometheus and re-check",
        "unavailable": "restore Prometheus and re-check",
    }.get(metrics_status, "escalate to its owner")
    if evidence.metrics:
        fix = "escalate to its owner"
    return prose.narrative(
        f"No known failure pattern explains {what}",
        fix,
        aside=aside,
        because=because,
    )


def checked_evidence(text: Narrative) -> list[EvidenceItem]:
    """The facts an "unknown" narrative rests on, in order, without repeats."""
    items: list[EvidenceItem] = []
    for claim in text.because:
        for entry in claim.evidence:
            if entry not in items:
                items.append(entry)
    return items
