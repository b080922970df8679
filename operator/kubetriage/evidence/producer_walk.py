"""The walk to the producers of what a consumer cannot decode: when the incident's own log
lines say it fails to decode the records it reads (``topic_peers.undecodable_topics``), the
workloads of every namespace naming one of the topics its env configures (an Incident the
tenancy rule lets read them all) are its peers on those topics, and each is read with its
ReplicaSets, whose diffs say which of them released a new revision before the first failure.
``build_evidence`` keeps them as the queue's peers (``queue_peers.queue_peer_summaries``).

Called by ``KubeEvidenceCollector`` with the other walks; the reads go through the same
``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.caller_walk import read_history
from kubetriage.evidence.cluster_lookups import topic_peer_candidates
from kubetriage.evidence.dependencies import log_texts, pod_texts
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.topic_peers import topic_peers, undecodable_topics
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import meta as _meta
from kubetriage.tenancy import Scope


async def follow_topic_producers(
    reader: KubeReader,
    run: CollectionRun,
    pods: list[JsonDict],
    workload: JsonDict | None,
    scope: Scope,
) -> None:
    """Read the workloads naming a topic the incident's workload cannot decode, with their
    ReplicaSets, into ``run``."""
    lines = log_texts(t for t in run.logs if t.source == "scope")
    topics = undecodable_topics(lines, pod_texts(pods, workload))
    if not topics:
        return
    candidates = await topic_peer_candidates(reader, run, topics, scope)
    peers = topic_peers(topics, candidates, pods)
    named = {(host.namespace, host.kind, host.name) for host in peers}
    await asyncio.gather(
        *(
            read_history(reader, run, w)
            for w in candidates
            if (str(_meta(w).get("namespace")), str(w.get("kind")), str(_meta(w).get("name")))
            in named
        )
    )
