"""Checks NetworkPolicy flows between pods of the Istio ambient mesh: when both ends are
enrolled (``istio.io/dataplane-mode: ambient`` on the namespace or the pod), ztunnel
delivers the call to the destination pod's HBONE port 15008, so a policy admitting only
the application's port drops it, and the analyzer names that policy. Near misses: a source
or a destination outside the mesh (its namespace not enrolled, or the pod's own label
``none``), and a policy that admits port 15008 too.

Real: ``kubetriage.analyzers.ambient_tunnel``, ``policies.blocked_to_service`` and
``kubetriage.networkpolicy`` over policies parsed from API-shaped specs (``rules_of``).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.analyzers.ambient_tunnel import HBONE_PORT, tunnelled
from kubetriage.analyzers.policy_verdicts import blocked_to_service
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import PodPort
from kubetriage.networkpolicy import Endpoint, Flow, rules_of, selector_of
from tests.support.evidence import evidence, service

AMBIENT = {"istio.io/dataplane-mode": "ambient"}


def _endpoint(
    namespace: str, app: str, ns_labels: dict[str, str], labels: dict[str, str] | None = None
) -> Endpoint:
    return Endpoint(
        namespace=namespace,
        labels={"app": app, **(labels or {})},
        namespace_labels={"kubernetes.io/metadata.name": namespace, **ns_labels},
    )


def _flow(
    source_ns: dict[str, str] = AMBIENT,
    destination_ns: dict[str, str] = AMBIENT,
    source_labels: dict[str, str] | None = None,
) -> Flow:
    return Flow(
        source=_endpoint("checkout", "checkout-web", source_ns, source_labels),
        destination=_endpoint("payments", "payments-api", destination_ns),
    )


def _ingress_policy(*ports: int) -> NetworkPolicyEvidence:
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": {"app": "payments-api"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "checkout"}
                        }
                    }
                ],
                "ports": [{"port": p, "protocol": "TCP"} for p in ports],
            }
        ],
    }
    return NetworkPolicyEvidence(
        name="payments-api-ingress",
        namespace="payments",
        policy_types=["Ingress"],
        selector=selector_of(spec["podSelector"]),
        ingress=rules_of(spec, "ingress"),
        egress=rules_of(spec, "egress"),
    )


PAYMENTS = service(
    "payments-api",
    namespace="payments",
    ready=3,
    matching=3,
    pod_ports=[PodPort(number=8080, name="http")],
)


def test_a_flow_between_enrolled_pods_reaches_the_tunnel_port() -> None:
    tunnel = tunnelled(_flow())
    assert tunnel is not None
    assert tunnel.port == HBONE_PORT


@pytest.mark.parametrize(
    "flow",
    [
        _flow(destination_ns={}),  # the callee's namespace is not in the mesh
        _flow(source_ns={}),  # nor is the caller's
        _flow(source_labels={"istio.io/dataplane-mode": "none"}),  # the caller's pod opts out
    ],
)
def test_no_tunnel_unless_both_ends_are_enrolled(flow: Flow) -> None:
    assert tunnelled(flow) is None


def test_a_policy_admitting_only_the_app_port_drops_the_tunnelled_call() -> None:
    ev = evidence(network_policies=[_ingress_policy(8080)])
    verdict = blocked_to_service(ev, _flow(), PAYMENTS)
    assert verdict is not None
    assert verdict.isolating[0] == "payments-api-ingress"


def test_a_policy_admitting_the_tunnel_port_lets_the_call_in() -> None:
    ev = evidence(network_policies=[_ingress_policy(8080, HBONE_PORT)])
    assert blocked_to_service(ev, _flow(), PAYMENTS) is None


def test_outside_the_mesh_the_call_lands_on_the_app_port_the_policy_admits() -> None:
    ev = evidence(network_policies=[_ingress_policy(8080)])
    assert blocked_to_service(ev, _flow(destination_ns={}), PAYMENTS) is None
