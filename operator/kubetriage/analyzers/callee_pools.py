"""The callee-pools rule: a followed dependency that is up, every replica ready, at a fixed
count of replicas (no autoscaler) and unchanged lately, whose pods' exporters say every worker
or pooled connection is now busy (``callee_pool_free_slots`` fell to zero from a free
margin), while its pods' CPU rose with the work they were given and the caller is alerted as
slow or failing on it. An SRE reads "pool full, more work, nothing of its own changed, same
replicas" as demand past the callee's capacity (a promotion, a batch or export job sharing
it): the calls queue for a free worker and the caller's deadlines pass. More replicas bring
more workers and pools: ``resource-saturation``, scale the callee out; escalating it or
blaming the caller treats the surface.

A pool that filled while the pods' CPU stayed flat is not this rule's: the work did not grow,
each call holds its slot longer (a slow database behind the pool), and more replicas would
only open more connections to it.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.cfs import of_workload
from kubetriage.analyzers.demand import alerted_strain, replicas_for
from kubetriage.analyzers.dependencies import caller_fails_on
from kubetriage.analyzers.dependency_saturated import up_and_ready
from kubetriage.analyzers.recency import rollouts_within
from kubetriage.analyzers.support import RISE, item, metric_growth, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a full-pool callee finding is, by the evidence that earns it."""

    # Every worker or pooled connection of the callee's pods is busy, their CPU rose with
    # the work, it runs fixed replicas and did not change: above the escalation of the
    # Service the caller's timed-out calls name (at most 0.83), below a callee saying in its
    # own words that it takes no more work (0.88).
    full_pools: float = 0.86


CONFIDENCE: Final = _Confidence()

# The queries (``kubetriage.evidence.query_templates_callees``, ``query_templates``) of each
# called pod: its free workers or pooled connections, and the CPU it uses.
FREE_SLOTS = "callee_pool_free_slots"
CPU = "callee_cpu_usage_cores"


def _of(evidence: Evidence, name: str, workload: ObjectRef) -> list[MetricSummary]:
    return [m for m in evidence.metrics if m.name == name and of_workload(m, workload)]


def _filled(metric: MetricSummary) -> bool:
    """No slot free now, after at least one was at the window's start."""
    before = metric.first if metric.first is not None else metric.max
    return metric.last is not None and metric.last <= 0 and before is not None and before > 0


def _busier(metric: MetricSummary) -> bool:
    growth = metric_growth(metric)
    return growth is not None and growth >= RISE


def _fixed_and_unchanged(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """No autoscaler adds replicas to it, and it did not roll out lately."""
    now = timestamp(evidence.collected_at)
    return not dependency.autoscalers and not rollouts_within(dependency.changes, now)


def check_callee_pools(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        if not up_and_ready(dependency) or not _fixed_and_unchanged(evidence, dependency):
            continue
        filled = [m for m in _of(evidence, FREE_SLOTS, workload) if _filled(m)]
        busier = [m for m in _of(evidence, CPU, workload) if _busier(m)]
        if not filled or not busier or not (strain or caller_fails_on(evidence, dependency)):
            continue
        cpu = max(busier, key=lambda m: metric_growth(m) or 0.0)
        growth = metric_growth(cpu) or RISE
        replicas = max(dependency.desired_replicas or 0, dependency.ready_replicas or 0, 1)
        more = replicas_for(replicas, growth)
        facts = [
            item(
                "metrics",
                f"{prose.count(len(filled), 'pod')} of {prose.obj(workload)} have no worker or "
                f"pooled connection free, down from {prose.number(filled[0].first or 0.0)}",
            ),
            item(
                "metrics",
                f"CPU of {cpu.labels.get('pod', workload.name)} rose from "
                f"{prose.number(cpu.first or cpu.min or 0.0)} to {prose.number(cpu.last or 0.0)}"
                " cores",
            ),
            item(
                "dependency",
                f"{prose.obj(workload)} is named by {dependency.named_by[0].text}; "
                f"{dependency.ready_replicas}/{dependency.desired_replicas} replicas ready, "
                "no autoscaler",
            )
            if dependency.named_by
            else item("dependency", f"{prose.obj(workload)} runs fixed replicas"),
            *strain,
        ]
        who = caller(evidence)
        return [
            make_finding(
                "callee-pools",
                Category.RESOURCE_SATURATION,
                CONFIDENCE.full_pools,
                prose.narrative(
                    f"{prose.obj(workload)} has no free worker left for the calls of {who}",
                    f"scale it out to {prose.count(more, 'replica')}",
                    because=[
                        prose.claim(
                            "Every worker or pooled connection of its pods is busy, and their "
                            "CPU rose with the work they were given",
                            facts[0],
                            facts[1],
                        ),
                        prose.claim(
                            "It runs a fixed number of replicas and did not change lately: "
                            "the demand outgrew it",
                            facts[2],
                        ),
                        prose.claim("More replicas bring more workers and pools"),
                    ],
                ),
                facts,
                Action.SCALE_OUT,
                workload,
                {"replicas": str(more)},
            )
        ]
    return []


CALLEE_POOL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("callee-pools", (Category.RESOURCE_SATURATION,), check_callee_pools),
)
