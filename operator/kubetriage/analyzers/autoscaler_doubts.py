"""Whether an autoscaler at its maximum is really short of replicas: it reports its desired
count within range (``ScalingLimited=False``) while nothing says demand presses
(``within_range``, ``demand_pressure``), or something else explains it (``hpa_doubt``): its
calls are refused for rate, its pods are heavily CPU-throttled while demand did not grow (and
its replicas were not cut meanwhile), its
pods went idle while their calls time out, it scaled up at a flat request rate, the one
callee it is configured to call rolled out just before its symptom, or a caller's rollout
loads it.

Used by the resource-saturation rule (``kubetriage.analyzers.saturation``); pure functions of
Evidence.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.callee_changes import callee_rollout_doubt
from kubetriage.analyzers.callers import caller_doubt
from kubetriage.analyzers.capacity import CAPACITY_CUT, demand_fell_with, replicas_cut
from kubetriage.analyzers.cfs import HEAVILY_THROTTLED_SHARE, throttle_ratios
from kubetriage.analyzers.demand import (
    QUEUE_NAME,
    WINDOW_SECONDS,
    alerted_strain,
    flat_demand,
    is_rate,
    strain_facts,
    traffic_rose,
)
from kubetriage.analyzers.idle_workers import idle_waiting
from kubetriage.analyzers.rate_limits import limiting_service, rate_limited_calls
from kubetriage.analyzers.support import DOUBLING, item, metric_growth, seconds_before
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import AutoscalerEvidence


def within_range(hpa: AutoscalerEvidence) -> bool:
    """The autoscaler says its desired count is within its range (``ScalingLimited=False``):
    its metrics ask for no more than its maximum, so the maximum is not what holds it back."""
    return any(c.type == "ScalingLimited" and c.status == "False" for c in hpa.conditions)


def demand_pressure(evidence: Evidence, *, absorbed: bool = False) -> bool:
    """Something says demand presses on the service: traffic or a queue grew, latency rose or
    errors doubled (their series, or a firing latency or error alert). With ``absorbed``
    (the autoscaler's own metric asks for no more than it runs), traffic that grew alone
    does not count: the replicas absorb it, nothing is slower, failing or queued."""
    return bool(
        (traffic_rose(evidence) and not absorbed)
        or strain_facts(evidence)
        or alerted_strain(evidence)
        or any(
            QUEUE_NAME.search(f"{m.name} {m.query}")
            and is_rate(m)
            and (g := metric_growth(m)) is not None
            and g >= DOUBLING
            for m in evidence.metrics
        )
    )


def _capacity_taken(evidence: Evidence, hpa: str | None) -> bool:
    """Whether the replicas of the workload ``hpa`` scales were cut to CAPACITY_CUT or less
    within the window (``replicas_cut``: its maximum lowered, or scaled down by hand) while
    demand did not fall as much (``demand_fell_with``): the remaining pods carry the load
    the others carried, so their throttling follows the cut."""
    scaler = next((h for h in evidence.autoscalers if h.name == hpa), None)
    if scaler is None or scaler.target is None:
        return False
    cut = replicas_cut(evidence, scaler.target)
    return (
        cut is not None
        and cut.after <= CAPACITY_CUT * cut.before
        and not demand_fell_with(evidence, cut)
    )


def hpa_doubt(evidence: Evidence, hpa: str | None) -> tuple[str, EvidenceItem] | None:
    """Why an autoscaler at its maximum is not short of replicas, with the fact that says so.
    Its pods are throttled in HEAVILY_THROTTLED_SHARE of their CFS periods or more while
    demand did not grow by half: the CPU limit caps each pod, and a CPU target reads
    throttled pods as busy, so more of them add little. Or it scaled up during the window
    while the request rate stayed flat: each request takes longer (a slower dependency,
    costlier code), demand did not grow. Or its calls to a dependency are refused for rate:
    more replicas make more calls and earn more refusals. Or its pods went idle while their
    calls to a dependency time out (``idle_waiting``): they wait on it, not on CPU. Neither
    throttling nor a rescale in the window doubts it when its replicas were cut meanwhile
    (``_capacity_taken``: its maximum lowered while demand stayed): the same load on fewer pods."""
    refused = rate_limited_calls(evidence)
    if refused and limiting_service(evidence, refused) is not None:
        return (
            "Its calls are refused for rate (429 Too Many Requests): more replicas make more "
            "calls to a callee that caps them",
            item(refused[0].source, refused[0].line),
        )
    ratios = throttle_ratios(evidence)
    worst = max(ratios.items(), key=lambda kv: kv[1], default=None)
    # Its replicas cut in the window (its maximum lowered): the remaining pods carry the
    # load of the others, so neither their throttling nor that rescale says it is not short.
    taken = _capacity_taken(evidence, hpa)
    # With demand up by half or more, throttling is what the load does, not why it is short.
    if (
        worst is not None
        and worst[1] >= HEAVILY_THROTTLED_SHARE
        and not traffic_rose(evidence)
        and not taken
    ):
        container, share = worst
        fact = item(
            "metrics",
            f"{prose.percent(share)} of CFS periods throttled"
            + (f" for {container}" if container else ""),
        )
        return (
            f"Its pods are throttled by their CPU limit in {prose.percent(share)} of CFS "
            "periods: the limit caps them, not the number of replicas",
            fact,
        )
    if (idle := idle_waiting(evidence)) is not None:
        return idle
    flat = flat_demand(evidence)
    scaled = any(
        c.kind == "scaling"
        and (hpa is None or c.object.name == hpa)
        and (age := seconds_before(evidence, c.at)) is not None
        and age <= WINDOW_SECONDS
        for c in evidence.changes
    )
    if flat is not None and scaled and not taken:
        return (
            "It scaled up in the last hour while the request rate stayed flat: requests take "
            "longer, demand did not grow",
            flat,
        )
    if (callee := callee_rollout_doubt(evidence)) is not None:
        return callee
    return caller_doubt(evidence)
