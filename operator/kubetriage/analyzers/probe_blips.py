"""Readiness-probe blips: a kubelet's readiness-probe failure the pod recovered from (fewer
than ``BLIP_FAILURES`` of them, the container ready again and never restarted) took nothing
out of service for long: a GC pause, a slow disk. The probe rule leaves it alone, and the
onset does not date the symptom by it (an earlier, ended episode, not what the alert reports).

Pure functions of Evidence.
"""

from __future__ import annotations

import re

from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import EventEvidence, PodEvidence

# The kubelet's words for a failed probe, in an Unhealthy event: "Readiness probe failed: ...".
PROBE_FAILED = re.compile(r"(?i)(?P<kind>liveness|readiness|startup) probe failed:?\s*(?P<why>.*)")
# Fewer readiness failures than this, on a container that is ready again and never restarted,
# are a blip the pod recovered from (a GC pause, a slow disk): nothing to fix in the probe.
BLIP_FAILURES = 10


def _pod(evidence: Evidence, event: EventEvidence) -> PodEvidence | None:
    return next(
        (
            p
            for p in evidence.pods
            if p.name == event.involved.name and p.namespace == event.involved.namespace
        ),
        None,
    )


def readiness_blip(evidence: Evidence, event: EventEvidence) -> bool:
    """Whether ``event`` is a readiness-probe failure seen fewer than ``BLIP_FAILURES`` times
    on one of the incident's pods whose containers are all ready and never restarted."""
    match = PROBE_FAILED.search(event.message)
    if event.reason != "Unhealthy" or match is None or event.count >= BLIP_FAILURES:
        return False
    if match["kind"].lower() != "readiness" or event.involved.kind != "Pod":
        return False
    pod = _pod(evidence, event)
    containers = [c for c in pod.containers if not c.init] if pod is not None else []
    return bool(containers) and all(c.ready is True and c.restart_count == 0 for c in containers)


def never_unready(evidence: Evidence, event: EventEvidence) -> bool:
    """Whether ``event`` is a readiness blip (``readiness_blip``) seen fewer times than every
    readiness probe of its pod allows in a row (``failureThreshold``): the kubelet marks a
    container unready only after that many consecutive failures, so the pod never left its
    Service's endpoints; the failure served nothing a caller could see."""
    if not readiness_blip(evidence, event):
        return False
    pod = _pod(evidence, event)
    thresholds = [
        probe.failure_threshold
        for container in (pod.containers if pod is not None else [])
        for probe in container.probes
        if probe.kind == "readiness"
    ]
    return bool(thresholds) and event.count < min(thresholds)
