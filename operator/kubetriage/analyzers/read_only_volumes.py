"""The read-only volume rule: an application whose writes fail with "Read-only file system"
(EROFS, errno 30) while the pod mounts a claim that its access modes let it write: the node
remounted that volume's filesystem read-only after I/O errors under it (ext4
``errors=remount-ro`` when the block device behind it went away for a moment: a distributed
volume's engine or replicas lost, a detach the pod never saw). The filesystem stays read-only
after the volume itself recovers, until it is mounted again, which a new pod does: restart
the workload.

Not this rule's: a pod that mounts no claim (its read-only root filesystem is how its spec
asks for it), a claim only ever mountable read-only (``ReadOnlyMany``), a write to a path of
a ConfigMap or Secret mount (read-only by design), and a pod whose log also says it is out
of space (the storage rule's full volume).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import DISK_FULL_LOG
from kubetriage.analyzers.support import grep_logs, item, logs_of, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a read-only volume finding is, by the evidence that earns it."""

    # The pod's log says writes fail on a read-only file system, and the pod mounts a claim
    # it may write: below a kubelet's or a volume Event's own word (0.85), above the
    # generic reading of an application's errors.
    logged: float = 0.75
    repeated_bonus: float = 0.05  # ... in more than one log line


CONFIDENCE: Final = _Confidence()

READ_ONLY_FS: Final = re.compile(r"(?i)(read-only file ?system|\bEROFS\b|\[Errno 30\])")


def check_read_only_volumes(evidence: Evidence) -> list[Finding]:
    claims = {(c.namespace, c.name): c for c in evidence.pvcs}
    seen: set[str] = set()
    findings: list[Finding] = []
    for pod in evidence.pods:
        writable = [
            name
            for name in pod.pvc_names
            if (claim := claims.get((pod.namespace, name))) is None
            or set(claim.access_modes) - {"ReadOnlyMany"}
            or not claim.access_modes
        ]
        if not writable:
            continue
        logs = logs_of(evidence, pod)
        # A ConfigMap or Secret mount is read-only by design: writes there say nothing of a
        # claim's volume.
        configs = [m.path for c in pod.containers for m in c.config_mounts if m.path]
        hits = [
            h
            for h in grep_logs(logs, READ_ONLY_FS, limit=6)
            if not any(path in h.line for path in configs)
        ][:3]
        if not hits or grep_logs(logs, DISK_FULL_LOG, limit=1):
            continue
        workload = workload_ref(evidence, pod)
        if workload is None or workload.key() in seen:
            continue
        seen.add(workload.key())
        facts: list[EvidenceItem] = [item(h.source, h.line) for h in hits]
        facts.append(item(f"pod/{pod.namespace}/{pod.name}", f"mounts {', '.join(writable)}"))
        because = [
            prose.claim(f"Writes from {pod.name} fail on a read-only file system", *facts[:2]),
            prose.claim(
                f"It mounts {', '.join(writable)}, which it may write: the node remounted the "
                "volume read-only after I/O errors, and it stays so until mounted again",
                facts[-1],
            ),
        ]
        findings.append(
            make_finding(
                "read-only-volumes",
                Category.STORAGE,
                CONFIDENCE.logged + (CONFIDENCE.repeated_bonus if len(hits) > 1 else 0.0),
                prose.narrative(
                    f"{prose.obj(workload)} writes to a volume remounted read-only",
                    "restart it so its pods mount the volume again, once the volume is healthy",
                    because=because,
                ),
                facts,
                Action.RESTART,
                workload,
            )
        )
    return findings


READ_ONLY_VOLUME_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("read-only-volumes", (Category.STORAGE,), check_read_only_volumes),
)
