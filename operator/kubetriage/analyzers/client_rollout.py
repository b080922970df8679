"""The client-rollout rule: a dependency that refuses new clients for lack of connection slots
(PostgreSQL's "too many clients", MySQL's "Too many connections", Redis' "max number of clients
reached"), from right after a caller rolled out a new revision whose pods set how many
connections they open (worker concurrency, pool size), is that caller's rollout: it raised
the number of connections, so rolling it back frees the slots; the dependency is healthy and
raising its limit would only treat the surface.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import earliest_onset, follows_within
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    owner_workload,
    pod_source,
    scaled_down,
    timestamp,
)
from kubetriage.evidence.refused_clients import CONNECTION_SLOTS_EXHAUSTED
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

# Slots refused right after the caller's rollout, by pods that set their connection count:
# above a named dependency's own claim with its healthy-caller bonus (0.83), below its cap.
CONFIDENCE: Final = 0.86

# Pod settings that decide how many connections each pod opens: worker processes or threads,
# concurrency, pool sizes, connection caps.
_CONNECTION_SETTING = re.compile(
    r"(?i)(concurren|workers?\b|pool|max_?conn|connections|threads|processes|parallel)"
)
# The Deployment controller starting a new ReplicaSet from zero (every message form it used).
_NEW_REPLICA_SET = re.compile(
    r"(?i)scaled up replica set (?P<rs>\S+) (from 0 to \d+|to \d+\b(?! from [1-9]))"
)


def _connection_settings(pod: PodEvidence) -> list[str]:
    """The pod's args and env that set how many connections it opens."""
    found: list[str] = []
    for container in pod.containers:
        found += [
            a
            for a in container.args
            if a.startswith("-") and _CONNECTION_SETTING.search(a.split("=")[0])
        ]
        found += [f"{k}={v}" for k, v in container.env.items() if _CONNECTION_SETTING.search(k)]
    return found


def check_client_rollout(evidence: Evidence) -> list[Finding]:
    """A dependency refusing new clients for lack of connection slots, from right after the
    caller's new ReplicaSet started (the old one scaled down), when the caller's pods set how
    many connections they open (workers, concurrency, pool size): the rollout raised the
    number of connections, so rolling it back frees the slots; the dependency is healthy."""
    onset = earliest_onset(evidence)
    if onset is None:
        return []
    pods = {(p.namespace, p.name): p for p in evidence.pods}
    for hit in grep_logs(evidence.logs, CONNECTION_SLOTS_EXHAUSTED, limit=10):
        pod = pods.get((hit.log.namespace, hit.log.pod))
        target = owner_workload(pod) if pod is not None else None
        if pod is None or pod.owner is None or target is None:
            continue
        settings = _connection_settings(pod)
        if target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK] or not settings:
            continue
        started = [
            (when, e)
            for e in evidence.events
            if (m := _NEW_REPLICA_SET.search(e.message)) is not None
            and m["rs"] == pod.owner.name
            and (when := e.first_seen or e.last_seen) is not None
        ]
        replaced = any(
            (cut := scaled_down(e.message)) is not None and cut.replica_set != pod.owner.name
            for e in evidence.events
        )
        if not started or not replaced:
            continue
        at, scaled_up = min(started, key=lambda s: timestamp(s[0]))
        if follows_within(at, onset) is None:
            continue
        facts = [
            item(hit.source, hit.line),
            item(f"{target.kind.lower()}/{target.namespace}/{target.name}", scaled_up.message),
            item(pod_source(pod), "sets its connections: " + ", ".join(settings[:3])),
        ]
        text = prose.narrative(
            f"{prose.obj(target)} exhausted its dependency's connection slots after its rollout",
            "roll it back",
            because=[
                prose.claim(
                    "The dependency refuses new clients: its slots are all taken", facts[0]
                ),
                prose.claim(f"{prose.obj(target)} rolled out a new revision just before", facts[1]),
                prose.claim("Its pods set how many connections each opens", facts[2]),
            ],
        )
        return [
            make_finding(
                "client-rollout",
                Category.BAD_ROLLOUT,
                CONFIDENCE,
                text,
                facts,
                Action.ROLLBACK,
                target,
                {},
            )
        ]
    return []


CLIENT_ROLLOUT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("client-rollout", (Category.BAD_ROLLOUT,), check_client_rollout),
)
