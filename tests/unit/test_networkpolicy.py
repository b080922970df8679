"""Checks NetworkPolicy evaluation against the Kubernetes semantics: isolation only by
policies selecting the pod for that direction, unioned rules, peers by pod and namespace
selector (and both), match expressions, ports and ranges, DNS egress, the blocking policy
named; and the network-policy analyzer that turns a blocked flow the workload fails on into
fix-network aimed at that policy.

Real: ``kubetriage.networkpolicy`` (``rules_of`` on API-shaped specs) and the analyzer
registry over Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import LogTail, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import (
    Endpoint,
    Flow,
    cluster_dns,
    egress_verdict,
    flow_verdicts,
    in_ip_block,
    ingress_verdict,
    rules_of,
    selector_of,
    selects,
    verdicts_by_source_address,
)
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, container, evidence, log, naming, pod

WEB = Endpoint(namespace="shop", labels={"app": "web"})
API = Endpoint(namespace="shop", labels={"app": "api", "tier": "backend"})
DB = Endpoint(namespace="data", labels={"app": "db"}, namespace_labels={"team": "data"})


def _policy(name: str, namespace: str, spec: dict[str, Any]) -> NetworkPolicyEvidence:
    types = spec.get("policyTypes") or ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    return NetworkPolicyEvidence(
        name=name,
        namespace=namespace,
        policy_types=types,
        selector=selector_of(spec.get("podSelector", {})),
        ingress=rules_of(spec, "ingress"),
        egress=rules_of(spec, "egress"),
    )


def test_a_pod_no_policy_selects_accepts_everything() -> None:
    other = _policy("api-only", "shop", {"podSelector": {"matchLabels": {"app": "api"}}})
    verdict = ingress_verdict([other], Flow(source=API, destination=WEB, port=80))
    assert verdict.allowed
    assert verdict.isolating == ()


def test_default_deny_ingress_blocks_and_is_named() -> None:
    deny = _policy("default-deny", "shop", {"podSelector": {}, "policyTypes": ["Ingress"]})
    verdict = ingress_verdict([deny], Flow(source=WEB, destination=API, port=8080))
    assert not verdict.allowed
    assert verdict.blocking == ("default-deny",)
    assert verdict.namespace == "shop"


def test_the_policy_meant_for_the_flow_is_named_first_whatever_the_names() -> None:
    """Several policies isolate the callee and none admits the caller: the one whose rule
    names the caller's pods and port (but a namespace label the caller's namespace lacks)
    is the one to correct, before a same-namespace allow, a scrape rule and a default deny,
    whichever way their names sort."""
    caller = Endpoint(namespace="orders", labels={"app": "orders"}, namespace_labels={})
    callee = Endpoint(namespace="stock", labels={"app": "stock-api"})
    meant: dict[str, Any] = {
        "podSelector": {"matchLabels": {"app": "stock-api"}},
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"team": "orders"}},
                        "podSelector": {"matchLabels": {"app": "orders"}},
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }
        ],
    }
    same_namespace: dict[str, Any] = {
        "podSelector": {},
        "ingress": [{"from": [{"podSelector": {}}]}],
    }
    scrape: dict[str, Any] = {
        "podSelector": {},
        "ingress": [
            {
                "from": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
                "ports": [{"protocol": "TCP", "port": 9090}],
            }
        ],
    }
    deny: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
    flow = Flow(source=caller, destination=callee, port=8080)
    for names in (
        ("a-meant", "b-same", "c-scrape", "d-deny"),
        ("z-meant", "b-same", "a-scrape", "c-deny"),
    ):
        policies = [
            _policy(name, "stock", spec)
            for name, spec in zip(names, (meant, same_namespace, scrape, deny), strict=True)
        ]
        verdict = ingress_verdict(policies, flow)
        assert not verdict.allowed
        assert verdict.blocking[0] == names[0]
        assert verdict.blocking[-1] == names[3]


def test_with_no_rule_written_for_the_flow_the_default_deny_is_named_first() -> None:
    """Nothing isolating the pod names this caller, its namespace or its port: no policy was
    meant for the flow, so the deny-all shutting it out comes before an unrelated allow."""
    caller = Endpoint(namespace="orders", labels={"app": "orders"})
    callee = Endpoint(namespace="stock", labels={"app": "stock-api"})
    same_namespace: dict[str, Any] = {
        "podSelector": {},
        "ingress": [{"from": [{"podSelector": {}}]}],
    }
    deny: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
    policies = [_policy("a-same", "stock", same_namespace), _policy("z-deny", "stock", deny)]
    verdict = ingress_verdict(policies, Flow(source=caller, destination=callee, port=8080))
    assert verdict.blocking == ("z-deny", "a-same")


def test_rules_are_unioned_across_policies() -> None:
    deny = _policy("default-deny", "shop", {"podSelector": {}, "policyTypes": ["Ingress"]})
    allow = _policy(
        "web-to-api",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "api"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    verdict = ingress_verdict([deny, allow], Flow(source=WEB, destination=API, port=8080))
    assert verdict.allowed
    assert verdict.allowed_by == "web-to-api"


def test_ports_and_port_ranges_limit_a_rule() -> None:
    allow = _policy(
        "web-to-api",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "api"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                    "ports": [{"protocol": "TCP", "port": 9000, "endPort": 9010}],
                }
            ],
        },
    )
    assert ingress_verdict([allow], Flow(source=WEB, destination=API, port=9005)).allowed
    assert not ingress_verdict([allow], Flow(source=WEB, destination=API, port=8080)).allowed
    udp = Flow(source=WEB, destination=API, port=9005, protocol="UDP")
    assert not ingress_verdict([allow], udp).allowed


def test_a_pod_selector_alone_means_the_policys_own_namespace() -> None:
    allow = _policy(
        "from-db-label",
        "data",
        {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    # web runs in "shop": a bare podSelector never reaches into another namespace.
    assert not ingress_verdict([allow], Flow(source=WEB, destination=DB, port=5432)).allowed


def test_namespace_and_pod_selectors_together_and_match_expressions() -> None:
    allow = _policy(
        "shop-web",
        "data",
        {
            "podSelector": {
                "matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]
            },
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "shop"}
                            },
                            "podSelector": {
                                "matchExpressions": [{"key": "app", "operator": "Exists"}]
                            },
                        }
                    ]
                }
            ],
        },
    )
    assert ingress_verdict([allow], Flow(source=WEB, destination=DB, port=5432)).allowed
    stranger = Endpoint(namespace="other", labels={"app": "web"})
    assert not ingress_verdict([allow], Flow(source=stranger, destination=DB, port=5432)).allowed


def _egress_to_data_only() -> NetworkPolicyEvidence:
    """``egress-db-only``: web may call namespaces labelled team=data, nothing else."""
    return _policy(
        "egress-db-only",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"team": "data"}}}]}],
        },
    )


def test_egress_without_a_dns_rule_blocks_dns_and_a_dns_rule_allows_it() -> None:
    strict = _egress_to_data_only()
    dns = Flow(source=WEB, destination=cluster_dns(), port=53, protocol="UDP")
    verdict = egress_verdict([strict], dns)
    assert not verdict.allowed
    assert verdict.blocking == ("egress-db-only",)
    assert egress_verdict([strict], Flow(source=WEB, destination=DB, port=5432)).allowed
    with_dns = _policy(
        "allow-dns",
        "shop",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}],
        },
    )
    assert egress_verdict([strict, with_dns], dns).allowed


def test_a_flow_needs_both_egress_and_ingress() -> None:
    deny_in = _policy(
        "deny-in",
        "shop",
        {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"]},
    )
    verdicts = flow_verdicts([deny_in], Flow(source=WEB, destination=API, port=8080))
    assert [(v.direction, v.allowed) for v in verdicts] == [("egress", True), ("ingress", False)]


def test_an_unknown_operator_selects_nothing() -> None:
    selector = selector_of(
        {"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]}
    )
    assert not selects(selector, {"app": "2"})


def test_an_ip_block_only_rule_is_reported_with_its_caveat() -> None:
    policy = _policy(
        "cidr-only",
        "shop",
        {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    )
    verdict = ingress_verdict([policy], Flow(source=WEB, destination=API, port=80))
    assert not verdict.allowed
    assert verdict.ip_block_caveat


def test_an_ip_block_is_matched_against_the_pods_addresses_and_its_exceptions() -> None:
    policy = _policy(
        "from-the-vpc",
        "shop",
        {
            "podSelector": {},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}]}],
        },
    )
    inside = Endpoint(namespace="shop", labels={"app": "web"}, ips=("10.1.2.3",))
    excepted = Endpoint(namespace="shop", labels={"app": "web"}, ips=("10.9.0.7",))
    outside = Endpoint(namespace="shop", labels={"app": "web"}, ips=("192.168.0.4", "fd00::4"))
    admitted = ingress_verdict([policy], Flow(source=inside, destination=API, port=80))
    assert admitted.allowed
    assert admitted.allowed_by == "from-the-vpc"
    for source in (excepted, outside):
        verdict = ingress_verdict([policy], Flow(source=source, destination=API, port=80))
        # Known addresses decide: no caveat, the policy is named.
        assert not verdict.allowed
        assert not verdict.ip_block_caveat
        assert verdict.blocking == ("from-the-vpc",)
    assert in_ip_block("fd00::4", "fd00::/64")
    assert not in_ip_block("fd00::4", "10.0.0.0/8")
    assert not in_ip_block("not-an-ip", "10.0.0.0/8")
    assert not in_ip_block("10.0.0.1", "bad")


def test_a_source_of_several_pods_is_judged_one_address_at_a_time() -> None:
    policy = _policy(
        "from-the-node-subnet",
        "shop",
        {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.40.0.0/20"}}]}]},
    )
    nodes = Endpoint(namespace="edge", labels={"app": "proxy"}, ips=("10.40.3.71", "10.40.66.23"))
    together = ingress_verdict([policy], Flow(source=nodes, destination=API, port=80))
    assert together.allowed  # one address inside the block admits "the source" as a whole
    by_address = dict(
        verdicts_by_source_address([policy], Flow(source=nodes, destination=API, port=80))
    )
    assert by_address["10.40.3.71"].allowed_by == "from-the-node-subnet"
    assert by_address["10.40.66.23"].blocking == ("from-the-node-subnet",)
    unknown = Endpoint(namespace="edge", labels={"app": "proxy"})
    [(address, verdict)] = verdicts_by_source_address(
        [policy], Flow(source=unknown, destination=API, port=80)
    )
    assert address is None
    assert verdict.ip_block_caveat


def _db_call_timing_out() -> tuple[DependencyEvidence, LogTail]:
    """The web pod's calls to Service data/db, and the log line of one timing out."""
    dependency = DependencyEvidence(
        service=ServiceEvidence(name="db", namespace="data", selector={"app": "db"}),
        named_by=naming("log shop/web-7d9f6c8b5-a/web"),
        pods=1,
    )
    failing = log(
        "web-7d9f6c8b5-a", "web", "ERROR dial tcp db.data.svc.cluster.local:5432: i/o timeout"
    )
    return dependency, failing


