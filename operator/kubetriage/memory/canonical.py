"""The text embedded for an incident: the same short, normalised description whether it
comes from a live incident (evidence + analyzer findings), a replay case being seeded (the
same evidence and findings, built from its objects: ``replay/seeding.py``), or a stored record
being re-imported.

Called by the pipeline before ``IncidentMemory.search`` / ``store`` and by the memory
importers. Pure functions only.

Why normalise: two occurrences of the same outage differ in pod hashes, IPs, UUIDs,
timestamps and byte counts; left in, those tokens pull the vectors apart for no reason.
Numbers: integers of up to three digits are KEPT, because exit codes (1, 137, 143),
signals, HTTP statuses (503) and small sizes (128Mi) are what tells incidents apart;
longer integers and decimals (byte counts, row ids, ports, versions) become ``<num>``.
Order matters too: the model reads only the first 256 tokens, so the alert, the category
and the title come first, then evidence lines, most telling first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerState
from kubetriage.models.vocabulary import CATEGORY_MEANINGS, Category

MAX_CHARS = 1500
MAX_LINES = 12
MAX_LINE_CHARS = 240
MAX_LOG_LINES = 4

# Kubernetes' rand.SafeEncodeString alphabet (no vowels, no 0/1/3): pod-template hashes and
# generated pod-name suffixes use only these characters.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_HASH_SEGMENT = rf"(?=[{_SAFE}]*\d)[{_SAFE}]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?\b",
            re.IGNORECASE,
        ),
        "<time>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    (
        re.compile(
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE
        ),
        "<uuid>",
    ),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b", re.IGNORECASE), "<ip>"),
    # Deployment pod: <name>-<pod-template-hash>-<suffix>; ReplicaSet: <name>-<hash>.
    (
        re.compile(
            rf"\b([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)-{_HASH_SEGMENT}{{6,10}}"
            rf"(?:-[{_SAFE}]{{5}})?(?![a-z0-9])"
        ),
        r"\1-<hash>",
    ),
    # DaemonSet / Job / bare generated pod: <name>-<5-char suffix>.
    (
        re.compile(rf"\b([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)-{_HASH_SEGMENT}{{5}}(?![a-z0-9])"),
        r"\1-<hash>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b(?:sha256:)?[0-9a-f]{12,}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,11}\b", re.IGNORECASE), "<hex>"),
    # Decimals and dotted versions, also when a unit follows ("0.25s", "1.27-alpine").
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)+"), "<num>"),
    (re.compile(r"\b\d{4,}\b"), "<num>"),
)
_WHITESPACE = re.compile(r"\s+")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOG_PROBLEM = re.compile(
    r"error|exception|panic|fatal|fail|refused|timed? ?out|denied|killed|unavailable|"
    r"no such|not found|cannot|can't|unable|level=warn|\b5\d\d\b|traceback",
    re.IGNORECASE,
)


class IncidentText(BaseModel):
    """The ingredients of an incident's canonical text, before normalisation."""

    alertname: str | None = None
    category: Category | None = None
    title: str = ""
    summary: str = ""
    # Most telling first: the text is cut from the end when it is too long.
    lines: list[str] = Field(default_factory=list)


