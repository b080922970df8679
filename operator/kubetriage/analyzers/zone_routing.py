"""The zone-routing rule: a Service with topology-aware routing
(``service.kubernetes.io/topology-mode: Auto``, formerly
``service.kubernetes.io/topology-aware-hints: auto``) makes kube-proxy keep a client's traffic
on the endpoints the EndpointSlice controller hinted for the client's own zone. The
Kubernetes docs ('Topology Aware Routing') warn that it works best when incoming traffic is
evenly spread over the zones: when most callers run in one zone, that zone's few pods take
almost every request and the other zones' pods idle, while an autoscaler averaging over all
pods sees nothing to do.

An SRE reads it from the Service's annotation against where the load lands: the workload's
own Service routes by zone, the CPU its ready pods use is uneven, and every busy pod runs in
one zone while the idle ones run in the others, as a latency or error alert fires. The fix
is the Service's traffic distribution (turn zone routing off, or spread the callers), not
more replicas nor the application: ``network``, ``fix-network`` on the Service.

Near misses stay silent: an even load (the callers are spread), busy pods in several zones
(something else than the zone makes them busy), a Service without zone routing (the
sticky-Service and pinned-connection rules speak for other skews).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import alerted_strain
from kubetriage.analyzers.session_affinity import own_pod_loads, split_loads_fact, uneven_loads
from kubetriage.analyzers.support import item, service_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a zone-routing finding is, by the evidence that earns it."""

    # A Service routing by zone whose busy ready pods all run in one zone and whose idle
    # ready pods run in the others, while a latency or error alert fires: as sure as a
    # Service pinning clients by ClientIP affinity (0.82), above saturation (the idle pods
    # show the workload is not short of replicas).
    one_zone: float = 0.84


CONFIDENCE: Final = _Confidence()

# The annotations that turn topology-aware routing on, and the values that mean "on".
ROUTING_ANNOTATIONS: Final = (
    "service.kubernetes.io/topology-mode",
    "service.kubernetes.io/topology-aware-hints",
)
_ON: Final = frozenset({"auto"})
ZONE_LABELS: Final = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
FIX = "turn off its topology-aware routing, or spread its callers over the zones"


def zone_routing(svc: ServiceEvidence) -> str | None:
    """The annotation that makes ``svc`` route by zone (``key: value``), else None."""
    for key in ROUTING_ANNOTATIONS:
        value = svc.annotations.get(key)
        if value is not None and value.strip().lower() in _ON:
            return f"{key}: {value}"
    return None


def _pod_zones(evidence: Evidence, pods: set[str]) -> dict[str, str]:
    """The zone of each of ``pods`` whose node carries a zone label."""
    node_zone: dict[str, str] = {}
    for node in evidence.nodes:
        zone = next((node.labels[k] for k in ZONE_LABELS if node.labels.get(k)), None)
        if zone:
            node_zone[node.name] = zone
    return {
        p.name: node_zone[p.node]
        for p in evidence.pods
        if p.name in pods and p.node is not None and p.node in node_zone
    }


def check_zone_routing(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    if not strain:
        return []
    for svc in evidence.services:
        routing = zone_routing(svc)
        if routing is None or svc.headless or not svc.selector:
            continue
        loads = own_pod_loads(evidence, svc)
        spread = uneven_loads(loads)
        if spread is None:
            continue
        busy, idle = spread
        zones = _pod_zones(evidence, set(loads))
        busy_zones = {zones.get(p) for p in busy}
        idle_zones = {zones.get(p) for p in idle}
        if len(busy_zones) != 1 or None in busy_zones or None in idle_zones:
            continue
        (zone,) = busy_zones
        if not idle_zones - {zone}:
            continue
        ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name, api_version="v1")
        annotation = item(service_source(svc), f"annotation {routing}")
        load = split_loads_fact(loads, busy, idle, zones)
        because = [
            prose.claim("Requests are slow or failing", *strain),
            prose.claim(
                f"{prose.obj(ref)} keeps each caller's traffic in its own zone", annotation
            ),
            prose.claim(
                f"its {prose.count(len(busy), 'busy pod')} all run in {zone} while "
                f"{prose.count(len(idle), 'ready pod')} in other zones sit idle",
                load,
            ),
        ]
        return [
            make_finding(
                "zone-routing",
                Category.NETWORK,
                CONFIDENCE.one_zone,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{prose.obj(ref)} routes by zone and its callers' zone {zone} "
                            f"holds {prose.count(len(busy), 'busy pod')}",
                            f"{prose.obj(ref)} sends its traffic to {zone} only",
                        ],
                        FIX,
                    ),
                    FIX,
                    because=because,
                ),
                [annotation, load, *strain],
                Action.FIX_NETWORK,
                ref,
            )
        ]
    return []


ZONE_ROUTING_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("zone-routing", (Category.NETWORK,), check_zone_routing),
)
