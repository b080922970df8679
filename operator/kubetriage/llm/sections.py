"""The prompt's text sections: the evidence (one section per kind of object, each item with
its citation id), the analyzers' findings and the similar past incidents, rendered at a
``Detail`` level. Pure; ``kubetriage.llm.prompt`` chooses the level that fits the budget and
places the sections in the user message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubetriage.llm import citations as ids
from kubetriage.llm.neighbour_sections import (
    change_lines,
    dependency_lines,
    disruption_budget_lines,
    metric_lines,
    reconciler_lines,
    related_lines,
    scaler_lines,
    secret_writer_lines,
    sibling_lines,
)
from kubetriage.llm.section_text import (
    MAX_FIELD_CHARS,
    MAX_LINE_CHARS,
    MAX_RESOLUTION_CHARS,
    clip,
    conditions_text,
    known,
    pairs,
    state_text,
    when,
)
from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    EventEvidence,
    LogTail,
    PodEvidence,
)


@dataclass(frozen=True)
class Detail:
    """How much of the evidence to show; the budget ladder (``kubetriage.llm.prompt``) lowers
    these step by step."""

    log_lines: int | None = None  # None: every line collected
    # Of each dependency's own log tails: what a callee prints yields before the incident's.
    dependency_log_lines: int | None = None
    events: int | None = None
    normal_events: bool = True
    container_env: bool = True
    similar: int | None = None


# --- evidence sections ------------------------------------------------------------------


def _container_lines(container: ContainerEvidence, detail: Detail, indent: str) -> list[str]:
    head = f"{indent}container {container.name}{' (init)' if container.init else ''}"
    head += f" image={container.image}"
    if container.requests:
        head += f" requests[{pairs(container.requests)}]"
    if container.limits:
        head += f" limits[{pairs(container.limits)}]"
    lines = [head]
    sub = indent + "  "
    status = []
    if container.ready is not None:
        status.append(f"ready={container.ready}")
    if container.restart_count:
        status.append(f"restarts={container.restart_count}")
    if container.state.state != "unknown":
        status.append(f"state={state_text(container.state)}")
    if container.last_state is not None and container.last_state.state != "unknown":
        status.append(f"last={state_text(container.last_state)}")
    if status:
        lines.append(sub + " ".join(status))
    for probe in container.probes:
        lines.append(
            f"{sub}{probe.kind} probe {probe.handler} delay={probe.initial_delay_seconds}s "
            f"period={probe.period_seconds}s timeout={probe.timeout_seconds}s "
            f"failures={probe.failure_threshold}"
        )
    if container.ports:
        lines.append(f"{sub}ports {', '.join(p.text for p in container.ports)}")
    if detail.container_env and container.args:
        lines.append(f"{sub}args {clip(' '.join(container.args), MAX_FIELD_CHARS)}")
    if detail.container_env and container.env:
        lines.append(f"{sub}env {pairs(container.env)}")
    return lines


def _incident_lines(evidence: Evidence) -> list[str]:
    lines = [ids.cite(ids.INCIDENT, 0, f"collected at {when(evidence.collected_at)}")]
    if evidence.title:
        lines.append(f"title: {clip(evidence.title, MAX_FIELD_CHARS)}")
    if evidence.description:
        lines.append(f"description: {clip(evidence.description, 600)}")
    if evidence.target is not None:
        lines.append(f"target: {evidence.target.display()}")
    for index, alert in enumerate(evidence.alerts):
        lines.append(
            ids.cite(
                ids.ALERT,
                index,
                f"alert {alert.status or ''} since {when(alert.starts_at)}: {pairs(alert.labels)}",
            )
        )
        for key, value in alert.annotations.items():
            lines.append(f"  {key}: {clip(value, MAX_LINE_CHARS)}")
    return lines


def _workload_lines(evidence: Evidence, detail: Detail) -> list[str]:
    workload = evidence.workload
    if workload is None:
        return []
    lines = [
        ids.cite(
            ids.WORKLOAD,
            0,
            f"workload {workload.ref.display()}: desired={known(workload.desired_replicas)} "
            f"ready={workload.ready_replicas} available={workload.available_replicas} "
            f"updated={workload.updated_replicas} unavailable={workload.unavailable_replicas} "
            f"revision={known(workload.revision)} generation={known(workload.generation)}/"
            f"{known(workload.observed_generation)}",
        )
    ]
    if workload.conditions:
        lines.append(f"  conditions: {conditions_text(workload.conditions, only_bad=False)}")
    for container in workload.containers:
        lines.extend(_container_lines(container, detail, "  "))
    for rev in sorted(evidence.revisions, key=lambda r: r.revision, reverse=True):
        lines.append(
            f"  revision {rev.revision}{' (current)' if rev.current else ''} {rev.name}"
            + (f" created {when(rev.created_at)}" if rev.created_at else "")
            + f": images[{pairs(rev.images)}] "
            f"replicas={rev.replicas} ready={rev.ready_replicas}"
        )
    return lines


def _pod_lines(pod: PodEvidence, detail: Detail, index: int) -> list[str]:
    head = ids.cite(
        ids.POD, index, f"pod {pod.namespace}/{pod.name} phase={pod.phase} node={pod.node or '-'}"
    )
    if pod.deleting:
        head += " (deleting)"
    if pod.reason:
        head += f" reason={pod.reason}"
    lines = [head]
    if pod.message:
        lines.append(f"  message: {clip(pod.message, MAX_LINE_CHARS)}")
    bad = conditions_text(pod.conditions, only_bad=True)
    if bad:
        lines.append(f"  conditions: {bad}")
    for container in pod.containers:
        lines.extend(_container_lines(container, detail, "  "))
    for ref in pod.config_refs:
        found = {True: "exists", False: "MISSING", None: "not checked"}[ref.exists]
        text = f"  uses {ref.kind} {ref.name}"
        if ref.key:
            key_state = {True: "present", False: "MISSING", None: "not checked"}[ref.key_exists]
            text += f" key {ref.key} ({key_state})"
        text += f" via {ref.via}{' optional' if ref.optional else ''}: {found}"
        lines.append(text)
    if pod.pvc_names:
        lines.append(f"  volumes from PVCs: {', '.join(pod.pvc_names)}")
    if pod.node_selector:
        lines.append(f"  nodeSelector {pairs(pod.node_selector)}")
    if pod.tolerations:
        lines.append(f"  tolerations {clip('; '.join(pod.tolerations), MAX_FIELD_CHARS)}")
    return lines


def _selected_events(events: Sequence[EventEvidence], detail: Detail) -> list[EventEvidence]:
    """Warnings before Normal, newest first, then cut to the detail level."""
    chosen = [e for e in events if detail.normal_events or e.type != "Normal"]
    chosen.sort(key=lambda e: (e.type == "Warning", _seen(e)), reverse=True)
    return chosen if detail.events is None else chosen[: detail.events]


def _seen(event: EventEvidence) -> float:
    when = event.last_seen or event.first_seen
    return when.timestamp() if when is not None else float("-inf")


def _event_lines(events: Sequence[EventEvidence], every: Sequence[EventEvidence]) -> list[str]:
    """The selected ``events``, each with the id of its place among ``every`` event."""
    return [
        ids.cite(
            ids.EVENT,
            every.index(e),
            f"{when(e.last_seen or e.first_seen)} {e.type} {e.reason} x{e.count} "
            f"{e.involved.display()}: {clip(e.message, MAX_LINE_CHARS)}",
        )
        for e in events
    ]


def _tail_lines(ident: str, tail: LogTail, keep_lines: int | None) -> tuple[list[str], int]:
    """A log tail's newest ``keep_lines`` lines (None: all) under a header starting with its
    id, and how many lines were left out."""
    first = 0 if keep_lines is None else max(0, len(tail.lines) - keep_lines)
    keep = tail.lines[first:]
    dropped = len(tail.lines) - len(keep)
    if not keep:
        return [], dropped
    label = "previous container" if tail.previous else "current container"
    more = " (older lines not collected)" if tail.truncated else ""
    header = f"[{ident}] logs {tail.namespace}/{tail.pod}/{tail.container} {label}{more}:"
    return [header, *(f"  | {clip(line, MAX_LINE_CHARS)}" for line in keep)], dropped


def _log_lines(
    tails: Sequence[tuple[str, LogTail]], keep_lines: int | None
) -> tuple[list[str], int]:
    """Each (id, tail) cut to its newest ``keep_lines``, and the lines left out in all."""
    lines: list[str] = []
    dropped = 0
    for ident, tail in tails:
        shown, left_out = _tail_lines(ident, tail, keep_lines)
        lines += shown
        dropped += left_out
    return lines, dropped


def _dependency_tails(evidence: Evidence) -> list[tuple[str, LogTail]]:
    """What the dependencies print of themselves, each tail with its id (``D1L2``)."""
    return [
        (ids.dependency_log_tag(index, number), tail)
        for index, dependency in enumerate(evidence.dependencies)
        for number, tail in enumerate(dependency.logs)
    ]


@dataclass(frozen=True)
class Rendered:
    evidence: str
    dropped_log_lines: int
    dropped_events: int


def render_evidence(evidence: Evidence, detail: Detail) -> Rendered:
    sections: list[tuple[str, list[str]]] = [
        ("Incident", _incident_lines(evidence)),
        ("Workload", _workload_lines(evidence, detail)),
        (
            "Pods",
            [
                line
                for index, pod in enumerate(evidence.pods)
                for line in _pod_lines(pod, detail, index)
            ],
        ),
    ]
    events = _selected_events(evidence.events, detail)
    sections.append(
        ("Events (warnings first, newest first)", _event_lines(events, evidence.events))
    )
    sections.append(("What changed (newest first)", change_lines(evidence)))
    sections.append(("Dependencies (Services it calls)", dependency_lines(evidence)))
    sections.append(
        ("Other components of its application, short of ready replicas", sibling_lines(evidence))
    )
    sections.append(("Related objects", related_lines(evidence)))
    sections.append(("Event-driven autoscalers' scalers (KEDA)", scaler_lines(evidence)))
    sections.append(("Who writes the Secrets the pods cannot get", secret_writer_lines(evidence)))
    sections.append(
        (
            "Controllers an overdue Certificate or unresolved host waits on",
            reconciler_lines(evidence),
        )
    )
    sections.append(
        (
            "PodDisruptionBudgets that refuse to let a draining node go",
            disruption_budget_lines(evidence),
        )
    )
    sections.append(("Metrics (last hour)", metric_lines(evidence)))
    own = [(ids.tag(ids.LOG, index), tail) for index, tail in enumerate(evidence.logs)]
    logs, dropped_logs = _log_lines(own, detail.log_lines)
    sections.append(("Logs (newest last)", logs))
    callees, dropped_callee_logs = _log_lines(
        _dependency_tails(evidence), detail.dependency_log_lines
    )
    sections.append(("Dependency logs (what the Services it calls print, newest last)", callees))
    if evidence.collection_errors:
        sections.append(
            ("Could not collect", [clip(e, MAX_LINE_CHARS) for e in evidence.collection_errors])
        )
    text = "\n".join(f"### {title}\n" + "\n".join(lines) for title, lines in sections if lines)
    return Rendered(text, dropped_logs + dropped_callee_logs, len(evidence.events) - len(events))


def render_findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return "(no analyzer reached a conclusion)"
    lines = []
    ranked = sorted(findings, key=lambda f: f.confidence, reverse=True)
    for index, finding in enumerate(ranked, start=1):
        lines.append(
            f"{index}. analyzer={finding.analyzer} category={finding.category.value} "
            f"confidence={finding.confidence:.2f} action={finding.action.value} "
            f"target={finding.target.display()}"
            + (f" params[{pairs(finding.params)}]" if finding.params else "")
        )
        lines.append(f"   summary: {clip(finding.summary, MAX_LINE_CHARS)}")
        lines.extend(
            f"   - {item.source}: {clip(item.fact, MAX_LINE_CHARS)}" for item in finding.evidence
        )
    return "\n".join(lines)


def render_similar(similar: Sequence[SimilarIncident], limit: int | None) -> str:
    chosen = sorted(similar, key=lambda s: s.score, reverse=True)
    chosen = chosen if limit is None else chosen[:limit]
    if not chosen:
        return "(none found)"
    lines = []
    for incident in chosen:
        where = "/".join(p for p in (incident.cluster, incident.namespace) if p)
        lines.append(
            f"- {incident.name} similarity={incident.score:.2f} category={incident.category.value}"
            + (f" action={incident.action.value}" if incident.action else "")
            + (f" in {where}" if where else "")
        )
        if incident.resolution:
            lines.append(f"  resolution: {clip(incident.resolution, MAX_RESOLUTION_CHARS)}")
    return "\n".join(lines)
