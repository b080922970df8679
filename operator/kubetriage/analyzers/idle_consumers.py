"""A queue's consumer scaled to zero: the alert names a queue on a broker whose backlog keeps
growing, and a workload calling that broker (its pod template names the broker's Service)
runs no pod at all, its replicas set to 0 (by hand, a schedule such as kube-downscaler, a
scaler, a bad rollout of an autoscaling policy). The broker is fine and more brokers would
queue the same messages: what an SRE restores is the consumer's replicas.

A producer at zero replicas adds nothing to a backlog, so a growing backlog and a caller at
zero point at the consumer; the broker's own count of the queue's consumers falling to zero
with it confirms that no one reads the queue any more. A backlog that does not grow is no
sign of a missing consumer (a quiet queue whose consumer sleeps for the night), and a
consumer that runs is the queue-backlog rule's case (``kubetriage.analyzers.queues``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.queues import growing_backlogs, series_fact
from kubetriage.analyzers.support import item
from kubetriage.evidence.targets import queue_names
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an idle-consumer finding is, by the evidence that earns it."""

    # The queue's backlog grows and the one caller of its broker set to zero replicas runs
    # no pod: above the broker's own demand reading of the same backlog.
    scaled_to_zero: float = 0.74
    # ... and the broker counts no consumer of that queue any more, having counted some.
    consumers_gone_bonus: float = 0.08


CONFIDENCE: Final = _Confidence()
NAME: Final = "idle-consumer"
# A broker's count of a queue's consumers (RabbitMQ's rabbitmq_queue_consumers, ActiveMQ's
# ConsumerCount, NATS JetStream's consumer counts).
_CONSUMER_COUNT: Final = re.compile(r"(?i)queue_consumers\b|consumer_?count\b")


def _consumers_gone(metrics: list[MetricSummary], names: list[str]) -> MetricSummary | None:
    """The broker's consumer count of one of the queues, some before and none now."""
    for metric in metrics:
        if not _CONSUMER_COUNT.search(f"{metric.name} {metric.query}"):
            continue
        if not any(name in metric.labels.values() for name in names):
            continue
        before = metric.before if metric.before is not None else metric.max
        if metric.last == 0 and before:
            return metric
    return None


def check_idle_consumer(evidence: Evidence) -> list[Finding]:
    names: list[str] = []
    for alert in evidence.alerts:
        names += [n for n in queue_names(alert.labels) if n not in names]
    backlog = growing_backlogs(evidence)
    if not names or not backlog:
        return []
    idle = [
        c
        for c in evidence.callers
        if c.replicas == 0 and c.ref.kind in ACTION_TARGET_KINDS[Action.SCALE_OUT]
    ]
    idle = list({c.ref.key(): c for c in idle}.values())
    if len(idle) != 1:
        return []  # none, or several: which one consumes is not known
    caller = idle[0]
    gone = _consumers_gone(evidence.metrics, names)
    source = f"{caller.ref.kind.lower()}/{caller.ref.namespace}/{caller.ref.name}"
    zero = item(
        source,
        f"replicas 0; names {prose.obj(caller.callee)} ({caller.naming_texts()[0]})"
        if caller.named_by
        else f"replicas 0; names {prose.obj(caller.callee)}",
    )
    grows = series_fact(*backlog[0])
    because = [
        prose.claim(
            f"The backlog of {prose.listing(names)} keeps growing on {prose.obj(caller.callee)}",
            grows,
        ),
        prose.claim(
            f"{prose.obj(caller.ref)} calls that broker and is scaled to zero: no pod of it "
            "reads the queue",
            zero,
        ),
    ]
    facts = [zero, grows]
    confidence = CONFIDENCE.scaled_to_zero
    replicas = 1
    if gone is not None:
        before = gone.before if gone.before is not None else gone.max
        replicas = max(1, int(before or 1))
        counted = item(
            "metrics",
            f"{gone.name}: {prose.number(before or 0.0)} -> 0",
        )
        because.append(prose.claim("The broker counts no consumer of the queue any more", counted))
        facts.append(counted)
        confidence += CONFIDENCE.consumers_gone_bonus
    return [
        make_finding(
            NAME,
            Category.RESOURCE_SATURATION,
            confidence,
            prose.narrative(
                f"{prose.obj(caller.ref)}, the consumer of {prose.listing(names)}, runs no pod",
                f"scale it back to {replicas} {'replica' if replicas == 1 else 'replicas'}",
                because=because,
            ),
            facts,
            Action.SCALE_OUT,
            caller.ref,
            {"replicas": str(replicas)},
        )
    ]


IDLE_CONSUMER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.RESOURCE_SATURATION,), check_idle_consumer),
)
