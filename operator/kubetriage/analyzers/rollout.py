"""The bad-rollout rule: a new revision that broke a working workload. Its new pods fail
while the previous revision's serve, it missed its progress deadline, only its pods log
server errors while the previous revision's pods serve beside them cleanly (a paused or
partial rollout), or errors, latency or CPU stepped up right after it rolled out (with
traffic unchanged); the fix is to roll back
to the previous revision. Lowered when the failing pods' own analyzers name the precise
cause (an image that cannot be pulled, a missing ConfigMap), and when they only wait on a
dependency that is down for everyone (its own pods fail): the dependency's outage is the
cause, not the revision.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import (
    ERROR_NAME,
    LATENCY_NAME,
    is_rate,
    is_traffic,
    traffic_rose,
)
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.support import (
    CPU_USAGE,
    DEPENDENCY_LOG,
    DOUBLING,
    RECENT_ROLLOUT,
    RISE,
    current_and_previous_revision,
    grep_logs,
    hosts_in,
    item,
    log_source,
    logs_of,
    metric_growth,
    pod_revision,
    pod_source,
    seconds_before,
    service_for_host,
    timestamp,
    workload_ref,
)
from kubetriage.models.evidence import Evidence, PodEvidence, ServiceEvidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a bad-rollout finding is, by the evidence that earns it."""

    failing_after_serving: float = 0.8  # the new revision's pods fail; the previous one served
    failing_recent: float = 0.7  # ... its service not in evidence, the rollout recent
    failing: float = 0.45  # ... and the rollout is not recent
    errors_recent: float = 0.7  # errors stepped up after a recent rollout, or only its pods
    # log server errors while the previous revision's pods serve beside them without any
    load_recent: float = 0.6  # latency or CPU stepped up after a recent rollout
    stalled: float = 0.6  # the rollout missed its progress deadline, or errors rose after it
    weak: float = 0.45  # nothing stronger than the above
    deadline_bonus: float = 0.05  # the rollout missed its progress deadline
    overload_bonus: float = 0.05  # new pods fail and load rose, with the same traffic as before
    image_bonus: float = 0.03  # the rollout changed an image
    specific_cap: float = 0.5  # every failing pod shows a cause with its own rule (image...)
    dependency_down_cap: float = 0.6  # every failing pod waits on a dependency that is down
    cap: float = 0.9  # the most a bad-rollout finding claims


CONFIDENCE: Final = _Confidence()


