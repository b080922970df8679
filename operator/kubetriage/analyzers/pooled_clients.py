"""The pooled-client rule: a database out of connection slots (its own lines refuse clients:
PostgreSQL's "too many clients already", MySQL's "Too many connections"), whose configuration
says how many connections applications may open (``Evidence.connection_limit``: its
``max_connections`` less the superusers' reserved slots), and exactly one of its callers
(``Evidence.callers``) whose configured pool per pod (``CallerEvidence.pool``) times its
replicas alone reaches that limit. Each replica keeps its own pool: a pool raised in a
ConfigMap is harmless at three replicas and fills the server once an autoscaler adds two
more, so the server refuses everyone, that caller's new pods first. An SRE multiplies pool by
replicas, and corrects the pool in the ConfigMap that sets it (``config-missing``,
``fix-config``); raising the server's limit or escalating to its owner treats the surface,
and the next scale-out fills any limit again.

Silent when the server does not say it is out of slots, when its limit is not configured
where it can be read, when no caller's pool times its replicas reaches it or several do (the
clients share the blame), and when the pool is set in the caller's own template rather than a
ConfigMap (a rollout's story: ``client-slots``, ``caller-rollout``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import grep_logs, item, object_source
from kubetriage.evidence.refused_clients import CONNECTION_SLOTS_EXHAUSTED
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.vocabulary import Action, Category

# The server refuses clients for want of slots, and the one caller whose configured pool
# times its replicas alone reaches its configured limit: arithmetic from both ends' own
# configuration, above an escalation to the server's owner and below a refused client named
# by address that rolled out (0.86).
CONFIDENCE: Final = 0.8
NAME: Final = "pooled-client"


def _demand(caller: CallerEvidence) -> int | None:
    """The connections the caller's pods may open: its pool times its replicas."""
    if caller.pool is None or not caller.replicas:
        return None
    return caller.pool.size * caller.replicas


def check_pooled_clients(evidence: Evidence) -> list[Finding]:
    """Correct the ConfigMap of the one caller whose pools alone take every slot of a server
    that refuses clients."""
    limit = evidence.connection_limit
    if not limit or not evidence.callers:
        return []
    refusals = grep_logs(evidence.logs, CONNECTION_SLOTS_EXHAUSTED, limit=1)
    if not refusals:
        return []
    over = [c for c in evidence.callers if (d := _demand(c)) is not None and d >= limit]
    if len(over) != 1 or (pool := over[0].pool) is None or pool.config is None:
        return []
    caller = over[0]
    replicas = caller.replicas or 0
    config = pool.config
    refused = item(refusals[0].source, prose.clip(refusals[0].line, 200))
    sized = item(
        object_source(config),
        f"{pool.key}={pool.size}, taken by {prose.obj(caller.ref)} "
        f"({prose.count(replicas, 'replica')}): up to {pool.size * replicas} connections "
        f"to {prose.obj(caller.callee)}, which admits {limit}",
    )
    because = [
        prose.claim("The server refuses new clients: every connection slot is taken", refused),
        prose.claim(
            f"Each of {prose.obj(caller.ref)}'s {prose.count(replicas, 'replica')} opens a pool "
            f"of up to {pool.size} connections, as {prose.obj(config)} sets it: "
            f"{pool.size * replicas} in all, past the {limit} the server admits",
            sized,
        ),
    ]
    facts = [refused, sized]
    if pool.written_at is not None:
        ago = prose.duration((evidence.collected_at - pool.written_at).total_seconds())
        written = item(object_source(config), f"last written {ago} before the diagnosis")
        facts.append(written)
        because.append(prose.claim(f"{prose.obj(config)} was last written {ago} ago", written))
    text = prose.narrative(
        f"{prose.obj(caller.ref)}'s pools take every connection slot of {prose.obj(caller.callee)}",
        f"lower {pool.key} in {prose.obj(config)}",
        because=because,
    )
    return [
        make_finding(
            NAME,
            Category.CONFIG_MISSING,
            CONFIDENCE,
            text,
            facts,
            Action.FIX_CONFIG,
            config,
            {},
        )
    ]


POOLED_CLIENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CONFIG_MISSING,), check_pooled_clients),
)
