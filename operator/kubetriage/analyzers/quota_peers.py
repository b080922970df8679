"""The quota-neighbour rule: the incident's workload logs its calls to a cloud service as
throttled by the provider (AWS ``ThrottlingException``), it did not change itself, and exactly
one other workload configured with resources of the same service, region and account
(``Evidence.quota_peers``) rolled out a revision that changes how it calls (image, env, args,
resources) right before the onset. The provider meters that request quota per account and
region, not per caller: a neighbour's release that calls far more (a data-key cache dropped,
a retry loop) spends it, and every other caller is throttled while it did nothing new. An SRE
rolls that neighbour back; asking the provider for a higher quota treats the surface, and
scaling the throttled workload out only adds callers.

Silent when the incident's workload changed too, when no neighbour or several changed, or
when the neighbour's change is older than the onset window or touched nothing that decides
its calls.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.shared_dependency import load_rollout, rollout_line, sole_rollout
from kubetriage.analyzers.support import grep_logs, item, object_source
from kubetriage.evidence.quota_peers import PROVIDER_THROTTLING
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.naming import source_texts
from kubetriage.models.vocabulary import Action, Category

# The one neighbour on the throttled quota that rolled out right before the onset, while the
# incident's workload did not change: as sure as a neighbour's rollout on a shared outside
# host (egress-peer, 0.84), above the provider's refusals read as a callee's rate limit
# (rate-limited-dependency, 0.75-0.8), which escalates to no one who can act.
CONFIDENCE: Final = 0.84

_THROTTLED = re.compile(PROVIDER_THROTTLING)


def check_quota_peer(evidence: Evidence) -> list[Finding]:
    """Roll back the one neighbour on the workload's throttled cloud quota whose release
    preceded the throttling."""
    found = sole_rollout(
        evidence, evidence.quota_peers, lambda p, t: load_rollout(p.ref, p.changes, t)
    )
    if found is None:
        return []
    peer, change = found
    service = re.compile(rf"(?i)(?<![a-z0-9]){re.escape(peer.service)}(?![a-z0-9])")
    own = [log for log in evidence.logs if log.source == "scope"]
    hit = next((h for h in grep_logs(own, _THROTTLED) if service.search(h.line)), None)
    if hit is None:
        return []
    quota = f"{peer.service.upper()} in {peer.region} of account {peer.account}"
    target = peer.ref
    source = object_source(target)
    facts = [
        item(hit.source, hit.line),
        item(source, f"calls {quota}: {prose.listing(source_texts(peer.named_by), limit=2)}"),
        item(source, rollout_line(change)),
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision spends the {peer.service.upper()} request quota "
        "the workload shares",
        "roll it back",
        because=[
            prose.claim(f"The provider throttles the workload's calls to {quota}", facts[0]),
            prose.claim(
                f"{prose.obj(target)} calls it too, in the same account and region, where the "
                "provider meters one quota for every caller",
                facts[1],
            ),
            prose.claim(
                "It rolled out right before the onset, while the workload did not change",
                facts[2],
            ),
        ],
    )
    return [
        make_finding(
            "quota-peer", Category.BAD_ROLLOUT, CONFIDENCE, text, facts, Action.ROLLBACK, target, {}
        )
    ]


QUOTA_PEER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("quota-peer", (Category.BAD_ROLLOUT,), check_quota_peer),
)
