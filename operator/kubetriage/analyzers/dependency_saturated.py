"""The dependency-saturated rule: a followed dependency that is up says, in its own words,
that it has reached the most work it takes at once (CoreDNS's forwarder at
``max_concurrent``, nginx out of ``worker_connections``, Tomcat with every thread busy,
PHP-FPM at ``pm.max_children``), while the caller's failing calls go through it. More of it
is the fix: ``resource-saturation``, scale the dependency's workload out (its per-replica
limit stays sane; more replicas share the load), as an SRE does for a cluster DNS drowned by
a traffic surge.

The dependency-overflow rule reads the caller's proxy the way Envoy documents its response
flags (``kubetriage.envoy_flags``): a 503 flagged ``UO`` is the callee's cluster circuit
breaker shedding what the callee does not keep up with, not the proxy's fault nor a server
error. When those lines name a followed dependency whose pods are all ready and whose
autoscaler already runs its maximum of replicas, the callee is short of capacity:
``resource-saturation``, raise its autoscaler's maximum (scale it out). A callee that is down
(``UH``/``UF``: no healthy upstream, connect failure) is another story, told by the
dependency-failure rules.

The dependency-at-maximum rule needs no proxy: calls to a followed dependency (from the
caller, or from a service between them) time out waiting for its answer, or are turned away
as overloaded (503 or 429 with a Retry-After, HTTP's "come back later"), while it is up, all
replicas ready, and its autoscaler runs its maximum and says it wants more (ScalingLimited
TooManyReplicas). The callee is short of replicas, however far down the request path it sits:
``resource-saturation``, raise its autoscaler's maximum. Calls that only slow down count too,
less surely, when the firing alert says the caller is slow and the saturated dependency is the
one callee the caller's configuration names: its answers are where the time goes (a database
router pinned at its maximum answers every query late, none of them fail). So does a surge:
the caller's own request rate rose and the dependency is the one service its configuration
(env, or a mounted file: a cache's backend) routes to; a cache passes on every miss, and a
surge of objects it has not seen yet (or may keep only seconds) lowers its hit ratio without
anything of its own changing.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller, dependency_hits
from kubetriage.analyzers.demand import latency_alert, rising_traffic
from kubetriage.analyzers.dependencies import caller_fails_on, configured_in_env
from kubetriage.analyzers.log_signatures import (
    ANSWER_TIMEOUT_LOG,
    OVERLOAD_REJECTION_LOG,
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.saturation import at_maximum, maxed_autoscaler_item, scaling_limited
from kubetriage.analyzers.support import item, log_source, metric_growth
from kubetriage.envoy_flags import alerts_say_overflow, says_overflow
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import AutoscalerEvidence, LogTail, PodCondition
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a saturated-dependency finding is, by the evidence that earns it."""

    # The dependency says it is at its concurrency limit, and the caller's failing calls
    # go through it: above the caller's surface (its failing lookups or calls, 0.7 to 0.83).
    saturated: float = 0.88
    # The caller's proxy sheds calls to the dependency with Envoy's upstream-overflow flag
    # (its circuit breaker) while the dependency, all replicas ready, runs its autoscaler's
    # maximum: as for the workload's own autoscaler at its maximum (0.8), above the caller's
    # failing calls (dependency-failure, 0.5 to 0.83) ...
    overflow_at_maximum: float = 0.85
    limited_bonus: float = 0.03  # ... and the autoscaler reports ScalingLimited
    # Calls to the dependency time out waiting for its answer (in the caller's logs, or in
    # those of a service between them) while it is up, all replicas ready, and its autoscaler
    # runs its maximum and reports it wants more (ScalingLimited): as for the workload's own
    # autoscaler at its maximum (0.8), above the demand the caller sees pass through it (0.6
    # to 0.7) and the escalation of a Service its failing calls name (at most 0.83 with a
    # healthy caller, which is not what a saturated callee needs).
    timeouts_at_maximum: float = 0.84
    # ... or turns them away as overloaded (503 or 429 with a Retry-After): the callee says
    # itself it has no room, as sure as the calls that wait on it.
    rejections_at_maximum: float = 0.84
    # ... or the caller is only slow (its latency alert fires) and the saturated dependency
    # is the one callee its configuration names: where else the time goes is not read, so
    # below the calls that fail on it, above the demand the caller sees pass (0.6 to 0.7).
    slow_at_maximum: float = 0.76
    # ... or the caller's own request rate rose (RISE) and the dependency is the one service
    # its configuration (env or a mounted file: a cache's backend) routes to: the surge it
    # passes on lands there, a new revision of the caller is no longer the likelier cause.
    surge_at_maximum: float = 0.78


