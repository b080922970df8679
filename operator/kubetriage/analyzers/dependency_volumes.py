"""The dependency-volume-full rule: a followed database, cache, broker or search engine says
in its own log that its volume is full (Postgres ``could not extend file``, MySQL ``Disk is
full writing``, ``No space left on device``, Elasticsearch's flood-stage watermark, a RabbitMQ
disk alarm, VictoriaMetrics' vmstorage turning read-only below its minimum free space):
``storage``, grow the PersistentVolumeClaim of the pod that is full (the pod the line names,
else the one that logged it; of its several claims, the one the volume metrics measure
fullest). A line about a shared memory segment or /dev/shm names the pod's tmpfs, not a
claim, and is not read as one. A server's own free-space threshold that trips on a claim the
metrics measure roomy is not a volume to grow, and the rule stays silent. The dependency's
other words (refusing work, refused logins) are ``kubetriage.analyzers.dependency_server``'s.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.dependency_server import Said, said_fact, said_lines, service_ref
from kubetriage.analyzers.log_signatures import SHARED_MEMORY_SPACE
from kubetriage.analyzers.support import item
from kubetriage.analyzers.volume_fills import fullest_claim, volume_fills
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyVolume
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a full-volume finding from a dependency's own words is."""

    volume_full: float = 0.9  # the dependency's own log says its disk is full


CONFIDENCE: Final = _Confidence()

# A claim the volume metrics measure at most this full is not the disk a server's own
# free-space alarm is about: at a quarter or half used, its threshold is what tripped.
ROOMY = 0.5
# The "disk full" words that are a server's own threshold rather than the OS refusing a write
# (ENOSPC, which the kubelet's byte counts may not see: inodes, another filesystem).
_THRESHOLD_ALARM = re.compile(
    r"(?i)(disk resource limit alarm set|flood[- ]stage disk watermark|minFreeDiskSpaceBytes)"
)

# The words servers print when their volume is full.
VOLUME_FULL = re.compile(
    r"(?i)(no space left on device|could not extend file|disk is full writing"
    r"|flood[- ]stage disk watermark \[[^\]]*\] exceeded|disk resource limit alarm set"
    r"|not enough space on the disk|ENOSPC"
    # VictoriaMetrics' vmstorage below its -storage.minFreeDiskSpaceBytes turns read-only.
    r"|read-only mode, since it has less than -storage\.minFreeDiskSpaceBytes)"
)
# A pod name (DNS label with a dash) in brackets or quotes: Elasticsearch names the node
# whose disk crossed the watermark, which is the pod of that name.
_NAMED_POD = re.compile(r"[\[\"' ]([a-z0-9][a-z0-9-]*-[a-z0-9]+)[\]\"' ]")


def _full_volume(evidence: Evidence, said: Said) -> DependencyVolume | None:
    """The claim of the pod the line names (a node named after its pod), else the claim of
    the pod that logged it; of a pod's several claims, the one measured full."""
    volumes = said.dependency.volumes
    named = {m.group(1) for m in _NAMED_POD.finditer(f" {said.line} ")}
    pod = next((v.pod for v in volumes if v.pod in named and v.pod != said.log.pod), said.log.pod)
    mounted = [v for v in volumes if v.pod == pod]
    if not mounted:
        return None
    fullest = fullest_claim(evidence, mounted[0].claim.namespace, [v.claim.name for v in mounted])
    return next((v for v in mounted if v.claim.name == fullest), mounted[0])


def _measured_roomy(evidence: Evidence, volume: DependencyVolume) -> bool:
    """Whether the volume metrics measure the claim far from full: the server's free-space
    alarm is then its own threshold (a RabbitMQ ``disk_free_limit`` relative to memory, a
    watermark) moved by a change, not a volume to grow."""
    shares = [
        fill.share
        for fill in volume_fills(evidence, volume.claim.namespace)
        if fill.claim == volume.claim.name and fill.namespace in (volume.claim.namespace, None)
    ]
    return bool(shares) and max(shares) <= ROOMY


def check_dependency_volume_full(evidence: Evidence) -> list[Finding]:
    for said in said_lines(evidence, VOLUME_FULL):
        if SHARED_MEMORY_SPACE.search(said.line):
            continue
        volume = _full_volume(evidence, said)
        if volume is None:
            continue
        if _THRESHOLD_ALARM.search(said.line) and _measured_roomy(evidence, volume):
            continue
        claim = ObjectRef(
            kind="PersistentVolumeClaim", namespace=volume.claim.namespace, name=volume.claim.name
        )
        served = service_ref(said.dependency) or said.dependency.workload
        facts = [
            said_fact(said),
            item(f"pod/{claim.namespace}/{volume.pod}", f"mounts {claim.name}"),
        ]
        because = [
            prose.claim(f"{caller(evidence)}'s dependency says its disk is full", facts[0]),
            prose.claim(f"Pod {volume.pod} keeps its data on {prose.obj(claim)}", facts[1]),
        ]
        fix = "grow the volume or free space on it"
        problem = f"The volume {prose.obj(claim)} of pod {volume.pod}"
        variants = [f"{problem} behind {prose.obj(served)} is full"] if served else []
        return [
            make_finding(
                "dependency-volume-full",
                Category.STORAGE,
                CONFIDENCE.volume_full,
                prose.narrative(
                    prose.fitting_problem([*variants, f"{problem} is full"], fix),
                    fix,
                    because=because,
                ),
                facts,
                Action.EXPAND_STORAGE,
                claim,
            )
        ]
    return []


DEPENDENCY_VOLUME_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("dependency-volume-full", (Category.STORAGE,), check_dependency_volume_full),
)