def normalise(text: str) -> str:
    """Replace volatile tokens (hashes, IPs, UUIDs, ids, times, big numbers) with
    placeholders and collapse whitespace."""
    text = _ANSI.sub("", text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _WHITESPACE.sub(" ", text).strip()


def canonical_text(
    parts: IncidentText, *, max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES
) -> str:
    """The bounded, normalised text that is embedded for an incident."""
    header: list[str] = []
    if parts.category is not None:
        # First, with its meaning: what kind of failure it is matters more to "have we seen
        # this before" than the alert's wording (leave-one-out: 26% -> 51% on tests/cases).
        header.append(f"category: {parts.category.value}: {CATEGORY_MEANINGS[parts.category]}")
    if parts.alertname:
        header.append(f"alert: {parts.alertname}")
    if parts.title:
        header.append(f"title: {_clip(normalise(parts.title))}")
    if parts.summary:
        header.append(f"summary: {_clip(normalise(parts.summary))}")

    body: list[str] = []
    seen: set[str] = set()
    for raw in parts.lines:
        line = _clip(normalise(raw))
        if line and line not in seen:
            seen.add(line)
            body.append(f"- {line}")
        if len(body) >= max_lines:
            break

    out: list[str] = []
    size = 0
    for line in header + body:
        if size + len(line) + 1 > max_chars:
            if not out:  # a single oversized header line is still better than nothing
                out.append(line[:max_chars])
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def parts_from_evidence(
    evidence: Evidence,
    findings: Sequence[Finding] = (),
    *,
    category: Category | None = None,
) -> IncidentText:
    """Ingredients for a live incident. ``category`` defaults to the most confident
    finding's category (None when no analyzer concluded anything)."""
    alert = evidence.alerts[0] if evidence.alerts else None
    alertname = alert.labels.get("alertname") if alert else None
    summary = _alert_summary(alert.annotations) if alert else ""
    if not summary and evidence.description:
        summary = evidence.description
    ranked = sorted(findings, key=lambda f: f.confidence, reverse=True)
    if category is None and ranked:
        category = ranked[0].category

    lines: list[str] = [f.summary for f in ranked]
    for pod in evidence.pods:
        if pod.reason or pod.message:
            lines.append(f"pod {pod.reason or ''}: {pod.message or ''}")
        for container in pod.containers:
            lines.extend(_state_line(container.name, "is", container.state))
            if container.last_state is not None:
                lines.extend(_state_line(container.name, "last", container.last_state))
        for condition in pod.conditions:
            if _telling_condition(condition.status, condition.reason):
                lines.append(
                    f"pod {condition.type} {condition.reason or ''}: {condition.message or ''}"
                )
    for node in evidence.nodes:
        if node.ready != "True":
            lines.append(f"node ready={node.ready}")
        for condition in node.conditions:
            if condition.type != "Ready" and condition.status == "True":
                lines.append(f"node {condition.type}: {condition.message or ''}")
    lines.extend(f"event {e.reason}: {e.message}" for e in evidence.events if e.type == "Warning")
    for tail in evidence.logs:
        lines.extend(f"log: {line}" for line in _problem_lines(tail.lines))
    lines.extend(
        f"metric {m.name} {m.trend}" for m in evidence.metrics if m.trend in {"rising", "falling"}
    )
    return IncidentText(
        alertname=alertname,
        category=category,
        title=evidence.title,
        summary=summary,
        lines=lines,
    )


def _telling_condition(status: object, reason: object) -> bool:
    """A failed pod condition worth a line. ``ContainersNotReady`` is left out: every
    broken pod has it, the container states already say why, and the shared boilerplate
    would make unrelated incidents look alike."""
    return status != "True" and bool(reason) and reason != "ContainersNotReady"


def _alert_summary(annotations: dict[str, str]) -> str:
    parts = [annotations.get(key, "") for key in ("summary", "description", "message")]
    return " ".join(p for p in parts if p)


def _state_line(container: str, when: str, state: ContainerState) -> list[str]:
    if state.state not in {"waiting", "terminated"} or state.reason in {None, "Completed"}:
        return []
    line = f"container {container} {when} {state.state}: {state.reason}"
    if state.exit_code is not None:
        line += f" exit code {state.exit_code}"
    if state.message:
        line += f" {state.message}"
    return [line]


def _problem_lines(lines: Iterable[str]) -> list[str]:
    """The newest log lines that look like problems, newest first."""
    picked = [line for line in lines if _LOG_PROBLEM.search(line)]
    return list(reversed(picked[-MAX_LOG_LINES:]))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"