def test_the_analyzer_matches_a_callees_ip_block_against_the_callers_pod_ips() -> None:
    vpc_only = _policy(
        "db-from-vpc",
        "data",
        {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
        },
    )
    dependency, failing = _db_call_timing_out()

    def confidences(ips: list[str]) -> list[float]:
        web = pod("web-7d9f6c8b5-a", container("web"), labels={"app": "web"}, ips=ips)
        ev = evidence(
            pods=[web], network_policies=[vpc_only], logs=[failing], dependencies=[dependency]
        )
        return [f.confidence for f in analyze(ev).findings if f.analyzer == "network-policy"]

    assert confidences(["10.1.0.5"]) == []  # admitted by the ipBlock
    outside, unknown = confidences(["192.168.3.4"]), confidences([])
    assert len(outside) == 1
    assert len(unknown) == 1
    # Known addresses outside the block are a firmer denial than unknown ones.
    assert outside[0] > unknown[0]


# --- the analyzer ---------------------------------------------------------------------------


def _web_pod() -> Any:
    return pod("web-7d9f6c8b5-a", container("web"), labels={"app": "web"})


def _web_log(text: str) -> LogTail:
    return log("web-7d9f6c8b5-a", "web", text)


def test_dns_failures_under_an_egress_policy_without_dns_name_that_policy() -> None:
    strict = _egress_to_data_only()
    ev = evidence(
        pods=[_web_pod()],
        network_policies=[strict],
        logs=[_web_log("dial tcp: lookup db.data.svc on 10.96.0.10:53: i/o timeout")],
    )
    findings = [f for f in analyze(ev).findings if f.analyzer == "network-policy"]
    assert [(f.category, f.action, f.target) for f in findings] == [
        (
            Category.NETWORK,
            Action.FIX_NETWORK,
            ObjectRef(kind="NetworkPolicy", namespace="shop", name="egress-db-only"),
        )
    ]


