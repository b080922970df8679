"""The node-local Service rule: a Service with ``internalTrafficPolicy: Local`` only sends a
client pod's traffic to a selected pod on the client's own node; kube-proxy drops it on every
node that runs none (the Kubernetes docs, Service Internal Traffic Policy). Callers on those
nodes time out or are refused while callers next to a replica succeed, and the callee's pods
are all ready: the callee is not failing, the Service's routing is.

An SRE reads it from the Service's spec against where things run: the failing calls in the
logs name the Service, every pod that logs them runs on a node with no selected pod, and the
Service's pods run elsewhere. The fix is the Service (the default "Cluster" policy, or a
replica on every node that calls it, as a DaemonSet would have): ``network``,
``fix-network`` on the Service, above handing the callee to its owner (0.83).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller, dependency_hits, followed_services
from kubetriage.analyzers.log_signatures import hosts_in, service_for_host
from kubetriage.analyzers.support import LogHit, item, same_service, service_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-local Service finding is, by the evidence that earns it."""

    # Every pod logging failing calls to the Service runs on a node without a selected pod.
    stranded: float = 0.85
    # ... and pods of the same workload on a node with one do not log such failures.
    spared_bonus: float = 0.05


CONFIDENCE: Final = _Confidence()


def _local_services(evidence: Evidence) -> list[ServiceEvidence]:
    found: list[ServiceEvidence] = []
    for svc in [*evidence.services, *followed_services(evidence)]:
        if svc.local_traffic_nodes is None or any(same_service(svc, s) for s in found):
            continue
        found.append(svc)
    return found


def _calls_to(svc: ServiceEvidence, hits: list[LogHit]) -> list[LogHit]:
    return [h for h in hits if any(service_for_host(x, [svc]) for x in hosts_in(h.line))]


def check_local_traffic(evidence: Evidence) -> list[Finding]:
    hits = dependency_hits(evidence)
    if not hits:
        return []
    node_of = {(p.namespace, p.name): p.node for p in evidence.pods}
    findings: list[Finding] = []
    for svc in _local_services(evidence):
        local = set(svc.local_traffic_nodes or [])
        calls = _calls_to(svc, hits)
        nodes = {node_of.get((h.log.namespace, h.log.pod)) for h in calls}
        if not local or not calls or None in nodes or nodes & local:
            continue
        failing_pods = {h.log.pod for h in calls}
        spared = [
            p
            for p in evidence.pods
            if p.node in local
            and p.name not in failing_pods
            and p.namespace == calls[0].log.namespace
        ]
        ref = svc.ref()
        stranded = sorted(n for n in nodes if n)
        policy = item(
            service_source(svc),
            f"internalTrafficPolicy Local; its pods run on {prose.listing(sorted(local))}",
        )
        quoted = [item(h.source, h.line) for h in calls[:2]]
        where = [
            item(
                f"pod/{h.log.namespace}/{h.log.pod}",
                f"runs on node {node_of[(h.log.namespace, h.log.pod)]}",
            )
            for h in calls[:1]
        ]
        because = [
            prose.claim(f"{caller(evidence, calls)} fails calling {prose.obj(ref)}", *quoted),
            prose.claim(
                f"{prose.obj(ref)} keeps traffic on the caller's node, and its pods run only "
                f"on {prose.listing(sorted(local))}",
                policy,
            ),
            prose.claim(
                f"The failing calls come from {prose.listing(stranded)}, where none of its "
                "pods runs, so kube-proxy drops them",
                *where,
            ),
        ]
        confidence = CONFIDENCE.stranded
        if spared:
            confidence += CONFIDENCE.spared_bonus
            because.append(
                prose.claim(
                    f"Pods on a node with one of its pods ({spared[0].name}) log no such failure"
                )
            )
        findings.append(
            make_finding(
                "local-traffic",
                Category.NETWORK,
                confidence,
                prose.narrative(
                    f"{prose.obj(ref)} serves only callers on its pods' nodes",
                    "restore internalTrafficPolicy Cluster, or run a pod on every calling node",
                    because=because,
                ),
                [*quoted, policy, *where],
                Action.FIX_NETWORK,
                ref,
                {"service": svc.name},
            )
        )
    return findings


LOCAL_TRAFFIC_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("local-traffic", (Category.NETWORK,), check_local_traffic),
)
