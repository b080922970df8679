"""Render the chat messages for one diagnosis from evidence, findings and similar incidents.

Called by the diagnosis pipeline just before ``kubetriage.llm.client.LLMClient.diagnose``
(and by ``with_schema_instructions`` inside the client when the server only does
json_object). The wording lives in ``prompts/*.md`` (package data) and is filled in with
``string.Template``; this module only decides what goes in and in which order.

Everything that came from the cluster, an alert or a past incident is untrusted: it is
placed inside ``<untrusted-data>`` blocks that the system prompt tells the model never to
obey, and any tag-like text inside the data is escaped so it cannot close a block early.

The prompt is bounded by ``max_chars`` (all messages together). When the full rendering
is too long, the least useful parts are dropped first: long log tails, then older and
Normal events, container env/args, then past incidents; a note tells the model what was
left out. As a last resort the evidence text is cut.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from string import Template
from typing import Any

from kubetriage.llm import citations as ids
from kubetriage.llm.schema import answer_json_schema
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.evidence import (
    ContainerEvidence,
    ContainerState,
    EventEvidence,
    Evidence,
    LogTail,
    PodCondition,
    PodEvidence,
)
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import (
    ACTION_TARGET_KINDS,
    CATEGORY_MEANINGS,
    WORKLOAD_KINDS,
    Action,
    Category,
)

DEFAULT_MAX_PROMPT_CHARS = 24_000

DATA_OPEN = '<untrusted-data name="{name}">'
DATA_CLOSE = "</untrusted-data>"
# Any spelling a model might read as our tag: case, spaces, a closing slash. Matched on a
# folded copy of the data (see ``_fold``), so full-width or small-form brackets, look-alike
# letters and slashes, and invisible characters in between cannot slip through.
_TAG_LIKE = re.compile(r"<[\s/\\]*untrusted[-_\s]*data", re.IGNORECASE)
# Characters NFKC leaves alone that read as "<", "/" or a letter of "untrusted data".
_CONFUSABLES = str.maketrans(
    {
        **dict.fromkeys("\u2039\u3008\u27e8\u02c2\u1438\u276e\u29fc", "<"),
        **dict.fromkeys("\u2215\u2044\u29f8\u2571\u27cb", "/"),
        **dict.fromkeys("\u0430\u0410\u03b1\u0391\u1d00", "a"),
        **dict.fromkeys("\u0435\u0415\u0395\u1d07", "e"),
        **dict.fromkeys("\u0455\u0405\ua731", "s"),
        **dict.fromkeys("\u0442\u0422\u03c4\u03a4\u1d1b", "t"),
        **dict.fromkeys("\u03c5\u057d\u1d1c", "u"),
        **dict.fromkeys("\u0578\u039d\u0274", "n"),
        **dict.fromkeys("\u0433\u0280", "r"),
        **dict.fromkeys("\u0501\u1d05", "d"),
    }
)

# One line per log line or event message: a single huge line must not eat the budget.
_MAX_LINE_CHARS = 400
_MAX_RESOLUTION_CHARS = 500
_MAX_FIELD_CHARS = 300
_TRUNCATION_MARK = "\n[... evidence cut to fit the prompt budget ...]"

ACTION_MEANINGS: dict[Action, str] = {
    Action.INCREASE_MEMORY: "raise the container's memory limit (and request)",
    Action.INCREASE_CPU: "raise or remove the container's CPU limit",
    Action.ROLLBACK: "return the workload to its previous revision",
    Action.RESTART: "rolling restart of the workload",
    Action.SCALE_OUT: "more replicas, or a higher HPA maximum",
    Action.FIX_CONFIG: "create or correct the missing ConfigMap, Secret or env value",
    Action.FIX_IMAGE: "correct the image reference or its pull secret",
    Action.FIX_PROBE: "correct the probe's path, port, or timing",
    Action.FREE_CAPACITY: "add nodes or free resources so pending pods fit, or fix the constraint",
    Action.DRAIN_NODE: "cordon and drain the failing node",
    Action.EXPAND_STORAGE: "grow the volume or free space on it",
    Action.FIX_NETWORK: "correct the NetworkPolicy or the Service selector or ports",
    Action.RENEW_CERTIFICATE: "renew or replace the certificate",
    Action.ESCALATE: "hand to the owner of the failing dependency, with the evidence",
}


@dataclass(frozen=True)
class _Detail:
    """How much of the evidence to show; the budget ladder lowers these step by step."""

    log_lines: int | None = None  # None: every line collected
    events: int | None = None
    normal_events: bool = True
    container_env: bool = True
    similar: int | None = None


_LADDER: tuple[_Detail, ...] = (
    _Detail(),
    _Detail(log_lines=40, events=20),
    _Detail(log_lines=20, events=15, container_env=False),
    _Detail(log_lines=10, events=10, normal_events=False, container_env=False, similar=3),
    _Detail(log_lines=5, events=5, normal_events=False, container_env=False, similar=1),
    _Detail(log_lines=0, events=3, normal_events=False, container_env=False, similar=1),
    _Detail(log_lines=0, events=0, normal_events=False, container_env=False, similar=0),
)


# --- templates --------------------------------------------------------------------------


@cache
def _template(name: str) -> Template:
    text = resources.files("kubetriage.llm").joinpath("prompts", name).read_text("utf-8")
    return Template(text)


def prompt_file_names() -> list[str]:
    """The prompt files this module reads (a unit test checks they ship in the package)."""
    return ["system.md", "user.md", "schema.md"]


# --- small text helpers -----------------------------------------------------------------


def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` as a reader sees it (compatibility forms, confusables folded, invisible and
    combining characters dropped), with the index in ``text`` of each folded character."""
    if text.isascii():
        return text, list(range(len(text)))
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) in {"Cf", "Mn"}:
            continue
        shown = unicodedata.normalize("NFKC", char).translate(_CONFUSABLES)
        folded.append(shown)
        origin.extend([index] * len(shown))
    return "".join(folded), origin


