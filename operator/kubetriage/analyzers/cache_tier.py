"""The cache-tier rule: a followed dependency is a cache (memcached, Redis) whose own exporter
says it is full: it evicts ever more items to make room, and answers ever fewer reads from
memory, while its caller is alerted as slow or failing. Every read it misses goes to the
store behind it (a database that then looks overloaded, the alert's surface), so the store
and the caller are symptoms: the working set outgrew the cache. ``resource-saturation`` on
the cache's workload, scaled out (more members hold more of the working set; its memory
limit per member is the other lever), as in Facebook's "Scaling Memcache" and cache-capacity
postmortems.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.cfs import of_workload
from kubetriage.analyzers.demand import alerted_strain
from kubetriage.analyzers.support import DOUBLING, item, metric_growth
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a full-cache finding is, by the evidence that earns it."""

    # The cache evicts at least twice as fast as at the window's start and answers a clearly
    # smaller share of reads, while its caller is alerted: above the caller's own surface
    # (its autoscaler, the busy store behind the cache).
    evicting: float = 0.84
    # ... and its memory in use sits at its limit: it is full, not flushed.
    full: float = 0.88


CONFIDENCE: Final = _Confidence()

# The queries (``kubetriage.evidence.query_templates``) of each called cache pod.
EVICTIONS = "callee_cache_evictions_rate"
HIT_RATIO = "callee_cache_hit_ratio"
FILL = "callee_cache_fill_ratio"
# A fall of the hit ratio readers notice: each point sends that share of reads to the store.
HIT_DROP = 0.1
# A cache whose memory in use is this share of its limit is full.
FULL = 0.95


def _of(evidence: Evidence, name: str, workload: ObjectRef) -> list[MetricSummary]:
    return [m for m in evidence.metrics if m.name == name and of_workload(m, workload)]


def _hits_fell(metric: MetricSummary) -> bool:
    high = metric.first if metric.first is not None else metric.max
    return high is not None and metric.last is not None and high - metric.last >= HIT_DROP


def _evicts_more(metric: MetricSummary) -> bool:
    growth = metric_growth(metric)
    return growth is not None and growth >= DOUBLING


def check_cache_tier(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    if not strain:
        return []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        evicting = [m for m in _of(evidence, EVICTIONS, workload) if _evicts_more(m)]
        missing = [m for m in _of(evidence, HIT_RATIO, workload) if _hits_fell(m)]
        if not evicting or not missing:
            continue
        full = [m for m in _of(evidence, FILL, workload) if (m.last or 0.0) >= FULL]
        evicts, hits = evicting[0], missing[0]
        facts = [
            item(
                "metrics",
                f"{prose.count(len(evicting), 'pod')} of {prose.obj(workload)} evict "
                f"{prose.number(evicts.last or 0.0)} items/s, up from "
                f"{prose.number(evicts.first or evicts.min or 0.0)}",
            ),
            item(
                "metrics",
                f"hit ratio of {hits.labels.get('pod', workload.name)} fell from "
                f"{(hits.first or hits.max or 0.0):.0%} to {(hits.last or 0.0):.0%}",
            ),
        ]
        if full:
            facts.append(
                item(
                    "metrics",
                    f"{full[0].labels.get('pod', workload.name)} memory is at "
                    f"{(full[0].last or 0.0):.0%} of its limit",
                )
            )
        named = item(
            "dependency", f"{prose.obj(workload)} is named by {dependency.named_by[0].text}"
        )
        who = caller(evidence)
        return [
            make_finding(
                "cache-tier",
                Category.RESOURCE_SATURATION,
                CONFIDENCE.full if full else CONFIDENCE.evicting,
                prose.narrative(
                    f"{prose.obj(workload)} is too small for the working set of {who}",
                    "scale it out (or give each member more memory)",
                    because=[
                        prose.claim(
                            f"{prose.obj(workload)} evicts ever more and answers fewer reads",
                            *facts,
                        ),
                        prose.claim(f"{who} reads through it and is slow or failing", named),
                        prose.claim("Every miss goes to the store behind the cache"),
                    ],
                ),
                [*facts, named, *strain],
                Action.SCALE_OUT,
                workload,
            )
        ]
    return []


CACHE_TIER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("cache-tier", (Category.RESOURCE_SATURATION,), check_cache_tier),
)
