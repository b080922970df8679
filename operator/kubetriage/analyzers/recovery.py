"""A callee that failed once and came back by itself: its container restarted once (not
OOMKilled, not killed by its liveness or startup probe), every pod behind its Service has run
ready since, and every failing call the caller logged to it was written before it was back.
The caller's errors were the restart's transient consequence: nothing is failing any more
and nothing in the evidence names a cause, so "fix the dependency" is no diagnosis (an SRE
investigates why it was killed). A callee still failing (a pod not ready, calls failing
after it came back), failing repeatedly (more than one restart in the window) or with a
cause in evidence (OOMKilled, a probe kill) is not recovered.

Read by ``dependency_failure`` (no finding) and ``kubetriage.unknown`` (what would decide it:
what killed it); pure functions of Evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from kubetriage.analyzers.calls import dependency_hits
from kubetriage.analyzers.log_signatures import hosts_in, service_for_host
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.pods import RECENT_EXIT_SECONDS, last_exit_ago, liveness_killed
from kubetriage.analyzers.support import item, pod_source, same_service, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import ContainerEvidence, PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects

# A call that failed this soon after the callee's process started was still its restart's
# (the process starts listening a moment after it starts).
BACK_SLACK: Final = timedelta(seconds=30)


def _behind(evidence: Evidence, svc: ServiceEvidence) -> list[PodEvidence]:
    if not svc.selector:
        return []
    return [
        p
        for p in evidence.pods
        if p.namespace == svc.namespace and service_selects(svc.selector, p.labels)
    ]


def _restart(
    evidence: Evidence, pod: PodEvidence, container: ContainerEvidence
) -> datetime | bool | None:
    """When ``container`` came back from its one recent restart; None when it did not restart
    within ``RECENT_EXIT_SECONDS`` (the window every pod rule reads a last exit in); False
    when it is not serving or its restart disqualifies it (repeated, OOMKilled, a probe
    kill)."""
    if container.ready is not True or container.state.state != "running":
        return False
    last = container.last_state
    ago = last_exit_ago(evidence, container)
    if container.restart_count == 0 or last is None or ago is None or ago > RECENT_EXIT_SECONDS:
        return None
    if (
        container.restart_count > 1
        or (last.reason or "").lower() == "oomkilled"
        or liveness_killed(evidence, pod, container.name)
        or container.state.started_at is None
    ):
        return False
    return container.state.started_at


def recovered_callee(
    evidence: Evidence, svc: ServiceEvidence, failing_lines: Sequence[str]
) -> EvidenceItem | None:
    """The fact that ``svc`` failed once and recovered before the alert (module doc), or None
    when the evidence does not show it: its pods were not read, one is not serving, it
    restarted more than once or for a cause, or a failing call has no time or came later."""
    if not failing_lines or svc.ready_endpoints == 0:
        return None
    followed = [d for d in evidence.dependencies if d.service is not None]
    if any(
        same_service(d.service, svc) and (d.failing_pods or d.short_of_ready()) for d in followed
    ):
        return None
    pods = _behind(evidence, svc)
    back: list[tuple[datetime, PodEvidence, ContainerEvidence]] = []
    for pod in pods:
        if pod.deleting or pod.phase != "Running":
            return None
        for container in pod.containers:
            if container.init:
                continue
            came_back = _restart(evidence, pod, container)
            if came_back is False:
                return None
            if isinstance(came_back, datetime):
                back.append((came_back, pod, container))
    if not back:
        return None
    when, pod, container = max(back, key=lambda b: timestamp(b[0]))
    written = [line_time(line, evidence.collected_at) for line in failing_lines]
    if any(
        t is None or timestamp(t) > timestamp(when) + BACK_SLACK.total_seconds() for t in written
    ):
        return None
    last_call = max((t for t in written if t is not None), key=timestamp)
    exit_code = container.last_state.exit_code if container.last_state else None
    return item(
        pod_source(pod),
        f"container {container.name} restarted once"
        + (f" (exit code {exit_code})" if exit_code is not None else "")
        + f" and has run ready since {when:%H:%M:%S}; the caller's last failing call to it "
        f"was at {last_call:%H:%M:%S}",
    )


def recoveries(evidence: Evidence) -> list[EvidenceItem]:
    """The Services of the evidence that failed once and recovered (``recovered_callee``),
    each judged by the failing calls that name it: what an "unknown" diagnosis reports."""
    hits = dependency_hits(evidence)
    found: list[EvidenceItem] = []
    for svc in evidence.services:
        lines = [h.line for h in hits if any(service_for_host(x, [svc]) for x in hosts_in(h.line))]
        if (fact := recovered_callee(evidence, svc, lines)) is not None:
            found.append(fact)
    return found
