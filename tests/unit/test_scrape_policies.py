"""Checks the closed-scrape-port reasoning: a port that the NetworkPolicies isolating a pod
admit from no peer at all (``networkpolicy.closed_port``), and the scrape-policy analyzer
that turns a scrape-health alert (TargetDown, an ``up == 0`` rule) on a Service whose pods
all serve, with one of its ports closed that way, into fix-network aimed at the policy; and
its silences (another alert, pods not ready, every port admitted to someone, nothing admitted
at all).

Real: ``kubetriage.networkpolicy`` on API-shaped policy specs (``rules_of``) and the whole
analyzer registry over Evidence models built with ``tests.support.evidence``; the objects
are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import PodPort
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, closed_port, rules_of, selector_of
from tests.support.evidence import (
    alert,
    analyze,
    container,
    crash_looping,
    evidence,
    pod,
    service,
    service_port,
)

API = {"app": "api"}
POD = Endpoint(namespace="shop", labels=API)


def _policy(name: str, spec: dict[str, Any]) -> NetworkPolicyEvidence:
    return NetworkPolicyEvidence(
        name=name,
        namespace="shop",
        policy_types=spec.get("policyTypes", ["Ingress"]),
        selector=selector_of(spec.get("podSelector", {})),
        ingress=rules_of(spec, "ingress"),
    )


def _allow(name: str, *ports: int | str, namespace: str = "ingress-nginx") -> NetworkPolicyEvidence:
    return _policy(
        name,
        {
            "podSelector": {"matchLabels": API},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": namespace}
                            }
                        }
                    ],
                    "ports": [{"port": p} for p in ports],
                }
            ],
        },
    )


DENY_ALL = _policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]})


def test_a_port_no_rule_lists_is_closed_and_the_allow_list_comes_first() -> None:
    policies = [DENY_ALL, _allow("api-ingress", 8080)]
    assert closed_port(policies, POD, 9090, "metrics") == ("api-ingress", "default-deny")


def test_a_listed_port_by_number_or_name_is_open() -> None:
    assert closed_port([_allow("api-ingress", 8080)], POD, 8080) == ()
    assert closed_port([_allow("api-ingress", "metrics")], POD, 9090, "metrics") == ()


def test_a_rule_without_ports_opens_every_port() -> None:
    anywhere = _policy(
        "from-monitoring",
        {
            "podSelector": {"matchLabels": API},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "obs"}}}]}],
        },
    )
    assert closed_port([_allow("api-ingress", 8080), anywhere], POD, 9090) == ()


def test_a_pod_no_policy_isolates_has_no_closed_port() -> None:
    other = Endpoint(namespace="shop", labels={"app": "web"})
    assert closed_port([_allow("api-ingress", 8080)], other, 9090) == ()


def _scrape_evidence(
    *policies: NetworkPolicyEvidence,
    the_alert: AlertEvidence | None = None,
    ready: bool = True,
) -> Any:
    app = container("app") if ready else crash_looping("app", exit_code=1)
    svc = service(
        "api",
        selector=API,
        ready=2 if ready else 0,
        not_ready_endpoints=0 if ready else 2,
        matching=2,
        ports=[service_port(80, "http", "http"), service_port(9090, "metrics", "metrics")],
        pod_ports=[PodPort(number=8080, name="http"), PodPort(number=9090, name="metrics")],
    )
    return evidence(
        alerts=[
            the_alert or alert(alertname="TargetDown", namespace="shop", job="api", service="api")
        ],
        pods=[
            pod("api-5d8f7c6b9-a1b2c", app, labels=API, replica_set="api-5d8f7c6b9"),
            pod("api-5d8f7c6b9-d3e4f", app, labels=API, replica_set="api-5d8f7c6b9"),
        ],
        services=[svc],
        network_policies=list(policies),
        namespace_labels={"shop": {"kubernetes.io/metadata.name": "shop"}},
    )


def test_targetdown_with_the_metrics_port_closed_blames_the_allow_list() -> None:
    result = analyze(_scrape_evidence(DENY_ALL, _allow("api-ingress", 8080)))
    first = result.findings[0]
    assert first.analyzer == "scrape-policy"
    assert (first.category, first.action, first.target) == (
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="shop", name="api-ingress"),
    )
    assert "9090 (metrics)" in first.summary


def test_an_up_is_zero_rule_counts_as_a_scrape_alert() -> None:
    rule = AlertEvidence(
        labels={"alertname": "ApiMetricsMissing", "namespace": "shop", "job": "api"},
        annotations={"description": 'up{job="api"} == 0 for 5m'},
        status="firing",
    )
    result = analyze(_scrape_evidence(_allow("api-ingress", 8080), the_alert=rule))
    assert [f.analyzer for f in result.findings][:1] == ["scrape-policy"]


def test_silent_for_an_alert_that_is_not_about_scraping() -> None:
    latency = alert(alertname="ApiLatencyHigh", namespace="shop", service="api")
    result = analyze(_scrape_evidence(_allow("api-ingress", 8080), the_alert=latency))
    assert not [f for f in result.findings if f.analyzer == "scrape-policy"]


def test_silent_when_the_pods_do_not_serve() -> None:
    result = analyze(_scrape_evidence(_allow("api-ingress", 8080), ready=False))
    assert not [f for f in result.findings if f.analyzer == "scrape-policy"]


def test_silent_when_the_metrics_port_is_admitted_to_some_namespace() -> None:
    policies = (_allow("api-ingress", 8080), _allow("api-metrics", 9090, namespace="monitoring"))
    result = analyze(_scrape_evidence(*policies))
    assert not [f for f in result.findings if f.analyzer == "scrape-policy"]


def test_silent_when_no_port_is_admitted_at_all() -> None:
    result = analyze(_scrape_evidence(DENY_ALL))
    assert not [f for f in result.findings if f.analyzer == "scrape-policy"]
