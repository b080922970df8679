"""Checks node-local DNS reasoning: lookups failing at the resolver (EAI_AGAIN, SERVFAIL, a
lookup timeout) in the logs of pods on some nodes name those nodes; the pods serving DNS on
a node's own network (host network, port 53: NodeLocal DNSCache's node-cache) there name
their DaemonSet as the first dependency to follow; a DaemonSet dependency counts its
replicas by the nodes it is scheduled on; and a cache OOMKilled on the failing node is the
fix (raise its DaemonSet's memory), not an escalation at the cluster DNS.

Real: the pure dependency helpers, ``build_evidence`` on API-shaped dicts and the analyzer
registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.node_hosts import (
    node_dns_hosts,
    resolver_failing_nodes,
    serving_daemonsets,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads, named

BUSY = "ip-10-0-1-1"
QUIET = "ip-10-0-1-2"
EAI_AGAIN = "redis client error: getaddrinfo EAI_AGAIN redis.cache.svc.cluster.local"
CACHE = ObjectRef(kind="DaemonSet", namespace="kube-system", name="node-local-dns")


def _pod(name: str, node: str, **fields: Any) -> dict[str, Any]:
    namespace = fields.pop("namespace", "shop")
    labels = fields.pop("labels", {"app": "checkout"})
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner := fields.pop("owner", None):
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "controller": True, **owner}]
    spec = {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {**spec, **fields.pop("spec", {})},
        "status": fields.pop("status", {"phase": "Running"}),
    }


def _cache_pod(node: str, *, host_network: bool = True, killed: bool = False) -> Any:
    container = {
        "name": "node-cache",
        "image": "k8s-dns-node-cache:1.23.1",
        "ports": [{"containerPort": 53, "protocol": "UDP"}],
        "resources": {"limits": {"memory": "64Mi"}},
    }
    status: dict[str, Any] = {"phase": "Running"}
    if killed:
        status["containerStatuses"] = [
            {
                "name": "node-cache",
                "ready": False,
                "restartCount": 17,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            }
        ]
    return _pod(
        f"node-local-dns-{node[-1]}",
        node,
        namespace="kube-system",
        labels={"k8s-app": "node-local-dns"},
        owner={"kind": "DaemonSet", "name": "node-local-dns"},
        spec={"hostNetwork": host_network, "containers": [container]},
        status=status,
    )


def test_the_nodes_whose_pods_fail_at_the_resolver_are_named() -> None:
    pods = [_pod("checkout-a", BUSY), _pod("checkout-b", QUIET)]
    lines = [
        (named("log shop/checkout-a/app"), EAI_AGAIN),
        # The resolver answered "no such name": the name is wrong, not the node's DNS.
        (named("log shop/checkout-b/app"), "dial tcp: lookup ledger: no such host"),
        (named("events"), "getaddrinfo EAI_AGAIN x"),
    ]
    assert resolver_failing_nodes(lines, pods) == [(BUSY, named("log shop/checkout-a/app"))]


def test_only_a_daemonset_pod_serving_dns_on_the_failing_nodes_own_network_is_named() -> None:
    pods = [
        _cache_pod(BUSY),
        _cache_pod(QUIET),
        _pod("proxy", BUSY, owner={"kind": "DaemonSet", "name": "proxy"}),
        {**_cache_pod(BUSY, host_network=False), "metadata": {"name": "sidecar-dns"}},
    ]
    hosts = node_dns_hosts(pods, [(BUSY, named("log shop/checkout-a/app"))])
    assert [(h.kind, h.namespace, h.name, h.source) for h in hosts] == [
        ("DaemonSet", "kube-system", "node-local-dns", named("log shop/checkout-a/app"))
    ]


def test_a_daemonset_failing_on_two_nodes_is_followed_once_named_by_its_first_node() -> None:
    pods = [_cache_pod(BUSY), _cache_pod(QUIET)]
    hosts = serving_daemonsets(
        pods,
        {QUIET: named("log shop/a/app"), BUSY: named("log shop/b/app")},
        lambda pod, node: node != "elsewhere",
        port=53,
    )
    assert [(h.name, h.port, h.source) for h in hosts] == [
        ("node-local-dns", 53, named("log shop/b/app"))
    ]
    quiet = {QUIET: named("log shop/a/app")}
    assert serving_daemonsets(pods, quiet, lambda pod, node: False, port=53) == []


def _cluster(killed: bool) -> list[dict[str, Any]]:
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "node-local-dns", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "node-local-dns"}},
            "template": {"metadata": {"labels": {"k8s-app": "node-local-dns"}}},
        },
        "status": {"desiredNumberScheduled": 2, "numberReady": 1 if killed else 2},
    }
    return [
        _pod("checkout-a", BUSY),
        _pod("checkout-b", QUIET),
        daemonset,
        _cache_pod(BUSY, killed=killed),
        _cache_pod(QUIET),
    ]


def _evidence(killed: bool) -> Any:
    tail = tail_from_text("shop", "checkout-a", "app", EAI_AGAIN, limits=EvidenceLimits())
    target = ObjectRef(kind="Pod", namespace="shop", name="checkout-a")
    return built(_cluster(killed), target, logs=[tail])


def test_the_dns_cache_of_the_failing_node_is_followed_first_with_its_nodes_counts() -> None:
    first = _evidence(killed=True).dependencies[0]
    assert first.workload == CACHE
    assert (first.desired_replicas, first.ready_replicas) == (2, 1)
    assert [p.last_terminated for p in first.failing_pods] == ["OOMKilled"]
    # Named first by the failing lookup; the pod runs ready, so the cache is also a node
    # neighbour of it (``evidence.node_neighbours``), named after.
    assert first.named_by[0] == named("log shop/checkout-a/app")


def test_a_dns_cache_oomkilled_on_the_failing_node_gets_more_memory() -> None:
    assert_leads(
        analyze(_evidence(killed=True)), Category.OOM_KILLED, Action.INCREASE_MEMORY, CACHE
    )


def test_a_healthy_dns_cache_is_no_oom() -> None:
    result = analyze(_evidence(killed=False))
    assert not [f for f in result.findings if f.category is Category.OOM_KILLED]
