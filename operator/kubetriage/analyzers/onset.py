"""When the symptom began: the first Warning event, the first step of a symptom series (errors,
latency, memory, CPU, restarts; never the request rate itself) or of the throttling of a hop
in the request path in front of the workload, the alert's own start, and
the rollout on the metrics' clock, and whether a change served without the symptom for a
while before a series stepped (``served_before_step``). Change correlation (``changes``), a
callee's change (``dependencies``), a caller's rollout (``client_rollout``) and the status
timeline measure the delay from a change to this onset.

Pure functions of Evidence.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from kubetriage import prose
from kubetriage.analyzers.cfs import request_path_throttle_steps
from kubetriage.analyzers.demand import counts_failures, is_traffic
from kubetriage.analyzers.log_signatures import FILLED_LOG, SERVER_ERROR_LOG
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.probe_blips import never_unready, readiness_blip
from kubetriage.analyzers.support import (
    RISE,
    grep_logs,
    item,
    metric_growth,
    of_callee,
    timestamp,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import EventEvidence, MetricSummary

# A symptom that begins this soon after a change is attributed to it.
ONSET_AFTER_CHANGE = timedelta(hours=2)
# Clock skew and scrape intervals: a symptom "one minute before" a change is the same moment.
ONSET_TOLERANCE = timedelta(minutes=2)
# A change that was live this long before a symptom series stepped up, while the series was
# seen at its earlier level after the change, did not cause the step: the new revision (or the
# edit) served without the symptom in between, so the step has another cause (a dependency, a
# spike in traffic, a node, a scheduled job). A delay the change itself explains (a leak, a
# filling volume) ramps from the change instead of stepping long after it, or says in the logs
# that something filled up (``filling_since``).
SERVED_BEFORE_STEP = timedelta(minutes=30)
# ... and for at least this long in the samples (not inferred from a gap before the window).
SEEN_SERVING = timedelta(minutes=5)
# A Warning event last seen this long before the alert began, and not since (a readiness
# probe that failed once in the night), is an earlier episode that ended, not the onset of
# the symptom the alert reports: an alert fires minutes after its symptom starts, and a
# symptom still going on keeps its events coming.
ENDED_BEFORE_ALERT = timedelta(hours=1)
# A readiness probe that failed a few times on a pod that is ready again and never restarted
# (``probe_blips``) took nothing out of service: last seen this long before the alert fired,
# it was a blip the pod recovered from, not the start of the episode the alert reports. One
# seen fewer times than the pod's readiness failureThreshold never took the pod out of its
# endpoints at all (``never_unready``): it dates nothing, however close to the alert.
BLIP_ENDED_BEFORE_ALERT = timedelta(minutes=30)
# Series that count a failure by their name: a container's restarts, the OOM killer's kills.
_FAILURE_COUNT = re.compile(r"(?i)(restarts|oom_?kill)")
# Terminations that are the symptom's, not a rollout's or a scale-in's.
_FAILED_EXIT = frozenset({"OOMKilled", "Error", "ContainerCannotRun"})
_SYMPTOM_METRIC = re.compile(
    r"(?i)(5xx|error|fail|latency|duration|p9[059]|memory_working_set|cpu_usage|restarts)"
)


def rollout_on_metric_clock(evidence: Evidence) -> datetime | None:
    """When the workload's generation stepped in the metrics: the rollout on the metrics'
    own clock, immune to skew between the API server's timestamps and Prometheus'."""
    for metric in evidence.metrics:
        # A generation counter moves by one out of many: "flat" as a trend, but a step.
        stepped = metric.changed_at is not None and (metric.last or 0) > (metric.first or 0)
        if stepped and "observed_generation" in metric.query:
            return metric.changed_at
    return None


def series_onset(metric: MetricSummary) -> datetime | None:
    """When a series' symptom began: when it first left the level it began at
    (``departed_at``) when that came before its latest step (``changed_at``), else that step.
    A latency that rose at 09:38 and eased at 09:55 began at 09:38: its latest move dates
    the easing, and a change at 09:04 is half an hour before the onset, not 50 minutes."""
    departed, changed = metric.departed_at, metric.changed_at
    if departed is None or changed is None:
        return changed
    return departed if timestamp(departed) < timestamp(changed) else changed


def symptom_series(evidence: Evidence) -> list[MetricSummary]:
    """The series that show a symptom rising (errors, latency, memory, CPU, restarts; never
    the request rate itself) and when they stepped (``changed_at``)."""
    found: list[MetricSummary] = []
    for metric in evidence.metrics:
        label = f"{metric.name} {metric.query}"
        if metric.changed_at is None or metric.trend != "rising":
            continue
        if not _SYMPTOM_METRIC.search(label) or is_traffic(metric) or of_callee(metric):
            continue
        growth = metric_growth(metric)
        if growth is not None and growth >= RISE:
            found.append(metric)
    return found


def stepped_long_after(metric: MetricSummary, change_at: datetime) -> bool:
    """Whether ``metric`` stepped to a new level ``SERVED_BEFORE_STEP`` or more after the
    change, having been sampled at its earlier level for ``SEEN_SERVING`` since the change.
    A step, or a series that departed from its level at one moment (``departed_at``) and
    eased or climbed on after: a ramp from the change has no such moment."""
    began = series_onset(metric)
    departed = metric.departed_at is not None and began == metric.departed_at
    if (metric.shape != "step" and not departed) or began is None or metric.first_at is None:
        return False
    step = timestamp(began)
    seen_from = max(timestamp(change_at), timestamp(metric.first_at))
    return (
        step - timestamp(change_at) >= SERVED_BEFORE_STEP.total_seconds()
        and step - seen_from >= SEEN_SERVING.total_seconds()
    )


def filling_since(evidence: Evidence) -> bool:
    """Whether something fills up in the evidence, which delays a change's effect until it is
    full: a container the OOM killer ended, a memory series that grows without a single step
    (a ramp, or the sawtooth of a leak the OOM killer resets), or logs saying memory or a disk
    filled (``FILLED_LOG``)."""
    killed = any(
        state is not None and state.reason == "OOMKilled"
        for pod in evidence.pods
        for container in pod.containers
        for state in (container.state, container.last_state)
    )
    growing = any(
        metric.trend == "rising" and metric.shape in ("ramp", "spike")
        for metric in evidence.metrics
        if "memory" in f"{metric.name} {metric.query}"
    )
    logs = [*evidence.logs, *(log for d in evidence.dependencies for log in d.logs)]
    return killed or growing or bool(grep_logs(logs, FILLED_LOG, limit=1))


def served_before_step(
    evidence: Evidence, change_at: datetime
) -> tuple[datetime, EvidenceItem] | None:
    """The first symptom series that stepped up long after the change while it was seen at
    its earlier level since (``stepped_long_after``): the change served without the symptom.
    None when something fills up (``filling_since``): then the delay is the filling's."""
    if filling_since(evidence):
        return None
    steps = [
        (began, metric)
        for metric in symptom_series(evidence)
        if (began := series_onset(metric)) is not None and stepped_long_after(metric, change_at)
    ]
    if not steps:
        return None
    when, metric = min(steps, key=lambda s: timestamp(s[0]))
    served = prose.duration(timestamp(when) - timestamp(change_at))
    return when, item(
        "metrics",
        f"{metric.name or metric.query} held its level for {served} after the change "
        f"and stepped up only at {when:%H:%M}",
    )


