"""The other workloads on the queue or topic an alert names: those whose pod template names it
(its env, args, or the ConfigMaps it takes env from) besides its consumer, the incident's
workload. They publish to it (or consume it in another group); a producer whose new revision
publishes more messages for the same work (an event per line instead of per order, on every
recalculation) floods the consumers while their traffic, and the producer's, stay flat. An
SRE paged for a consumer's lag asks what arrives, and who changed what they send. A consumer
that cannot decode what it reads (whatever the alert names) has the same peers on the topics
it configures (``topic_peers.undecodable_topics``): one of them changed what it writes.

Pure; the collector's queue-consumer lookup (``kubetriage.evidence.caller_walk``) reads
these workloads and their ReplicaSets, and ``build_evidence`` summarises them
(``queue_peer_summaries``) with their rollouts; the producer walk
(``kubetriage.evidence.producer_walk``) reads those of an undecodable topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from kubetriage.evidence.callers import owned_history
from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.config_values import by_name
from kubetriage.evidence.dependencies import pod_texts
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.queue_consumers import CONSUMER_KINDS, alert_queues, names_queue
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.naming import NamingSource
from kubetriage.models.neighbours import QueuePeerEvidence
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# Peers kept, and rollouts kept of each.
MAX_PEERS: Final = 3
_MAX_CHANGES: Final = 3


def _key(obj: JsonDict) -> tuple[str, str, str]:
    return (_ns(obj), str(obj.get("kind")), _name(obj))


def queue_peers(
    alerts: list[Alert],
    workloads: Iterable[JsonDict],
    config_maps: Iterable[JsonDict],
    consumer: JsonDict | None,
    topics: Sequence[str] = (),
) -> list[tuple[JsonDict, str, list[NamingSource]]]:
    """(workload, queue, where it names it) of the workloads among ``workloads`` whose pod
    template names one of the alerts' queues (else one of ``topics``: those a consumer that
    cannot decode what it reads configures, ``topic_peers.undecodable_topics``), ``consumer``
    left out, by namespace and name, at most ``MAX_PEERS``; none when neither names a queue
    or no consumer is known."""
    names = alert_queues(alerts) or list(topics)
    if not names or consumer is None:
        return []
    configs = by_name(config_maps)
    found: list[tuple[JsonDict, str, list[NamingSource]]] = []
    for workload in sorted(workloads, key=_key):
        if workload.get("kind") not in CONSUMER_KINDS or _key(workload) == _key(consumer):
            continue
        texts = pod_texts([], workload, configs)
        for queue in names:
            named_by = [source for source, text in texts if names_queue([text], [queue])]
            if named_by:
                found.append((workload, queue, named_by[:3]))
                break
    return found[:MAX_PEERS]


def queue_peer_summaries(
    index: ObjectIndex,
    alerts: list[Alert],
    consumer: JsonDict | None,
    topics: Sequence[str] = (),
) -> list[QueuePeerEvidence]:
    """The queue's peers (or those of ``topics``, as ``queue_peers``) among the objects of
    ``index``, each with its rollouts read from its ReplicaSets."""
    workloads = [w for kind in CONSUMER_KINDS for w in index.kind(kind)]
    replica_sets = index.kind("ReplicaSet")
    return [
        QueuePeerEvidence(
            ref=ObjectRef(
                kind=str(workload.get("kind")), namespace=_ns(workload), name=_name(workload)
            ),
            queue=queue,
            named_by=named_by,
            changes=recent_rollouts(workload, owned_history(workload, replica_sets), _MAX_CHANGES),
        )
        for workload, queue, named_by in queue_peers(
            alerts, workloads, index.kind("ConfigMap"), consumer, topics
        )
    ]