def escape_data(text: str) -> str:
    """Make data unable to open or close an ``untrusted-data`` block: the bracket of every
    tag-like spelling becomes ``&lt;``."""
    folded, origin = _fold(text)
    brackets = {origin[match.start()] for match in _TAG_LIKE.finditer(folded)}
    if not brackets:
        return text
    return "".join("&lt;" if i in brackets else char for i, char in enumerate(text))


def data_block(name: str, body: str) -> str:
    return f"{DATA_OPEN.format(name=name)}\n{escape_data(body)}\n{DATA_CLOSE}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(value: datetime | None) -> str:
    if value is None:
        return "?"
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _pairs(values: dict[str, str], limit: int = _MAX_FIELD_CHARS) -> str:
    return _clip(", ".join(f"{k}={v}" for k, v in values.items()), limit)


def _ref(ref: ObjectRef | None) -> str:
    return ref.display() if ref is not None else "?"


def _conditions(conditions: Sequence[PodCondition], *, only_bad: bool) -> str:
    shown = []
    for cond in conditions:
        if only_bad and cond.status == "True":
            continue
        text = f"{cond.type}={cond.status}"
        if cond.reason:
            text += f" ({cond.reason})"
        if cond.message:
            text += f": {_clip(cond.message, 160)}"
        shown.append(text)
    return "; ".join(shown)


def _state(state: ContainerState) -> str:
    text: str = state.state
    details = [part for part in (state.reason, _exit(state)) if part]
    if details:
        text += f"({', '.join(details)})"
    if state.message:
        text += f": {_clip(state.message, 200)}"
    if state.finished_at is not None:
        text += f" at {_when(state.finished_at)}"
    return text


def _exit(state: ContainerState) -> str | None:
    if state.exit_code is None:
        return None
    return f"exit {state.exit_code}" + (f" signal {state.signal}" if state.signal else "")


# --- evidence sections ------------------------------------------------------------------


def _container_lines(container: ContainerEvidence, detail: _Detail, indent: str) -> list[str]:
    head = f"{indent}container {container.name}{' (init)' if container.init else ''}"
    head += f" image={container.image}"
    if container.requests:
        head += f" requests[{_pairs(container.requests)}]"
    if container.limits:
        head += f" limits[{_pairs(container.limits)}]"
    lines = [head]
    sub = indent + "  "
    status = []
    if container.ready is not None:
        status.append(f"ready={container.ready}")
    if container.restart_count:
        status.append(f"restarts={container.restart_count}")
    if container.state.state != "unknown":
        status.append(f"state={_state(container.state)}")
    if container.last_state is not None and container.last_state.state != "unknown":
        status.append(f"last={_state(container.last_state)}")
    if status:
        lines.append(sub + " ".join(status))
    for probe in container.probes:
        lines.append(
            f"{sub}{probe.kind} probe {probe.handler} delay={probe.initial_delay_seconds}s "
            f"period={probe.period_seconds}s timeout={probe.timeout_seconds}s "
            f"failures={probe.failure_threshold}"
        )
    if container.ports:
        lines.append(f"{sub}ports {', '.join(container.ports)}")
    if detail.container_env and container.args:
        lines.append(f"{sub}args {_clip(' '.join(container.args), _MAX_FIELD_CHARS)}")
    if detail.container_env and container.env:
        lines.append(f"{sub}env {_pairs(container.env)}")
    return lines