def _egress_with_dns_to_cluster_dns_pods() -> NetworkPolicyEvidence:
    return _policy(
        "web-egress",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )


def test_only_an_ip_block_admits_an_address_no_pod_holds() -> None:
    """A link-local resolver (NodeLocal DNSCache) is no pod: a rule naming the cluster DNS
    pods or every namespace does not admit it; an ipBlock holding the address does; and no
    policy isolates it for ingress."""
    cache = Endpoint(namespace="", labels={}, ips=("169.254.20.10",), address_only=True)
    dns = Flow(source=WEB, destination=cache, port=53, protocol="UDP")
    to_pods = _egress_with_dns_to_cluster_dns_pods()
    assert egress_verdict(
        [to_pods], Flow(source=WEB, destination=cluster_dns(), port=53, protocol="UDP")
    ).allowed
    verdict = egress_verdict([to_pods], dns)
    assert not verdict.allowed
    assert verdict.blocking == ("web-egress",)
    any_namespace = _policy(
        "any-namespace-dns",
        "shop",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}
            ],
        },
    )
    assert not egress_verdict([any_namespace], dns).allowed
    to_cache = _policy(
        "node-local-dns",
        "shop",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}]}],
        },
    )
    assert egress_verdict([to_pods, to_cache], dns).allowed
    assert ingress_verdict([to_pods], dns).allowed


