"""A CPU limit admission gave the pods: the current revision's containers are throttled at a
CPU limit their workload's template does not set. The API server filled it in when it
admitted the pods (a LimitRange's default, a policy engine's mutating rule, applied to the
namespace since the earlier pods were admitted), so the throttling is not the rollout's
doing when that rollout left the resources alone: a rollback's pods are admitted with the
same limit. Which limits admission gave: ``kubetriage.analyzers.pods.admitted_limits`` (whose
memory counterpart is ``admitted_memory_limit``).

Read by the change-correlation rule (``changes``); pure functions of Evidence.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.cfs import THROTTLED_SHARE, throttle_ratios
from kubetriage.analyzers.pods import admitted_limits
from kubetriage.analyzers.support import item, pod_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem


def admitted_cpu_limit(evidence: Evidence) -> EvidenceItem | None:
    """The fact that a container of the current revision's pods is throttled (at least
    ``THROTTLED_SHARE`` of its CFS periods) at a CPU limit the template does not set, when the
    rollout to that revision did not change resources; None otherwise."""
    ratios = throttle_ratios(evidence)
    for pod, container, limit in admitted_limits(evidence, "cpu"):
        share = ratios.get(container.name)
        if share is None or share < THROTTLED_SHARE:
            continue
        return item(
            pod_source(pod),
            f"container {container.name} is throttled in {prose.percent(share)} of its CFS "
            f"periods at a {prose.cpu(limit)} CPU limit its template does not set (filled in "
            "when the pod was admitted)",
        )
    return None