def _incident_lines(evidence: Evidence) -> list[str]:
    lines = [ids.cite(ids.INCIDENT, 0, f"collected at {_when(evidence.collected_at)}")]
    if evidence.title:
        lines.append(f"title: {_clip(evidence.title, _MAX_FIELD_CHARS)}")
    if evidence.description:
        lines.append(f"description: {_clip(evidence.description, 600)}")
    if evidence.target is not None:
        lines.append(f"target: {evidence.target.display()}")
    for index, alert in enumerate(evidence.alerts):
        lines.append(
            ids.cite(
                ids.ALERT,
                index,
                f"alert {alert.status or ''} since {_when(alert.starts_at)}: "
                f"{_pairs(alert.labels)}",
            )
        )
        for key, value in alert.annotations.items():
            lines.append(f"  {key}: {_clip(value, _MAX_LINE_CHARS)}")
    return lines


def _workload_lines(evidence: Evidence, detail: _Detail) -> list[str]:
    workload = evidence.workload
    if workload is None:
        return []
    lines = [
        ids.cite(
            ids.WORKLOAD,
            0,
            f"workload {workload.ref.display()}: desired={workload.desired_replicas} "
            f"ready={workload.ready_replicas} available={workload.available_replicas} "
            f"updated={workload.updated_replicas} unavailable={workload.unavailable_replicas} "
            f"revision={workload.revision} generation={workload.generation}/"
            f"{workload.observed_generation}",
        )
    ]
    if workload.conditions:
        lines.append(f"  conditions: {_conditions(workload.conditions, only_bad=False)}")
    for container in workload.containers:
        lines.extend(_container_lines(container, detail, "  "))
    for rev in sorted(evidence.revisions, key=lambda r: r.revision, reverse=True):
        lines.append(
            f"  revision {rev.revision}{' (current)' if rev.current else ''} {rev.name}"
            + (f" created {_when(rev.created_at)}" if rev.created_at else "")
            + f": images[{_pairs(rev.images)}] "
            f"replicas={rev.replicas} ready={rev.ready_replicas}"
        )
    return lines


def _pod_lines(pod: PodEvidence, detail: _Detail, index: int) -> list[str]:
    head = ids.cite(
        ids.POD, index, f"pod {pod.namespace}/{pod.name} phase={pod.phase} node={pod.node or '-'}"
    )
    if pod.deleting:
        head += " (deleting)"
    if pod.reason:
        head += f" reason={pod.reason}"
    lines = [head]
    if pod.message:
        lines.append(f"  message: {_clip(pod.message, _MAX_LINE_CHARS)}")
    bad = _conditions(pod.conditions, only_bad=True)
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
        lines.append(f"  nodeSelector {_pairs(pod.node_selector)}")
    if pod.tolerations:
        lines.append(f"  tolerations {_clip('; '.join(pod.tolerations), _MAX_FIELD_CHARS)}")
    return lines


def _selected_events(events: Sequence[EventEvidence], detail: _Detail) -> list[EventEvidence]:
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
            f"{_when(e.last_seen or e.first_seen)} {e.type} {e.reason} x{e.count} "
            f"{e.involved.display()}: {_clip(e.message, _MAX_LINE_CHARS)}",
        )
        for e in events
    ]