def check_bad_rollout(evidence: Evidence) -> list[Finding]:
    current, previous = current_and_previous_revision(evidence)
    target = workload_ref(evidence)
    if current is None or previous is None or target is None:
        return []
    if target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return []
    new_pods = [p for p in evidence.pods if pod_revision(p, evidence) == current]
    old_pods = [
        p
        for p in evidence.pods
        if (r := pod_revision(p, evidence)) is not None and r.revision < current.revision
    ]
    new_failing = [p for p in new_pods if pod_failing(p)]
    old_healthy = [p for p in old_pods if not pod_failing(p)]
    old_failing = [p for p in old_pods if pod_failing(p)]
    conditions = evidence.workload.conditions if evidence.workload else []
    deadline = next(
        (
            c
            for c in conditions
            if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded"
        ),
        None,
    )
    errors_after = _errors_rose_after(evidence, current.created_at) or _errors_only_in_new_pods(
        evidence, new_pods, old_healthy
    )
    recent = current.created_at is not None and (
        timestamp(evidence.collected_at) - timestamp(current.created_at)
        <= RECENT_ROLLOUT.total_seconds()
    )
    # Load that rose days after a revision went out says nothing about that revision.
    # Latency and CPU that rose with traffic are demand, not the new code's cost.
    load_after = (
        _load_rose_after(evidence, current.created_at)
        if recent and not traffic_rose(evidence)
        else []
    )
    if not new_failing and deadline is None and not errors_after and not load_after:
        return []
    if old_failing and not old_healthy:
        return []  # the old revision fails too: the change is not what broke it
    previous_was_serving = bool(old_healthy) or previous.ready_replicas > 0
    if new_failing and previous_was_serving:
        confidence = CONFIDENCE.failing_after_serving
    elif new_failing and recent:
        confidence = CONFIDENCE.failing_recent
    elif new_failing:
        confidence = CONFIDENCE.failing
    elif errors_after and recent:
        confidence = CONFIDENCE.errors_recent
    elif load_after and recent:
        confidence = CONFIDENCE.load_recent
    else:
        stalled = deadline is not None or errors_after
        confidence = CONFIDENCE.stalled if stalled else CONFIDENCE.weak
    if deadline is not None:
        confidence += CONFIDENCE.deadline_bonus
    if new_failing and load_after and not traffic_rose(evidence):
        confidence += CONFIDENCE.overload_bonus
    changed = {
        name: (previous.images.get(name), image)
        for name, image in current.images.items()
        if previous.images.get(name) not in (None, image)
    }
    if changed:
        confidence += CONFIDENCE.image_bonus
    specific = [p for p in new_failing if _specific_cause(p)]
    if specific and len(specific) == len(new_failing):
        # The image-pull or config-missing finding names what the new revision got wrong
        # (and proposes the rollback itself); this stays a low-weight alternative.
        confidence = min(confidence, CONFIDENCE.specific_cap)
    down = _down_dependencies(evidence)
    if new_failing and all(_waits_on(p, down, evidence) for p in new_failing):
        # The new pods block on a callee that is down for everyone (its own pods fail): the
        # revision only started after the callee broke, and rolling back would not serve.
        confidence = min(confidence, CONFIDENCE.dependency_down_cap)
    replaced = item(
        "revision",
        f"revision {current.revision} ({current.name}) replaced revision "
        f"{previous.revision} ({previous.name})"
        + "".join(f"; {c}: {old} -> {new}" for c, (old, new) in changed.items()),
    )
    facts: list[EvidenceItem] = [replaced]
    if deadline is not None:
        facts.append(
            item(
                f"{target.kind.lower()}/{target.namespace}/{target.name}",
                f"Progressing=False ProgressDeadlineExceeded: {deadline.message or ''}",
            )
        )
    failing = [item(pod_source(p), _pod_problem(p)) for p in new_failing[:3]]
    facts.extend(failing)
    facts.extend(errors_after[:2])
    facts.extend(load_after[:2])
    still: EvidenceItem | None = None
    if old_healthy:
        still = item(
            "revision",
            f"{prose.count(len(old_healthy), 'pod')} of revision {previous.revision} still ready",
        )
        facts.append(still)
    images = [
        f"{c} {prose.image(old or '')} to {prose.image(new)}" for c, (old, new) in changed.items()
    ]
    rolled = seconds_before(evidence, current.created_at)
    because = [
        prose.claim(
            f"Revision {current.revision} replaced revision {previous.revision}"
            + (f" {prose.duration(rolled)} ago" if rolled is not None else "")
            + (f", changing {prose.listing(images)}" if images else ""),
            replaced,
        )
    ]
    if new_failing:
        because.append(
            prose.claim(
                f"{len(new_failing)} of its {prose.count(len(new_pods), 'new pod')} "
                f"{prose.be(len(new_failing))} unhealthy",
                *failing,
            )
        )
    if errors_after or load_after:
        because.append(
            prose.claim(
                "Errors or load stepped up after the rollout",
                *(errors_after[:1] + load_after[:1]),
            )
        )
    if still is not None:
        because.append(prose.claim(f"Pods of revision {previous.revision} still serve", still))
    elif deadline is not None:
        because.append(prose.claim("The rollout missed its progress deadline", facts[1]))
    if new_failing:
        problem = f"Revision {current.revision} of {prose.obj(target)} is failing"
        aside = f"{len(new_failing)} of {prose.count(len(new_pods), 'new pod')} unhealthy"
    else:
        problem = f"{prose.obj(target)} degraded after revision {current.revision} rolled out"
        aside = ""
    return [
        make_finding(
            "bad-rollout",
            Category.BAD_ROLLOUT,
            min(confidence, CONFIDENCE.cap),
            prose.narrative(
                problem,
                f"roll back to revision {previous.revision}",
                aside=aside,
                because=because[:4],
            ),
            facts,
            Action.ROLLBACK,
            target,
            {"revision": str(previous.revision)},
        )
    ]


_SPECIFIC_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
    }
)


def _specific_cause(pod: PodEvidence) -> bool:
    return any(
        c.state.state == "waiting" and c.state.reason in _SPECIFIC_WAITING for c in pod.containers
    )


