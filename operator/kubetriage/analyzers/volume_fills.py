"""How full a PersistentVolumeClaim is, by the kubelet's volume stats: its bytes and its
inodes. A filesystem is full when either runs out: many small files (a cache, a
content-addressed store, a mail spool) use up the inodes while bytes remain free, and
writes then fail with ENOSPC ("no space left on device") all the same.

Pure; used by the storage rule and by what a dependency says of its disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage.analyzers.support import divides, metrics_named, parse_quantity
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary

# Shares of a volume in use: filling up, and full.
FILLING = 0.9
FULL = 0.97
# The kubelet's inode stats of a volume: in use, free, and how many the filesystem has.
INODES_USED: Final = "kubelet_volume_stats_inodes_used"
INODES_FREE: Final = "kubelet_volume_stats_inodes_free"
INODES: Final = "kubelet_volume_stats_inodes"


@dataclass(frozen=True, slots=True)
class VolumeFill:
    """The latest share in use of a claim, as one kubelet volume series measures it."""

    namespace: str | None
    claim: str
    share: float
    capacity: float | None  # bytes, when the share was computed from a capacity
    inodes: bool = False  # the share is of the filesystem's inodes, not of its bytes


def metric_claim(metric: MetricSummary) -> str | None:
    """The claim a kubelet volume series is of: its label, or the matcher in its query."""
    claim = metric.labels.get("persistentvolumeclaim")
    if claim is None:
        match = re.search(r'persistentvolumeclaim="([^"]+)"', metric.query)
        claim = match.group(1) if match else None
    return claim


def _byte_fills(evidence: Evidence, namespace: str | None) -> list[VolumeFill]:
    """Each claim's share of bytes in use (used or available bytes over the capacity series
    or the claim's own capacity; a "used / capacity" query is already a share)."""
    pvcs = {(p.namespace, p.name): p for p in evidence.pvcs}
    used = metrics_named(evidence, "kubelet_volume_stats_used_bytes")
    capacity = metrics_named(evidence, "kubelet_volume_stats_capacity_bytes")
    available = metrics_named(evidence, "kubelet_volume_stats_available_bytes")
    fills: list[VolumeFill] = []
    for metric in used + available:
        claim = metric_claim(metric)
        if claim is None or metric.last is None:
            continue
        ns = metric.labels.get("namespace", namespace)
        if divides(metric.query):
            fills.append(VolumeFill(ns, claim, metric.last, None))
            continue
        cap = next(
            (
                c.last
                for c in capacity
                if c.last
                and not divides(c.query)
                and (c.labels.get("persistentvolumeclaim") == claim or claim in c.query)
            ),
            None,
        )
        if cap is None:
            known = pvcs.get((ns or "", claim))
            cap = parse_quantity(known.capacity or known.requested) if known else None
        if not cap:
            continue
        share = metric.last / cap
        fills.append(VolumeFill(ns, claim, 1.0 - share if metric in available else share, cap))
    return fills


def _inode_fills(evidence: Evidence, namespace: str | None) -> list[VolumeFill]:
    """Each claim's share of inodes in use: an "inodes used / inodes" query as it answers,
    else the raw used (or free) inode count over the filesystem's inodes."""
    series = metrics_named(evidence, INODES)
    totals = {
        (m.labels.get("namespace", namespace), claim): m.last
        for m in series
        if m.name == INODES and not divides(m.query) and m.last and (claim := metric_claim(m))
    }
    fills: list[VolumeFill] = []
    for metric in series:
        claim = metric_claim(metric)
        if claim is None or metric.last is None:
            continue
        ns = metric.labels.get("namespace", namespace)
        if divides(metric.query):
            if INODES_USED in metric.query:
                fills.append(VolumeFill(ns, claim, metric.last, None, inodes=True))
            continue
        total = totals.get((ns, claim))
        if not total or metric.name not in (INODES_USED, INODES_FREE):
            continue
        share = metric.last / total
        fills.append(
            VolumeFill(ns, claim, share if metric.name == INODES_USED else 1.0 - share, None, True)
        )
    return fills


def volume_fills(evidence: Evidence, namespace: str | None) -> list[VolumeFill]:
    """Each claim's share in use from the kubelet volume metrics, of its bytes and of its
    inodes; ``namespace`` stands in for series without a namespace label."""
    return _byte_fills(evidence, namespace) + _inode_fills(evidence, namespace)


def fullest_claim(evidence: Evidence, namespace: str | None, claims: list[str]) -> str | None:
    """Of the claims one pod mounts (data, WAL, logs...), the one the volume metrics measure
    as filling up or full (the fullest, in bytes or inodes), else the first: a "no space
    left" line does not say which of its volumes ran out, the measurements do."""
    shares: dict[str, float] = {}
    for fill in volume_fills(evidence, namespace):
        if fill.claim in claims and fill.namespace in (namespace, None) and fill.share >= FILLING:
            shares[fill.claim] = max(shares.get(fill.claim, 0.0), fill.share)
    if shares:
        return max(shares, key=lambda claim: shares[claim])
    return claims[0] if claims else None


def filled_lately(evidence: Evidence, namespace: str | None, claim: str) -> bool:
    """Whether a kubelet volume series of ``claim`` moved towards full within the window: its
    used bytes or inodes (or a share of them) rose, or its available bytes or free inodes
    fell. A volume full all along (a cache's preallocated store file) did not fill lately."""
    for metric in evidence.metrics:
        if metric_claim(metric) != claim or metric.labels.get("namespace", namespace) != namespace:
            continue
        query = metric.query.strip()
        if not divides(query) and ("capacity" in query or metric.name == INODES):
            continue  # the filesystem's size, not its use
        shrinking = ("available" in query or INODES_FREE in query) and not query.startswith("1 -")
        if metric.trend == ("falling" if shrinking else "rising"):
            return True
    return False
