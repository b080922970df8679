"""A queue's producer whose release floods its consumers: the alert is about a consumer's lag
or backlog, the consumer did not change and its backlog grows, and exactly one other workload
naming the queue or topic (``Evidence.queue_peers``: its producers) rolled out a revision
that changes what it does (image, env, args) within the onset window. An SRE paged for lag
with the consumers at their autoscaler's maximum asks what arrives and who changed what they
send: a producer release that publishes more messages for the same work (an event per line,
on every recalculation) multiplies the input while traffic stays flat, and more consumers
only chase it. Roll the producer back.

Silent when the consumer changed itself (its own rollout is its own story), when its own
lines say it cannot decode what it reads (it fails on what arrives, not on how much: the
producer-contract rule, ``producer_contract``, says so), when no backlog grows (its series,
or else a firing backlog alert, say so), when no peer or several rolled out within the
window, or when the queue's input rate is known and did not grow (the release did not change
what arrives).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.queues import (
    INPUT_GROWTH,
    backlog_alerted,
    backlogs,
    growing_backlogs,
    input_rates,
    series_fact,
)
from kubetriage.analyzers.shared_dependency import load_rollout, rollout_line, sole_rollout
from kubetriage.analyzers.support import grep_logs, item, object_source
from kubetriage.evidence.topic_peers import DECODE_FAILURE
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.naming import source_texts
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a producer-rollout finding is, by the evidence that earns it."""

    # The one peer of the alerted queue that rolled out within the onset window of a growing
    # backlog whose consumer did not change: above the consumer's autoscaler held at its
    # maximum (0.85), which that release's extra messages drive there.
    rollout: float = 0.86
    # ... and the queue's input rate grew with it.
    more_input_bonus: float = 0.04


CONFIDENCE: Final = _Confidence()
NAME: Final = "producer-rollout"


def check_producer_rollout(evidence: Evidence) -> list[Finding]:
    """Roll back the one producer of the alerted queue that rolled out before the lag."""
    grown = growing_backlogs(evidence)
    # A firing backlog alert stands for the backlog's series when none was read.
    alerted = [] if backlogs(evidence) else backlog_alerted(evidence)
    grows = [series_fact(*grown[0])] if grown else alerted
    if not evidence.queue_peers or not grows:
        return []
    if grep_logs(evidence.logs, DECODE_FAILURE, limit=1):
        return []  # the consumer fails on what arrives, not on how much
    suspect = sole_rollout(
        evidence, evidence.queue_peers, lambda p, onset: load_rollout(p.ref, p.changes, onset)
    )
    if suspect is None:
        return []
    peer, change = suspect
    inputs = [(m, g) for m, g in input_rates(evidence) if g is not None]
    if inputs and all(g < INPUT_GROWTH for _, g in inputs):
        return []  # what arrives did not grow: the release is not what the consumers chase
    target = peer.ref
    names = item(
        object_source(target),
        f"names {peer.queue} ({prose.listing(source_texts(peer.named_by), limit=2)})",
    )
    rolled = item(object_source(target), rollout_line(change))
    because = [
        prose.claim(f"{prose.obj(target)} publishes to {peer.queue}", names),
        prose.claim(f"{prose.obj(target)} rolled out a new revision before the lag began", rolled),
        prose.claim("The consumers did not change, and their backlog keeps growing", grows[0]),
    ]
    facts = [names, rolled, grows[0]]
    confidence = CONFIDENCE.rollout
    grew = [(m, g) for m, g in inputs if g >= INPUT_GROWTH]
    if grew:
        more = series_fact(*grew[0])
        because.append(prose.claim("More messages arrive than before its release", more))
        facts.append(more)
        confidence += CONFIDENCE.more_input_bonus
    return [
        make_finding(
            NAME,
            Category.BAD_ROLLOUT,
            confidence,
            prose.narrative(
                f"{prose.obj(target)}'s new revision floods {peer.queue}, which its consumers "
                "cannot drain",
                "roll it back",
                because=because,
            ),
            facts,
            Action.ROLLBACK,
            target,
            {},
        )
    ]


PRODUCER_ROLLOUT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_producer_rollout),
)