CONFIDENCE: Final = _Confidence()

# An HTTP 504 (RFC 9110 15.6.5, Gateway Timeout) in a failed call's line, as a status field
# or in words: the proxy in front of the callee gave up waiting for its answer.
GATEWAY_TIMEOUT = re.compile(
    r"(?i)(?:\bstatus(?:[ _]?code)?|\bcode|HTTP/\d(?:\.\d)?)\"?[=: ]+\"?504\b"
    r"|\b504 gateway time-?out\b|upstream request timeout"
)

# The words servers print when every slot they serve from is taken. The OpenTelemetry
# Collector's memory_limiter says so of its memory: above its soft limit it refuses what its
# receivers take (a retryable error the senders' SDKs retry, or block on) until the data it
# holds drains.
SATURATED = re.compile(
    r"(?i)(concurrent queries exceeded maximum|worker_connections are not enough"
    r"|all threads \(\d+\) are currently busy|server reached (pm\.)?max_children setting"
    r"|memory usage is above soft limit\. refusing data)"
)

# A relay that holds what it cannot pass on: its own exports fail or its queue to the next
# hop is full. Then its refusals are the next hop's doing, and more relays would only hold
# more (the collector's exporterhelper words).
_ONWARD_FAILING = re.compile(
    r"(?i)(exporting failed|sending queue is full|dropping data because sending_queue is full)"
)


def check_dependency_saturated(evidence: Evidence) -> list[Finding]:
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        said = [
            (log, line) for log in dependency.logs for line in log.lines if SATURATED.search(line)
        ]
        onward = any(_ONWARD_FAILING.search(line) for log in dependency.logs for line in log.lines)
        if not said or onward or not caller_fails_on(evidence, dependency):
            continue
        facts = [item(f"{log_source(log)} (dependency)", line) for log, line in said[:2]]
        named = item(
            "dependency", f"{workload.display()} is named by {dependency.named_by[0].text}"
        )
        who = caller(evidence)
        return [
            make_finding(
                "dependency-saturated",
                Category.RESOURCE_SATURATION,
                CONFIDENCE.saturated,
                prose.narrative(
                    f"{prose.obj(workload)} is at its capacity and fails the calls of {who}",
                    "scale it out",
                    because=[
                        prose.claim(
                            f"{prose.obj(workload)} says it takes no more work at once", *facts
                        ),
                        prose.claim(f"The failing calls of {who} go through it", named),
                        prose.claim("More replicas share the load"),
                    ],
                ),
                [*facts, named],
                Action.SCALE_OUT,
                workload,
            )
        ]
    return []


def _overflow_lines(evidence: Evidence) -> list[tuple[LogTail, str]]:
    """The caller's own log lines saying Envoy shed a call for upstream overflow."""
    return [(log, line) for log in evidence.logs for line in log.lines if says_overflow(line)]


def _names(dependency: DependencyEvidence, line: str) -> bool:
    service = dependency.service
    return service is not None and any(
        service_for_host(host, [service]) is not None for host in hosts_in(line)
    )


def up_and_ready(dependency: DependencyEvidence) -> bool:
    """All its replicas ready and none failing: a callee that is up, only short of room."""
    return (
        not dependency.short_of_ready()
        and not dependency.failing_pods
        and (dependency.ready_replicas or 0) >= max(dependency.desired_replicas or 0, 1)
    )


