"""The refused-client rule: a server out of connection slots (a pooler at max_client_conn, a
database at max_connections) names the clients it refuses by address
(``Evidence.refused_clients``: the pods at those addresses and their Deployments), the
incident's own workload did not change, and exactly one of those clients rolled out a revision
that changes how it calls (image, env, args, resources) within the onset window. The slots
are shared by every client; the one whose new revision opens more connections (a pool per
batch that is never closed, more threads) takes them, and the others are refused with it. An
SRE rolls that client back; raising the server's limit or escalating to its owner treats the
surface (a leaking client fills any limit).

Silent when the incident's workload changed itself (the server's own rollout is its own
story), when no refused client or several changed within the window, or when the change
touched nothing that decides its calls.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.shared_dependency import load_rollout, rollout_line, sole_rollout
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category

# The one refused client that rolled out within the onset window of a server out of slots
# that did not change: as a client's rollout that set its connection count (client-rollout,
# 0.86), below another caller's rollout named by a shared Service's own load (0.92).
CONFIDENCE: Final = 0.86


def check_refused_client(evidence: Evidence) -> list[Finding]:
    """Roll back the one client a server out of slots refuses that rolled out before the
    onset."""
    refused = [c for c in evidence.refused_clients if c.refusal == "slots"]
    if not refused:
        return []
    suspect = sole_rollout(
        evidence, refused, lambda c, onset: load_rollout(c.ref, c.changes, onset)
    )
    if suspect is None:
        return []
    client, change = suspect
    target = client.ref
    others = [c for c in refused if c is not client]
    facts = [
        item(
            object_source(target),
            f"pod {client.pod} at {client.address} refused: {prose.clip(client.line, 200)}",
        ),
        item(object_source(target), rollout_line(change)),
    ]
    because = [
        prose.claim(
            f"The server is out of connection slots and refuses {prose.obj(target)}'s pods",
            facts[0],
        ),
        prose.claim(f"{prose.obj(target)} rolled out a new revision within the window", facts[1]),
    ]
    if others:
        unchanged = prose.listing([prose.obj(c.ref) for c in others], limit=2)
        because.append(prose.claim(f"The other clients it refuses did not change: {unchanged}"))
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision takes the server's shared connection slots",
        "roll it back",
        because=because,
    )
    return [
        make_finding(
            "refused-client",
            Category.BAD_ROLLOUT,
            CONFIDENCE,
            text,
            facts,
            Action.ROLLBACK,
            target,
            {},
        )
    ]


CLIENT_SLOTS_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("refused-client", (Category.BAD_ROLLOUT,), check_refused_client),
)
