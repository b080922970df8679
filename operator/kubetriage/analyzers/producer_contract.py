"""A producer's release that changed what it writes, seen at its consumer: the incident's
workload fails to decode the records it reads (its own lines: a deserializer's exception, a
protobuf wire-type error, an unknown schema magic byte; ``topic_peers.DECODE_FAILURE``), it
did not change itself, and exactly one other workload naming a topic it consumes
(``Evidence.queue_peers``, found from the topics its env configures) rolled out a revision
that changes what it does (image, env, args) within the onset window. The consumer crashes
or dead-letters on the first record the new revision wrote (a renumbered protobuf field, a
schema it cannot read), however healthy it was: an SRE paged for the consumer asks who
writes what it reads and who changed, and rolls THAT producer back, rather than restarting
or escalating a consumer whose code never changed.

Silent when the consumer's lines show no decode failure, when it changed itself, or when no
peer or several rolled out within the window.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.shared_dependency import load_rollout, rollout_line, sole_rollout
from kubetriage.analyzers.support import grep_logs, item, object_source
from kubetriage.evidence.topic_peers import DECODE_FAILURE
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.naming import source_texts
from kubetriage.models.vocabulary import Action, Category

# The one writer of a topic its unchanged consumer cannot decode released within the onset
# window: above the consumer's own crash (0.80), whose fix is that producer's rollback.
CONFIDENCE: Final = 0.86
NAME: Final = "producer-contract"


def check_producer_contract(evidence: Evidence) -> list[Finding]:
    """Roll back the one writer of the consumer's topics that released before it failed to
    decode them."""
    hits = grep_logs(evidence.logs, DECODE_FAILURE, limit=1)
    if not hits or not evidence.queue_peers:
        return []
    suspect = sole_rollout(
        evidence, evidence.queue_peers, lambda p, onset: load_rollout(p.ref, p.changes, onset)
    )
    if suspect is None:
        return []
    peer, change = suspect
    target = peer.ref
    failed = item(hits[0].source, hits[0].line)
    names = item(
        object_source(target),
        f"names {peer.queue} ({prose.listing(source_texts(peer.named_by), limit=2)})",
    )
    rolled = item(object_source(target), rollout_line(change))
    return [
        make_finding(
            NAME,
            Category.BAD_ROLLOUT,
            CONFIDENCE,
            prose.narrative(
                f"{prose.obj(target)}'s new revision writes records to {peer.queue} that its "
                "unchanged consumer cannot decode",
                "roll it back",
                because=[
                    prose.claim("The consumer fails to decode the records it reads", failed),
                    prose.claim(f"{prose.obj(target)} writes to {peer.queue}", names),
                    prose.claim(
                        f"{prose.obj(target)} rolled out a new revision before the failures "
                        "began, while the consumer did not change",
                        rolled,
                    ),
                ],
            ),
            [failed, names, rolled],
            Action.ROLLBACK,
            target,
            {},
        )
    ]


PRODUCER_CONTRACT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_producer_contract),
)