def test_lookups_to_a_link_local_resolver_name_the_policy_that_does_not_admit_it() -> None:
    """Pods whose lookups time out at 169.254.20.10 while their egress policy allows DNS
    only to the cluster DNS pods: that policy is named (the flow that failed is evaluated),
    not a callee's ingress policy the lookup's host name happens to match; with the cache's
    address allowed, or lookups sent to the cluster DNS Service, there is no such finding."""
    policy = _egress_with_dns_to_cluster_dns_pods()
    line = (
        "dial tcp: lookup db.data.svc.cluster.local on 169.254.20.10:53: read udp "
        "10.1.0.4:4000->169.254.20.10:53: i/o timeout"
    )
    ev = evidence(pods=[_web_pod()], network_policies=[policy], logs=[_web_log(line)])
    findings = [f for f in analyze(ev).findings if f.analyzer == "network-policy"]
    assert [(f.category, f.action, f.target) for f in findings] == [
        (
            Category.NETWORK,
            Action.FIX_NETWORK,
            ObjectRef(kind="NetworkPolicy", namespace="shop", name="web-egress"),
        )
    ]
    assert "link-local resolver" in findings[0].summary
    assert any("169.254.20.10" in e.fact for e in findings[0].evidence)
    to_service = ev.model_copy(
        update={"logs": [_web_log(line.replace("169.254.20.10", "10.96.0.10"))]}
    )
    assert not [f for f in analyze(to_service).findings if f.analyzer == "network-policy"]
    allowed = _policy(
        "node-local-dns",
        "shop",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )
    opened = ev.model_copy(update={"network_policies": [policy, allowed]})
    assert not [f for f in analyze(opened).findings if f.analyzer == "network-policy"]


