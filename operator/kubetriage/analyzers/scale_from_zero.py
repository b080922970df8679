"""The scale-from-zero rule: an event-driven autoscaler (a KEDA ScaledObject of the incident's
workload) takes the workload down to zero replicas when idle and back up when requests or
messages arrive (``KEDAScaleTargetDeactivated`` and ``KEDAScaleTargetActivated`` events,
again and again), and the pod it starts needs long to turn Ready after its container
started (a JVM, a large application context, migrations checked at start). Whatever holds
the first requests meanwhile (the KEDA HTTP add-on's interceptor, an activator, a client's
own timeout) gives up before then, so each wake-up fails a burst of requests and the error
budget burns in steps while the pods themselves are healthy. The readiness probe failures
of the start are the app starting, not a probe to correct. An SRE keeps a replica warm (a
minimum of one, or more replicas when load arrives) rather than fixing the app or the proxy.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import event_fact, item, object_source, pod_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import EventEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a scale-from-zero finding is, by the evidence that earns it."""

    # The scaler took the workload to zero and back more than once, the last wake-up is
    # recent, and the pod it started needed SLOW_START or more to turn Ready.
    slow_wake: float = 0.62


CONFIDENCE: Final = _Confidence()
# From container start to Ready: longer than the proxies holding a cold request wait
# (the KEDA HTTP add-on's condition wait defaults to 20s, many clients time out at 30s).
SLOW_START = timedelta(seconds=30)
# The last wake-up must be this recent to explain what is alerting now.
RECENT_WAKE = timedelta(hours=1)
# The pod must have been created this close to the wake-up to be the one it started.
WAKE_TO_POD = timedelta(minutes=2)
_ACTIVATED = "KEDAScaleTargetActivated"
_DEACTIVATED = "KEDAScaleTargetDeactivated"


def _scaler_events(evidence: Evidence, reason: str) -> list[EventEvidence]:
    """The events of ``reason`` on the workload's ScaledObjects or ScaledJobs."""
    scalers = {(s.ref.kind, s.ref.name) for s in evidence.scalers}
    return [
        e
        for e in evidence.events
        if e.reason == reason and (e.involved.kind, e.involved.name) in scalers
    ]


def _warm_up(pod: PodEvidence) -> timedelta | None:
    """How long the pod took from its containers' start to Ready (None: not Ready)."""
    ready = next((c for c in pod.conditions if c.type == "Ready" and c.status == "True"), None)
    starts = [c.state.started_at for c in pod.containers if c.state.started_at is not None]
    if ready is None or ready.last_transition_time is None or not starts:
        return None
    return ready.last_transition_time - max(starts)


def _woken_pod(evidence: Evidence, woke: datetime) -> tuple[PodEvidence, timedelta] | None:
    """A pod of the workload started by the wake-up at ``woke`` that was slow to serve."""
    for pod in evidence.pods:
        if pod.created_at is None or abs(pod.created_at - woke) > WAKE_TO_POD:
            continue
        if (took := _warm_up(pod)) is not None and took >= SLOW_START:
            return pod, took
    return None


def check_scale_from_zero(evidence: Evidence) -> list[Finding]:
    if evidence.workload is None or not evidence.scalers:
        return []
    activated = [e for e in _scaler_events(evidence, _ACTIVATED) if e.count >= 2]
    deactivated = _scaler_events(evidence, _DEACTIVATED)
    if not activated or not deactivated:
        return []
    dated = [e for e in activated if e.last_seen is not None]
    if not dated:
        return []
    wake = max(dated, key=lambda e: e.last_seen or evidence.collected_at)
    woke_at = wake.last_seen or evidence.collected_at
    if evidence.collected_at - woke_at > RECENT_WAKE:
        return []
    found = _woken_pod(evidence, woke_at)
    if found is None:
        return []
    pod, took = found
    workload = evidence.workload.ref
    woke = item(object_source(wake.involved), event_fact(wake))
    slept = item(object_source(deactivated[0].involved), event_fact(deactivated[0]))
    slow = item(
        pod_source(pod),
        f"Ready {prose.duration(took.total_seconds())} after its container started",
    )
    return [
        make_finding(
            "scale-from-zero",
            Category.RESOURCE_SATURATION,
            CONFIDENCE.slow_wake,
            prose.narrative(
                f"{prose.obj(workload)} is scaled to zero when idle and needs "
                f"{prose.duration(took.total_seconds())} to serve after each wake-up",
                "keep a replica warm (a minimum of one)",
                because=[
                    prose.claim(
                        "Its autoscaler takes it to zero and back again and again", woke, slept
                    ),
                    prose.claim(
                        "The pod a wake-up starts is not Ready for a long time, so the "
                        "requests that woke it fail",
                        slow,
                    ),
                ],
            ),
            [woke, slept, slow],
            Action.SCALE_OUT,
            workload,
            {},
        )
    ]


SCALE_FROM_ZERO_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("scale-from-zero", (Category.RESOURCE_SATURATION,), check_scale_from_zero),
)
