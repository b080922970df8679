"""Latency that follows new pods, not a revision: pods taken into service before they are warm.

An SRE who sees latency spike right after a rollout compares the pods' own series before
blaming the release. When each pod that started in the window (of the new revision and of the
previous one alike: a scale-up, a replacement before the rollout) begins slow and settles at
the level the long-running pods hold, the spike follows pod starts: every new pod takes
traffic while it still warms (caches, JIT, connection pools). The new revision, once warm, is
as fast as the old one, so a rollback would only start another round of cold pods. A readiness
probe that only opens the serving socket (``tcpSocket``), or none at all, marks a pod ready as
soon as it listens; the fix is a readiness check that waits for warm-up (a readiness endpoint
that reports warm, a startup probe, a slow start at the balancer), not a rollback.

Read by change correlation (``previous_revision.previous_fails_alike``: the previous revision
shows the same symptom) and registered in ``kubetriage.analyzers.ANALYZERS``; pure functions
of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import measures_latency
from kubetriage.analyzers.revisions import current_and_previous_revision
from kubetriage.analyzers.support import item, pod_name_replica_set, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import MetricSummary, ProbeSpec
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a warm-up finding is, by the evidence that earns it."""

    # Pods of both revisions began slow and settled at the old level, and the readiness
    # probe only checks that the port opens (or there is none).
    cold_pods: float = 0.84


CONFIDENCE: Final = _Confidence()

# A pod's first samples at least this many times its settled level: it began slow.
SPIKE: Final = 3.0
# Settled: the new revision's pods end within this factor of the older pods' level.
SETTLED: Final = 1.5
# Readiness mechanisms that say only that the process listens, not that it is warm.
_SHALLOW: Final = frozenset({"tcpSocket"})


@dataclass(frozen=True, slots=True)
class ColdStarts:
    """The per-pod latency series of pods that began slow and settled, by revision, and the
    level the previous revision's pods settled at."""

    current: list[MetricSummary]
    previous: list[MetricSummary]
    level: float


def _replica_set(metric: MetricSummary) -> str | None:
    return pod_name_replica_set(metric.labels.get("pod", ""))


def cold_starts(evidence: Evidence) -> ColdStarts | None:
    """Pods of the current revision and of an older one whose latency began at least
    ``SPIKE`` times the level it settled at, with the current revision's pods settled within
    ``SETTLED`` of the older pods' level (module doc); None when the current revision's pods
    settle slower (the revision is slower) or when only one revision's pods began slow."""
    current, _ = current_and_previous_revision(evidence)
    if current is None:
        return None
    older = {r.name for r in evidence.revisions if r.revision < current.revision}
    series = [m for m in evidence.metrics if measures_latency(m) and m.last and _replica_set(m)]
    new_all = [m for m in series if _replica_set(m) == current.name]
    old_all = [m for m in series if _replica_set(m) in older]
    if not new_all or not old_all:
        return None
    level = median(m.last or 0.0 for m in old_all)
    if any((m.last or 0.0) > level * SETTLED for m in new_all):
        return None  # the new revision's pods stay slower once warm: the revision is slower

    def began_slow(metric: MetricSummary) -> bool:
        first, last = metric.first or 0.0, metric.last or 0.0
        return first >= SPIKE * last and first >= (metric.max or 0.0)

    new = [m for m in new_all if began_slow(m)]
    old = [m for m in old_all if began_slow(m)]
    if not new or not old:
        return None
    return ColdStarts(current=new, previous=old, level=level)


def _fact(metric: MetricSummary, level: float) -> EvidenceItem:
    return item(
        "metrics",
        f"{metric.name} of pod {metric.labels.get('pod')}: {prose.number(metric.first or 0.0)} "
        f"when it started, {prose.number(metric.last or 0.0)} since (the previous revision's "
        f"pods: {prose.number(level)})",
    )


def previous_starts_alike(evidence: Evidence) -> EvidenceItem | None:
    """The fact that pods of the previous revision began as slow as the new revision's."""
    cold = cold_starts(evidence)
    return _fact(cold.previous[0], cold.level) if cold is not None else None


def _shallow_readiness(evidence: Evidence) -> tuple[str, ProbeSpec | None] | None:
    """The serving container and its readiness probe when that probe only checks that the
    port opens, or the container has none; None when one checks more."""
    workload = evidence.workload
    if workload is None:
        return None
    serving = [c for c in workload.containers if not c.init and c.ports]
    for container in serving:
        readiness = next((p for p in container.probes if p.kind == "readiness"), None)
        if readiness is None or readiness.mechanism in _SHALLOW:
            return container.name, readiness
    return None


def check_cold_starts(evidence: Evidence) -> list[Finding]:
    target = workload_ref(evidence)
    cold = cold_starts(evidence)
    shallow = _shallow_readiness(evidence)
    if target is None or cold is None or shallow is None:
        return []
    if target.kind not in ACTION_TARGET_KINDS[Action.FIX_PROBE]:
        return []
    container, probe = shallow
    source = f"{target.kind.lower()}/{target.namespace}/{target.name}"
    probe_fact = item(
        source,
        f"container {container} readiness probe {probe.handler}"
        if probe is not None
        else f"container {container} has no readiness probe",
    )
    new_fact, old_fact = _fact(cold.current[0], cold.level), _fact(cold.previous[0], cold.level)
    checks = "only checks that its port opens" if probe is not None else "is missing"
    return [
        make_finding(
            "cold-starts",
            Category.PROBE_FAILURE,
            CONFIDENCE.cold_pods,
            prose.narrative(
                f"New pods of {prose.obj(target)} take traffic before they are warm",
                f"make the readiness probe of container {container} wait for warm-up",
                because=[
                    prose.claim(
                        "Each new pod of the current revision is slow when it starts and "
                        "settles at the old level",
                        new_fact,
                    ),
                    prose.claim(
                        "Pods of the previous revision that started in the window were just "
                        "as slow at first, so the latency follows new pods, not the release",
                        old_fact,
                    ),
                    prose.claim(f"The readiness probe {checks}", probe_fact),
                ],
            ),
            [new_fact, old_fact, probe_fact],
            Action.FIX_PROBE,
            target,
        )
    ]


WARM_UP_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("cold-starts", (Category.PROBE_FAILURE,), check_cold_starts),
)
