"""The shared-dependency rule: the incident's workload fails calling a dependency it shares
with others (a database, a cache, a broker: its calls time out, the server refuses new
clients or is busy), while the workload itself did not change and neither did the
dependency; one other caller of that dependency (a Deployment whose pod template names its
Service, ``DependencyEvidence.callers``) rolled out a revision that changes how it loads it
(image, args, env, resources) right before the onset. An SRE asks "who else calls this, and
which of them rolled out just before?" and rolls THAT caller back; escalating the dependency
treats the surface.

Silent when several callers changed, when the incident's workload changed too, when the
dependency itself rolled out or had its configuration edited (then the change is not one),
or when the dependency is down (a replica not ready or failing) or refuses connections
rather than making them wait: load explains a busy server, not a dead one.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import ANSWER_TIMEOUT_LOG, SEARCH_STORE_BUSY
from kubetriage.analyzers.onset import earliest_onset, follows_within
from kubetriage.analyzers.support import LogHit, grep_logs, item, object_source, owner_workload
from kubetriage.evidence.refused_clients import CONNECTION_SLOTS_EXHAUSTED
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

_Neighbour = TypeVar("_Neighbour")


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a shared-dependency finding is, by the evidence that earns it."""

    # Another caller's rollout explains the shared dependency's refusal or slowness: above
    # the dependency's own refusal (dependency-refusing, 0.9), which it explains.
    named: float = 0.92
    # ... a caller known only by the database URL it takes from a Secret, the one database
    # client that changed (no caller naming the database did): still explains the refusal
    # (0.9), below a caller that names the database.
    secret_linked: float = 0.91


CONFIDENCE: Final = _Confidence()

# A shared server busy or blocked, in its clients' and its own words: a client's command or
# statement timeout (ioredis, redis-py, go-redis, JDBC, PostgreSQL), lock waits (MySQL,
# PostgreSQL), a Redis busy with a script, blocked or slow commands.
SLOW_DEPENDENCY = re.compile(
    r"(?i)(command timed out|timeout reading from socket|statement timeout|query_canceled|"
    r"canceling statement due to (statement|lock) timeout|lock wait timeout exceeded|"
    r"deadlock detected|\bBUSY\b.{0,40}script|blocked clients?|slow (command|query|log))"
)
# Parts of a caller's pod template that decide how hard it loads a dependency.
_LOAD = frozenset({"image", "env", "args", "command", "resources"})
# Changes of the incident's own workload that would explain its failures instead.
_OWN_CHANGES = frozenset({"rollout", "config", "image-digest"})


def _up(dependency: DependencyEvidence) -> bool:
    """Every replica of the dependency ready and none failing: it is up, so calls that time
    out or find no free slot say it is loaded, not down (a dependency that is down is its
    own story, whoever rolled out)."""
    if dependency.failing_pods:
        return False
    desired, ready = dependency.desired_replicas, dependency.ready_replicas
    return desired is None or (ready is not None and ready >= desired)


def _loaded(evidence: Evidence, dependency: DependencyEvidence) -> LogHit | None:
    """The first line saying the calls to the dependency wait or find it full: the incident's
    own logs (timeouts, slow commands, no slots, a search store's rejections and tripped
    breakers), else the dependency's. A refused connection or a failed lookup says it is
    unreachable, not loaded."""
    loaded = (SLOW_DEPENDENCY, CONNECTION_SLOTS_EXHAUSTED, ANSWER_TIMEOUT_LOG, SEARCH_STORE_BUSY)
    for logs in (evidence.logs, dependency.logs):
        for pattern in loaded:
            if hits := grep_logs(logs, pattern, limit=1):
                return hits[0]
    return None


def changed_itself(dependency: DependencyEvidence, onset: datetime) -> bool:
    """The dependency rolled out or had its configuration edited before the onset."""
    return any(
        follows_within(c.at, onset) is not None
        for c in dependency.changes + dependency.config_changes
    )


def own_changed(evidence: Evidence, onset: datetime) -> bool:
    """The incident's own workload rolled out, or its configuration changed, before the
    onset: its own change would explain its failures instead."""
    workload = evidence.workload.ref if evidence.workload is not None else None
    return any(
        c.kind in _OWN_CHANGES
        and follows_within(c.at, onset) is not None
        and (workload is None or c.object.same_object(workload))
        for c in evidence.changes
    )


def _own_workloads(evidence: Evidence) -> list[ObjectRef]:
    """The incident's own workloads: its workload and the owners of its pods (a Service's
    stable and canary Deployments both); a caller among them is not "someone else"."""
    own = [w for p in evidence.pods if (w := owner_workload(p)) is not None]
    return own + ([evidence.workload.ref] if evidence.workload is not None else [])


