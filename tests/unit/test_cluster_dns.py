"""Checks that the cluster DNS is found by what the pods resolve through, not by its name: the
Service whose ClusterIP is the nameserver failed lookups name, else the Service on port 53
selecting the DNS server's pods (a chart's ``rke2-coredns-rke2-coredns``), with near misses (a
Service on port 53 selecting other pods, a DNS pod's Service without port 53); that the
conventional host then stands for it, first when the resolver itself fails; and that lookups
timing out while one cluster DNS replica sits on a node whose host-network agent is not ready
name that node (drain it), with near misses (the agent broken on a node without a DNS replica,
every DNS replica on the broken node, names that do not exist rather than timeouts).

Real: the pure cluster DNS helpers on API-shaped dicts, Evidence models from
``tests.support.evidence`` and the analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.cluster_dns import cluster_dns_service, nameservers, with_cluster_dns
from kubetriage.evidence.dependencies import CLUSTER_DNS, ServiceHost
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.naming import log_source, route_source
from kubetriage.models.relations import DependencyEvidence, DependencyRoute, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

DNS_LABELS = {"k8s-app": "kube-dns", "app.kubernetes.io/instance": "rke2-coredns"}
TIMEOUT = (
    "ERROR SQLSTATE[HY000] [2002] php_network_getaddresses: getaddrinfo for "
    "db.shop.svc.cluster.local failed: Temporary failure in name resolution"
)
NXDOMAIN = "ERROR dial tcp: lookup db.shop.svc.cluster.local on 10.43.0.10:53: no such host"


def _service(
    name: str, selector: dict[str, str], *, ip: str = "10.43.0.10", port: int = 53
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"clusterIP": ip, "selector": selector, "ports": [{"port": port}]},
    }


def _pod(
    name: str, labels: dict[str, str], image: str = "rancher/hardened-coredns:v1.11.3"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
        "spec": {"containers": [{"name": "coredns", "image": image}]},
    }


CHART_DNS = _service("rke2-coredns-rke2-coredns", DNS_LABELS)
METRICS = _service("metrics-server", {"k8s-app": "metrics-server"}, ip="10.43.0.20")
DNS_POD = _pod("rke2-coredns-rke2-coredns-7bb4f446c-kx2vq", DNS_LABELS)


def test_the_service_selecting_the_dns_pods_is_the_cluster_dns_whatever_its_name() -> None:
    assert cluster_dns_service([METRICS, CHART_DNS], [DNS_POD]) is CHART_DNS


def test_a_service_on_port_53_selecting_other_pods_is_not_it() -> None:
    other = _service("dnsmasq-lab", {"app": "dnsmasq"}, ip="10.43.9.9")
    assert cluster_dns_service([other], [DNS_POD]) is None
    no_port = _service("coredns-metrics", DNS_LABELS, ip="10.43.0.11", port=9153)
    assert cluster_dns_service([no_port], [DNS_POD]) is None


def test_the_nameserver_a_failed_lookup_names_picks_the_service_by_its_address() -> None:
    asked = nameservers([NXDOMAIN])
    assert asked == {"10.43.0.10"}
    plain = _service("dns-default", {"dns": "default"})
    assert cluster_dns_service([METRICS, plain], [], asked) is plain


def test_the_conventional_host_stands_for_the_found_service_first_when_the_resolver_fails() -> None:
    db = ServiceHost(name="db", namespace="shop", port=None, source=None)
    hosts = [db, CLUSTER_DNS]
    found = with_cluster_dns(hosts, [CHART_DNS], [DNS_POD], [TIMEOUT])
    assert [(h.namespace, h.name) for h in found] == [
        ("kube-system", "rke2-coredns-rke2-coredns"),
        ("shop", "db"),
    ]
    unchanged_order = with_cluster_dns(hosts, [CHART_DNS], [DNS_POD], [NXDOMAIN])
    assert [h.name for h in unchanged_order] == ["db", "rke2-coredns-rke2-coredns"]
    assert with_cluster_dns(hosts, [METRICS], [DNS_POD], [TIMEOUT]) == hosts


def _resolver_evidence(
    line: str, dns_nodes: dict[str, str], agent_node: str = "wrk-04"
) -> Evidence:
    dns = DependencyEvidence(
        service=make.service(
            "rke2-coredns-rke2-coredns",
            "kube-system",
            selector=DNS_LABELS,
            ready=len(dns_nodes),
            matching=len(dns_nodes),
            port_numbers=[53],
        ),
        named_by=[log_source("shop", "web-5d8f-abcde", "app")],
        workload=ObjectRef(
            kind="Deployment", namespace="kube-system", name="rke2-coredns-rke2-coredns"
        ),
        pods=len(dns_nodes),
        pod_nodes=dns_nodes,
    )
    agent = DependencyEvidence(
        ref=ObjectRef(kind="DaemonSet", namespace="calico-system", name="calico-node"),
        workload=ObjectRef(kind="DaemonSet", namespace="calico-system", name="calico-node"),
        named_by=[route_source(f"node neighbour on node {agent_node}")],
        routes=[DependencyRoute(kind="node-neighbour", node=agent_node)],
        pods=4,
        failing_pods=[PodTrouble(pod="calico-node-t9mfh", container="calico-node")],
        pod_nodes={"calico-node-t9mfh": agent_node, "calico-node-5kq8d": "wrk-01"},
    )
    return make.app_evidence(
        "web-5d8f-abcde", make.container("app"), logs=f"{line}\n{line}", dependencies=[dns, agent]
    )


def test_lookups_timing_out_with_a_dns_replica_on_a_node_whose_network_agent_is_down() -> None:
    ev = _resolver_evidence(TIMEOUT, {"coredns-a": "wrk-02", "coredns-b": "wrk-04"})
    finding = assert_leads(
        analyze(ev), Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name="wrk-04")
    )
    assert "calico-node" in " ".join(e.fact for e in finding.evidence)


def test_the_agent_down_on_a_node_without_a_dns_replica_names_no_node() -> None:
    ev = _resolver_evidence(TIMEOUT, {"coredns-a": "wrk-02", "coredns-b": "wrk-03"})
    assert "resolver-node" not in analyze(ev).fired


def test_every_dns_replica_on_the_broken_node_is_the_dns_down_not_a_share_lost() -> None:
    ev = _resolver_evidence(TIMEOUT, {"coredns-a": "wrk-04", "coredns-b": "wrk-04"})
    assert "resolver-node" not in analyze(ev).fired


def test_names_that_do_not_exist_are_answers_not_lost_lookups() -> None:
    ev = _resolver_evidence(NXDOMAIN, {"coredns-a": "wrk-02", "coredns-b": "wrk-04"})
    assert "resolver-node" not in analyze(ev).fired
