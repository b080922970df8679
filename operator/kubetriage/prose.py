"""Diagnosis prose: the one place that turns structured facts into the text a person reads.

Summaries, root causes, evidence quotes, status condition messages, Events, the CLI and
(later) chat messages are all built from these helpers, so no caller assembles sentences by
string concatenation and every text follows the same rules:

- objects read ``Deployment shop/checkout`` (kind, then namespace/name);
- selectors read ``app=frontend,tier=web``, never a Python repr;
- quantities carry units (``512Mi``, ``1.5Gi``, ``250m CPU``), counts agree with their noun
  (``1 pod``, ``3 pods``), durations are short (``45s``, ``12m``, ``3h 20m``, ``2d 4h``);
- a summary is one sentence of at most ``SUMMARY_LIMIT`` characters: the problem, then the fix;
  an optional aside is dropped rather than the sentence being cut;
- quotes (log lines, event messages) live only in evidence, clipped at a token boundary with
  an ellipsis.

Pure functions over plain values and pydantic models; no I/O, no state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import Claim, EvidenceItem, Narrative
from kubetriage.models.relations import PodTrouble

SUMMARY_LIMIT = 160
QUOTE_LIMIT = 200
ELLIPSIS = "…"

_KI = 1024.0
_MI = 1024.0**2
_GI = 1024.0**3
_TI = 1024.0**4
_END = re.compile(r"[.!?…]$")


# --- words ----------------------------------------------------------------------------------


def obj(ref: ObjectRef) -> str:
    """``Deployment shop/checkout``; ``Node worker-1`` for cluster-scoped objects."""
    if ref.namespace:
        return f"{ref.kind} {ref.namespace}/{ref.name}"
    return f"{ref.kind} {ref.name}"


def selector(labels: Mapping[str, str], *, empty: str = "every pod") -> str:
    """A label selector as kubectl writes it: ``app=frontend,tier=web`` (sorted by key)."""
    if not labels:
        return empty
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 pod``, ``0 pods``, ``3 pods``; irregular plurals are passed in (``1 policy``)."""
    word = noun if number == 1 else (plural or f"{noun}s")
    return f"{number} {word}"


def ready_endpoints(ready: int | None, not_ready: int = 0) -> str:
    """A Service's endpoint count: ``2 ready endpoints``, ``0 ready endpoints, 1 not ready``,
    or, when neither its Endpoints nor its EndpointSlices were read, that it is unknown."""
    if ready is None:
        return "its endpoints were not read"
    text = count(ready, "ready endpoint")
    return f"{text}, {not_ready} not ready" if not_ready else text


def readiness(ready: bool | None) -> str:
    """A container's readiness as its status reports it: ``ready``, ``not ready``, or, before
    the kubelet has reported one (a container not yet created), ``readiness unknown``."""
    if ready is None:
        return "readiness unknown"
    return "ready" if ready else "not ready"


def be(number: int) -> str:
    """The verb that agrees with a count: ``1 endpoint is``, ``2 endpoints are``."""
    return "is" if number == 1 else "are"


def memory(value: float) -> str:
    """A byte count in binary units: ``800Ki``, ``512Mi``, ``1.5Gi``, ``2Ti``."""
    if value >= _TI:
        return f"{value / _TI:.3g}Ti"
    if value >= _GI:
        return f"{value / _GI:.3g}Gi"
    if value >= _MI:
        return f"{value / _MI:.0f}Mi"
    if value >= _KI:
        return f"{value / _KI:.0f}Ki"
    return count(round(value), "byte")


def cpu(cores: float) -> str:
    """CPU in cores: ``250m CPU`` below one core, ``1 CPU`` and ``1.5 CPU`` above."""
    if cores < 1.0:
        return f"{round(cores * 1000)}m CPU"
    return f"{cores:.3g} CPU"


def percent(ratio: float) -> str:
    """``93%`` from 0.93."""
    return f"{ratio:.0%}"


