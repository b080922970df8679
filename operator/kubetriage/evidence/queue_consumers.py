"""The consumers of a queue an alert names, when they run outside the alert's namespace (the
broker's): the one workload of any namespace whose pod template names the queue, topic or
consumer group, that is named after it, or that a KEDA trigger measuring it scales
(``consumer_elsewhere``); a workload named after (or naming) the alert's consumer group is
preferred to others naming only the topic, which may be its producers, and when only
configuration names the queue, the one workload configured for its renamed successor
(``exports-v2`` for ``exports``) is the consumer that moved away. An alert naming only
dead-letter queues (``orders-dlq``) leads to the one workload of its namespace naming their
source queues: the consumer that failed the messages. Pure; the collector
(``caller_walk``) and the builder (``scope``) list the workloads (and the ConfigMaps their
env comes from) they may read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from kubetriage.evidence.config_values import by_name
from kubetriage.evidence.dependencies import pod_texts
from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.evidence.targets import (
    CONSUMER_LABELS,
    ordered_alerts,
    placing_labels,
    queue_names,
)
from kubetriage.evidence.triggers import pod_template, scale_target, scaled_queues
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert

# Workload kinds that consume a queue, as the collector lists them to find its consumers;
# and the KEDA ScaledJob, whose Jobs consume the queue its triggers measure (listed as a
# custom object).
CONSUMER_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet")
SCALED_CONSUMER_KINDS: tuple[str, ...] = ("ScaledJob",)
# The KEDA ScaledObject: the workload it scales consumes the queue its triggers measure.
QUEUE_SCALER_KINDS: tuple[str, ...] = ("ScaledObject",)


def alert_queues(alerts: list[Alert]) -> list[str]:
    """The queues, topics and consumer groups any of the alerts names, in order."""
    names: list[str] = []
    for alert in ordered_alerts(alerts):
        names += [n for n in queue_names(placing_labels(alert)) if n not in names]
    return names


def names_queue(texts: Iterable[str], names: Iterable[str]) -> bool:
    """Whether one of ``texts`` (env values, args) names one of the queues ``names`` as a
    whole word (``invoices.render`` in ``-Q invoices.render``, not in ``invoices.render-dlq``)."""
    patterns = [re.compile(rf"(?<![\w.-]){re.escape(n)}(?![\w-])") for n in names if n]
    return any(p.search(text) for text in texts for p in patterns)


# The suffixes a dead-letter queue or topic takes after the queue whose failed messages it
# holds (``orders-dlq``, ``orders.DLT``, ``orders-dead-letter``, ``orders_deadletter``).
_DEAD_LETTER: Final = re.compile(
    r"(?i)^(?P<source>.+?)[-_.](?:dlq|dlt|dead[-_.]?letter(?:[-_.]?queue)?)$"
)


def dead_letter_source(name: str) -> str | None:
    """The queue whose failed messages the dead-letter queue ``name`` holds (``orders`` for
    ``orders-dlq``, ``orders.DLT``, ``orders-dead-letter``); None for another queue."""
    match = _DEAD_LETTER.match(name)
    return match.group("source") if match else None


def names_successor(texts: Iterable[str], names: Iterable[str]) -> bool:
    """Whether one of ``texts`` names a successor of one of the queues ``names``: the same
    name with a version suffix (``exports-v2``, ``orders_v3``, ``jobs.v2`` for ``exports``,
    ``orders``, ``jobs``), the way a queue or topic is renamed when its messages change."""
    patterns = [
        re.compile(rf"(?<![\w.-]){re.escape(n)}[-_.]v\d+(?![\w-])", re.IGNORECASE)
        for n in names
        if n
    ]
    return any(p.search(text) for text in texts for p in patterns)


# Kafka Connect names a sink connector's consumer group "connect-<connector>"; the consumers
# are the workers of a Connect cluster, whose pod templates configure the worker group and its
# internal topics (the Confluent image's CONNECT_* env, the Debezium image's), not the
# connector's topics, which live in the cluster's config topic.
_CONNECT_GROUP: Final = re.compile(r"^connect-.+")
_CONNECT_WORKER_ENV: Final = frozenset(
    {
        "CONNECT_GROUP_ID",
        "CONNECT_CONFIG_STORAGE_TOPIC",
        "CONNECT_OFFSET_STORAGE_TOPIC",
        "CONFIG_STORAGE_TOPIC",
        "OFFSET_STORAGE_TOPIC",
    }
)
_CONNECT_WORKER_ARG: Final = re.compile(r"connect-distributed(?:\.sh)?(?:\s|$)")


def connect_worker(workload: dict[str, Any]) -> bool:
    """Whether ``workload``'s pods are Kafka Connect workers (distributed mode): a container
    sets the worker group or its internal topics, or runs ``connect-distributed``."""
    spec = pod_template(workload).get("spec") or {}
    for container in list(spec.get("containers") or []):
        if not isinstance(container, dict):
            continue
        names = {e.get("name") for e in container.get("env") or [] if isinstance(e, dict)}
        args = [a for a in (container.get("command") or []) + (container.get("args") or [])]
        if names & _CONNECT_WORKER_ENV or any(
            isinstance(a, str) and _CONNECT_WORKER_ARG.search(a) for a in args
        ):
            return True
    return False


def _connect_cluster(groups: list[str], workloads: list[dict[str, Any]]) -> ObjectRef | None:
    """The one Kafka Connect worker workload, when a consumer group the alert names is a
    Connect sink's (``connect-<connector>``); None when there are none or several clusters
    (which one runs the connector lives in their config topics, not in Kubernetes)."""
    if not any(_CONNECT_GROUP.match(g) for g in groups):
        return None
    workers = [w for w in workloads if w.get("kind") in CONSUMER_KINDS and connect_worker(w)]
    return _ref(workers[0]) if len(workers) == 1 else None


def _ref(workload: dict[str, Any]) -> ObjectRef:
    meta = workload.get("metadata") or {}
    return ObjectRef(
        kind=str(workload.get("kind")),
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        api_version=str(workload.get("apiVersion") or "apps/v1"),
    )


def _dead_letter_consumer(
    names: list[str],
    namespace: str,
    namespace_pods: Iterable[dict[str, Any]],
    workloads: Iterable[dict[str, Any]],
    configs: dict[tuple[str, str], dict[str, Any]],
) -> ObjectRef | None:
    """For alerts that name only dead-letter queues, none of which the pods of ``namespace``
    name, the one workload of ``namespace`` whose pod template (or the ConfigMaps it takes
    env from) names their source queues:
    nobody consumes a dead-letter queue, messages land there because the source queue's
    consumer failed them (or was killed holding them) too often, so that consumer is what an
    SRE looks at. None when another queue is named, or no or several workloads name the
    sources (a producer names the queue too: the alert alone cannot tell)."""
    sources = [dead_letter_source(n) for n in names]
    if not all(sources):
        return None
    wanted = [s for s in sources if s]
    if names_queue((text for _, text in pod_texts(namespace_pods, None, configs)), names):
        return None  # something here reads the dead-letter queue itself (a redriver)
    found = [
        w
        for w in workloads
        if w.get("kind") in CONSUMER_KINDS
        and str((w.get("metadata") or {}).get("namespace") or "") == namespace
        and names_queue([text for _, text in pod_texts([], w, configs)], wanted)
    ]
    return _ref(found[0]) if len(found) == 1 else None


def consumer_elsewhere(
    alerts: list[Alert],
    chosen: ObjectRef | None,
    namespace_pods: Iterable[dict[str, Any]],
    workloads: Iterable[dict[str, Any]],
    config_maps: Iterable[dict[str, Any]] = (),
) -> ObjectRef | None:
    """For an alert about a queue whose target is a namespace none of whose pods
    (``namespace_pods``) names the queue (the broker's), the one workload among
    ``workloads`` (those of every namespace the Incident may read) whose pod template names
    it (``group.id=...``, ``--queue ...``, or a ConfigMap among ``config_maps`` it takes its
    env from: ``envFrom``, ``configMapKeyRef``), that is named after it (a consumer group
    named after its application), a ScaledJob whose trigger measures it (its Jobs consume it,
    and none may be running: ``scaled_queues``), or the workload a ScaledObject among
    ``workloads`` scales by a trigger measuring it (its pods may read the queue's name from a
    file); None when no workload or several different ones do (the alert alone cannot
    tell; a consumer group's workload is preferred to a topic's producers).

    When only configuration names the queue (a producer names it as well as a consumer),
    the one workload whose configuration names a renamed successor of the queue instead
    (``names_successor``) is its consumer that moved away: an alert about a queue's
    consumers or backlog means messages still arrive and nobody reads them, so the workloads
    still naming the queue publish to it, and the one that now names another consumes that
    one (a producer that moved would leave the queue empty, not unread)."""
    names = alert_queues(alerts)
    if not names or chosen is None or chosen.kind != "Namespace":
        return None
    configs = by_name(config_maps)
    here = _dead_letter_consumer(names, chosen.name, namespace_pods, workloads, configs)
    if here is not None:
        return here
    if names_queue((text for _, text in pod_texts(namespace_pods, None, configs)), names):
        return None  # the consumers run in the alert's namespace
    workloads = list(workloads)
    scaled = {
        (str((w.get("metadata") or {}).get("namespace") or ""), *target)
        for w in workloads
        if w.get("kind") in QUEUE_SCALER_KINDS
        and names_queue(scaled_queues(w), names)
        and (target := scale_target(w)) is not None
    }
    texts = {
        id(w): [text for _, text in pod_texts([], w, configs)]
        for w in workloads
        if w.get("kind") in CONSUMER_KINDS + SCALED_CONSUMER_KINDS
    }
    strong = [
        w
        for w in workloads
        if id(w) in texts
        and (
            (w.get("metadata") or {}).get("name") in names
            or (w.get("kind") in SCALED_CONSUMER_KINDS and names_queue(scaled_queues(w), names))
            or (
                str((w.get("metadata") or {}).get("namespace") or ""),
                str(w.get("kind")),
                str((w.get("metadata") or {}).get("name") or ""),
            )
            in scaled
        )
    ]
    found = [w for w in workloads if id(w) in texts and names_queue(texts[id(w)], names)]
    found = strong + [w for w in found if not any(w is s for s in strong)]
    # Several: a workload named after (or naming) the consumer group consumes; one naming
    # only the topic may be its producer.
    groups = [
        g for a in alerts for n in CONSUMER_LABELS if (g := label_value(placing_labels(a), n))
    ]
    group_of = [
        w
        for w in found
        if (w.get("metadata") or {}).get("name") in groups or names_queue(texts[id(w)], groups)
    ]
    moved = [
        w
        for w in workloads
        if w.get("kind") in CONSUMER_KINDS
        and names_successor(texts[id(w)], names)
        and not names_queue(texts[id(w)], names)
    ]
    if not strong and not group_of and len(moved) == 1:
        found = moved
    found = group_of if len(found) > 1 and groups else found
    if not found:
        return _connect_cluster(groups, workloads)
    if len(found) != 1:
        return None
    return _ref(found[0])
