"""A server closing slow consumers whose clients are throttled at their CPU limit.

A message server writes to each subscriber as fast as messages arrive; a subscriber that does
not read them fast enough fills its pending buffer until the server closes it as a slow
consumer (NATS' "Slow Consumer Detected", Redis' output buffer limit), naming it by its
address (``Evidence.slow_consumers``: the pods at those addresses and their Deployments). The
server is the one that alerts, yet it only enforces its limit: what is slow is the client.
When the client's containers are throttled in a large share of their CFS periods, its CPU
limit is what keeps it from reading in time, and an SRE raises that limit; restarting or
scaling the server would not make the client read faster.

Silent when no server names a slow consumer, when the clients it names are not throttled
(their slowness is another story: their own work, their network), or when the client is not
a workload whose CPU limit can be raised.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cfs import THROTTLED_SHARE, workload_throttle_shares
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a throttled-slow-consumer finding is, by the evidence that earns it."""

    # A server names the client by address as it closes it as a slow consumer, and that
    # client's container is throttled in THROTTLED_SHARE of its CFS periods or more: as sure
    # as the workload's own throttling rule on its own series.
    throttled_client: float = 0.84


CONFIDENCE: Final = _Confidence()
NAME: Final = "throttled-slow-consumer"


def _throttled(evidence: Evidence) -> list[tuple[RefusedClientEvidence, str, float]]:
    """(client, container, share) of each slow consumer whose container is throttled in
    THROTTLED_SHARE of its periods or more, most throttled first."""
    found: list[tuple[RefusedClientEvidence, str, float]] = []
    for client in evidence.slow_consumers:
        if client.ref.kind not in ACTION_TARGET_KINDS[Action.INCREASE_CPU]:
            continue
        shares = workload_throttle_shares(evidence, client.ref)
        if not shares:
            continue
        container, share = max(shares.items(), key=lambda s: s[1])
        if share >= THROTTLED_SHARE:
            found.append((client, container, share))
    return sorted(found, key=lambda f: -f[2])


def check_throttled_slow_consumer(evidence: Evidence) -> list[Finding]:
    """Raise the CPU limit of the slow consumer a server closes whose container is throttled."""
    throttled = _throttled(evidence)
    if not throttled:
        return []
    client, container, share = throttled[0]
    target = client.ref
    closed = item(
        object_source(target),
        f"pod {client.pod} at {client.address} closed as a slow consumer: "
        f"{prose.clip(client.line, 200)}",
    )
    stalled = item(
        "metrics",
        f"{prose.percent(share)} of CFS periods throttled for {container} of {prose.obj(target)}",
    )
    text = prose.narrative(
        f"{prose.obj(target)} cannot read what the server sends in time: its CPU limit "
        f"throttles container {container}",
        "raise its CPU limit",
        because=[
            prose.claim(
                f"The server closes {prose.obj(target)}'s connection as a slow consumer", closed
            ),
            prose.claim(
                f"Its container {container} is throttled in {prose.percent(share)} of its CFS "
                "periods, so it falls behind what it is sent",
                stalled,
            ),
        ],
    )
    return [
        make_finding(
            NAME,
            Category.CPU_THROTTLING,
            CONFIDENCE.throttled_client,
            text,
            [closed, stalled],
            Action.INCREASE_CPU,
            target,
            {"container": container},
        )
    ]


SLOW_CONSUMER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CPU_THROTTLING,), check_throttled_slow_consumer),
)