def test_a_dependency_the_policy_does_not_reach_is_named_and_an_allowed_one_is_not() -> None:
    only_cache = _policy(
        "web-egress",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "cache"}}}]}],
        },
    )

    def dependency(app: str) -> DependencyEvidence:
        return DependencyEvidence(
            service=ServiceEvidence(name=app, namespace="shop", selector={"app": app}),
            named_by=naming("log shop/web-7d9f6c8b5-a/web"),
            pods=1,
        )

    failing = _web_log("ERROR dial tcp payments:8080: i/o timeout")
    blocked = evidence(
        pods=[_web_pod()],
        network_policies=[only_cache],
        logs=[failing],
        dependencies=[dependency("payments")],
    )
    findings = [f for f in analyze(blocked).findings if f.analyzer == "network-policy"]
    assert [f.target.name for f in findings] == ["web-egress"]
    allowed = blocked.model_copy(update={"dependencies": [dependency("cache")]})
    assert not [f for f in analyze(allowed).findings if f.analyzer == "network-policy"]


def test_a_timeout_dialling_a_pods_own_address_is_evaluated_as_that_exact_flow() -> None:
    """A client that finds its callee's pods itself (consul, a headless Service) dials a pod
    address: the flow from the pod that logged the timeout to the pod holding that address,
    on that port, names the policy meant for it, not another policy of the namespace."""
    only_app_web = _policy(
        "api-ingress",
        "shop",
        {
            "podSelector": {"matchLabels": {"svc": "api"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    db_from_api = _policy(
        "db-from-api",
        "shop",
        {
            "podSelector": {"matchLabels": {"svc": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"svc": "api"}}}]}],
        },
    )
    web = pod("web-7d9f6c8b5-a", container("web"), labels={"svc": "web"}, ips=["10.1.0.5"])
    api = pod("api-5c8d7f9b6-b", container("api"), labels={"svc": "api"}, ips=["10.1.2.7"])
    db = pod("db-6f7b8c9d5-c", container("db"), labels={"svc": "db"}, ips=["10.1.3.9"])
    line = 'rpc error: code = Unavailable desc = "dial tcp 10.1.2.7:8087: i/o timeout"'
    ev = evidence(
        pods=[web, api, db],
        network_policies=[db_from_api, only_app_web],
        logs=[log("web-7d9f6c8b5-a", "web", line)],
    )
    findings = [f for f in analyze(ev).findings if f.analyzer == "network-policy"]
    assert [f.target.name for f in findings] == ["api-ingress"]
    # The same timeout between pods the policies admit names nothing.
    admitted = web.model_copy(update={"labels": {"app": "web"}})
    ev = ev.model_copy(update={"pods": [admitted, api, db]})
    assert not [f for f in analyze(ev).findings if f.analyzer == "network-policy"]
    # An address no known pod holds names nothing either.
    elsewhere = log("web-7d9f6c8b5-a", "web", line.replace("10.1.2.7", "10.9.9.9"))
    ev = ev.model_copy(update={"pods": [web, api, db], "logs": [elsewhere]})
    assert not [f for f in analyze(ev).findings if f.analyzer == "network-policy"]


def test_build_evidence_keeps_the_structured_rules_and_namespace_labels() -> None:
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "shop", "labels": {"team": "web"}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "web-egress", "namespace": "shop"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": {"app": "cache"}}}],
                        "ports": [{"port": 6379}],
                    }
                ],
            },
        },
    ]
    ev = built(objects, ObjectRef(kind="Namespace", name="shop"))
    [policy] = ev.network_policies
    assert policy.selector.match_labels == {"app": "web"}
    assert policy.egress[0].ports[0].port == "6379"
    assert policy.egress[0].peers[0].pod_selector is not None
    assert ev.namespace_labels == {"shop": {"team": "web"}}


