"""The egress-neighbour rule: the incident's workload cannot connect in time to a host outside
the cluster that it is configured to call (its calls time out while connecting), it did not
change itself, and exactly one other workload configured to call the same host
(``Evidence.host_peers``) rolled out a revision that changes how it calls (image, env, args,
resources) right before the onset. Connections to one outside host share the way out: the
nodes' source ports behind the cloud's NAT or outbound load balancer (Azure SNAT ports, an
AWS NAT gateway's ports per destination, GCP Cloud NAT's ports per VM), an egress gateway or
proxy. A neighbour's release that opens a new connection per request (an HTTP client built
per call, keep-alive turned off) uses them up, and every caller of that host then fails to
connect while the host itself is fine. An SRE rolls that neighbour back; escalating to the
host's owner treats the surface.

Silent when the incident's workload changed too, when several neighbours changed, when the
neighbour's change is older than the onset window or touched nothing that decides its calls,
and when the failing calls were answered (refused, reset, HTTP errors): a host that answers
is reachable, and the way out is not what fails.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import CONNECT_TIMEOUT_LOG
from kubetriage.analyzers.onset import earliest_onset
from kubetriage.analyzers.shared_dependency import load_rollout, own_changed, rollout_line
from kubetriage.analyzers.support import LogHit, grep_logs, item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.naming import source_texts
from kubetriage.models.neighbours import HostPeerEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category

# The one neighbour on the host that rolled out right before the incident's connect timeouts,
# while the incident's workload did not change: above a dependency's timeouts with the host
# unnamed by a Service (0.5) and a caller's own rollout one hop away (dependency-change,
# 0.78), below another caller's rollout named by a shared Service's own load (0.92).
CONFIDENCE: Final = 0.84


def _names(host: str, line: str) -> bool:
    return re.search(rf"(?i)(?<![\w.-]){re.escape(host)}(?![\w-])", line) is not None


def _suspects(evidence: Evidence) -> list[tuple[HostPeerEvidence, ChangeEvidence, LogHit]]:
    """Each neighbour on a host the incident's connect timeouts name that rolled out a
    change of how it calls within the onset window; none when the workload changed itself."""
    onset = earliest_onset(evidence)
    if onset is None or not evidence.host_peers or own_changed(evidence, onset):
        return []
    hits = grep_logs(evidence.logs, CONNECT_TIMEOUT_LOG, limit=20)
    found: list[tuple[HostPeerEvidence, ChangeEvidence, LogHit]] = []
    for peer in evidence.host_peers:
        hit = next((h for h in hits if _names(peer.host, h.line)), None)
        change = load_rollout(peer.ref, peer.changes, onset)
        if hit is not None and change is not None:
            found.append((peer, change, hit))
    return found


def check_egress_peer(evidence: Evidence) -> list[Finding]:
    """Roll back the one neighbour on an outside host whose release preceded the incident's
    connect timeouts to that host."""
    suspects = _suspects(evidence)
    if len(suspects) != 1:
        return []
    peer, change, hit = suspects[0]
    target = peer.ref
    source = object_source(target)
    facts = [
        item(hit.source, hit.line),
        item(source, f"names {peer.host}: {prose.listing(source_texts(peer.named_by), limit=2)}"),
        item(source, rollout_line(change)),
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision uses up the way out to {peer.host}, "
        "which the workload calls too",
        "roll it back",
        because=[
            prose.claim(f"The workload's calls to {peer.host} time out while connecting", facts[0]),
            prose.claim(f"{prose.obj(target)} calls {peer.host} too", facts[1]),
            prose.claim(
                "It rolled out right before the onset, while the workload did not change; "
                "connections to one outside host share the nodes' outbound ports",
                facts[2],
            ),
        ],
    )
    return [
        make_finding(
            "egress-peer",
            Category.BAD_ROLLOUT,
            CONFIDENCE,
            text,
            facts,
            Action.ROLLBACK,
            target,
            {},
        )
    ]


EGRESS_PEER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("egress-peer", (Category.BAD_ROLLOUT,), check_egress_peer),
)
