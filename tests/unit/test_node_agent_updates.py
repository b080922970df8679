"""Checks reasoning about node agents and cluster add-ons that an update changed under a
workload that did not change:

- calls to a link-local address (the EKS Pod Identity agent's 169.254.170.23, a node-local
  credentials or metadata proxy) that cannot connect name the node they fail on, and the
  host-network DaemonSet pod serving that address or port there is followed as what the
  calls reach; the cloud's own metadata address is followed only to an agent that names it;
- a dependency restarted by a refused liveness probe right after a rollout that left the
  probe alone is not blamed on the probe (the new revision stopped serving);
- a cluster DNS whose Corefile an add-on update rewrote together with a rollout of its pods,
  and that answers NXDOMAIN while all its replicas run, is fixed in that ConfigMap; the same
  rollout without NXDOMAIN answers, or far from the edit, stays the rollout rule's.

Real: the pure helpers on API-shaped dicts, Evidence models from ``tests.support.evidence``
and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.link_local_hosts import link_local_failing_nodes, node_link_local_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, named, naming

BROKEN = "ip-10-0-1-1"
FINE = "ip-10-0-1-2"
CREDENTIALS = (
    "botocore.exceptions.CredentialRetrievalError: Error when retrieving credentials from "
    "container-role: Error retrieving metadata: Received error when attempting to retrieve "
    'container metadata: Could not connect to the endpoint URL: "http://169.254.170.23/v1/'
    'credentials"'
)
IMDS = 'Get "http://169.254.169.254/latest/api/token": dial tcp 169.254.169.254:80: i/o timeout'


def _pod(name: str, node: str, spec: dict[str, Any], owner: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "kube-system" if owner else "shop"}
    if owner:
        meta["ownerReferences"] = [{"kind": "DaemonSet", "name": owner, "controller": True}]
    return {"kind": "Pod", "metadata": meta, "spec": {"nodeName": node, **spec}}


def _agent(node: str, name: str, *, host_network: bool = True, **container: Any) -> dict[str, Any]:
    spec = {"hostNetwork": host_network, "containers": [{"name": "agent", **container}]}
    return _pod(f"{name}-{node[-1]}", node, spec, owner=name)


APP = [_pod("export-1", BROKEN, {"containers": []}), _pod("export-2", FINE, {"containers": []})]


def test_an_unreachable_link_local_address_names_its_node_address_and_port() -> None:
    lines = [
        (named("log shop/export-1/worker"), CREDENTIALS),
        (named("log shop/export-1/worker"), "GET http://169.254.170.23/v1/credentials 200"),
        (named("log shop/export-2/worker"), IMDS),
        (named("event Pod/export-2 Failed"), CREDENTIALS),
    ]
    assert link_local_failing_nodes(lines, APP) == [
        (BROKEN, "169.254.170.23", 80, named("log shop/export-1/worker")),
        (FINE, "169.254.169.254", 80, named("log shop/export-2/worker")),
    ]


def test_the_host_network_agent_serving_the_port_on_that_node_is_followed() -> None:
    failing = link_local_failing_nodes([(named("log shop/export-1/worker"), CREDENTIALS)], APP)
    pods = [
        _agent(BROKEN, "eks-pod-identity-agent", ports=[{"containerPort": 80}]),
        _agent(FINE, "eks-pod-identity-agent", ports=[{"containerPort": 80}]),
        _agent(BROKEN, "web-cache", host_network=False, ports=[{"containerPort": 80}]),
        _agent(BROKEN, "node-exporter", ports=[{"containerPort": 9100}]),
    ]
    hosts = node_link_local_hosts(pods, failing)
    assert [(h.kind, h.namespace, h.name, h.source) for h in hosts] == [
        ("DaemonSet", "kube-system", "eks-pod-identity-agent", named("log shop/export-1/worker"))
    ]


def test_the_cloud_metadata_address_is_followed_only_to_an_agent_that_names_it() -> None:
    failing = link_local_failing_nodes([(named("log shop/export-2/worker"), IMDS)], APP)
    ingress = _agent(FINE, "ingress-controller", ports=[{"containerPort": 80, "hostPort": 80}])
    assert node_link_local_hosts([ingress], failing) == []
    proxy = _agent(FINE, "metadata-proxy", args=["--intercept=169.254.169.254:80"])
    assert [h.name for h in node_link_local_hosts([ingress, proxy], failing)] == ["metadata-proxy"]


AGENT = ObjectRef(kind="DaemonSet", namespace="kube-system", name="eks-pod-identity-agent")


def _agent_dependency(aspects: list[str]) -> DependencyEvidence:
    return DependencyEvidence(
        workload=AGENT,
        named_by=naming("log shop/checkout-7d9f6c8b5-x2x9k/app"),
        desired_replicas=2,
        ready_replicas=0,
        pods=2,
        failing_pods=[
            PodTrouble(
                pod=f"eks-pod-identity-agent-{s}",
                container="agent",
                waiting="CrashLoopBackOff",
                restarts=11,
                last_terminated="Error",
            )
            for s in ("a", "b")
        ],
        warnings=[
            f"Pod/eks-pod-identity-agent-{s} Unhealthy: Liveness probe failed: Get "
            '"http://localhost:2703/healthz": dial tcp 127.0.0.1:2703: connect: connection refused'
            for s in ("a", "b")
        ],
        changes=[
            ChangeEvidence(
                at=ago(38), kind="rollout", object=AGENT, aspects=aspects, from_revision=5
            )
        ],
    )


def _calls_fail(dependency: DependencyEvidence) -> Any:
    return make.checkout_evidence(
        logs=[make.checkout_log(CREDENTIALS)],
        dependencies=[dependency],
        metrics=[make.error_ratio(first=0.0, last=1.0, changed_minutes_ago=33, trend="rising")],
    )


def _rule(result: Any, name: str) -> list[Any]:
    return [f for f in result.findings if f.analyzer == name]


def test_a_refused_liveness_probe_after_a_rollout_that_left_it_alone_is_not_the_probe() -> None:
    result = analyze(_calls_fail(_agent_dependency(["image"])))
    assert not _rule(result, "callee-probe-failure")
    assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)
    # The rollout changed the probe itself: the probe stays the suspect.
    assert _rule(analyze(_calls_fail(_agent_dependency(["probes"]))), "callee-probe-failure")


DNS = ServiceEvidence(
    name="kube-dns", namespace="kube-system", selector={"k8s-app": "kube-dns"}, ready_endpoints=2
)
COREDNS = ObjectRef(kind="Deployment", namespace="kube-system", name="coredns")
COREFILE = ObjectRef(kind="ConfigMap", namespace="kube-system", name="coredns")
NXDOMAIN = '[INFO] 10.0.3.41:48211 - 31642 "A IN ldap.corp.example.net. udp 60" NXDOMAIN qr,rd,ra'


def _dns(rollout_minutes_ago: float, dns_says: str) -> DependencyEvidence:
    return DependencyEvidence(
        service=DNS,
        workload=COREDNS,
        named_by=naming("log shop/checkout-7d9f6c8b5-x2x9k/app"),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        changes=[
            ChangeEvidence(
                at=ago(rollout_minutes_ago),
                kind="rollout",
                object=COREDNS,
                aspects=["image"],
                from_revision=11,
            )
        ],
        config_changes=[
            ChangeEvidence(
                at=ago(41), kind="config", object=COREFILE, aspects=["data"], details=["written"]
            )
        ],
        logs=[make.log("coredns-1", "coredns", dns_says, namespace="kube-system")],
    )


def _lookups_fail(dependency: DependencyEvidence) -> Any:
    errors: MetricSummary = make.error_ratio(
        first=0.001, last=0.9, changed_minutes_ago=30, trend="rising"
    )
    return make.checkout_evidence(
        logs=[make.checkout_log("java.net.UnknownHostException: ldap.corp.example.net")],
        dependencies=[dependency],
        metrics=[errors],
    )


def test_a_corefile_rewritten_with_the_rollout_that_answers_nxdomain_is_the_config() -> None:
    finding = assert_leads(
        analyze(_lookups_fail(_dns(40, NXDOMAIN))),
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        COREFILE,
    )
    assert "keeps that ConfigMap" in finding.model_dump_json()


def test_the_same_rollout_without_nxdomain_answers_or_apart_from_the_edit_is_the_rollout() -> None:
    served = '[INFO] 10.0.3.41:48211 - 31642 "A IN ldap.corp.example.net. udp 60" NOERROR'
    assert not _rule(analyze(_lookups_fail(_dns(40, served))), "dependency-config")
    assert not _rule(analyze(_lookups_fail(_dns(25, NXDOMAIN))), "dependency-config")
