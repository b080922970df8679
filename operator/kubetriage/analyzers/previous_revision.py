"""Pods of the previous revision that show the new revision's symptom (the same failures
logged, or the same slow start: ``warm_up``): the change is not what broke them
(``previous_fails_alike``). Read by change correlation
(``kubetriage.analyzers.changes``); pure functions of Evidence.
"""

from __future__ import annotations

import re

from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import grep_logs, item, logs_of
from kubetriage.analyzers.warm_up import previous_starts_alike
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import PodEvidence

_VARYING = re.compile(r"(?i)\b[0-9a-f]*\d[0-9a-f]*\b")


def _error_shapes(evidence: Evidence, pods: list[PodEvidence]) -> set[str]:
    """The failing calls the pods log, reduced to their shape (numbers, ids and addresses
    blanked): the same failure logged by two pods has the same shape."""
    shapes: set[str] = set()
    for pod in pods:
        logs = logs_of(evidence, pod)
        for hit in grep_logs(logs, DEPENDENCY_LOG, limit=20) + grep_logs(
            logs, _EXCEPTION, limit=20
        ):
            shape = _VARYING.sub("#", hit.match.group(0).lower())
            # A bare status code ("code": 500) says a request failed, not which failure.
            if sum(ch.isalpha() for ch in shape) >= _MIN_SHAPE_LETTERS:
                shapes.add(shape)
    return shapes


_MIN_SHAPE_LETTERS = 8


# An exception class a log line names (Java/.NET/Python style): the failure's signature.
_EXCEPTION = re.compile(r"\b(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Exception|Error)\b")


def previous_fails_alike(evidence: Evidence) -> EvidenceItem | None:
    """Pods of the previous revision, still running beside the new one, that log the same
    failures as the new revision's pods: the change is not what broke them."""
    if (cold := previous_starts_alike(evidence)) is not None:
        return cold  # its pods that started in the window were as slow at first
    current, _ = current_and_previous_revision(evidence)
    if current is None:
        return None
    old: list[PodEvidence] = []
    new: list[PodEvidence] = []
    for pod in evidence.pods:
        revision = pod_revision(pod, evidence)
        if revision is None:
            continue
        if revision.revision == current.revision:
            new.append(pod)
        elif revision.revision < current.revision:
            old.append(pod)
    if not old or not new:
        return None
    shared = _error_shapes(evidence, old) & _error_shapes(evidence, new)
    if not shared:
        return None
    return item(
        "revision",
        f"pods of the previous revision log the same failures: {sorted(shared)[0]}",
    )
