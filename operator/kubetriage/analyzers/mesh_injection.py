"""Replicas of one revision that differ only in the mesh sidecar: a service mesh injects its
proxy (Istio's istio-proxy, Linkerd's linkerd-proxy) when a pod is admitted, as the pod's
namespace (or template) asks at that moment. Pods of the same ReplicaSet share one template,
so when some carry the proxy and others do not, injection was switched off (a namespace label
dropped by a sync, an injector down) between their admissions. The replicas without the proxy
speak plaintext outside the mesh, and a callee that requires mutual TLS resets or refuses
them, while the replicas with it keep serving. An SRE reads the failing calls from the bare
replicas only, restores injection, and recreates those pods (restart); escalating to the
callee, which serves the meshed replicas, changes nothing.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG
from kubetriage.analyzers.support import grep_logs, item, logs_of, owner_workload, pod_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an uninjected-replicas finding is."""

    # Pods of one ReplicaSet, some with the mesh proxy and some without; only those without
    # log failing calls.
    uninjected_replicas: float = 0.9


CONFIDENCE: Final = _Confidence()

# The containers a service mesh's injector adds to a pod (Istio, Linkerd).
MESH_SIDECARS: Final = frozenset({"istio-proxy", "linkerd-proxy"})


def _meshed(pod: PodEvidence) -> bool:
    """Whether the pod carries a mesh proxy (a regular container, or a native sidecar)."""
    return any(c.name in MESH_SIDECARS for c in pod.containers)


def check_uninjected_replicas(evidence: Evidence) -> list[Finding]:
    if evidence.workload is None:
        return []
    ours = evidence.workload.ref
    pods = [
        p
        for p in evidence.pods
        if (owned := owner_workload(p)) is not None and owned.same_object(ours)
    ]
    if len({p.owner.name for p in pods if p.owner is not None}) != 1:
        return []
    meshed = [p for p in pods if _meshed(p)]
    bare = [p for p in pods if not _meshed(p)]
    if not meshed or not bare:
        return []
    failing = [h for p in bare for h in grep_logs(logs_of(evidence, p), DEPENDENCY_LOG, limit=1)]
    if not failing or any(grep_logs(logs_of(evidence, p), DEPENDENCY_LOG, limit=1) for p in meshed):
        return []
    sidecar = next(c.name for c in meshed[0].containers if c.name in MESH_SIDECARS)
    with_proxy = item(pod_source(meshed[0]), f"runs the mesh proxy {sidecar}")
    without = item(
        pod_source(bare[0]),
        f"same ReplicaSet, no {sidecar} container"
        + (f" ({prose.count(len(bare), 'replica')} like it)" if len(bare) > 1 else ""),
    )
    said = item(failing[0].source, failing[0].line)
    return [
        make_finding(
            "uninjected-replicas",
            Category.NETWORK,
            CONFIDENCE.uninjected_replicas,
            prose.narrative(
                f"Replicas of {prose.obj(ours)} lack the mesh proxy and fail",
                "restore sidecar injection, then restart it",
                because=[
                    prose.claim(
                        "Pods of one ReplicaSet differ in the proxy the mesh injects at "
                        "admission: injection was off when the bare ones were created",
                        with_proxy,
                        without,
                    ),
                    prose.claim(
                        "Only the replicas without the proxy log failing calls; the mesh's "
                        "callees refuse plaintext from outside it",
                        said,
                    ),
                ],
            ),
            [without, with_proxy, said],
            Action.RESTART,
            ours,
            {"container": sidecar},
        )
    ]


MESH_INJECTION_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("uninjected-replicas", (Category.NETWORK,), check_uninjected_replicas),
)
