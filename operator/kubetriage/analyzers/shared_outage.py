"""The shared-outage rule: the incident's workload fails calling a dependency it shares (a
database, a cache, a broker), and another caller of that dependency (``DependencyEvidence.
callers``, with its own log tails) that did not change fails on it the same way at the same
time. An SRE reads that as "the dependency, not our release": a failure two unrelated
clients see at once is the server's, whatever the incident's workload rolled out before. The
dependency is handed to its owner (escalate), above a rollout's change correlation.

Silent when another caller rolled out a load change before the onset (the shared-dependency
rule rolls it back), when the dependency itself changed before the onset (its own rollout or
configuration: the rules about a callee's change speak), when something more specific fails
every caller at once (a NetworkPolicy guarding it, endpoints that refuse, throttled or
missing pods: the rules about those speak), when the other caller's failures
began long before the onset (a chronic error is no witness), or when callers of several
dependencies fail (which one is at fault is not said).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import REFUSED, refusing_services
from kubetriage.analyzers.dependency_failure import policy_guards
from kubetriage.analyzers.log_signatures import ANSWER_TIMEOUT_LOG, CONNECT_TIMEOUT_LOG
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.metrics import throttled_callees
from kubetriage.analyzers.onset import earliest_onset, follows_within
from kubetriage.analyzers.rate_limits import refused_for_rate
from kubetriage.analyzers.shared_dependency import SLOW_DEPENDENCY, changed_itself, shared_suspect
from kubetriage.analyzers.support import LogHit, item
from kubetriage.evidence.refused_clients import CONNECTION_SLOTS_EXHAUSTED
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a shared-outage finding is, by the evidence that earns it."""

    # The workload and an unchanged other caller of the dependency both fail on it since the
    # onset: above a rollout's change correlation (0.88), which it clears, and below another
    # caller's load-changing rollout (shared-dependency, 0.92), which explains the outage.
    caller_fails_too: float = 0.9


CONFIDENCE: Final = _Confidence()

# A client waiting in vain for a free connection of its own pool: go-redis, HikariCP,
# Apache commons-pool (Jedis, DBCP), SQLAlchemy's QueuePool.
POOL_WAIT = re.compile(
    r"(?i)(connection pool timeout|pool timed? ?out|Connection is not available, request "
    r"timed out|timeout waiting for (?:idle )?(?:object|connection)|QueuePool limit of size)"
)
# A call to a server that fails: it times out, refuses, finds no free slot or pool
# connection, or answers too slowly; or is refused for rate (``refused_for_rate``: two
# clients refused at once by one provider share its limit, whatever either released).
_CALL_FAILS: Final = (
    CONNECT_TIMEOUT_LOG,
    ANSWER_TIMEOUT_LOG,
    SLOW_DEPENDENCY,
    CONNECTION_SLOTS_EXHAUSTED,
    POOL_WAIT,
    REFUSED,
)
# How long before the onset a failing line still counts as part of it (the first errors a
# client logs precede the alert's window).
_LEAD = timedelta(minutes=10)


def _failing_lines(
    logs: list[LogTail], onset: datetime, now: datetime, *, undated: bool = False
) -> tuple[list[LogHit], bool]:
    """The failing call lines of ``logs`` written since shortly before the onset (or, with
    ``undated``, carrying no time a parser reads: the workload's own tail is the present),
    and whether one was written long before it (a chronic failure)."""
    recent: list[LogHit] = []
    chronic = False
    for log in logs:
        for line in log.lines:
            match = next((m for p in _CALL_FAILS if (m := p.search(line)) is not None), None)
            match = match or refused_for_rate(line)
            when = line_time(line, now) if match is not None else None
            if match is not None and when is None and undated:
                recent.append(LogHit(log, line, match))
            if match is None or when is None:
                continue
            if when < onset - _LEAD:
                chronic = True
            else:
                recent.append(LogHit(log, line, match))
    return recent, chronic


def _witness(
    caller: CallerEvidence, onset: datetime, now: datetime
) -> tuple[CallerEvidence, LogHit] | None:
    """``caller`` and its first failing line, when it did not change before the onset and
    began failing with it."""
    if any(follows_within(c.at, onset) is not None for c in caller.changes):
        return None
    hits, chronic = _failing_lines(caller.logs, onset, now)
    return (caller, hits[0]) if hits and not chronic else None


def _explained(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether something more specific fails every caller of the dependency at once, which
    its own rules name: a NetworkPolicy guarding its pods, its endpoints refusing (a wrong
    targetPort), its pods CPU-throttled, or no pod behind its selector."""
    svc = dependency.service
    if svc is None:
        return True
    here = (svc.namespace, svc.name)
    return (
        policy_guards(evidence, svc)
        or svc.name in refusing_services(evidence)
        or any(
            d.service is not None and (d.service.namespace, d.service.name) == here
            for d, *_ in throttled_callees(evidence)
        )
        or (bool(svc.selector) and svc.matching_pods == 0)
    )


def shared_outage(
    evidence: Evidence,
) -> tuple[DependencyEvidence, LogHit, CallerEvidence, LogHit] | None:
    """The one dependency the workload fails on while an unchanged other caller of it fails
    the same way at the same time, with the workload's failing line and the witness's."""
    onset = earliest_onset(evidence)
    if onset is None or shared_suspect(evidence) is not None:
        return None
    now = evidence.collected_at
    own, _ = _failing_lines(evidence.logs, onset, now, undated=True)
    if not own:
        return None
    found: list[tuple[DependencyEvidence, LogHit, CallerEvidence, LogHit]] = []
    for dependency in evidence.dependencies:
        if dependency.service is None or changed_itself(dependency, onset):
            continue
        if _explained(evidence, dependency):
            continue
        witnesses = [w for c in dependency.callers if (w := _witness(c, onset, now)) is not None]
        if witnesses:
            found.append((dependency, own[0], *witnesses[0]))
    return found[0] if len(found) == 1 else None


def check_shared_outage(evidence: Evidence) -> list[Finding]:
    """Escalate the shared dependency an unchanged other caller fails on as well."""
    if (outage := shared_outage(evidence)) is None:
        return []
    dependency, own, caller, witness = outage
    svc = dependency.service
    if svc is None:
        return []
    target = svc.ref()
    callee, other = prose.obj(target), prose.obj(caller.ref)
    source = f"{caller.ref.kind.lower()}/{caller.ref.namespace}/{caller.ref.name}"
    facts = [
        item(own.source, own.line),
        item(witness.source, witness.line),
        item(source, f"names {callee}: {prose.listing(caller.naming_texts(), limit=2)}"),
    ]
    text = prose.narrative(
        f"{callee} fails its other callers too: unchanged {other} fails on it as well",
        "escalate to its owner",
        aside=f"it points at {svc.external_name}" if svc.external_name else "",
        because=[
            prose.claim(f"The workload's calls to {callee} fail", facts[0]),
            prose.claim(f"{other} calls {callee} too", facts[2]),
            prose.claim(
                f"{other} did not roll out before the onset, yet fails the same way at the "
                "same time: the dependency is at fault, not a release",
                facts[1],
            ),
        ],
    )
    return [
        make_finding(
            "shared-outage",
            Category.DEPENDENCY_FAILURE,
            CONFIDENCE.caller_fails_too,
            text,
            facts,
            Action.ESCALATE,
            target,
            {"service": svc.name},
        )
    ]


SHARED_OUTAGE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("shared-outage", (Category.DEPENDENCY_FAILURE,), check_shared_outage),
)
