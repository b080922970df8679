"""The refused-series rule: a metrics server (Prometheus, an agent built on its remote-write
code) whose remote store refuses batches as invalid (a 4xx: too many labels per series,
label values too long, out-of-order samples) drops them as non-recoverable and quotes the
refused series; its ``instance`` label is the scraped pod (``Evidence.refused_clients`` with
refusal "series": that pod's Deployment and its rollouts). Neither the server nor the store
changed, and exactly one of those exporters rolled out a revision that changes what it
exports (image, args, env) within the onset window: its new series break the store's limits
(an exporter told to copy every Kubernetes label onto its series, a release labelling by an
unbounded value). An SRE rolls that exporter back; raising the store's limits or escalating
the store treats the surface, and the store keeps refusing the next batch.

Silent when the server itself changed, when no exporter or several rolled out within the
window, or when the server is no scraping metrics server.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.shared_dependency import load_rollout, rollout_line, sole_rollout
from kubetriage.analyzers.support import item, object_source
from kubetriage.evidence.label_vocabulary import runs_metrics_server
from kubetriage.evidence.refused_clients import REFUSED_SERIES
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category

# The one exporter of refused series that rolled out within the onset window while the
# metrics server did not change: as a refused client's rollout (0.86).
CONFIDENCE: Final = 0.86
NAME: Final = "refused-series"
# Where the store's answer starts on such a line: "HTTP status 400 Bad Request: ...".
_STATUS: Final = re.compile(r"(?i)\bHTTP status 4\d\d\b")


def _refusal(line: str) -> str:
    """The store's answer on the server's line (its status, why, the series it quotes),
    without the line's leading fields."""
    match = _STATUS.search(line) if REFUSED_SERIES.search(line) else None
    return line[match.start() :] if match is not None else line


def check_refused_series(evidence: Evidence) -> list[Finding]:
    """Roll back the one exporter of series the remote store refuses that rolled out before
    the onset."""
    if not runs_metrics_server(c.image for p in evidence.pods for c in p.containers):
        return []
    exporters = [c for c in evidence.refused_clients if c.refusal == "series"]
    if not exporters:
        return []
    suspect = sole_rollout(
        evidence, exporters, lambda c, onset: load_rollout(c.ref, c.changes, onset)
    )
    if suspect is None:
        return []
    exporter, change = suspect
    target = exporter.ref
    source = object_source(target)
    facts = [
        item(
            source,
            f"series from pod {exporter.pod} at {exporter.address} refused by the remote "
            f"store: {prose.clip(_refusal(exporter.line), 200)}",
        ),
        item(source, rollout_line(change)),
    ]
    server = prose.obj(evidence.workload.ref) if evidence.workload is not None else "the server"
    because = [
        prose.claim(
            f"The remote store refuses, as invalid, series {server} scraped from "
            f"{prose.obj(target)}'s pods, and they are dropped",
            facts[0],
        ),
        prose.claim(f"{prose.obj(target)} rolled out a new revision within the window", facts[1]),
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision exports series the remote store refuses",
        "roll it back",
        because=because,
    )
    return [
        make_finding(
            NAME, Category.BAD_ROLLOUT, CONFIDENCE, text, facts, Action.ROLLBACK, target, {}
        )
    ]


REFUSED_SERIES_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_refused_series),
)
