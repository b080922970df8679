"""The storage-backend rule: a storage system running in the cluster that stores a claim of the
incident's pods (or of a followed callee's) reports, in its own status, the condition under
which it takes no more writes:

- Ceph ``OSD_FULL`` (an OSD crossed the full ratio: Ceph pauses client writes to the pools
  on it) or ``POOL_FULL`` (a pool is full: writes to it are refused). ``OSD_NEARFULL`` and
  ``OSD_BACKFILLFULL`` are warnings with writes still taken, and any other check
  (a degraded file system, a slow MDS) is not about writes being refused: neither fires.
- A Longhorn volume ``faulted`` (no healthy replica left: the volume cannot serve I/O). A
  ``degraded`` volume still serves from its remaining replicas and does not fire.

The pods' requests then hang on the mount however empty the volume looks from inside the
pod, so growing the claim does not help (it asks the full system for more): ``storage``,
escalate to the storage system's owners through its Service (the Ceph manager's, Longhorn
manager's), who free space or add capacity (OSDs, disks) or salvage the replicas.

The evidence is the ``storage-backend`` route of ``kubetriage.evidence.storage_backends``
(the system's resource), and for Ceph the manager's ``ceph_health_detail`` series in the
cluster's namespace (``CEPH_HEALTH_CHECKS``): a check raised at the window's end counts as
the status reporting it (the resource's status is refreshed only every minute or so).
Limits: which pool a full OSD blocks is not known (Ceph's checks do not name it in the
status), so a full OSD serving only another pool than the claim's would be blamed alike.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.support import item
from kubetriage.evidence.query_templates_volumes import CEPH_HEALTH_CHECKS
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import StorageBackendHealth
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a storage-backend finding is, by the evidence that earns it."""

    # The storage system's own status says it refuses writes, and it stores a claim of the
    # incident's pods: above a callee's timeouts read from the caller's log (0.78), below
    # the dependency's own log saying its disk is full (0.9).
    refuses_writes: float = 0.85


CONFIDENCE: Final = _Confidence()

# Ceph health checks under which client writes are paused or refused.
CEPH_WRITES_BLOCKED: Final = ("OSD_FULL", "POOL_FULL")
# The manager's series itself, as a replay without the query catalogue names it.
CEPH_HEALTH_SERIES: Final = "ceph_health_detail"
# Longhorn robustness under which a volume serves no I/O.
LONGHORN_UNUSABLE: Final = "faulted"


def refused_writes(health: StorageBackendHealth) -> list[str]:
    """The conditions ``health`` reports under which the system takes no writes, as shown:
    Ceph's check codes with their messages, a faulted Longhorn volume's robustness."""
    if health.resource.kind == "CephCluster":
        return [
            f"{code} ({health.checks[code]})" if health.checks[code] else code
            for code in CEPH_WRITES_BLOCKED
            if code in health.checks
        ]
    if health.resource.kind == "Volume" and health.health == LONGHORN_UNUSABLE:
        state = f", {health.state}" if health.state else ""
        return [f"robustness {health.health}{state}"]
    return []


def raised_series(evidence: Evidence, health: StorageBackendHealth) -> list[str]:
    """The write-blocking Ceph checks the manager's series say are raised at the window's end
    in the namespace of ``health``'s CephCluster, that its status does not already list."""
    if health.resource.kind != "CephCluster":
        return []
    return sorted(
        {
            code
            for m in evidence.metrics
            if m.name in (CEPH_HEALTH_CHECKS, CEPH_HEALTH_SERIES)
            and m.labels.get("namespace") == health.resource.namespace
            and (code := m.labels.get("name", "")) in CEPH_WRITES_BLOCKED
            and code not in health.checks
            and m.last is not None
            and m.last >= 1
        }
    )


def _claim_holder(evidence: Evidence, claim: str) -> tuple[ObjectRef, str]:
    """The claim, in the namespace of the pods mounting it, and who keeps data on it as a
    person reads it: the incident's workload, else the followed callee whose pods mount it."""
    namespace = next((p.namespace for p in evidence.pods if claim in p.pvc_names), None)
    holder = caller(evidence) if namespace is not None else None
    for dependency in evidence.dependencies:
        mounted = next((v for v in dependency.volumes if v.claim.name == claim), None)
        if holder is None and mounted is not None:
            namespace = mounted.claim.namespace
            callee = dependency.service_ref() or dependency.workload
            holder = (
                f"{caller(evidence)}'s callee {prose.obj(callee)}"
                if callee
                else f"Pod {mounted.pod}"
            )
    if namespace is None and evidence.target is not None:
        namespace = evidence.target.namespace
    return (
        ObjectRef(kind="PersistentVolumeClaim", namespace=namespace, name=claim),
        holder or caller(evidence),
    )


def check_storage_backends(evidence: Evidence) -> list[Finding]:
    for dependency in evidence.dependencies:
        target = dependency.service_ref()
        for route in dependency.routed("storage-backend"):
            health = route.backend
            if health is None or target is None or route.claim is None:
                continue
            refused = refused_writes(health)
            series = raised_series(evidence, health)
            if not refused and not series:
                continue
            refused += [f"{code} (ceph_health_detail)" for code in series]
            resource = health.resource
            claim, holder = _claim_holder(evidence, route.claim)
            used = (
                f", {health.used_fraction:.0%} of its raw capacity used"
                if health.used_fraction is not None
                else ""
            )
            facts = [
                item(
                    f"{resource.kind}/{resource.namespace}/{resource.name}",
                    f"health {health.health}: {'; '.join(refused)}{used}",
                ),
                item(f"pvc/{claim.namespace}/{claim.name}", f"stored by {resource.name}"),
            ]
            because = [
                prose.claim(
                    f"{prose.obj(resource)} reports that it takes no writes: {', '.join(refused)}",
                    facts[0],
                ),
                prose.claim(
                    f"{holder} keeps its data on claim {route.claim}, stored there: "
                    "its writes hang however empty the volume looks, and growing the claim "
                    "would not help",
                    facts[1],
                ),
            ]
            fix = f"escalate to the owners of {prose.obj(target)}"
            return [
                make_finding(
                    "storage-backend",
                    Category.STORAGE,
                    CONFIDENCE.refuses_writes,
                    prose.narrative(
                        prose.fitting_problem(
                            [
                                f"{prose.obj(claim)} is stored by {prose.obj(resource)}, "
                                "which takes no writes",
                                f"{prose.obj(claim)} is stored where writes are refused",
                            ],
                            fix,
                        ),
                        fix,
                        because=because,
                    ),
                    facts,
                    Action.ESCALATE,
                    target,
                )
            ]
    return []


STORAGE_BACKEND_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("storage-backend", (Category.STORAGE,), check_storage_backends),
)