def number(value: float) -> str:
    """A measured value without noise digits: ``0.042``, ``12.5``, ``655``, ``1,700``."""
    if math.isinf(value) or math.isnan(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 20m``, ``2d 4h`` (the two largest units, rounded down)."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def image(reference: str) -> str:
    """An image as a summary names it: the repository's last path element and the tag
    (``nginx:1.27-alpine``), a digest shortened to 12 hex digits; evidence keeps it whole."""
    name, at, digest = reference.partition("@")
    base = name.rsplit("/", 1)[-1]
    if at:
        algorithm, _, value = digest.partition(":")
        return f"{base}@{algorithm}:{value[:12]}" if value else f"{base}@{digest}"
    return base


def listing(items: Iterable[str], conjunction: str = "and", *, limit: int = 4) -> str:
    """``a``, ``a and b``, ``a, b and c``; beyond ``limit`` items: ``a, b, c and 2 more``."""
    values = list(dict.fromkeys(items))
    if len(values) > limit:
        shown, rest = values[: limit - 1], len(values) - (limit - 1)
        return f"{', '.join(shown)} {conjunction} {rest} more"
    if len(values) <= 1:
        return "".join(values)
    return f"{', '.join(values[:-1])} {conjunction} {values[-1]}"


# --- clipping and quotes --------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """Whitespace collapsed; over ``limit`` characters, cut at the last token boundary that
    fits and end with an ellipsis (a single token longer than the limit is cut inside it)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = text[: max(limit - 1, 0)]
    boundary = room.rfind(" ")
    if boundary > 0:
        room = room[:boundary]
    return room.rstrip(" ,;:-([{'\"") + ELLIPSIS


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A log line or event message as evidence quotes it: one line, clipped at a token
    boundary. Redaction happened before (the evidence is redacted); this never undoes it."""
    return clip(text, limit)


# --- sentences ------------------------------------------------------------------------------


def sentence(text: str) -> str:
    """One sentence: whitespace collapsed, first letter capitalised, a full stop at the end."""
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if _END.search(text) else f"{text}."


def summary(problem: str, fix: str = "", *, aside: str = "", limit: int = SUMMARY_LIMIT) -> str:
    """The one-sentence summary: ``{problem} ({aside}); {fix}.``. The aside goes first when
    the sentence is too long; a problem that alone overflows (only with very long object
    names) is clipped at a token boundary so the fix still shows."""
    problem = " ".join(problem.split()).rstrip(".")
    fix = " ".join(fix.split()).rstrip(".")
    aside = " ".join(aside.split())
    tail = f"; {fix}." if fix else "."
    if aside:
        full = sentence(f"{problem} ({aside}){tail}")
        if len(full) <= limit:
            return full
    plain = sentence(f"{problem}{tail}")
    if len(plain) <= limit:
        return plain
    if len(tail) >= limit // 2:
        return sentence(clip(f"{problem}{tail}", limit))
    room = limit - len(tail)
    return sentence(f"{clip(problem, room)}{tail}")


def _fits(problem: str, fix: str, limit: int) -> bool:
    """Whether the summary of ``problem`` and ``fix`` fits ``limit`` without clipping."""
    return len(summary(problem, fix, limit=10**6)) <= limit


def fitting_problem(variants: Sequence[str], fix: str = "", limit: int = SUMMARY_LIMIT) -> str:
    """The first of ``variants`` (most detailed first) whose summary with ``fix`` fits the limit
    without clipping, else the last: a long object name costs a detail, not the sentence."""
    return next((v for v in variants[:-1] if _fits(v, fix, limit)), variants[-1])


def fitting_fix(problem: str, variants: Sequence[str], limit: int = SUMMARY_LIMIT) -> str:
    """The first of ``variants`` (most detailed first) whose summary after ``problem`` fits the
    limit without clipping, else the last: the fix's detail gives way before the problem's."""
    return next((v for v in variants[:-1] if _fits(problem, v, limit)), variants[-1])


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\b\d{2}:\d{2}:\d{2}\b")
_QUOTED = ("{'", "['", "[REDACTED")


def reads_as_summary(text: str, limit: int = SUMMARY_LIMIT) -> bool:
    """Whether a text someone else wrote (a model) may stand as a summary: within the limit,
    one line, and free of what belongs in evidence (timestamps, reprs, redaction markers)."""
    return (
        0 < len(text) <= limit
        and "\n" not in text
        and not _TIMESTAMP.search(text)
        and not any(marker in text for marker in _QUOTED)
    )


def claim(text: str, *evidence: EvidenceItem) -> Claim:
    """One sentence of a root cause and the evidence items it rests on."""
    return Claim(text=sentence(text), evidence=list(evidence))


def narrative(
    problem: str, fix: str = "", *, aside: str = "", because: Sequence[Claim] = ()
) -> Narrative:
    """What an analyzer concluded, as structured text: the summary's parts and the causal
    chain (two to four claims) its root cause is rendered from."""
    return Narrative(problem=problem, fix=fix, aside=aside, because=list(because))


def narrative_summary(text: Narrative, limit: int = SUMMARY_LIMIT) -> str:
    return summary(text.problem, text.fix, aside=text.aside, limit=limit)


def evidence_ids(items: Sequence[EvidenceItem]) -> list[EvidenceItem]:
    """The evidence list with ids ``E1``, ``E2``... in order, as a root cause cites them."""
    return [item.model_copy(update={"id": f"E{index}"}) for index, item in enumerate(items, 1)]


def root_cause(claims: Sequence[Claim], cited: Sequence[EvidenceItem]) -> str:
    """The claims as sentences, each citing the ids of the evidence it rests on that made it
    into ``cited`` (``... 93% of the 512Mi limit [E2].``)."""
    ids = {(item.source, item.fact): item.id for item in cited if item.id}
    sentences: list[str] = []
    for entry in claims:
        refs = list(
            dict.fromkeys(
                ident for e in entry.evidence if (ident := ids.get((e.source, e.fact))) is not None
            )
        )
        text = sentence(entry.text)
        if refs:
            text = f"{text[:-1]} [{', '.join(refs)}]{text[-1]}"
        sentences.append(text)
    return " ".join(sentences)


def evidence_line(entry: EvidenceItem) -> str:
    """One evidence item as the CLI and chat list it: ``E1 [pod/shop/x] fact``."""
    prefix = f"{entry.id} " if entry.id else ""
    return f"{prefix}[{entry.source}] {entry.fact}"


def suggestion(risk: str, title: str, command: str) -> str:
    """A remediation as an Event or a chat message offers it:
    ``[low risk] Raise the memory limit of ...: kubectl ...``."""
    return f"[{risk} risk] {title}: {command}"


def headline(category: str, confidence: float, text: str) -> str:
    """The line a status condition, an Event or a chat message opens with:
    ``oom-killed (0.96): Deployment shop/checkout is OOM-killed ...``."""
    return f"{category} ({confidence:.2f}): {text}"


__all__ = [
    "ELLIPSIS",
    "QUOTE_LIMIT",
    "SUMMARY_LIMIT",
    "be",
    "claim",
    "clip",
    "count",
    "cpu",
    "duration",
    "evidence_ids",
    "evidence_line",
    "headline",
    "image",
    "listing",
    "memory",
    "narrative",
    "narrative_summary",
    "number",
    "obj",
    "percent",
    "quote",
    "reads_as_summary",
    "root_cause",
    "selector",
    "sentence",
    "suggestion",
    "summary",
]


def pod_trouble(trouble: PodTrouble) -> str:
    """A dependency's failing pod in one line: ``db-0: postgres waiting CrashLoopBackOff,
    restarts 3, last OOMKilled``, ``db-1: phase Pending``, ``db-2: postgres not ready, last
    Error``."""
    last = f", last {trouble.last_terminated}" if trouble.last_terminated else ""
    if trouble.phase is not None:
        return f"{trouble.pod}: phase {trouble.phase}"
    if trouble.waiting is not None:
        return (
            f"{trouble.pod}: {trouble.container} waiting {trouble.waiting}, "
            f"restarts {trouble.restarts}{last}"
        )
    return f"{trouble.pod}: {trouble.container} not ready{last}"


def pod_restarts(trouble: PodTrouble) -> str:
    """A dependency's pod that serves again after restarts, in one line: ``db-0: postgres
    ready, restarts 3, last run ended OOMKilled at 09:51``."""
    ended = f" at {trouble.last_finished:%H:%M}" if trouble.last_finished is not None else ""
    return (
        f"{trouble.pod}: {trouble.container} ready, restarts {trouble.restarts}, "
        f"last run ended {trouble.last_terminated}{ended}"
    )
