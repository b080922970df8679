"""Checks four ways a caller's traffic misses a healthy callee at the Service or policy layer:

- a Service with ``internalTrafficPolicy: Local`` whose pods run on other nodes than the
  failing callers (network, fix-network on the Service; not when a caller beside a pod fails
  too, nor with the default policy);
- the cluster DNS Service selecting no pod while lookups fail at the resolver (network,
  fix-network on the Service, above escalating the resolver; not while it has endpoints,
  nor when the resolver answered "no such name");
- an egress ipBlock naming the callee Service's clusterIP: policies act after kube-proxy
  rewrote it, so the flow is blocked, and that policy (not the namespace's default deny) is
  the one meant for it and named first; a block of every address does not count;
- libpq's and psycopg's connect timeouts read as connect timeouts.

Also the builder reading ``spec.internalTrafficPolicy`` (with the selected pods' nodes) and
``spec.clusterIP``. Real: Evidence models from ``tests.support.evidence``, the real builder
(``tests.support.built``), ``kubetriage.networkpolicy`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.log_signatures import CONNECT_TIMEOUT_LOG, DEPENDENCY_LOG
from kubetriage.models.base import ObjectRef
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, Flow, egress_verdict, rules_of, selector_of
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads, naming

LEDGER = ObjectRef(kind="Service", namespace="payments", name="ledger")
TIMEOUT = (
    "fail: HttpRequestException: Connection timed out (ledger.payments.svc.cluster.local:8080)"
)


def _ledger(policy: str | None = "Local", nodes: tuple[str, ...] = ("node-a",)) -> ServiceEvidence:
    return make.service(
        "ledger",
        "payments",
        ready=2,
        matching=2,
        local_traffic_nodes=list(nodes) if policy == "Local" else None,
    )


def _callers(failing_on: tuple[str, ...], spared_on: tuple[str, ...] = ()) -> Any:
    pods = [
        make.pod(f"checkout-7d9f6c8b5-f{i}", node=node) for i, node in enumerate(failing_on)
    ] + [make.pod(f"checkout-7d9f6c8b5-s{i}", node=node) for i, node in enumerate(spared_on)]
    logs = [make.log(f"checkout-7d9f6c8b5-f{i}", "app", TIMEOUT) for i in range(len(failing_on))]
    return pods, logs


def _local_evidence(
    service: ServiceEvidence, failing_on: tuple[str, ...], spared_on: tuple[str, ...] = ()
) -> Any:
    pods, logs = _callers(failing_on, spared_on)
    return make.evidence(
        workload=make.deployment(replicas=len(pods)),
        pods=pods,
        logs=logs,
        dependencies=[DependencyEvidence(ref=LEDGER, service=service, named_by=naming("log"))],
    )


def test_node_local_service_drops_calls_from_nodes_without_its_pods() -> None:
    ev = _local_evidence(_ledger(), ("node-b", "node-c"), spared_on=("node-a",))
    finding = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, LEDGER)
    assert finding.analyzer == "local-traffic"
    facts = " ".join(e.fact for e in finding.evidence)
    assert "runs on node node-b" in facts
    assert "its pods run on node-a" in facts
    assert finding.confidence > max(
        f.confidence for f in analyze(ev).findings if f.category is Category.DEPENDENCY_FAILURE
    )


def test_node_local_service_without_a_spared_caller_still_leads() -> None:
    finding = analyze(_local_evidence(_ledger(), ("node-b",))).findings[0]
    assert (finding.analyzer, finding.target) == ("local-traffic", LEDGER)


def test_a_failing_caller_beside_a_pod_of_the_service_is_not_this_rule() -> None:
    ev = _local_evidence(_ledger(nodes=("node-a", "node-b")), ("node-b", "node-c"))
    assert not [f for f in analyze(ev).findings if f.analyzer == "local-traffic"]


def test_the_default_cluster_policy_is_not_this_rule() -> None:
    ev = _local_evidence(_ledger(policy="Cluster"), ("node-b",), spared_on=("node-a",))
    assert not [f for f in analyze(ev).findings if f.analyzer == "local-traffic"]


def _svc_manifest(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ledger", "namespace": "payments"},
        "spec": {"selector": {"app": "ledger"}, "ports": [{"port": 8080}], **spec},
    }


def _pod_manifest(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "payments", "labels": {"app": "ledger"}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "ledger:1"}]},
        "status": {"phase": "Running"},
    }


def test_builder_reads_local_traffic_policy_with_the_selected_pods_nodes() -> None:
    objects = [
        _svc_manifest(internalTrafficPolicy="Local", clusterIP="10.0.142.17"),
        _pod_manifest("ledger-1", "node-a"),
        _pod_manifest("ledger-2", "node-a"),
    ]
    ev = built(objects, LEDGER)
    svc = next(s for s in ev.services if s.name == "ledger")
    assert svc.local_traffic_nodes == ["node-a"]
    assert svc.cluster_ip == "10.0.142.17"


def test_builder_leaves_the_default_policy_and_a_headless_service_unmarked() -> None:
    ev = built([_svc_manifest(clusterIP="None"), _pod_manifest("ledger-1", "node-a")], LEDGER)
    svc = next(s for s in ev.services if s.name == "ledger")
    assert svc.local_traffic_nodes is None
    assert svc.cluster_ip is None


KUBE_DNS = ObjectRef(kind="Service", namespace="kube-system", name="kube-dns")
RESOLVER_TIMEOUT = (
    "readyz: ping failed: dial tcp: lookup orders-db.data.svc.cluster.local on 10.96.0.10:53:"
    " read udp 10.244.2.17:47391->10.96.0.10:53: i/o timeout"
)
NO_SUCH_NAME = "lookup orders-db.data.svc.cluster.local on 10.96.0.10:53: no such host"


def _dns_evidence(line: str, *, matching: int = 0, ready: int = 0) -> Any:
    dns = make.service(
        "kube-dns", "kube-system", selector={"k8s-app": "kube-dns"}, ready=ready, matching=matching
    )
    return make.checkout_evidence(
        logs=[make.checkout_log(f"{line}\n{line}")],
        dependencies=[DependencyEvidence(ref=KUBE_DNS, service=dns, named_by=naming("resolver"))],
    )


def test_lookups_unanswered_while_the_cluster_dns_service_selects_no_pod() -> None:
    result = analyze(_dns_evidence(RESOLVER_TIMEOUT))
    finding = assert_leads(result, Category.NETWORK, Action.FIX_NETWORK, KUBE_DNS)
    assert finding.analyzer == "resolver-service"
    escalations = [f for f in result.findings if f.category is Category.DEPENDENCY_FAILURE]
    assert all(f.confidence < finding.confidence for f in escalations)


def test_a_cluster_dns_service_with_endpoints_is_not_this_rule() -> None:
    ev = _dns_evidence(RESOLVER_TIMEOUT, matching=2, ready=2)
    assert not [f for f in analyze(ev).findings if f.analyzer == "resolver-service"]


def test_a_name_the_resolver_says_does_not_exist_is_not_this_rule() -> None:
    ev = _dns_evidence(NO_SUCH_NAME)
    assert not [f for f in analyze(ev).findings if f.analyzer == "resolver-service"]


def _egress(name: str, spec: dict[str, Any]) -> NetworkPolicyEvidence:
    return NetworkPolicyEvidence(
        name=name,
        namespace="billing",
        policy_types=["Egress"],
        selector=selector_of(spec.get("podSelector", {})),
        egress=rules_of(spec, "egress"),
    )


DENY = _egress("default-deny-egress", {"podSelector": {}})
API = Endpoint(namespace="billing", labels={"app": "billing-api"})
PGBOUNCER = Endpoint(namespace="data", labels={"app": "pgbouncer"}, service_ips=("172.20.88.14",))


def _allow_block(cidr: str, *, port: int = 5432, **block: Any) -> NetworkPolicyEvidence:
    return _egress(
        "billing-api-egress",
        {
            "podSelector": {"matchLabels": {"app": "billing-api"}},
            "egress": [{"to": [{"ipBlock": {"cidr": cidr, **block}}], "ports": [{"port": port}]}],
        },
    )


def test_an_ip_block_naming_the_service_address_blocks_and_is_named_first() -> None:
    verdict = egress_verdict(
        [DENY, _allow_block("172.20.88.14/32")], Flow(source=API, destination=PGBOUNCER, port=6432)
    )
    assert not verdict.allowed
    assert verdict.blocking[0] == "billing-api-egress"


def test_a_block_of_every_address_is_not_meant_for_the_service() -> None:
    allow = _allow_block("0.0.0.0/0", port=443)
    verdict = egress_verdict([DENY, allow], Flow(source=API, destination=PGBOUNCER, port=6432))
    assert verdict.blocking[0] == "default-deny-egress"


def test_the_policy_analyzer_names_the_ip_block_policy_for_a_timed_out_service() -> None:
    pgbouncer = make.service("pgbouncer", "data", ready=2, matching=2, cluster_ip="172.20.88.14")
    api_pod = make.pod(
        "billing-api-64d9b8c7f5-aaaaa", namespace="billing", labels={"app": "billing-api"}
    )
    line = (
        'connection failed: connection to server at "172.20.88.14", port 5432 failed: '
        "timeout expired"
    )
    ev = make.evidence(
        workload=make.deployment("billing-api", "billing"),
        pods=[api_pod],
        logs=[make.log(api_pod.name, "api", line, namespace="billing")],
        network_policies=[DENY, _allow_block("172.20.88.14/32")],
        dependencies=[
            DependencyEvidence(
                ref=ObjectRef(kind="Service", namespace="data", name="pgbouncer"),
                service=pgbouncer,
                named_by=naming("pod billing-api env DATABASE_HOST"),
            )
        ],
    )
    target = ObjectRef(kind="NetworkPolicy", namespace="billing", name="billing-api-egress")
    finding = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, target)
    facts = [e.fact for e in finding.evidence]
    assert "allows ipBlock 172.20.88.14/32, the Service's clusterIP" in facts


def test_libpq_and_psycopg_connect_timeouts_are_connect_timeouts() -> None:
    for line in (
        'connection to server at "10.52.14.3", port 5432 failed: timeout expired',
        "psycopg.errors.ConnectionTimeout: connection timeout expired",
    ):
        assert CONNECT_TIMEOUT_LOG.search(line), line
        assert DEPENDENCY_LOG.search(line), line
    assert not CONNECT_TIMEOUT_LOG.search("statement timeout expired for query 42")
