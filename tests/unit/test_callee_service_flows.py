"""Checks the network-policy analyzer on calls one hop behind the alerting workload: a pod
of the evidence (a callee of the workload) logs timeouts dialling a Service's virtual
address (gRPC names it ``ipv4:<clusterIP>:<port>``); the flow from that pod to the pods
behind the Service is evaluated against the policies isolating them, so an ingress
allow-list on the Service's pods that omits that caller is named (fix-network), above the
escalation to the Service's owner that the caller's errors alone suggest. Near misses: a
policy that admits the caller, an address no Service of the evidence holds, a refusal
rather than a timeout.

Real: the analyzer registry and ``kubetriage.networkpolicy`` over Evidence models from
``tests.support.evidence`` with policies parsed from API-shaped specs (``rules_of``); the
names, addresses and log lines are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.log_signatures import addresses_in
from kubetriage.models.evidence import Evidence
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import PodPort
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import rules_of, selector_of
from tests.support.evidence import analyze, container, evidence, log, pod, service

CATALOG_IP = "10.48.7.201"
TIMEOUT = (
    'details = "failed to connect to all addresses; last error: UNKNOWN: '
    f'ipv4:{CATALOG_IP}:3550: Failed to connect to remote host: Timeout occurred: FD Shutdown"'
)
FRONTEND_ERROR = '{"level":"error","msg":"GET /api/recommendations 500","err":"14 UNAVAILABLE"}'


def _allow_list(*callers: str) -> NetworkPolicyEvidence:
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": {"app": "catalog"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "podSelector": {
                            "matchExpressions": [
                                {"key": "app", "operator": "In", "values": list(callers)}
                            ]
                        }
                    }
                ],
                "ports": [{"port": 3550, "protocol": "TCP"}],
            }
        ],
    }
    return NetworkPolicyEvidence(
        name="catalog-ingress",
        namespace="shop",
        policy_types=["Ingress"],
        selector=selector_of(spec["podSelector"]),
        ingress=rules_of(spec, "ingress"),
        egress=rules_of(spec, "egress"),
    )


def _shop(policy: NetworkPolicyEvidence, callee_line: str = TIMEOUT) -> Evidence:
    """frontend calls recommendation, which calls catalog through its Service."""
    pods = [
        pod("frontend-6d8b5f7c49-c7jwq", container("frontend"), labels={"app": "frontend"}),
        pod(
            "recommendation-7f94c6d85b-w8r5n",
            container("recommendation"),
            labels={"app": "recommendation"},
            ips=["10.44.3.17"],
        ),
        pod("catalog-5c8f7d9b64-4xq7d", container("catalog"), labels={"app": "catalog"}),
    ]
    catalog = service(
        "catalog",
        ready=1,
        matching=1,
        cluster_ip=CATALOG_IP,
        pod_ports=[PodPort(number=3550, name="grpc")],
    )
    return evidence(
        pods=pods,
        services=[catalog],
        network_policies=[policy],
        logs=[
            log("frontend-6d8b5f7c49-c7jwq", "frontend", FRONTEND_ERROR),
            log("recommendation-7f94c6d85b-w8r5n", "recommendation", callee_line),
        ],
    )


def _policy_findings(ev: Evidence) -> list[str]:
    return [f.target.name for f in analyze(ev).findings if f.analyzer == "network-policy"]


def test_grpc_names_the_address_it_dialled_with_its_scheme() -> None:
    assert addresses_in(TIMEOUT) == [(CATALOG_IP, 3550)]
    assert addresses_in("dial tcp 10.1.2.7:8087: i/o timeout") == [("10.1.2.7", 8087)]
    # A longer dotted run is not an address, with or without the scheme.
    assert addresses_in("version 1.10.48.7.201:3550") == []


def test_a_callee_timing_out_on_a_service_its_allow_list_omits_names_that_policy() -> None:
    ev = _shop(_allow_list("frontend", "checkout"))
    top = analyze(ev).findings[0]
    assert top.category is Category.NETWORK
    assert top.action is Action.FIX_NETWORK
    assert top.target.kind == "NetworkPolicy"
    assert top.target.name == "catalog-ingress"
    facts = " ".join(e.fact for e in top.evidence)
    assert "behind Service shop/catalog" in facts
    assert "recommendation-7f94c6d85b-w8r5n" in facts


def test_an_allow_list_that_admits_the_callee_names_nothing() -> None:
    ev = _shop(_allow_list("frontend", "checkout", "recommendation"))
    assert _policy_findings(ev) == []


def test_an_address_no_service_holds_names_nothing() -> None:
    line = TIMEOUT.replace(CATALOG_IP, "10.48.9.9")
    assert _policy_findings(_shop(_allow_list("frontend"), line)) == []


def test_a_refused_connection_is_not_a_dropped_flow() -> None:
    line = f"ListProducts failed: connect ECONNREFUSED {CATALOG_IP}:3550"
    assert _policy_findings(_shop(_allow_list("frontend"), line)) == []