def symptom_times(evidence: Evidence) -> list[tuple[datetime, EvidenceItem]]:
    """When each symptom was first seen: Warning events, crashes, and metric steps."""
    found: list[tuple[datetime, EvidenceItem]] = []
    fired = alert_onset(evidence)
    for event in evidence.events:
        if fired is not None and ended_before(
            event, fired[0], blip=readiness_blip(evidence, event)
        ):
            continue
        if never_unready(evidence, event):
            continue
        if event.type == "Warning" and event.first_seen is not None:
            found.append(
                (
                    event.first_seen,
                    item("events", f"first {event.reason} at {event.first_seen:%H:%M}"),
                )
            )
    for metric in symptom_series(evidence):
        if (began := series_onset(metric)) is not None:
            moved = "stepped up" if began == metric.changed_at else "left its earlier level"
            found.append((began, item("metrics", f"{metric.name} {moved} at {began:%H:%M}")))
    for metric in request_path_throttle_steps(evidence):
        if metric.changed_at is not None:
            pod = metric.labels.get("pod", "")
            found.append(
                (
                    metric.changed_at,
                    item(
                        "metrics",
                        f"{pod} in the request path throttled from {metric.changed_at:%H:%M}",
                    ),
                )
            )
    return found


def ended_before(event: EventEvidence, fired: datetime, *, blip: bool = False) -> bool:
    """Whether ``event`` was last seen ``ENDED_BEFORE_ALERT`` (``BLIP_ENDED_BEFORE_ALERT`` for
    a readiness ``blip``) or more before the alert fired at ``fired``: an episode that ended,
    not the start of what the alert reports."""
    last = event.last_seen or event.first_seen
    ended = BLIP_ENDED_BEFORE_ALERT if blip else ENDED_BEFORE_ALERT
    return last is not None and timestamp(fired) - timestamp(last) >= ended.total_seconds()


def alert_onset(evidence: Evidence) -> tuple[datetime, EvidenceItem] | None:
    """When the alert began firing: the onset of a symptom that left no dated trace of its
    own (no Warning event, no stepped series), as an SRE reads "it fired at 09:47"."""
    starts = [a.starts_at for a in evidence.alerts if a.starts_at is not None]
    if not starts:
        return None
    first = min(starts, key=timestamp)
    return first, item("alert", f"firing since {first:%H:%M}")


