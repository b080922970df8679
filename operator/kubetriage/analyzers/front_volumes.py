"""The front-volume rule: the incident's service is alerted as slow or failing while a cache in
front of it (a caller a mounted ConfigMap routes to it: an nginx proxy_cache, a Varnish file
store, a Squid cache_dir) has a volume that filled up within the window. A cache that cannot
write keeps nothing new it fetches: every read of something not cached yet misses and goes to
the origin, again and again, so the origin's load and latency climb while nothing of its own
changed, and rolling the origin back would leave it the same misses. nginx's cache manager
only trims the cache above ``max_size``, so a ``max_size`` above the volume's size fills it
("pwrite() failed (28: No space left on device) while reading upstream"). ``storage``:
expand the cache's claim (or set the cache's maximum size below it).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import alerted_strain
from kubetriage.analyzers.storage import claim_size_params
from kubetriage.analyzers.support import item
from kubetriage.analyzers.volume_fills import FULL, filled_lately, volume_fills
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a front-volume finding is, by the evidence that earns it."""

    # A cache in front of the alerted service filled its volume within the window: above the
    # service's own rollout (change correlation, 0.88), whose rolled-back pods would take
    # the same misses, and above the volume reading alone (storage, 0.8).
    filled: float = 0.9


CONFIDENCE: Final = _Confidence()


def check_front_volumes(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    if not strain:
        return []
    for caller in evidence.callers:
        if not caller.fronts() or not caller.claims:
            continue
        namespace = caller.ref.namespace
        fills = [
            fill
            for fill in volume_fills(evidence, namespace)
            if fill.claim in caller.claims
            and fill.namespace == namespace
            and fill.share >= FULL
            and filled_lately(evidence, namespace, fill.claim)
        ]
        if not fills:
            continue
        fill = max(fills, key=lambda f: f.share)
        claim = ObjectRef(kind="PersistentVolumeClaim", namespace=namespace, name=fill.claim)
        front = caller.ref
        source = f"{front.kind.lower()}/{front.namespace}/{front.name}"
        named = item(source, f"routes to {prose.obj(caller.callee)}: {caller.naming_texts()[0]}")
        used = f"{prose.percent(fill.share)} full" + (" of inodes" if fill.inodes else "")
        size = "" if fill.capacity is None else f" of {prose.memory(fill.capacity)}"
        full = item("metrics", f"volume {fill.claim} is {used}{size}, filled within the window")
        params = claim_size_params(fill.claim, fill.capacity)
        fix = f"expand it to {params['size']}" if "size" in params else "expand it"
        return [
            make_finding(
                "front-volumes",
                Category.STORAGE,
                CONFIDENCE.filled,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{prose.obj(claim)}, the volume of {prose.obj(front)} in front of "
                            f"{prose.obj(caller.callee)}, is full",
                            f"{prose.obj(claim)}, the volume of {prose.obj(front)} in front of "
                            f"{caller.callee.kind} {caller.callee.name}, is full",
                            f"{prose.obj(claim)}, the volume of the cache in front of "
                            f"{caller.callee.kind} {caller.callee.name}, is full",
                        ],
                        fix,
                    ),
                    fix,
                    because=[
                        prose.claim(
                            f"{prose.obj(front)} is configured to route to "
                            f"{prose.obj(caller.callee)}",
                            named,
                        ),
                        prose.claim(f"Its volume {fill.claim} filled up", full),
                        prose.claim(
                            "A cache that cannot write keeps nothing new it fetches, so every "
                            "such read misses and goes to the alerted service",
                            *strain,
                        ),
                    ],
                ),
                [full, named, *strain],
                Action.EXPAND_STORAGE,
                claim,
                params,
            )
        ]
    return []


FRONT_VOLUME_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("front-volumes", (Category.STORAGE,), check_front_volumes),
)