def _log_lines(logs: Sequence[LogTail], detail: _Detail) -> tuple[list[str], int]:
    lines: list[str] = []
    dropped = 0
    for index, tail in enumerate(logs):
        keep = tail.lines if detail.log_lines is None else tail.lines[-detail.log_lines :]
        if detail.log_lines == 0:
            keep = []
        dropped += len(tail.lines) - len(keep)
        if not keep:
            continue
        label = "previous container" if tail.previous else "current container"
        more = " (older lines not collected)" if tail.truncated else ""
        lines.append(
            ids.cite(
                ids.LOG, index, f"logs {tail.namespace}/{tail.pod}/{tail.container} {label}{more}:"
            )
        )
        lines.extend(f"  | {_clip(line, _MAX_LINE_CHARS)}" for line in keep)
    return lines, dropped


def _related_lines(evidence: Evidence) -> list[str]:
    lines: list[str] = []
    for index, node in enumerate(evidence.nodes):
        text = ids.cite(ids.NODE, index, f"node {node.name} ready={node.ready}")
        if node.unschedulable:
            text += " cordoned"
        # Pressure conditions are healthy when False; show only the ones that are not.
        bad = _conditions(
            [c for c in node.conditions if c.type != "Ready" and c.status != "False"],
            only_bad=False,
        )
        if node.taints:
            text += f" taints[{_clip('; '.join(node.taints), _MAX_FIELD_CHARS)}]"
        if node.allocatable:
            text += f" allocatable[{_pairs(node.allocatable)}]"
        lines.append(text)
        if bad:
            lines.append(f"  conditions: {bad}")
    for index, pvc in enumerate(evidence.pvcs):
        lines.append(
            f"[{ids.tag(ids.CLAIM, index)}] "
            f"pvc {pvc.namespace}/{pvc.name} phase={pvc.phase} class={pvc.storage_class} "
            f"requested={pvc.requested} capacity={pvc.capacity} volume={pvc.volume_name}"
        )
    for index, svc in enumerate(evidence.services):
        lines.append(
            f"[{ids.tag(ids.SERVICE, index)}] "
            f"service {svc.namespace}/{svc.name} type={svc.type} selector[{_pairs(svc.selector)}] "
            f"ports[{', '.join(svc.ports)}] ready_endpoints={svc.ready_endpoints} "
            f"not_ready={svc.not_ready_endpoints} matching_pods={svc.matching_pods}"
            + (f" externalName={svc.external_name}" if svc.external_name else "")
        )
    for index, policy in enumerate(evidence.network_policies):
        lines.append(
            f"[{ids.tag(ids.POLICY, index)}] "
            f"networkpolicy {policy.namespace}/{policy.name} selects_target={policy.selects_target}"
            f" podSelector[{_pairs(policy.pod_selector)}] types={','.join(policy.policy_types)}"
        )
        lines.extend(f"  {_clip(rule, _MAX_FIELD_CHARS)}" for rule in policy.rules)
    for index, hpa in enumerate(evidence.autoscalers):
        lines.append(
            f"[{ids.tag(ids.AUTOSCALER, index)}] "
            f"hpa {hpa.namespace}/{hpa.name} target={_ref(hpa.target)} min={hpa.min_replicas} "
            f"max={hpa.max_replicas} current={hpa.current_replicas} "
            f"desired={hpa.desired_replicas} {_conditions(hpa.conditions, only_bad=False)}"
        )
    for index, quota in enumerate(evidence.quotas):
        used = ", ".join(f"{k}={quota.used.get(k, '?')}/{v}" for k, v in quota.hard.items())
        lines.append(
            f"[{ids.tag(ids.QUOTA, index)}] "
            f"quota {quota.namespace}/{quota.name} used/hard: {_clip(used, 400)}"
        )
    for index, (name, keys) in enumerate(evidence.config_maps.items()):
        lines.append(
            f"[{ids.tag(ids.CONFIG_MAP, index)}] "
            f"configmap {name} keys: {_clip(', '.join(keys), _MAX_FIELD_CHARS)}"
        )
    for index, obj in enumerate(evidence.other_objects):
        text = ids.cite(ids.OBJECT, index, f"{obj.ref.display()} {_pairs(obj.fields)}")
        conds = _conditions(obj.conditions, only_bad=False)
        lines.append(text + (f" conditions: {conds}" if conds else ""))
    return lines


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


