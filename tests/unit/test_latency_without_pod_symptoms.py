"""Checks three readings of a latency or error alert whose pods are all Running and Ready:

- replicas of one revision slow on one node whose CPU time is stolen, while the same revision
  answers quickly on the other nodes, are the node's doing even right after a rollout (the
  rollout is not blamed); when the slow replicas are the only ones of the new revision, the
  split follows the revision and the rollout stays a candidate;
- a container throttled at its CPU limit while its autoscaler runs its maximum and the request
  rate grew is short of replicas (saturation leads, throttling stays a lower alternative); at
  a flat request rate the limit is what caps it; the request-rate series are asked for a
  throttling alert;
- calls blocked to a Service whose pods are selected only in part by an ingress policy that
  admits the caller (its podSelector is the Service's plus a version label) point at that
  policy, to widen, not at the namespace's deny-all; without such a policy the deny-all is
  still the one named.

Everything is real: Evidence models from ``tests.support.evidence``, ``run_analyzers``, the
query templates and ``kubetriage.networkpolicy``; the objects are synthetic.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.placement import slow_replica_nodes
from kubetriage.evidence.queries import Scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.network_policies import LabelSelector, PolicyPeer, PolicyPort, PolicyRule
from kubetriage.models.object_evidence import (
    NodeEvidence,
    ServiceEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category, naming

# --- a node's slow replicas after a rollout ---------------------------------------------

NODES = ("w01.dc1.example", "w02.dc1.example", "w03.dc1.example")
W02 = ObjectRef(kind="Node", name="w02.dc1.example")
CART = ObjectRef(kind="Deployment", namespace="shop", name="cart")


def _cart(*, steal_on: str | None, replica_sets: tuple[str, str, str]) -> Evidence:
    """cart at revision 5 (rolled out 30 minutes ago, image changed), one replica per node;
    the one on w02 answers ten times slower since 26 minutes ago."""
    pods, metrics = [], []
    for index, (node, rs) in enumerate(zip(NODES, replica_sets, strict=True)):
        name = f"{rs}-p{index}"
        pods.append(
            make.pod(
                name,
                make.container("api", "cart:1.1"),
                replica_set=rs,
                node=node,
                labels={"app": "cart"},
            )
        )
        metrics.append(
            make.metric(
                "histogram_quantile(0.99, ...)",
                name="pod_latency_p99_seconds",
                labels={"pod": name},
                first=0.09,
                last=1.2 if node == W02.name else 0.09,
            )
        )
    metrics.append(
        make.metric(
            "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket"
            '{namespace="shop",job=~"(.+/)?cart"}[5m])))',
            name="otel_http_server_latency_p99_seconds",
            first=0.09,
            last=1.0,
            trend="rising",
            changed_minutes_ago=26,
        )
    )
    if steal_on is not None:
        metrics.append(
            make.metric(
                'sum by (instance) (rate(node_cpu_seconds_total{mode="steal"}[5m])) / ...',
                name="node_cpu_steal_ratio",
                labels={"instance": f"{steal_on}:9100"},
                first=0.45,
                last=0.45,
            )
        )
    return make.evidence(
        workload=make.deployment("cart", replicas=3, revision=5),
        pods=pods,
        nodes=[NodeEvidence(name=n, ready="True") for n in NODES],
        metrics=metrics,
        revisions=make.rollout_revisions(
            5,
            {"api": "cart:1.1"},
            {"api": "cart:1.0"},
            minutes_ago=30,
            names=("cart-new", "cart-old"),
        ),
        changes=[make.rollout_change(CART, 4, "image", minutes_ago=30)],
    )


SAME = ("cart-new", "cart-new", "cart-new")


def test_a_rollout_followed_by_one_node_stealing_cpu_is_blamed_without_the_node() -> None:
    # The baseline the next test turns: no node fault, the rollout is the change that fits.
    result = analyze(_cart(steal_on=None, replica_sets=SAME))
    assert "change-correlation" in result.fired
    assert not by_category(result, Category.NODE_FAILURE)


def test_the_same_revision_fast_elsewhere_and_slow_on_a_stealing_node_is_the_node() -> None:
    result = analyze(_cart(steal_on=W02.name, replica_sets=SAME))
    finding = assert_leads(result, Category.NODE_FAILURE, Action.DRAIN_NODE, W02)
    assert finding.analyzer == "slow-replica-node"
    assert any("stolen by the hypervisor" in e.fact for e in finding.evidence)
    assert "change-correlation" not in result.fired


def test_a_split_along_the_revision_is_not_the_node_splitting_one_template() -> None:
    # Mid-rollout: the slow replica is the only one of the new revision.
    (slow,) = slow_replica_nodes(
        _cart(steal_on=W02.name, replica_sets=("cart-old", "cart-new", "cart-old"))
    )
    assert slow.node.name == W02.name
    assert not slow.same_revision()


# --- throttling at an autoscaler's maximum ----------------------------------------------

BOOKING = ObjectRef(kind="Deployment", namespace="shop", name="booking")


def _booking(request_rate: tuple[float, float]) -> Evidence:
    """booking at its HPA maximum of 4, every pod at its 1-CPU limit and 44% throttled,
    latency up five-fold, under the given request rate (first, last)."""
    limited = make.container("app", limits={"cpu": "1"})
    return make.evidence(
        workload=make.deployment("booking", replicas=4, containers=[limited]),
        pods=[
            make.pod(f"booking-5f6d7c8b9-p{i}", limited, replica_set="booking-5f6d7c8b9")
            for i in range(4)
        ],
        autoscalers=[autoscalers.hpa(BOOKING, current=4, maximum=4, limited=True)],
        alerts=[make.alert(alertname="CPUThrottlingHigh", namespace="shop", container="app")],
        metrics=[
            make.metric(
                "sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total[5m]))"
                " / sum by (pod, container) (rate(container_cpu_cfs_periods_total[5m]))",
                name="cpu_throttled_ratio",
                labels={"container": "app"},
                first=0.05,
                last=0.44,
            ),
            make.metric(
                'sum(rate(http_requests_total{namespace="shop",job=~"(.+/)?booking"}[5m]))',
                name="http_request_rate",
                first=request_rate[0],
                last=request_rate[1],
            ),
            make.metric(
                "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
                '{namespace="shop",job=~"(.+/)?booking"}[5m])))',
                name="http_latency_p99_seconds",
                first=0.4,
                last=2.2,
                trend="rising",
            ),
        ],
    )


def test_throttled_at_the_autoscalers_maximum_as_traffic_more_than_doubles_is_saturation() -> None:
    result = analyze(_booking((70.0, 260.0)))
    assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, BOOKING)
    (throttling,) = by_category(result, Category.CPU_THROTTLING)
    assert throttling.confidence <= 0.6
    assert any("(max)" in e.fact for e in throttling.evidence)


def test_throttled_at_the_autoscalers_maximum_at_flat_traffic_keeps_the_limit_a_rival() -> None:
    # Demand did not grow: nothing says the load pinned the pods, the limit stays a full rival.
    (throttling,) = by_category(analyze(_booking((200.0, 210.0))), Category.CPU_THROTTLING)
    assert throttling.confidence >= 0.85
    assert not any("(max)" in e.fact for e in throttling.evidence)


def test_a_throttling_alert_asks_for_the_request_rate() -> None:
    scope = Scope(namespace="shop", deployment="booking", job="booking")
    asked = {
        q.name
        for q in select_queries(scope, timedelta(hours=1), families=frozenset({"throttling"}))
    }
    assert "http_request_rate" in asked


# --- an ingress policy narrower than its Service ------------------------------------------

_CALLER = {"app": "listing"}
_V1 = {"app": "price-rules", "version": "v1"}


def _policy(name: str, selector: dict[str, str], *rules: PolicyRule) -> object:
    return make.network_policy(
        name,
        namespace="shop",
        selector=LabelSelector(match_labels=selector),
        ingress=list(rules),
        ingress_rules=len(rules),
        pod_selector=selector,
        selects_target=not selector or selector == _CALLER,
    )


_FROM_CALLER = PolicyRule(
    peers=[PolicyPeer(pod_selector=LabelSelector(match_labels=_CALLER))],
    ports=[PolicyPort(port="8080", protocol="TCP")],
)


def _blocked_price_rules(*extra: object) -> Evidence:
    """listing's calls to Service price-rules (app=price-rules) time out; the namespace
    denies all ingress by default, plus ``extra`` policies."""
    service = ServiceEvidence(name="price-rules", namespace="shop", selector={"app": "price-rules"})
    return make.evidence(
        workload=make.deployment("listing", replicas=1),
        pods=[make.pod("listing-6c7d8e9f0-a", make.container("api"), labels=_CALLER)],
        network_policies=[
            _policy("default-deny-ingress", {}),
            _policy("listing-ingress", _CALLER, PolicyRule()),  # listing itself is served
            *extra,
        ],
        dependencies=[
            DependencyEvidence(
                ref=ObjectRef(kind="Service", namespace="shop", name="price-rules"),
                service=service,
                named_by=naming("log listing-6c7d8e9f0-a"),
                followed=True,
            )
        ],
        logs=[
            make.log(
                "listing-6c7d8e9f0-a",
                "api",
                'level=ERROR msg="price lookup failed" err="Post \\"http://price-rules.shop.svc'
                '.cluster.local:8080/v1/evaluate\\": dial tcp 10.43.90.12:8080: i/o timeout"',
            )
        ],
    )


PRICE_RULES_INGRESS = ObjectRef(kind="NetworkPolicy", namespace="shop", name="price-rules-ingress")


def test_an_allow_policy_for_only_the_v1_pods_of_the_service_is_the_one_to_widen() -> None:
    ev = _blocked_price_rules(_policy("price-rules-ingress", _V1, _FROM_CALLER))
    finding = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, PRICE_RULES_INGRESS)
    assert any("version=v1" in e.fact for e in finding.evidence)


def test_without_a_narrowed_allow_policy_the_deny_all_is_named() -> None:
    deny = ObjectRef(kind="NetworkPolicy", namespace="shop", name="default-deny-ingress")
    assert_leads(analyze(_blocked_price_rules()), Category.NETWORK, Action.FIX_NETWORK, deny)


def test_a_narrowed_policy_that_does_not_admit_the_caller_is_not_the_one() -> None:
    other = PolicyRule(peers=[PolicyPeer(pod_selector=LabelSelector(match_labels={"app": "x"}))])
    ev = _blocked_price_rules(_policy("price-rules-ingress", _V1, other))
    finding = by_category(analyze(ev), Category.NETWORK)[0]
    assert finding.target != PRICE_RULES_INGRESS
