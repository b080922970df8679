"""The cold-cache rule: the incident's workload (a database, an API) is called by a workload
that reads through a cache first (``CallerEvidence.caches``: a Redis, memcached, Valkey...
its pod template names besides the incident's Service). When that cache's container was
OOM-killed shortly before the onset, it came back empty: every read misses at once and falls
through to the incident's workload, which takes many times its usual load (connections,
slow queries) with no release of its own or of the caller, and no more traffic. An SRE
fixes what emptied the cache: its memory limit (and a maxmemory below it, so it evicts
instead of dying); escalating the database or scaling it treats the surface, and the next
kill empties the cache again.

Silent when the incident's workload or the caller changed within the onset window (their
own change is the story), when the cache ended its last run for another reason than its
memory, or long before the onset (a cache refills within minutes), or after it.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import ONSET_TOLERANCE, earliest_onset, follows_within
from kubetriage.analyzers.shared_dependency import own_changed
from kubetriage.analyzers.support import item, object_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import CallerCacheEvidence, CallerEvidence, ContainerRestart
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a cold-cache finding is, by the evidence that earns it."""

    # An unchanged caller's cache OOM-killed within COLD_WINDOW before the onset of the
    # incident's workload, which did not change either.
    emptied_by_oom: float = 0.84


CONFIDENCE: Final = _Confidence()
NAME: Final = "cold-cache"
# How long before the onset a cache's restart still explains it: a cache refills with the
# reads that miss, so a restart long before the onset no longer sends them through.
COLD_WINDOW: Final = timedelta(minutes=30)


def _emptied(restart: ContainerRestart, onset: float) -> bool:
    ended = restart.last
    if (ended.reason or "").lower() != "oomkilled" or ended.finished_at is None:
        return False
    delay = onset - timestamp(ended.finished_at)
    return -ONSET_TOLERANCE.total_seconds() <= delay <= COLD_WINDOW.total_seconds()


def _cold(
    evidence: Evidence,
) -> tuple[CallerEvidence, CallerCacheEvidence, ContainerRestart] | None:
    onset = earliest_onset(evidence)
    if onset is None or own_changed(evidence, onset):
        return None
    for caller in evidence.callers:
        if any(follows_within(c.at, onset) is not None for c in caller.changes):
            continue
        for cache in caller.caches:
            workload = cache.workload
            if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
                continue
            for restart in cache.restarts:
                if _emptied(restart, timestamp(onset)):
                    return caller, cache, restart
    return None


def check_cold_cache(evidence: Evidence) -> list[Finding]:
    found = _cold(evidence)
    if found is None:
        return []
    caller, cache, restart = found
    target = cache.workload
    assert target is not None  # _cold keeps caches with a workload
    when = f" at {restart.last.finished_at:%H:%M}" if restart.last.finished_at is not None else ""
    killed = item(
        object_source(target),
        f"pod {restart.pod}: {restart.container} last ended OOMKilled{when}, "
        f"restarts {restart.restarts}",
    )
    reads = item(
        object_source(caller.ref),
        f"names cache {prose.obj(cache.service)} and {prose.obj(caller.callee)}: "
        f"{prose.listing(caller.naming_texts(), limit=2)}",
    )
    subject = prose.obj(evidence.workload.ref) if evidence.workload is not None else "it"
    because = [
        prose.claim(
            f"The cache {prose.obj(target)} was OOM-killed shortly before the onset and came "
            "back empty",
            killed,
        ),
        prose.claim(
            f"{prose.obj(caller.ref)} reads through it before calling {subject}; with the "
            "cache empty every read falls through, and neither changed",
            reads,
        ),
    ]
    text = prose.narrative(
        f"Cache {prose.obj(target)} was OOM-killed and came back empty, so its misses fall through",
        "raise its memory limit",
        because=because,
    )
    return [
        make_finding(
            NAME,
            Category.OOM_KILLED,
            CONFIDENCE.emptied_by_oom,
            text,
            [killed, reads],
            Action.INCREASE_MEMORY,
            target,
            {"container": restart.container},
        )
    ]


COLD_CACHE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.OOM_KILLED,), check_cold_cache),
)