def _metric_lines(evidence: Evidence) -> list[str]:
    lines = []
    for index, metric in enumerate(evidence.metrics):
        text = f"[{ids.tag(ids.METRIC, index)}] " + (
            f"{metric.name}{{{_pairs(metric.labels, 200)}}}: last={_num(metric.last)} "
            f"min={_num(metric.min)} max={_num(metric.max)} first={_num(metric.first)} "
            f"trend={metric.trend} samples={metric.samples}"
        )
        if metric.changed_at is not None:
            text += f" changed_at={_when(metric.changed_at)}"
        if metric.shape != "unknown":
            text += f" shape={metric.shape}"
        if metric.before is not None and metric.after is not None:
            text += f" before={_num(metric.before)} after={_num(metric.after)}"
        lines.append(text)
    return lines


@dataclass(frozen=True)
class _Rendered:
    evidence: str
    dropped_log_lines: int
    dropped_events: int


def _change_lines(evidence: Evidence) -> list[str]:
    """The change timeline: "did it start right after something changed?" is the first
    question; the model sees each change with its time next to the symptoms' times."""
    return [
        _clip(
            ids.cite(
                ids.CHANGE,
                index,
                f"{_when(change.at)} {change.kind} {change.object.display()}: "
                + "; ".join(change.details),
            ),
            _MAX_LINE_CHARS,
        )
        for index, change in enumerate(evidence.changes)
    ]


def _dependency_lines(evidence: Evidence) -> list[str]:
    """What stands behind each Service the workload calls, in any namespace."""
    lines: list[str] = []
    for index, dep in enumerate(evidence.dependencies):
        name = (
            f"Service/{dep.service.namespace}/{dep.service.name} "
            f"endpoints ready={dep.service.ready_endpoints}"
            if dep.service is not None
            else (
                dep.workload.display()
                if dep.workload
                else (dep.ref.display() if dep.ref else "?") + " (not readable here)"
            )
        )
        workload = (
            f" workload {dep.workload.display()} ready={dep.ready_replicas}/{dep.desired_replicas}"
            if dep.workload is not None
            else ""
        )
        lines.append(
            _clip(
                ids.cite(
                    ids.DEPENDENCY,
                    index,
                    f"{name}{workload} named by {', '.join(dep.named_by[:2])}",
                ),
                _MAX_LINE_CHARS,
            )
        )
        lines += [_clip(f"  failing pod {p}", _MAX_LINE_CHARS) for p in dep.failing_pods[:3]]
        lines += [
            _clip(f"  {_when(c.at)} {c.kind}: " + "; ".join(c.details), _MAX_LINE_CHARS)
            for c in dep.changes[:2]
        ]
        lines += [_clip(f"  warning {w}", _MAX_LINE_CHARS) for w in dep.warnings[:2]]
    return lines


def _render_evidence(evidence: Evidence, detail: _Detail) -> _Rendered:
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
    sections.append(("What changed (newest first)", _change_lines(evidence)))
    sections.append(("Dependencies (Services it calls)", _dependency_lines(evidence)))
    sections.append(("Related objects", _related_lines(evidence)))
    sections.append(("Metrics (last hour)", _metric_lines(evidence)))
    logs, dropped_logs = _log_lines(evidence.logs, detail)
    sections.append(("Logs (newest last)", logs))
    if evidence.collection_errors:
        sections.append(
            ("Could not collect", [_clip(e, _MAX_LINE_CHARS) for e in evidence.collection_errors])
        )
    text = "\n".join(f"### {title}\n" + "\n".join(lines) for title, lines in sections if lines)
    return _Rendered(text, dropped_logs, len(evidence.events) - len(events))


def _render_findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return "(no analyzer reached a conclusion)"
    lines = []
    ranked = sorted(findings, key=lambda f: f.confidence, reverse=True)
    for index, finding in enumerate(ranked, start=1):
        lines.append(
            f"{index}. analyzer={finding.analyzer} category={finding.category.value} "
            f"confidence={finding.confidence:.2f} action={finding.action.value} "
            f"target={finding.target.display()}"
            + (f" params[{_pairs(finding.params)}]" if finding.params else "")
        )
        lines.append(f"   summary: {_clip(finding.summary, _MAX_LINE_CHARS)}")
        lines.extend(
            f"   - {item.source}: {_clip(item.fact, _MAX_LINE_CHARS)}" for item in finding.evidence
        )
    return "\n".join(lines)


def _render_similar(similar: Sequence[SimilarIncident], limit: int | None) -> str:
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
            lines.append(f"  resolution: {_clip(incident.resolution, _MAX_RESOLUTION_CHARS)}")
    return "\n".join(lines)


