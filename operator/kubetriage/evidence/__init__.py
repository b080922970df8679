"""Kubernetes evidence: resolve an incident's target, collect the objects and logs around it
(``kube.KubeEvidenceCollector``, I/O) and summarise them into bounded ``Evidence``
(``build.build_evidence``, pure). Called by the diagnosis pipeline and the case replay."""

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import bound_log_tail, tail_from_text
from kubetriage.evidence.targets import candidate_targets, focus_containers, resolve_target

__all__ = [
    "EvidenceLimits",
    "bound_log_tail",
    "build_evidence",
    "candidate_targets",
    "focus_containers",
    "resolve_target",
    "tail_from_text",
]
