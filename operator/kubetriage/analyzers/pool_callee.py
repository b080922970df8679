"""The pool-callee rule: a workload's clients queue for pooled connections to the one Service
it calls, while its own traffic did not rise and nothing of its own changed, and the calls to
that Service are seen taking seconds (the workload's own lines timing them, or the callee's
own request lines). A pool of N connections serves N / call-time calls a second: when each
call takes thirty times longer, the same demand needs thirty times the connections, so the
leases are all out and new requests wait for one. An SRE reads the pool as the victim: a
bigger pool or more caller replicas only send more concurrent calls to the slow callee. The
callee's owner must find why it is slow (dependency-failure, escalate to its Service).

Silent when the workload's traffic rose (demand outgrew the pool: saturation), when it rolled
out or had a ConfigMap or Secret edited within the window (a pool cut, a timeout changed: the
change's case), when the callee is short of ready replicas or changed itself (its failure or
its release is another rule's), when more than one Service is called, or when no call to it
is seen taking at least SLOW_MS.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import service_fact
from kubetriage.analyzers.demand import traffic_rose
from kubetriage.analyzers.onset import earliest_onset
from kubetriage.analyzers.pool_waits import pool_waits
from kubetriage.analyzers.support import LogHit, grep_logs, item, timestamp, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category

# Clients queue for connections to one healthy, unchanged callee whose calls take seconds, at
# flat demand: the level of the slow-callee rule's client metrics (0.72).
CONFIDENCE: Final = 0.72
# A call that takes this long (milliseconds) is slow for an in-cluster request.
SLOW_MS: Final = 1000.0
# A duration as request and client logs print it: "took 2984ms", "200 3152ms", "in 3.1s",
# "elapsed=2.4s".
_DURATION: Final = re.compile(
    r"(?i)(?:\b(?P<ms>\d+(?:\.\d+)?)\s?ms\b|"
    r"\b(?:took|in|after|elapsed[=:]?|duration[=:]?)\s*(?P<s>\d+(?:\.\d+)?)\s?s\b)"
)
# Changes of the workload's own that would explain a pool running dry.
_OWN: Final = frozenset({"rollout", "config"})
# How far before the onset an own change still explains it.
_OWN_WINDOW_SECONDS: Final = 6 * 3600.0


def _millis(match: re.Match[str]) -> float:
    if match.group("ms") is not None:
        return float(match.group("ms"))
    return float(match.group("s")) * 1000.0


def _slow_lines(hits: list[LogHit], name: str | None) -> list[LogHit]:
    """Lines timing a call of SLOW_MS or more (naming ``name`` when given)."""
    return [h for h in hits if _millis(h.match) >= SLOW_MS and (name is None or name in h.line)]


def _callee(evidence: Evidence) -> DependencyEvidence | None:
    """The one followed Service the workload calls, healthy and unchanged."""
    called = [d for d in evidence.dependencies if d.followed and d.service is not None]
    if len(called) != 1:
        return None
    dep = called[0]
    if dep.short_of_ready() or dep.failing_pods or dep.changes or dep.config_changes:
        return None
    return dep


def check_pool_callee(evidence: Evidence) -> list[Finding]:
    """Escalate to the callee whose slow calls keep a healthy workload's pool leases out."""
    waits = pool_waits(evidence)
    onset = earliest_onset(evidence)
    own = workload_ref(evidence)
    if not waits or onset is None or own is None or traffic_rose(evidence):
        return []
    for change in evidence.changes:
        if change.kind in _OWN and change.at is not None:
            ahead = timestamp(onset) - timestamp(change.at)
            if -_OWN_WINDOW_SECONDS <= ahead <= _OWN_WINDOW_SECONDS:
                return []
    dep = _callee(evidence)
    if dep is None or dep.service is None:
        return []
    svc = dep.service
    slow = _slow_lines(grep_logs(evidence.logs, _DURATION, limit=40), svc.name) or _slow_lines(
        grep_logs(dep.logs, _DURATION, limit=40), None
    )
    if not slow:
        return []
    target = svc.ref()
    facts = [waits[0], item(slow[0].source, slow[0].line), service_fact(svc)]
    fix = f"escalate to the owner of {prose.obj(target)}"
    text = prose.narrative(
        prose.fitting_problem(
            [
                f"{prose.obj(own)}'s pooled connections are held by slow calls to "
                f"{prose.obj(target)}",
                f"slow calls to {target.name} hold {own.name}'s pooled connections",
                f"slow calls to {target.name} hold its pool",
            ],
            fix,
        ),
        fix,
        because=[
            prose.claim("Its clients wait for a pooled connection", facts[0]),
            prose.claim(
                f"Calls to {prose.obj(target)} take seconds, so each lease stays out that long",
                facts[1],
            ),
            prose.claim(
                "Its own traffic did not rise and nothing of its own changed, while the callee "
                "runs all its replicas: a bigger pool would only send it more calls at once",
                facts[2],
            ),
        ],
    )
    return [
        make_finding(
            "pool-callee",
            Category.DEPENDENCY_FAILURE,
            CONFIDENCE,
            text,
            facts,
            Action.ESCALATE,
            target,
        )
    ]


POOL_CALLEE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("pool-callee", (Category.DEPENDENCY_FAILURE,), check_pool_callee),
)
