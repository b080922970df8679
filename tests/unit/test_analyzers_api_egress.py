"""Checks the rule for pods cut off from the Kubernetes API server by an egress
NetworkPolicy (``kubetriage.analyzers.api_egress``): requests to the API that time out, from
a pod an egress policy isolates with no rule admitting a destination outside the pod network,
name that policy (fix-network), whether the pod is the workload's or a callee's. Near misses
stay quiet: a line that names no Kubernetes API request, a policy with an ipBlock that may
hold the control plane's address, a pod of unknown labels in a namespace whose egress
policies select some pods only, and a namespace with no egress policy.

Real: ``network_policy_summary`` on API-shaped policies and the analyzer on Evidence models.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.api_egress import check_api_egress
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.summaries.network import network_policy_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import container, evidence, log, naming, pod

DB_LABELS = {"cluster": "orders-pg", "role": "master"}
# Patroni's request to its DCS through the API server, as urllib3 reports the timeout.
PATRONI = (
    "2026-11-20 09:31:23,390 ERROR: Request to server https://10.96.0.1:443 failed: "
    "MaxRetryError(\"HTTPSConnectionPool(host='10.96.0.1', port=443): Max retries exceeded "
    "with url: /api/v1/namespaces/db/endpoints/orders-pg-ha (Caused by "
    "ConnectTimeoutError(<urllib3.connection.HTTPSConnection object>, 'Connection to "
    "10.96.0.1 timed out. (connect timeout=2.5)'))\")"
)
# An operator's informer, as client-go reports it.
INFORMER = (
    'E1120 09:31:20.118 reflector.go:158] failed to list *v1.Lease: Get "https://10.96.0.1:443/'
    'apis/coordination.k8s.io/v1/namespaces/db/leases?limit=500": dial tcp 10.96.0.1:443: '
    "i/o timeout"
)
DNS_ONLY: dict[str, Any] = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}],
}
SAME_NAMESPACE: dict[str, Any] = {"to": [{"podSelector": {}}]}


def _policy(
    name: str, egress: list[dict[str, Any]], selector: dict[str, str] | None = None
) -> NetworkPolicyEvidence:
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "db"},
        "spec": {
            "podSelector": {"matchLabels": selector} if selector else {},
            "policyTypes": ["Egress"],
            "egress": egress,
        },
    }
    return network_policy_summary(manifest, [DB_LABELS], EvidenceLimits())


def _run(line: str, *policies: NetworkPolicyEvidence, own_pod: bool = False) -> Any:
    """The analyzer on ``line`` logged by the database pod: one of the workload's pods when
    ``own_pod``, else a followed callee's, whose log tail the dependency carries and whose
    labels the evidence does not hold."""
    tail = log("orders-pg-0", "postgres", line, namespace="db", source="dependency")
    if own_pod:
        pods = [pod("orders-pg-0", container("postgres"), namespace="db", labels=DB_LABELS)]
        return check_api_egress(evidence(pods=pods, network_policies=list(policies), logs=[tail]))
    callee = DependencyEvidence(
        service=ServiceEvidence(name="orders-pg", namespace="db"),
        named_by=naming("pod orders-api-1 env DATABASE_HOST"),
        pods=2,
        logs=[tail],
    )
    return check_api_egress(evidence(network_policies=list(policies), dependencies=[callee]))


def test_api_requests_timing_out_behind_a_deny_egress_policy_name_that_policy() -> None:
    """Patroni's and client-go's timed-out API requests, from a pod a deny-all-but-DNS
    egress policy isolates, are a network finding on that policy."""
    deny = _policy("baseline-deny-egress", [DNS_ONLY, SAME_NAMESPACE])
    for line in (PATRONI, INFORMER):
        for own_pod in (False, True):
            (finding,) = _run(line, deny, own_pod=own_pod)
            assert (finding.category, finding.action, finding.target) == (
                Category.NETWORK,
                Action.FIX_NETWORK,
                ObjectRef(kind="NetworkPolicy", namespace="db", name="baseline-deny-egress"),
            )
            assert "the Kubernetes API server" in finding.summary
            assert any("10.96.0.1:443" in e.fact for e in finding.evidence)


def test_near_misses_stay_quiet() -> None:
    deny = _policy("baseline-deny-egress", [DNS_ONLY, SAME_NAMESPACE])
    # A timeout dialling an address with no Kubernetes API request in the line.
    assert _run("dial tcp 10.96.0.1:443: i/o timeout", deny) == []
    # An ipBlock may hold the control plane's address behind the Service: not decidable.
    api_block: dict[str, Any] = {"to": [{"ipBlock": {"cidr": "172.16.0.0/28"}}]}
    assert _run(PATRONI, _policy("allow-control-plane", [DNS_ONLY, api_block])) == []
    # A rule open to every destination on any port admits it.
    assert _run(PATRONI, _policy("allow-all-egress", [{}])) == []
    # Egress policies selecting some pods only, and the pod's labels are not known.
    assert _run(PATRONI, _policy("deny-web", [DNS_ONLY], selector={"app": "web"})) == []
    # No egress policy at all.
    ingress_only = NetworkPolicyEvidence(name="allow-app", namespace="db", policy_types=["Ingress"])
    assert _run(PATRONI, ingress_only) == []
