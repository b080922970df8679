"""A CPU limit admission gave the pods: the current revision's containers are throttled at a
CPU limit their workload's template does not set. The API server filled it in when it
admitted the pods (a LimitRange's default, a policy engine's mutating rule, applied to the
namespace since the earlier pods were admitted), so the throttling is not the rollout's
doing when that rollout left the resources alone: a rollback's pods are admitted with the
same limit. The memory counterpart is ``kubetriage.analyzers.pods.admitted_memory_limit``.

Read by the change-correlation rule (``changes``); pure functions of Evidence.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.cfs import THROTTLED_SHARE, throttle_ratios
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import item, parse_quantity, pod_source, workload_container
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem


def admitted_cpu_limit(evidence: Evidence) -> EvidenceItem | None:
    """The fact that a container of the current revision's pods is throttled (at least
    ``THROTTLED_SHARE`` of its CFS periods) at a CPU limit the template does not set, when the
    rollout to that revision did not change resources; None otherwise."""
    current, _ = current_and_previous_revision(evidence)
    if current is None or any(
        c.kind == "rollout" and c.to_revision == current.revision and "resources" in c.aspects
        for c in evidence.changes
    ):
        return None  # the rollout changed the resources: the limit may be its doing
    ratios = throttle_ratios(evidence)
    for pod in evidence.pods:
        revision = pod_revision(pod, evidence)
        if revision is None or revision.name != current.name:
            continue
        for container in pod.containers:
            limit = parse_quantity(container.limits.get("cpu"))
            template = workload_container(evidence, container.name)
            if limit is None or template is None or "cpu" in template.limits:
                continue
            share = ratios.get(container.name)
            if share is None or share < THROTTLED_SHARE:
                continue
            return item(
                pod_source(pod),
                f"container {container.name} is throttled in {prose.percent(share)} of its CFS "
                f"periods at a {prose.cpu(limit)} CPU limit its template does not set (filled "
                "in when the pod was admitted)",
            )
    return None