def check_dependency_overflow(evidence: Evidence) -> list[Finding]:
    lines = _overflow_lines(evidence)
    alerted = alerts_say_overflow(a.labels for a in evidence.alerts)
    if not lines and not alerted:
        return []
    candidates = []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        hpa = next((h for h in dependency.autoscalers if at_maximum(h)), None)
        if hpa is None or not up_and_ready(dependency):
            continue
        named = [(log, line) for log, line in lines if _names(dependency, line)]
        candidates.append((dependency, workload, hpa, named))
    named_ones = [c for c in candidates if c[3]]
    # Lines naming the callee decide; else one callee at its maximum is the one the
    # flagged calls went to.
    chosen = named_ones[:1] or (candidates if len(candidates) == 1 else [])
    for dependency, workload, hpa, named in chosen:
        said = named or lines
        facts = [item(log_source(log), line) for log, line in said[:2]]
        if alerted and not said:
            labels = next(a.labels for a in evidence.alerts if alerts_say_overflow([a.labels]))
            facts.append(
                item("alert", f"{labels.get('alertname', 'the alert')} counts response flag UO")
            )
        limited = scaling_limited(hpa)
        who = caller(evidence)
        return [
            _raise_maximum(
                "dependency-overflow",
                CONFIDENCE.overflow_at_maximum
                + (CONFIDENCE.limited_bonus if limited is not None else 0.0),
                [
                    f"{prose.obj(workload)} overflows the circuit breaker of {who}'s "
                    f"proxy at its autoscaler's maximum of "
                    f"{prose.count(hpa.max_replicas, 'replica')}",
                    f"{prose.obj(workload)} overflows its callers' circuit breaker at "
                    "its autoscaler's maximum",
                    f"{prose.obj(workload)} is at its autoscaler's maximum",
                ],
                prose.claim(
                    "The proxy answers 503 with Envoy's upstream-overflow flag (UO): "
                    "the callee's circuit breaker is full of calls waiting on it",
                    *facts,
                ),
                "runs as many replicas as it may",
                "More replicas take the calls the breaker now sheds",
                facts,
                dependency,
                workload,
                hpa,
                limited,
            )
        ]
    return []


def _timed_out_calls(
    evidence: Evidence, dependency: DependencyEvidence
) -> list[tuple[LogTail, str]]:
    """Log lines, of the caller or of any dependency walked (a service between the caller and
    this one), that name ``dependency`` and say the call timed out waiting for its answer.
    Failing as well, when this dependency is the one callee the caller's configuration names:
    the caller's failed calls that name no host and were answered 504 (a gateway's, a mesh
    proxy's, "waited in vain for the upstream's answer") or timed out waiting for an answer
    (a client's own budget spent, the host left to its configuration)."""
    tails = [*evidence.logs, *(log for d in evidence.dependencies for log in d.logs)]
    named = [
        (log, line)
        for log in tails
        for line in log.lines
        if ANSWER_TIMEOUT_LOG.search(line) and _names(dependency, line)
    ]
    if named or not _sole_configured_callee(evidence, dependency):
        return named
    gateway = [
        (hit.log, hit.line)
        for hit in dependency_hits(evidence)
        if GATEWAY_TIMEOUT.search(hit.line) and not hosts_in(hit.line)
    ]
    waited = [
        (log, line)
        for log in evidence.logs
        for line in log.lines
        if ANSWER_TIMEOUT_LOG.search(line) and not hosts_in(line)
    ]
    return gateway + [w for w in waited if w not in gateway]


def _rejected_calls(
    evidence: Evidence, dependency: DependencyEvidence
) -> list[tuple[LogTail, str]]:
    """Log lines, of the caller or of any dependency walked, that name ``dependency`` and say
    it turned the call away as overloaded (``OVERLOAD_REJECTION_LOG``)."""
    tails = [*evidence.logs, *(log for d in evidence.dependencies for log in d.logs)]
    return [
        (log, line)
        for log in tails
        for line in log.lines
        if OVERLOAD_REJECTION_LOG.search(line) and _names(dependency, line)
    ]


def _slow_caller(evidence: Evidence, dependency: DependencyEvidence) -> list[EvidenceItem]:
    """The firing alert that says the caller is slow, when ``dependency`` is the one callee
    the caller's configuration names; empty otherwise."""
    if not _sole_configured_callee(evidence, dependency):
        return []
    return latency_alert(evidence)


