"""A neighbour whose CFS quota began to stall it when the latency rose: the alerted workload
is slow but serving and not throttled itself, no callee is named (a service registry such as
Consul hands out its callees' addresses), and exactly one container of its namespace, of
another workload, went from rarely throttled to throttled in a large share of its CFS
periods in the hour before the alert fired. An SRE paged for the latency looks over the
namespace for what began to struggle when it rose; a neighbour throttled at the same level
all along is its steady state, not the change, and two that stepped up are not one
explanation.

Reads the ``neighbour_cpu_throttled_ratio`` series (``kubetriage.evidence.query_templates``);
registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cfs import NEIGHBOUR_THROTTLED, THROTTLED_SHARE, throttle_ratios
from kubetriage.analyzers.onset import alert_onset, earliest_onset
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.support import item, pod_name_workload, timestamp, workload_ref
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding about a throttled neighbour is, by the evidence that earns it."""

    # One container of another workload of the namespace stepped from below THROTTLED_SHARE
    # to above it within the hour before the alert, the alerted workload serving and not
    # throttled: below what the alerted workload's own evidence earns (nothing ties the
    # neighbour to the alert but the namespace and the timing).
    stepped: float = 0.6


CONFIDENCE: Final = _Confidence()
NAME: Final = "throttled-neighbour"
# A step this long before the trouble began (or later, up to the alert) begins with it.
STARTS_WITH_ALERT: Final = timedelta(hours=1)


def _stepped_up(metric: MetricSummary, earliest: float, latest: float) -> bool:
    """Whether a throttled-share series went from below THROTTLED_SHARE to above it at a
    time between ``earliest`` and ``latest``."""
    before = metric.before if metric.before is not None else metric.first
    after = metric.after if metric.after is not None else metric.last
    if metric.changed_at is None or before is None or after is None:
        return False
    if before >= THROTTLED_SHARE or after < THROTTLED_SHARE or metric.trend == "falling":
        return False
    return earliest <= timestamp(metric.changed_at) <= latest


def check_fresh_throttling(evidence: Evidence) -> list[Finding]:
    own = workload_ref(evidence)
    if own is None or evidence.target is None or evidence.target.kind == "Namespace":
        return []
    if not evidence.pods or any(pod_failing(p) for p in evidence.pods):
        return []
    ratios = throttle_ratios(evidence)
    if any(r >= THROTTLED_SHARE for r in ratios.values()):
        return []  # the workload's own quota: the cpu-throttling rule's
    onset, fired = earliest_onset(evidence), alert_onset(evidence)
    if onset is None or fired is None:
        return []
    earliest = timestamp(onset) - STARTS_WITH_ALERT.total_seconds()
    own_pods = {p.name for p in evidence.pods}
    stepped: dict[str, tuple[ObjectRef, MetricSummary]] = {}
    for metric in evidence.metrics:
        if metric.name != NEIGHBOUR_THROTTLED or metric.labels.get("pod") in own_pods:
            continue
        if not _stepped_up(metric, earliest, timestamp(fired[0])):
            continue
        ref = pod_name_workload(own.namespace or "", metric.labels.get("pod", ""))
        if ref is None or ref.same_object(own):
            continue
        stepped.setdefault(ref.key(), (ref, metric))
    if len(stepped) != 1:
        return []
    [(ref, metric)] = stepped.values()
    container = metric.labels.get("container", "")
    before = metric.before if metric.before is not None else metric.first or 0.0
    after = metric.after if metric.after is not None else metric.last or 0.0
    changed = metric.changed_at or evidence.collected_at
    throttled = item(
        "metrics",
        f"{metric.labels.get('pod')} {container}: {prose.percent(before)} -> "
        f"{prose.percent(after)} of CFS periods throttled from {changed:%H:%M}",
    )
    serving = item(
        f"{own.kind.lower()}/{own.namespace}/{own.name}",
        f"{prose.count(len(evidence.pods), 'pod')} serving, "
        + ("none throttled" if ratios else "no throttling series of its own"),
    )
    return [
        make_finding(
            NAME,
            Category.CPU_THROTTLING,
            CONFIDENCE.stepped,
            prose.narrative(
                f"{prose.obj(ref)} began to be throttled by its CPU limit when "
                f"{prose.obj(own)} slowed",
                "raise or remove its CPU limit",
                aside=f"container {container}",
                because=[
                    prose.claim(f"{prose.obj(own)} serves and is not seen throttled", serving),
                    prose.claim(
                        f"{prose.obj(ref)} is the one workload of namespace {ref.namespace} "
                        f"whose throttled share of CFS periods stepped up before the alert "
                        f"fired ({fired[0]:%H:%M})",
                        throttled,
                    ),
                    prose.claim(
                        "A throttled callee stalls each request it serves until its next CFS "
                        "period, and its callers' latency rises with it"
                    ),
                ],
            ),
            [serving, throttled, fired[1]],
            Action.INCREASE_CPU,
            ref,
            {"container": container} if container else {},
        )
    ]


FRESH_THROTTLING_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CPU_THROTTLING,), check_fresh_throttling),
)
