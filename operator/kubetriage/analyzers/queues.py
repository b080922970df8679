"""Queue backlogs and consumer lag: the alert names a queue, the problem is its consumers.

An SRE paged for a backlog asks two questions: who consumes this queue, and did more work
arrive or did the consumers get slower? The consumers are the workloads whose pods name the
queue, topic or consumer group in their arguments, command or environment (``celery -Q
invoices``, ``KAFKA_TOPIC=ledger.events``), or whose name is the consumer group. When the
backlog grows while input grew and the consumers are healthy, they are too few: scale them
out. Consumers that crash, or that changed right before, are other analyzers' cases (crash,
OOM, rollback) and this one stays out of their way; consumers that finish fewer messages with
steady input are slower (a dependency, a change), not short of replicas. A dead-letter queue's
backlog is failed messages, never a reason to scale out.

Pure functions of Evidence, registered in ``kubetriage.analyzers.ANALYZERS``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.changes import cap_explained
from kubetriage.analyzers.support import item, metric_growth, owner_workload, pod_source
from kubetriage.evidence.queries import alert_families
from kubetriage.evidence.queue_consumers import dead_letter_source
from kubetriage.evidence.targets import queue_names
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import MetricSummary, PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

_BACKLOG = re.compile(
    r"(?i)(messages_ready|queue_length|queue_size|consumergroup_lag|num_pending|backlog|"
    r"queue_depth)"
)
_INPUT = re.compile(r"(?i)(published|produced|input_rate|enqueued|incoming|current_offset)")
_CONSUMED = re.compile(r"(?i)(acked|succeeded|consumed|processed)")
_CPU = "container_cpu_usage_seconds_total"

# Backlog growth that is a trend, not noise; input growth that is more work; a consumed rate
# that fell this far means slower consumers, not too few.
BACKLOG_GROWTH = 2.0
INPUT_GROWTH = 1.5
SLOWER_CONSUMERS = 0.7


@dataclass(frozen=True, slots=True)
class _Confidence:
    """What each piece of evidence earns a queue-backlog finding."""

    backlog: float = 0.55  # healthy consumers of a queue whose backlog grows
    more_input_bonus: float = 0.1  # ... and more work arrives than before
    busier_cpu_bonus: float = 0.05  # ... and the consumers' CPU grew with it


CONFIDENCE: Final = _Confidence()


def _rate_query(metric: MetricSummary) -> bool:
    return re.search(r"\b(i?rate|increase|deriv)\(", metric.query) is not None


def _label_text(metric: MetricSummary) -> str:
    return f"{metric.name} {metric.query}"


def _growth(metric: MetricSummary) -> float | None:
    """The level after a step over the level before it; else last over first."""
    if metric.shape == "step" and metric.before and metric.after is not None:
        return metric.after / metric.before
    return metric_growth(metric)


def _grew(metric: MetricSummary, factor: float) -> float | None:
    growth = _growth(metric)
    if growth is None or growth < factor:
        return None
    return growth


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text) is not None


def _names_queue(pod: PodEvidence, names: list[str]) -> bool:
    owner = owner_workload(pod)
    for name in names:
        if owner is not None and owner.name == name:
            return True
        for container in pod.containers:
            words = [*container.args, *container.env.values()]
            if any(_mentions(word, name) for word in words):
                return True
    return False


def consumers(
    evidence: Evidence, names: list[str]
) -> dict[str, tuple[ObjectRef, list[PodEvidence]]]:
    """The workloads whose pods consume one of ``names`` (by key), with those pods."""
    found: dict[str, tuple[ObjectRef, list[PodEvidence]]] = {}
    for pod in evidence.pods:
        owner = owner_workload(pod)
        if owner is None or not _names_queue(pod, names):
            continue
        found.setdefault(owner.key(), (owner, []))[1].append(pod)
    return found


def _unhealthy(pod: PodEvidence) -> bool:
    if pod.phase not in (None, "Running", "Succeeded"):
        return True
    return any(
        not c.init and (c.ready is False or c.restart_count > 0 or c.state.state == "waiting")
        for c in pod.containers
    )


def series_fact(metric: MetricSummary, growth: float) -> EvidenceItem:
    low = metric.first if metric.first is not None else (metric.min or 0.0)
    if metric.shape == "step" and metric.before is not None:
        low = metric.before
    shown = "from zero" if math.isinf(growth) else f"x{growth:.1f}"
    return item(
        "metrics",
        f"{metric.name or metric.query}: {prose.number(low)} -> "
        f"{prose.number(metric.last or 0.0)} ({shown})",
    )


def _consumer_cpu(metrics: list[MetricSummary], pods: list[PodEvidence]) -> list[MetricSummary]:
    names = {p.name for p in pods}
    return [
        m for m in metrics if _CPU in m.query and _rate_query(m) and m.labels.get("pod") in names
    ]


def backlogs(evidence: Evidence) -> list[MetricSummary]:
    """The backlog series (ready messages, lag, pending)."""
    return [m for m in evidence.metrics if _BACKLOG.search(_label_text(m))]


def growing_backlogs(evidence: Evidence) -> list[tuple[MetricSummary, float]]:
    """The backlog series that grew BACKLOG_GROWTH times or more over the window, with that
    growth."""
    return [(m, g) for m in backlogs(evidence) if (g := _grew(m, BACKLOG_GROWTH)) is not None]


def backlog_alerted(evidence: Evidence) -> list[EvidenceItem]:
    """A firing backlog alert (the queue family: lag, queue, backlog, consumer) of the
    incident: a consumer that falls behind is slower at its work, the queue family's way."""
    return [
        item("alert", f"{a.labels.get('alertname', 'alert')} fires: the backlog grows")
        for a in evidence.alerts
        if a.status != "resolved" and "queue" in alert_families([a])
    ][:1]