def _down_dependencies(evidence: Evidence) -> list[ServiceEvidence]:
    """The followed dependencies that cannot serve anyone: pods behind them fail, or none of
    their endpoints is ready."""
    return [
        d.service
        for d in evidence.dependencies
        if d.service is not None
        and d.pods > 0
        and (d.failing_pods or d.service.ready_endpoints == 0)
    ]


def _waits_on(pod: PodEvidence, down: list[ServiceEvidence], evidence: Evidence) -> bool:
    """Whether the pod's own logs report failing calls to one of the ``down`` Services."""
    return any(
        service_for_host(host, down) is not None
        for hit in grep_logs(logs_of(evidence, pod), DEPENDENCY_LOG, limit=10)
        for host in hosts_in(hit.line)
    )


# A request the server failed, as its own log says it: an HTTP 5xx in an access-log or
# structured line, an error-level record, a stack trace.
_SERVER_ERROR_LOG = re.compile(
    r'(?i)(\b(status|code|status_?code)"?\s*[=:]\s*"?5\d\d\b|" 5\d\d \d|\bHTTP/[\d.]+"? 5\d\d\b|'
    r'"level"\s*:\s*(50|"error")|\blevel=error\b|\[error\]|(?-i:\bERROR\b)|'
    r"traceback \(most recent call last\)|exception in thread|internal server error)"
)


def _errors_only_in_new_pods(
    evidence: Evidence, new_pods: list[PodEvidence], old_healthy: list[PodEvidence]
) -> list[EvidenceItem]:
    """Server errors in the logs of the new revision's pods while the previous revision's
    pods, serving beside them (a paused or partial rollout), log none: the same requests
    fail only on the new code, whatever callee the errors name."""
    old_read = [logs_of(evidence, p) for p in old_healthy]
    old_read = [logs for logs in old_read if any(log.lines for log in logs)]
    if not old_read or any(grep_logs(logs, _SERVER_ERROR_LOG, limit=1) for logs in old_read):
        return []
    hits = [
        hit for p in new_pods for hit in grep_logs(logs_of(evidence, p), _SERVER_ERROR_LOG, limit=2)
    ]
    return [
        item(log_source(hit.log), f"only the new revision logs errors: {hit.line}")
        for hit in hits[:2]
    ]


def _errors_rose_after(evidence: Evidence, rolled_out: datetime | None) -> list[EvidenceItem]:
    """Error-rate series (5xx ratios...) that stepped up at or after the rollout."""
    return _rose_after(evidence, rolled_out, ERROR_NAME, DOUBLING)


def _load_rose_after(evidence: Evidence, rolled_out: datetime | None) -> list[EvidenceItem]:
    """Latency or CPU usage that stepped up at or after the rollout: with traffic unchanged,
    the new code does more work per request (a costly regex, a lost cache, a hot loop)."""
    cpu = re.compile(re.escape(CPU_USAGE))
    return _rose_after(evidence, rolled_out, LATENCY_NAME, RISE) + _rose_after(
        evidence, rolled_out, cpu, DOUBLING
    )


def _rose_after(
    evidence: Evidence, rolled_out: datetime | None, name: re.Pattern[str], factor: float
) -> list[EvidenceItem]:
    if rolled_out is None:
        return []
    facts: list[EvidenceItem] = []
    for metric in evidence.metrics:
        label = f"{metric.name} {metric.query}"
        if not name.search(label) or not is_rate(metric) or metric.last is None:
            continue
        if is_traffic(metric):
            continue  # more requests are demand, not the new code's cost
        growth = metric_growth(metric)
        stepped = metric.changed_at is not None and timestamp(metric.changed_at) >= timestamp(
            rolled_out
        )
        if growth is not None and growth >= factor and metric.last > 0 and stepped:
            facts.append(
                item(
                    "metrics",
                    f"{metric.name or metric.query} rose to {prose.number(metric.last)} "
                    "after the rollout",
                )
            )
    return facts


def _pod_problem(pod: PodEvidence) -> str:
    for container in pod.containers:
        if container.state.state != "running" or container.ready is False:
            reason = container.state.reason or container.state.state
            return (
                f"{container.name}: {reason}, ready={container.ready}, "
                f"restarts {container.restart_count}"
            )
    return f"phase {pod.phase}"


ROLLOUT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("bad-rollout", (Category.BAD_ROLLOUT,), check_bad_rollout),
)