def test_a_callees_default_deny_in_its_own_namespace_is_named() -> None:
    deny = _policy("default-deny", "data", {"podSelector": {}, "policyTypes": ["Ingress"]})
    dependency, failing = _db_call_timing_out()
    ev = evidence(
        pods=[_web_pod()], network_policies=[deny], logs=[failing], dependencies=[dependency]
    )
    findings = [f for f in analyze(ev).findings if f.analyzer == "network-policy"]
    assert [f.target for f in findings] == [
        ObjectRef(kind="NetworkPolicy", namespace="data", name="default-deny")
    ]


def _web_deployment(*env: dict[str, str]) -> dict[str, Any]:
    """The web Deployment in shop, its one container with ``env``."""
    web = {"name": "web", "image": "web:1", "env": list(env)}
    return deployment_manifest("web", "shop", web, metadata={"uid": "w"})


def test_build_evidence_adds_the_callees_policies() -> None:
    objects: list[dict[str, Any]] = [
        _web_deployment({"name": "DB", "value": "db.data.svc:5432"}),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": "data"},
            "spec": {"selector": {"app": "db"}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": "data"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
    ]
    ev = built(objects, ObjectRef(kind="Deployment", namespace="shop", name="web"))
    assert [(p.namespace, p.name) for p in ev.network_policies] == [("data", "default-deny")]


def test_a_callee_that_could_not_be_read_is_still_checked_against_our_egress() -> None:
    same_namespace_only = _policy(
        "egress-same-namespace",
        "shop",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {}}]},
                {"ports": [{"protocol": "UDP", "port": 53}]},
            ],
        },
    )
    unread = DependencyEvidence(
        ref=ObjectRef(kind="Service", namespace="cache", name="redis"),
        named_by=naming("ConfigMap recs-config"),
        followed=False,
    )
    failing = _web_log("WARNING redis get failed: Timeout connecting to server")
    ev = evidence(
        pods=[_web_pod()],
        network_policies=[same_namespace_only],
        logs=[failing],
        dependencies=[unread],
    )
    findings = [f for f in analyze(ev).findings if f.analyzer == "network-policy"]
    assert [f.target.name for f in findings] == ["egress-same-namespace"]
    # Unknown labels: a rule that admits some pods of that namespace is not a denial.
    admits = _policy(
        "egress-cache",
        "shop",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "cache"}
                            },
                            "podSelector": {"matchLabels": {"app": "redis"}},
                        }
                    ]
                }
            ],
        },
    )
    allowed = ev.model_copy(update={"network_policies": [admits]})
    assert not [f for f in analyze(allowed).findings if f.analyzer == "network-policy"]


def test_build_evidence_keeps_a_cluster_dns_callee_it_could_not_read() -> None:
    objects: list[dict[str, Any]] = [
        _web_deployment(
            {"name": "CACHE", "value": "redis://redis.cache.svc:6379"},
            {"name": "API", "value": "http://api.example:80"},
        )
    ]
    ev = built(objects, ObjectRef(kind="Deployment", namespace="shop", name="web"))
    # Only the cluster-DNS spelling is surely a Service; "api.example" is not kept.
    assert [(d.ref, d.followed) for d in ev.dependencies] == [
        (ObjectRef(kind="Service", namespace="cache", name="redis"), False)
    ]


def test_a_lookup_that_times_out_does_not_blame_the_ingress_policy_of_the_host_it_names() -> None:
    """``lookup db.shop... on 10.96.0.10:53: i/o timeout`` never dialled db: the policy
    fencing db's ingress is not the one dropping the workload's packets."""
    db_ingress = _policy(
        "db-ingress",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    db = ServiceEvidence(name="db", namespace="shop", selector={"app": "db"})

    def blamed(line: str) -> list[str]:
        ev = evidence(
            pods=[_web_pod()], network_policies=[db_ingress], services=[db], logs=[_web_log(line)]
        )
        return [f.target.name for f in analyze(ev).findings if f.analyzer == "network" and f.target]

    assert "db-ingress" not in blamed(
        "dial tcp: lookup db.shop.svc.cluster.local on 10.96.0.10:53: i/o timeout"
    )
    assert "db-ingress" in blamed(
        "connect to db.shop.svc.cluster.local:5432 failed: connection timed out"
    )