def input_rates(evidence: Evidence) -> list[tuple[MetricSummary, float | None]]:
    """The rate series of what arrives in a queue (published, produced, a topic's offsets'
    rate), each with its growth over the window (None: unknown)."""
    return [
        (m, _growth(m))
        for m in evidence.metrics
        if _INPUT.search(_label_text(m)) and _rate_query(m)
    ]


def check_queue_backlog(evidence: Evidence) -> list[Finding]:
    return cap_explained(evidence, _check_queue_backlog(evidence))


def _check_queue_backlog(evidence: Evidence) -> list[Finding]:
    names: list[str] = []
    for alert in evidence.alerts:
        names += [n for n in queue_names(alert.labels) if n not in names]
    # A dead-letter queue fills with messages its source's consumers failed, whatever their
    # number: more replicas would fail them faster, not drain it.
    names = [n for n in names if dead_letter_source(n) is None]
    if not names:
        return []
    backlog = growing_backlogs(evidence)
    inputs = [(m, g) for m, g in input_rates(evidence) if g is not None and g >= INPUT_GROWTH]
    if not backlog and not inputs:
        return []  # nothing says the work outgrew the consumers
    slower = any(
        (g := _growth(m)) is not None and g <= SLOWER_CONSUMERS
        for m in evidence.metrics
        if _CONSUMED.search(_label_text(m)) and _rate_query(m)
    )
    if slower and not inputs:
        return []  # the consumers finish less with the same input: slower, not too few
    findings: list[Finding] = []
    for ref, pods in consumers(evidence, names).values():
        if ref.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        if any(_unhealthy(p) for p in pods):
            continue  # crashing or unready consumers are their own diagnosis
        cpu = [
            (m, g)
            for m in _consumer_cpu(evidence.metrics, pods)
            if (g := _grew(m, INPUT_GROWTH)) is not None
        ]
        facts = [series_fact(m, g) for m, g in (backlog[:1] + inputs[:1] + cpu[:1])]
        named = item(
            pod_source(pods[0]),
            f"consumes {prose.listing(names)} ({prose.count(len(pods), 'pod')}, all ready)",
        )
        factor = max((g for _, g in inputs if math.isfinite(g)), default=2.0)
        replicas = max(len(pods) + 1, math.ceil(len(pods) * min(max(factor, 1.5), 4.0)))
        because = [prose.claim(f"{prose.obj(ref)} consumes {prose.listing(names)}", named)]
        if backlog:
            because.append(prose.claim("The backlog keeps growing", facts[0]))
        if inputs:
            because.append(
                prose.claim(
                    f"About {factor:.1f}x more work arrives than before",
                    series_fact(*inputs[0]),
                )
            )
        if cpu:
            because.append(
                prose.claim("Its pods burn more CPU, busy with the load", series_fact(*cpu[0]))
            )
        because.append(
            prose.claim("Its consumers are ready and not restarting: they are too few, not broken")
        )
        confidence = (
            CONFIDENCE.backlog
            + (CONFIDENCE.more_input_bonus if inputs else 0.0)
            + (CONFIDENCE.busier_cpu_bonus if cpu else 0.0)
        )
        findings.append(
            make_finding(
                "queue-backlog",
                Category.RESOURCE_SATURATION,
                confidence,
                prose.narrative(
                    f"The consumers of {prose.listing(names)}, {prose.obj(ref)}, fall behind",
                    f"scale out to {replicas} replicas",
                    because=because,
                ),
                [named, *facts],
                Action.SCALE_OUT,
                ref,
                {"replicas": str(replicas)},
            )
        )
    return findings


QUEUE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("queue-backlog", (Category.RESOURCE_SATURATION,), check_queue_backlog),
)
