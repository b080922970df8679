"""The front-restart rule: the incident's service is alerted as slow or failing while a proxy
or cache in front of it (a caller a mounted ConfigMap routes to it: Varnish, nginx
proxy_cache, an Envoy or Squid cache) has had its containers OOM-killed within the last hour.
A cache that is killed starts empty: every read it held goes to the origin until it fills
again, so the origin's load steps up at each kill while nothing of its own changed (a miss
stampede). The origin's latency is the surface; the cache outgrowing its memory limit (a
storage size set at the whole limit, with no room for its own overhead) is the cause, as in
Varnish's "give malloc about three quarters of the memory" and cache-stampede write-ups.
``oom-killed`` on the cache's workload, its memory raised.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import alerted_strain
from kubetriage.analyzers.support import item, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import CallerEvidence, ContainerRestart
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a front-restart finding is, by the evidence that earns it."""

    # A cache in front of the alerted service was OOM-killed within the last hour: above the
    # origin's own demand or saturation reading (0.6), below a kill of the incident's own
    # pods, which ``oom`` keeps at its explained cap (0.75).
    killed: float = 0.72
    # ... more than once (its restarts outnumber its pods): it keeps refilling and dying.
    repeated: float = 0.74


CONFIDENCE: Final = _Confidence()

# A kill older than this is not what the alert, now firing, is about.
RECENT: Final = timedelta(hours=1)


def _recent_kills(caller: CallerEvidence, now: float) -> list[ContainerRestart]:
    return [
        r
        for r in caller.restarts
        if (r.last.reason or "").lower() == "oomkilled"
        and r.last.finished_at is not None
        and 0 <= now - timestamp(r.last.finished_at) <= RECENT.total_seconds()
    ]


def check_front_restarts(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    if not strain:
        return []
    now_at = evidence.collected_at
    now = timestamp(now_at)
    for caller in evidence.callers:
        target = caller.ref
        if not caller.fronts() or target.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
            continue
        kills = _recent_kills(caller, now)
        if not kills:
            continue
        source = f"{target.kind.lower()}/{target.namespace}/{target.name}"
        named = item(source, f"routes to {prose.obj(caller.callee)}: {caller.naming_texts()[0]}")
        facts = [
            item(
                f"pod/{target.namespace}/{k.pod}",
                f"container {k.container} restarted {prose.count(k.restarts, 'time')}, last "
                f"OOMKilled {prose.duration(now - timestamp(k.last.finished_at or now_at))} ago",
            )
            for k in kills
        ]
        repeated = sum(k.restarts for k in kills) > len({k.pod for k in kills})
        return [
            make_finding(
                "front-restarts",
                Category.OOM_KILLED,
                CONFIDENCE.repeated if repeated else CONFIDENCE.killed,
                prose.narrative(
                    f"{prose.obj(target)}, which its mounted file routes to "
                    f"{prose.obj(caller.callee)}, is OOM-killed",
                    "raise its memory limit",
                    because=[
                        prose.claim(
                            f"{prose.obj(target)} is configured to route to "
                            f"{prose.obj(caller.callee)}",
                            named,
                        ),
                        prose.claim("Its containers were OOM-killed within the last hour", *facts),
                        prose.claim(
                            "The alerted service depends on it: a restarted proxy or cache "
                            "starts empty and sends every miss to the service, a restarted "
                            "worker drops its share of the work",
                            *strain,
                        ),
                    ],
                ),
                [*facts, named, *strain],
                Action.INCREASE_MEMORY,
                target,
                {"container": kills[0].container},
            )
        ]
    return []


FRONT_RESTART_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("front-restarts", (Category.OOM_KILLED,), check_front_restarts),
)