def symptom_onset(evidence: Evidence) -> tuple[datetime, EvidenceItem] | None:
    """The first sign of the symptom within the last six hours (events, metric steps)."""
    recent = [
        (when, fact)
        for when, fact in symptom_times(evidence)
        if 0
        <= timestamp(evidence.collected_at) - timestamp(when)
        <= timedelta(hours=6).total_seconds()
    ]
    return min(recent, key=lambda s: timestamp(s[0]), default=None)


def earliest_onset(evidence: Evidence) -> datetime | None:
    """When the trouble began: the earlier of the first symptom and the alert's start."""
    onsets = [o for o in (symptom_onset(evidence), alert_onset(evidence)) if o is not None]
    return min((when for when, _ in onsets), key=timestamp, default=None)


def attributable(delay: float) -> bool:
    """Whether a symptom that began ``delay`` seconds after a change can be its consequence:
    at most ``ONSET_AFTER_CHANGE`` later, and no earlier than clock skew allows."""
    return -ONSET_TOLERANCE.total_seconds() <= delay <= ONSET_AFTER_CHANGE.total_seconds()


def follows_within(change_at: datetime | None, onset: datetime) -> float | None:
    """Seconds from a change to the onset when the change can explain it, else None."""
    if change_at is None:
        return None
    delay = timestamp(onset) - timestamp(change_at)
    return delay if attributable(delay) else None


def _failing_series(metric: MetricSummary) -> bool:
    """A series that counts the symptom's failures (errors, 5xx answers, restarts, OOM
    kills), not a callee's (its failures are its own) nor the request rate."""
    label = f"{metric.name} {metric.query}"
    if of_callee(metric) or is_traffic(metric):
        return False
    return counts_failures(metric) or bool(_FAILURE_COUNT.search(label))


def first_signs(evidence: Evidence) -> list[tuple[datetime, EvidenceItem]]:
    """The earliest trace of the symptom each source shows, beyond ``symptom_times``: when a
    failing series rose into the episode it still shows (``MetricSummary.rose_at``: its first
    burst, where ``changed_at`` dates its latest), the first failing line the workload's pods
    logged, the last time one of its containers was killed or failed (the kubelet keeps only
    the last: an earlier one is earlier still), and the alert's start (its rule's ``for:``
    delay puts the symptom's start earlier still, never later). What no source dated is not
    dated: a series high from its first sample, a line without a time."""
    found = list(symptom_times(evidence))
    for metric in evidence.metrics:
        if metric.rose_at is not None and _failing_series(metric):
            found.append(
                (
                    metric.rose_at,
                    item("metrics", f"{metric.name} began rising at {metric.rose_at:%H:%M}"),
                )
            )
    own = {(pod.namespace, pod.name) for pod in evidence.pods}
    logs = [log for log in evidence.logs if (log.namespace, log.pod) in own]
    for hit in grep_logs(logs, SERVER_ERROR_LOG, limit=1):
        if (when := line_time(hit.line, evidence.collected_at)) is not None:
            found.append((when, item(hit.source, hit.line)))
    for pod in evidence.pods:
        for container in pod.containers:
            for state in (container.state, container.last_state):
                if state is None or state.reason not in _FAILED_EXIT or not state.finished_at:
                    continue
                found.append(
                    (
                        state.finished_at,
                        item(
                            f"pod/{pod.namespace}/{pod.name}",
                            f"{container.name} {state.reason} at {state.finished_at:%H:%M}",
                        ),
                    )
                )
    if (fired := alert_onset(evidence)) is not None:
        found.append(fired)
    return found


def first_sign_before(
    evidence: Evidence, change_at: datetime | None, *, metric_at: datetime | None = None
) -> tuple[datetime, EvidenceItem] | None:
    """The earliest sign of the symptom (``first_signs``, within the last six hours) that
    came more than ``ONSET_TOLERANCE`` before ``change_at``: a symptom that predates a
    change is not its consequence, whenever that change's rollout completed. A metric's
    sign is compared with ``metric_at`` (the rollout on the metrics' clock) when given. None
    when the change's start is unknown (nothing to compare) or no sign predates it."""
    if change_at is None:
        return None
    now = timestamp(evidence.collected_at)
    early = [
        (when, fact)
        for when, fact in first_signs(evidence)
        if now - timestamp(when) <= timedelta(hours=6).total_seconds()
        and timestamp(when)
        < timestamp(metric_at if fact.source == "metrics" and metric_at else change_at)
        - ONSET_TOLERANCE.total_seconds()
    ]
    return min(early, key=lambda sign: timestamp(sign[0]), default=None)
