"""Probe timeouts the previous revision shares. The new revision's pods run but are not
ready because their probe times out, and pods of the previous revision timed out on their
probe within the last hour too: pods too slow to answer in time answer for their load, not
for the revision they run, and a rollback's pods would time out the same way. The
bad-rollout rule stays below the rules that name the load (an autoscaler at its maximum, a
probe timeout). New pods that crash, wait or are refused are the revision's own failure,
and so are timeouts only the new revision's pods see.

Read by ``rollout``; pure functions of Evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubetriage.analyzers.container_texts import PROBE_TIMEOUT
from kubetriage.analyzers.demand import WINDOW_SECONDS
from kubetriage.analyzers.pods import pod_events
from kubetriage.analyzers.support import event_fact, item, seconds_before
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import EventEvidence, PodEvidence


def _probe_timeout(evidence: Evidence, pod: PodEvidence) -> EventEvidence | None:
    """The pod's Unhealthy event of a probe that timed out, last seen within the window."""
    for event in pod_events(evidence, pod):
        if event.reason != "Unhealthy" or not PROBE_TIMEOUT.search(event.message):
            continue
        ago = seconds_before(evidence, event.last_seen or event.first_seen)
        if ago is not None and ago <= WINDOW_SECONDS:
            return event
    return None


def _running_unready(pod: PodEvidence) -> bool:
    """Whether every app container of the pod runs (none waits or ended) and one is not
    ready: a pod that only fails its readiness probe."""
    containers = [c for c in pod.containers if not c.init]
    return (
        pod.phase == "Running"
        and bool(containers)
        and all(c.state.state == "running" for c in containers)
        and any(c.ready is False for c in containers)
    )


def previous_times_out_too(
    evidence: Evidence, new_failing: Sequence[PodEvidence], old_pods: Sequence[PodEvidence]
) -> EvidenceItem | None:
    """The fact of a previous-revision pod whose probe timed out within the hour, when every
    failing pod of the new revision only fails readiness and its probe times out too; None
    when a new pod crashes or waits, fails its probe otherwise, or no old pod timed out."""
    if not new_failing or not old_pods:
        return None
    if not all(_running_unready(p) and _probe_timeout(evidence, p) for p in new_failing):
        return None
    shared = next((e for p in old_pods if (e := _probe_timeout(evidence, p)) is not None), None)
    if shared is None:
        return None
    return item("events", "the previous revision's probe times out too: " + event_fact(shared))
