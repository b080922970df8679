"""The load balancer in front of the ingress controller: the LoadBalancer Service whose
address the incident's Ingress publishes (``Evidence.front_balancers``). Every request to the
site crosses it before the controller's pods, so when a probe of the site fails while those
pods are Ready, an SRE reads that Service. Two readings:

- Its ``externalTrafficPolicy`` is ``Local`` (a node forwards only to the Service's pods on
  itself, to keep client addresses) and not one ready endpoint runs on a node where the
  load balancer's speaker (MetalLB) runs: MetalLB announces such a Service only from a node
  that has a ready local endpoint, so nothing announces the address at all and connections
  to it time out. The Service is what to fix: run the speakers where its endpoints are
  (their nodeSelector and tolerations) or its pods where the speakers are, or set the policy
  back to ``Cluster``.
- A client (Helm, kubectl, a GitOps controller; not the cloud or MetalLB controller, which
  only record what they did) wrote the Service's spec or annotations shortly before the
  symptom began: its ports' ``appProtocol`` (a cloud load balancer then probes the node port
  with HTTP on ``/``, which an ingress controller answers 404), its ports, its traffic policy
  or its health-probe annotations decide whether the load balancer sends anything at all.
  That edit is what to roll back or complete (a probe path, a probe protocol).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import earliest_onset
from kubetriage.analyzers.support import item, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.gateway_proxies import FrontBalancerEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a front-load-balancer finding is, by the evidence that earns it."""

    # externalTrafficPolicy Local, the speakers found, and not one of them on a node with a
    # ready endpoint: the address is announced from nowhere, whatever else looks wrong.
    unannounced: float = 0.86
    # A client wrote fields that steer the load balancer's probe or forwarding (appProtocol,
    # ports, traffic policy, health-probe annotations) shortly before the symptom began.
    steering_edit: float = 0.8
    # ... other fields of its spec or annotations (a weaker lead: the edit may be cosmetic).
    other_edit: float = 0.6


CONFIDENCE: Final = _Confidence()

# An edit of the Service this long before the symptom began, or less, is "just before".
EDIT_BEFORE_ONSET: Final = timedelta(minutes=30)
# Clock skew and scrape intervals: an edit "a minute after" the onset is the same moment.
EDIT_TOLERANCE: Final = timedelta(minutes=2)
# The written fields that decide what the load balancer probes and where it forwards.
_STEERING: Final = (
    "ports.",
    "ports",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "loadBalancerSourceRanges",
    "annotation",
)


def _unannounced(balancer: FrontBalancerEvidence) -> bool:
    speakers = balancer.announcing_nodes
    return (
        balancer.external_traffic_policy == "Local"
        and bool(balancer.endpoint_nodes)
        and bool(speakers)
        and not set(balancer.endpoint_nodes) & set(speakers or [])
    )


def check_unannounced_local_endpoints(evidence: Evidence) -> list[Finding]:
    """A LoadBalancer Service in front of the Ingress keeps traffic on its endpoints' nodes
    (``externalTrafficPolicy: Local``) while no load-balancer speaker runs on any of them:
    nothing announces its address."""
    for balancer in evidence.front_balancers:
        if not _unannounced(balancer):
            continue
        service = balancer.service
        policy = item(
            prose.obj(service),
            f"externalTrafficPolicy Local; ready endpoints on "
            f"{prose.listing(balancer.endpoint_nodes)}",
        )
        speakers = item(
            "load-balancer speakers",
            f"ready speakers on {prose.listing(balancer.announcing_nodes or [])}",
        )
        published = item(
            prose.obj(balancer.ingress),
            f"publishes {prose.listing(balancer.addresses)}, the address of {prose.obj(service)}",
        )
        return [
            make_finding(
                "front-balancer-unannounced",
                Category.NETWORK,
                CONFIDENCE.unannounced,
                prose.narrative(
                    f"no load-balancer speaker runs where {prose.obj(service)} has its "
                    "Local endpoints",
                    "run speakers on those nodes",
                    aside="or set externalTrafficPolicy Cluster",
                    because=[
                        prose.claim(
                            f"{prose.obj(balancer.ingress)} is served through the address of "
                            f"{prose.obj(service)}",
                            published,
                        ),
                        prose.claim(
                            "With externalTrafficPolicy Local only a node with a ready "
                            "endpoint may announce the address, and every endpoint runs on "
                            f"{prose.listing(balancer.endpoint_nodes)}",
                            policy,
                        ),
                        prose.claim(
                            "The load balancer's speakers run only on "
                            f"{prose.listing(balancer.announcing_nodes or [])}, so no node "
                            "announces the address and connections to it time out",
                            speakers,
                        ),
                    ],
                ),
                [policy, speakers, published],
                Action.FIX_NETWORK,
                service,
            )
        ]
    return []


def _steering(fields: list[str]) -> list[str]:
    return [f for f in fields if f.startswith(_STEERING)]


def check_edited_front_balancer(evidence: Evidence) -> list[Finding]:
    """A client wrote the spec or annotations of the LoadBalancer Service in front of the
    Ingress shortly before the symptom began: the edit is what to roll back or complete."""
    onset = earliest_onset(evidence)
    if onset is None:
        return []
    for balancer in evidence.front_balancers:
        written = balancer.spec_written_at
        if written is None or _unannounced(balancer):
            continue
        lead = timestamp(onset) - timestamp(written)
        if not -EDIT_TOLERANCE.total_seconds() <= lead <= EDIT_BEFORE_ONSET.total_seconds():
            continue
        service = balancer.service
        steering = _steering(balancer.written_fields)
        fields = steering or balancer.written_fields
        edit = item(
            prose.obj(service),
            f"{balancer.spec_writer or 'a client'} wrote {prose.listing(fields)} at "
            f"{written:%H:%M}",
        )
        began = item("onset", f"the symptom began at {onset:%H:%M}")
        probe = [
            f"port {port} appProtocol {protocol}"
            for port, protocol in balancer.app_protocols.items()
        ]
        shape = item(
            prose.obj(service),
            f"externalTrafficPolicy {balancer.external_traffic_policy or 'Cluster'}"
            + (f"; {prose.listing(probe)}" if probe else ""),
        )
        because = [
            prose.claim(
                f"{prose.obj(balancer.ingress)} is served through the load-balancer address "
                f"of {prose.obj(service)}; every request crosses it before the ingress "
                "controller",
            ),
            prose.claim(
                f"Its {prose.listing(fields)} changed "
                f"{prose.duration(max(lead, 0.0))} before the symptom began",
                edit,
                began,
            ),
        ]
        if steering:
            because.append(
                prose.claim(
                    "These fields decide how the load balancer probes the nodes and where it "
                    "forwards (an http appProtocol makes a cloud probe send HTTP requests)",
                    shape,
                )
            )
        return [
            make_finding(
                "front-balancer-edited",
                Category.NETWORK,
                CONFIDENCE.steering_edit if steering else CONFIDENCE.other_edit,
                prose.narrative(
                    f"{prose.obj(service)} in front of the Ingress was edited "
                    f"{prose.duration(max(lead, 0.0))} before the outage",
                    f"roll back its {prose.listing(fields, limit=2)} edit",
                    because=because,
                ),
                [edit, began, shape],
                Action.FIX_NETWORK,
                service,
            )
        ]
    return []


FRONT_BALANCER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("front-balancer-unannounced", (Category.NETWORK,), check_unannounced_local_endpoints),
    Analyzer("front-balancer-edited", (Category.NETWORK,), check_edited_front_balancer),
)
