"""What a followed dependency's own exporter says about it, for the rules that read one of
its per-pod series (``replica_lag``: replication lag; ``lock_waits``: sessions waiting for a
lock): the first dependency, reached through a Service, one of whose pods' series of that
name shows the fault, while the caller is alerted as failing or slow or fails on it in its
own words; and the facts such a finding cites.

Pure functions of Evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubetriage import prose
from kubetriage.analyzers.cfs import of_workload
from kubetriage.analyzers.demand import alerted_strain
from kubetriage.analyzers.dependencies import caller_fails_on
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.relations import DependencyEvidence


@dataclass(frozen=True, slots=True)
class CalleeSeries:
    """A followed dependency whose own series shows the fault: its workload, the Service the
    caller reaches it through, the worst of its pods' series (the highest last value), and
    the firing alert that says the caller is strained (empty when its own failures say so)."""

    dependency: DependencyEvidence
    workload: ObjectRef
    service: ObjectRef
    worst: MetricSummary
    strain: list[EvidenceItem]

    def pod(self) -> str:
        """The pod the worst series is of (its workload's name when the series has none)."""
        return self.worst.labels.get("pod", self.workload.name)

    def since(self) -> str:
        """ " since HH:MM" when the worst series' last change is dated, else ""."""
        changed = self.worst.changed_at
        return f" since {changed:%H:%M}" if changed is not None else ""

    def facts(self, shown: EvidenceItem) -> list[EvidenceItem]:
        """``shown`` (what the series says), the text that names the dependency, the strain."""
        named = self.dependency.named_by
        if not named:
            return [shown, *self.strain]
        called = item("dependency", f"{prose.obj(self.service)} is named by {named[0].text}")
        return [shown, called, *self.strain]


def faulty_callee(
    evidence: Evidence,
    name: str,
    shows: Callable[[MetricSummary], bool],
    *,
    failing: bool = False,
) -> CalleeSeries | None:
    """The first followed dependency with a workload and a Service one of whose pods' series
    ``name`` ``shows`` the fault, while the caller is alerted as strained or fails on it
    (``failing``: the caller's failures are known otherwise, its own error lines)."""
    strain = alerted_strain(evidence)
    for dependency in evidence.dependencies:
        workload, service = dependency.workload, dependency.service_ref()
        if workload is None or service is None:
            continue
        found = [
            m for m in evidence.metrics if m.name == name and of_workload(m, workload) and shows(m)
        ]
        if not found or not (strain or failing or caller_fails_on(evidence, dependency)):
            continue
        worst = max(found, key=lambda m: m.last or 0.0)
        return CalleeSeries(dependency, workload, service, worst, strain)
    return None