# --- vocabulary tables ------------------------------------------------------------------


def _kinds(action: Action) -> str:
    kinds = ACTION_TARGET_KINDS[action]
    named = sorted(kinds - WORKLOAD_KINDS)
    parts = (["a workload"] if kinds >= WORKLOAD_KINDS else sorted(kinds & WORKLOAD_KINDS)) + named
    return " or ".join(parts)


def system_prompt() -> str:
    categories = "\n".join(f"- {c.value}: {CATEGORY_MEANINGS[c]}" for c in Category)
    actions = "\n".join(f"- {a.value}: {ACTION_MEANINGS[a]}. Target: {_kinds(a)}." for a in Action)
    actions += f"\n(A workload is a {', '.join(sorted(WORKLOAD_KINDS))}.)"
    return _template("system.md").substitute(categories=categories, actions=actions)


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


def with_schema_instructions(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The messages with the answer schema appended to the system message.

    Used in json_object mode, where the server does not enforce the schema and the model
    has only the text to go by.
    """
    # Descriptions repeat the system prompt's field list; without them the text is ~40%
    # shorter, which matters most for the small local models that need json_object.
    schema = json.dumps(
        _without_descriptions(answer_json_schema(bounded_strings=True)), separators=(",", ":")
    )
    addition = _template("schema.md").substitute(schema=schema)
    out = [dict(m) for m in messages]
    for message in out:
        if message["role"] == "system":
            message["content"] += addition
            return out
    return [{"role": "system", "content": addition.strip()}, *out]


def _omitted_note(parts: Iterable[tuple[int, str]]) -> str:
    said = [f"{count} {what}" for count, what in parts if count > 0]
    if not said:
        return ""
    return f"\n(Left out to fit the prompt budget: {', '.join(said)}.)\n"


def _user_message(
    evidence: Evidence,
    findings: Sequence[Finding],
    similar: Sequence[SimilarIncident],
    detail: _Detail,
    evidence_limit: int | None = None,
) -> str:
    rendered = _render_evidence(evidence, detail)
    evidence_text = rendered.evidence
    if evidence_limit is not None and len(evidence_text) > evidence_limit:
        evidence_text = evidence_text[:evidence_limit] + _TRUNCATION_MARK
    shown_similar = len(similar) if detail.similar is None else min(len(similar), detail.similar)
    note = _omitted_note(
        [
            (rendered.dropped_log_lines, "older log lines"),
            (rendered.dropped_events, "older or Normal events"),
            (len(similar) - shown_similar, "less similar past incidents"),
        ]
    )
    return _template("user.md").substitute(
        findings=data_block("analyzer-findings", _render_findings(findings)),
        evidence=data_block("evidence", evidence_text),
        similar=data_block("similar-incidents", _render_similar(similar, detail.similar)),
        omitted=note,
    )


def render_messages(
    evidence: Evidence,
    findings: list[Finding],
    similar: list[SimilarIncident],
    *,
    max_chars: int = DEFAULT_MAX_PROMPT_CHARS,
) -> list[dict[str, str]]:
    """System + user messages whose contents total at most ``max_chars`` characters.

    Raises ``ValueError`` when ``max_chars`` cannot hold the instructions and findings
    with an empty evidence section.
    """
    system = system_prompt()
    budget = max_chars - len(system)
    for detail in _LADDER:
        user = _user_message(evidence, findings, similar, detail)
        if len(user) <= budget:
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # Still too long at the lowest detail: cut the evidence text itself. Escaping can make
    # the cut text a little longer than planned, so shrink until the bound holds.
    lowest = _LADDER[-1]
    limit = len(_render_evidence(evidence, lowest).evidence)
    while limit > 0:
        limit = max(0, limit - (len(user) - budget))
        user = _user_message(evidence, findings, similar, lowest, evidence_limit=limit)
        if len(user) <= budget:
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]
    raise ValueError(
        f"max_chars={max_chars} is too small: the instructions and findings alone need "
        f"{len(system) + len(user)} characters"
    )


__all__ = [
    "ACTION_MEANINGS",
    "CATEGORY_MEANINGS",
    "DATA_CLOSE",
    "DATA_OPEN",
    "DEFAULT_MAX_PROMPT_CHARS",
    "data_block",
    "escape_data",
    "prompt_file_names",
    "render_messages",
    "system_prompt",
    "with_schema_instructions",
]