def load_rollout(
    ref: ObjectRef, changes: list[ChangeEvidence], onset: datetime
) -> ChangeEvidence | None:
    """The rollout of another workload (``ref``, with its ``changes``) within the onset
    window that changed how it loads what it calls (image, env, args, command, resources),
    when rolling it back is possible."""
    if ref.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return None
    return next(
        (c for c in changes if follows_within(c.at, onset) is not None and _LOAD & set(c.aspects)),
        None,
    )


def sole_rollout(
    evidence: Evidence,
    neighbours: Sequence[_Neighbour],
    rollout_of: Callable[[_Neighbour, datetime], ChangeEvidence | None],
) -> tuple[_Neighbour, ChangeEvidence] | None:
    """The one neighbour (a client a server refuses, a producer of the alerted queue, a
    client of the cluster DNS) whose rollout ``rollout_of`` finds before the onset, while
    the incident's own workload did not change: None when the onset is unknown, the
    workload changed itself, or no neighbour or several rolled out."""
    onset = earliest_onset(evidence)
    if onset is None or own_changed(evidence, onset):
        return None
    found = [(n, change) for n in neighbours if (change := rollout_of(n, onset)) is not None]
    return found[0] if len(found) == 1 else None


def shared_suspect(
    evidence: Evidence,
) -> tuple[CallerEvidence, ChangeEvidence, LogHit] | None:
    """The one other caller of a failing shared dependency that rolled out before the
    onset, when neither the incident's workload nor the dependency changed."""
    onset = earliest_onset(evidence)
    if onset is None or own_changed(evidence, onset):
        return None
    own = _own_workloads(evidence)
    found: list[tuple[CallerEvidence, ChangeEvidence, LogHit]] = []
    for dependency in evidence.dependencies:
        if not dependency.callers or changed_itself(dependency, onset) or not _up(dependency):
            continue
        if (hit := _loaded(evidence, dependency)) is None:
            continue
        found += [
            (caller, change, hit)
            for caller in dependency.callers
            if not any(caller.ref.same_object(w) for w in own)
            and (change := load_rollout(caller.ref, caller.changes, onset)) is not None
        ]
    # A caller that names the dependency comes before one known only by a Secret-sourced
    # database URL (which may name another database): those count only when none changed.
    named = [f for f in found if not f[0].secret_env]
    found = named or found
    return found[0] if len(found) == 1 else None


def rollout_line(change: ChangeEvidence) -> str:
    when = f" at {change.at:%H:%M}" if change.at is not None else ""
    details = f" ({prose.listing(change.details, limit=2)})" if change.details else ""
    return f"rolled out a new revision{when}{details}, changing {', '.join(change.aspects)}"


def check_shared_dependency(evidence: Evidence) -> list[Finding]:
    """Roll back the other caller whose rollout saturated the shared dependency."""
    if (suspect := shared_suspect(evidence)) is None:
        return []
    caller, change, hit = suspect
    target = caller.ref
    if caller.secret_env and any(
        c.refusal == "slots" and c.ref.same_object(target) for c in evidence.refused_clients
    ):
        # The server names it by address: the refused-client rule says so in its own words.
        return []
    callee = prose.obj(caller.callee)
    source = object_source(target)
    facts = [
        item(hit.source, hit.line),
        item(
            source,
            f"takes its database URL from a Secret: {prose.listing(caller.naming_texts(), limit=2)}"
            if caller.secret_env
            else f"names {callee}: {prose.listing(caller.naming_texts(), limit=2)}",
        ),
        item(source, rollout_line(change)),
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision saturates {callee}, which the workload shares",
        "roll it back",
        because=[
            prose.claim(f"The calls to {callee} fail or wait", facts[0]),
            prose.claim(
                f"{prose.obj(target)} may call {callee} too: a SQL database client whose "
                "database is not named outside its Secret"
                if caller.secret_env
                else f"{prose.obj(target)} calls {callee} too",
                facts[1],
            ),
            prose.claim(
                "It rolled out right before the onset, while neither the workload nor "
                f"{callee} changed",
                facts[2],
            ),
        ],
    )
    return [
        make_finding(
            "shared-dependency",
            Category.BAD_ROLLOUT,
            CONFIDENCE.secret_linked if caller.secret_env else CONFIDENCE.named,
            text,
            facts,
            Action.ROLLBACK,
            target,
            {},
        )
    ]


SHARED_DEPENDENCY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("shared-dependency", (Category.BAD_ROLLOUT,), check_shared_dependency),
)