def _sole_configured_callee(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """The dependency is named by the caller's env, and no other dependency is."""
    return configured_in_env(dependency) and not any(
        configured_in_env(d) for d in evidence.dependencies if d is not dependency
    )


def _configured(dependency: DependencyEvidence) -> bool:
    """Named by the caller's env or by a ConfigMap its pods mount (a proxy's backend)."""
    return any(source.kind in ("env", "config-map") for source in dependency.named_by)


def _surge_through(evidence: Evidence, dependency: DependencyEvidence) -> list[EvidenceItem]:
    """The caller's request rate that rose, when ``dependency`` is the one service its
    configuration routes to; empty otherwise."""
    rising = rising_traffic(evidence)
    if rising is None or not _configured(dependency):
        return []
    if any(_configured(d) for d in evidence.dependencies if d is not dependency):
        return []
    growth = metric_growth(rising) or 0.0
    return [item("metrics", f"{rising.name} rose about {growth:.1f}x over the window")]


def check_dependency_at_maximum(evidence: Evidence) -> list[Finding]:
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        hpa = next((h for h in dependency.autoscalers if at_maximum(h)), None)
        limited = scaling_limited(hpa) if hpa is not None else None
        if hpa is None or limited is None or not up_and_ready(dependency):
            continue
        timed_out = _timed_out_calls(evidence, dependency)
        rejected = [] if timed_out else _rejected_calls(evidence, dependency)
        slow = [] if timed_out or rejected else _slow_caller(evidence, dependency)
        surge = [] if timed_out or rejected or slow else _surge_through(evidence, dependency)
        if not timed_out and not rejected and not slow and not surge:
            continue
        facts = [item(log_source(log), line) for log, line in (timed_out or rejected)[:2]]
        who = caller(evidence)
        maximum = prose.count(hpa.max_replicas, "replica")
        if surge:
            facts = surge
            confidence = CONFIDENCE.surge_at_maximum
            problem = f"The traffic {who} passes on outgrows {prose.obj(workload)}"
            calls = prose.claim(
                f"{who} gets more requests, and {workload.name} is the one service its "
                "configuration sends them to",
                *facts,
            )
            more = "More replicas serve the traffic it can no longer keep up with"
        elif slow:
            facts = slow
            confidence = CONFIDENCE.slow_at_maximum
            problem = f"{who} is slow on {prose.obj(workload)}"
            calls = prose.claim(
                f"{who} is slow, and {workload.name} is the one service its configuration calls",
                *facts,
            )
            more = "More replicas answer the calls it now answers late"
        elif timed_out:
            confidence = CONFIDENCE.timeouts_at_maximum
            problem = f"Calls of {who} wait on {prose.obj(workload)}"
            calls = prose.claim(f"Calls to {workload.name} time out waiting for its answer", *facts)
            more = "More replicas answer the calls that now wait"
        else:
            confidence = CONFIDENCE.rejections_at_maximum
            problem = f"{prose.obj(workload)} turns away the calls of {who} as overloaded"
            calls = prose.claim(
                f"Calls to {workload.name} are turned away with 503 or 429 and a Retry-After, "
                "HTTP's 'come back later': it has no room for them",
                *facts,
            )
            more = "More replicas take the calls it now turns away"
        return [
            _raise_maximum(
                "dependency-at-maximum",
                confidence,
                [
                    f"{problem}, which runs its autoscaler's maximum of {maximum}",
                    f"{prose.obj(workload)} is at its autoscaler's maximum",
                ],
                calls,
                "its autoscaler wants more replicas than its maximum allows",
                more,
                facts,
                dependency,
                workload,
                hpa,
                limited,
            )
        ]
    return []


def _raise_maximum(
    name: str,
    confidence: float,
    problems: list[str],
    calls: Claim,
    at_most: str,
    more: str,
    facts: list[EvidenceItem],
    dependency: DependencyEvidence,
    workload: ObjectRef,
    hpa: AutoscalerEvidence,
    limited: PodCondition | None,
) -> Finding:
    """A followed dependency, up with every replica ready at its autoscaler's maximum, that
    its callers' calls wait on: scale it out (raise the maximum)."""
    maxed = maxed_autoscaler_item(hpa, limited)
    ready = item(
        "dependency",
        f"{workload.display()} is named by {dependency.named_by[0].text}; "
        f"{dependency.ready_replicas}/{dependency.desired_replicas} replicas ready",
    )
    fix = f"raise the maximum to {hpa.max_replicas * 2}"
    return make_finding(
        name,
        Category.RESOURCE_SATURATION,
        confidence,
        prose.narrative(
            prose.fitting_problem(problems, fix),
            fix,
            because=[
                calls,
                prose.claim(
                    f"{prose.obj(workload)} is up, all replicas ready, and {at_most}",
                    ready,
                    maxed,
                ),
                prose.claim(more),
            ],
        ),
        [*facts, maxed, ready],
        Action.SCALE_OUT,
        workload,
        {"replicas": str(hpa.max_replicas * 2), "hpa": hpa.name},
    )


DEPENDENCY_SATURATED_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("dependency-saturated", (Category.RESOURCE_SATURATION,), check_dependency_saturated),
    Analyzer("dependency-overflow", (Category.RESOURCE_SATURATION,), check_dependency_overflow),
    Analyzer("dependency-at-maximum", (Category.RESOURCE_SATURATION,), check_dependency_at_maximum),
)
