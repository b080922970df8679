"""The slow-callee rule: the workload's own client metrics say what each call to a server
costs it (OpenTelemetry's ``http.client.request.duration`` by ``server.address``, queried as
``client_call_seconds``), and the calls to one Service of the evidence became many times
slower than before, to well past what a healthy in-cluster call takes, while the workload's
own pods stay ready. Requests then pile up behind that callee (more in flight, a full
connection pool, timeouts), and the caller's CPU falls rather than rises: the caller waits,
it does not work. An SRE hands that to the callee's owner (dependency-failure, escalate to
its Service); adding caller replicas only opens more connections to the slow callee.

A call that got slower by less, or stays fast in absolute terms, is not this finding; nor a
server address no Service of the evidence answers to (an outside host: the egress path or the
provider, which the evidence cannot tell apart).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import followed_services, service_fact
from kubetriage.analyzers.log_signatures import service_for_host
from kubetriage.analyzers.support import item, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a slow-callee finding is, by the evidence that earns it."""

    # Calls to one Service of the evidence take SLOWER times longer than before, and at least
    # SLOW_SECONDS each, while the caller's pods are ready.
    slower_calls: float = 0.72


CONFIDENCE: Final = _Confidence()
NAME: Final = "slow-callee"
TEMPLATE: Final = "client_call_seconds"
# How many times longer than before a call must take, and how long at least: a call in the
# cluster answers in milliseconds; a tenfold rise past half a second is a callee in trouble.
SLOWER: Final = 5.0
SLOW_SECONDS: Final = 0.5


def _slowdown(metric: MetricSummary) -> tuple[float, float] | None:
    """(before, now) seconds per call when the calls became SLOWER times slower, past
    SLOW_SECONDS; None otherwise."""
    before = metric.before if metric.shape == "step" else metric.first
    now = metric.after if metric.shape == "step" else metric.last
    if before is None or now is None or before <= 0:
        return None
    if now < SLOW_SECONDS or now < SLOWER * before:
        return None
    return before, now


def check_slow_callee(evidence: Evidence) -> list[Finding]:
    if any(
        not c.ready or c.restart_count > 0
        for p in evidence.pods
        for c in p.containers
        if not c.init
    ):
        return []  # the caller's own pods fail: their own story first
    services = [*evidence.services, *followed_services(evidence)]
    caller = workload_ref(evidence)
    findings: list[Finding] = []
    for metric in evidence.metrics:
        host = metric.labels.get("server_address")
        if metric.name != TEMPLATE or not host:
            continue
        slowed = _slowdown(metric)
        service = service_for_host(host, services)
        if slowed is None or service is None:
            continue
        before, now = slowed
        target = service.ref()
        calls = item(
            "metrics",
            f"seconds per call to {host}: {prose.number(before)} -> {prose.number(now)}",
        )
        findings.append(
            make_finding(
                NAME,
                Category.DEPENDENCY_FAILURE,
                CONFIDENCE.slower_calls,
                prose.narrative(
                    f"Calls to {prose.obj(target)} became {prose.number(now / before)} times "
                    "slower",
                    "escalate to its owner",
                    because=[
                        prose.claim(
                            f"{prose.obj(caller) if caller else 'The workload'} waits "
                            f"{prose.number(now)}s per call to it, "
                            f"{prose.number(before)}s before",
                            calls,
                        ),
                        prose.claim(
                            "The caller's pods are ready and not restarting: it waits on the "
                            "callee, more of its replicas would only open more connections",
                            service_fact(service),
                        ),
                    ],
                ),
                [calls, service_fact(service)],
                Action.ESCALATE,
                target,
                {"service": service.name},
            )
        )
        break
    return findings


SLOW_CALLEE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.DEPENDENCY_FAILURE,), check_slow_callee),
)
