"""The blocked-sink rule: a dependency the caller's own configuration names (the log
aggregator its logging library writes to, a relay it forwards to) says in its own words that
it stopped taking input until its buffer drains (Fluentd's ``overflow_action block``, Fluent
Bit's input paused over its buffer limit), and that what it passes on keeps failing (its
flushes retried). A caller writing to it synchronously waits with it: its pods stay ready, log
no error of their own, and the requests they complete fall to a fraction at unchanged demand.
The dependency fails its callers, for a reason of its own or of the hop after it: hand it to
its owner with the evidence (``dependency-failure``, escalate its Service). A sink that only
drops or refuses (its callers get an error and go on) is left to the rules that read the
callers' failing calls.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.demand import is_rate, is_traffic
from kubetriage.analyzers.dependencies import configured_by_caller
from kubetriage.analyzers.session_affinity import ready
from kubetriage.analyzers.support import grep_logs, item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a blocked-sink finding is, by the evidence that earns it."""

    # The sink says it holds its input and that its output fails, the caller's configuration
    # names it and the caller completes a fraction of its requests with ready pods: above
    # the no-pattern escalation of the caller (0.2) and a dependency named by configuration
    # alone, below a dependency the caller's own failing calls name (0.83).
    blocked: float = 0.78


CONFIDENCE: Final = _Confidence()

# The words of log shippers that stop reading their input while their buffer is full.
BLOCKED_INPUT = re.compile(
    r"(?i)(buffer overflow action=:block|paused \((?:mem|storage) buf overlimit\))"
)
# ... and of the same shippers failing to pass on what they hold (a retried flush).
OUTPUT_FAILING = re.compile(
    r"(?i)(failed to flush the buffer|failed to flush chunk|chunk cannot be retried)"
)
# The requests completed fall to at most this share of what they were.
STALLED = 0.25


def _stalled(evidence: Evidence) -> EvidenceItem | None:
    """The caller's request rate fell to a fraction while every pod of it stays ready."""
    if not evidence.pods or not all(ready(p) for p in evidence.pods):
        return None
    for metric in evidence.metrics:
        if not (is_traffic(metric) and is_rate(metric)):
            continue
        if metric.first and metric.last is not None and metric.last <= metric.first * STALLED:
            return item(
                "metrics", f"{metric.name}: {metric.first:.0f} -> {metric.last:.0f} per second"
            )
    return None


def check_blocked_sink(evidence: Evidence) -> list[Finding]:
    stalled = _stalled(evidence)
    if stalled is None:
        return []
    for dependency in evidence.dependencies:
        service = dependency.service
        if service is None or not configured_by_caller(evidence, dependency):
            continue
        blocked = grep_logs(dependency.logs, BLOCKED_INPUT, limit=1)
        failing = grep_logs(dependency.logs, OUTPUT_FAILING)
        if not blocked or not failing:
            continue
        target = service.ref()
        facts = [item(f"{hit.source} (dependency)", hit.line) for hit in blocked]
        onward = [item(f"{hit.source} (dependency)", hit.line) for hit in failing[-1:]]
        named = item("dependency", f"{prose.obj(target)} is named by {dependency.named_by[0].text}")
        who = caller(evidence)
        return [
            make_finding(
                "blocked-sink",
                Category.DEPENDENCY_FAILURE,
                CONFIDENCE.blocked,
                prose.narrative(
                    f"{prose.obj(target)} stopped taking input and {who}, which writes to it, "
                    "waits on it",
                    "escalate to its owner",
                    because=[
                        prose.claim(
                            f"{prose.obj(target)} holds its input until its buffer drains", *facts
                        ),
                        prose.claim("What it passes on keeps failing", *onward),
                        prose.claim(
                            f"{who} is configured to write to it and completes a fraction of "
                            "its requests with every pod ready",
                            named,
                            stalled,
                        ),
                    ],
                ),
                [*facts, *onward, named, stalled],
                Action.ESCALATE,
                target,
            )
        ]
    return []


BLOCKED_SINK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("blocked-sink", (Category.DEPENDENCY_FAILURE,), check_blocked_sink),
)
