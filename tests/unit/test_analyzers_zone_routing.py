"""Checks the zone-routing rule: a Service with topology-aware routing whose busy ready pods
all run in one zone while its idle ready pods run in the others, as a latency alert fires,
is a traffic distribution problem of that Service (network, fix-network), with the legacy
topology-aware-hints annotation too. Near misses: routing off (or "Disabled"), an even load,
busy pods in two zones, pods on nodes without a zone label, no alert of slow or failing
requests.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, NodeEvidence, ServiceEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

OWN = ObjectRef(kind="Service", namespace="shop", name="checkout", api_version="v1")
PODS = [f"checkout-7d9f6c8b5-{s}" for s in ("aaaaa", "bbbbb", "ccccc", "ddddd", "eeeee", "fffff")]
ZONES = ("zone-a", "zone-b", "zone-c")
LATENCY = make.alert(alertname="CheckoutLatencyP99High")
MODE = "service.kubernetes.io/topology-mode"


def _service(annotations: dict[str, str] | None = None) -> ServiceEvidence:
    return ServiceEvidence(
        name="checkout",
        namespace="shop",
        selector={"app": "checkout"},
        ready_endpoints=6,
        annotations={MODE: "Auto"} if annotations is None else annotations,
    )


def _cpu(pod: str, cores: float) -> MetricSummary:
    return make.metric(
        f'sum by (pod, container) (rate(container_cpu_usage_seconds_total{{pod="{pod}"}}[5m]))',
        last=cores,
        first=cores,
        name="cpu_usage_cores",
        labels={"pod": pod, "container": "app"},
    )


def _nodes(labelled: bool = True) -> list[NodeEvidence]:
    return [
        NodeEvidence(
            name=f"node-{i}",
            ready="True",
            labels={"topology.kubernetes.io/zone": zone} if labelled else {},
        )
        for i, zone in enumerate(ZONES)
    ]


def _ev(
    loads: tuple[float, ...] = (1.9, 0.02, 0.03, 1.8, 0.02, 0.01),
    *,
    service: ServiceEvidence | None = None,
    alerts: list[Any] | None = None,
    labelled: bool = True,
) -> Evidence:
    # Pod i runs on node i % 3, so pods 0 and 3 share zone-a.
    pods = [
        make.pod(name, make.container("app"), node=f"node-{i % 3}") for i, name in enumerate(PODS)
    ]
    return make.evidence(
        workload=make.deployment(replicas=6),
        pods=pods,
        nodes=_nodes(labelled),
        services=[service or _service()],
        metrics=[_cpu(p, v) for p, v in zip(PODS, loads, strict=True)],
        alerts=[LATENCY] if alerts is None else alerts,
    )


def _rule(ev: Evidence) -> list[Any]:
    return [f for f in analyze(ev).findings if f.analyzer == "zone-routing"]


def test_load_held_in_one_zone_by_zone_routing_is_fixed_at_the_service() -> None:
    finding = assert_leads(analyze(_ev()), Category.NETWORK, Action.FIX_NETWORK, OWN)
    assert finding.analyzer == "zone-routing"
    facts = " ".join(e.fact for e in finding.evidence)
    assert "topology-mode: Auto" in facts
    assert "checkout-7d9f6c8b5-aaaaa (zone-a)" in facts


def test_legacy_hints_annotation_routes_by_zone_too() -> None:
    legacy = _service({"service.kubernetes.io/topology-aware-hints": "auto"})
    assert _rule(_ev(service=legacy))


def test_no_zone_routing_is_not_this_rule() -> None:
    assert not _rule(_ev(service=_service({})))
    assert not _rule(_ev(service=_service({MODE: "Disabled"})))


def test_even_load_is_not_pinned() -> None:
    assert not _rule(_ev(loads=(1.1, 1.0, 0.9, 1.0, 1.2, 0.95)))


def test_busy_pods_in_two_zones_are_not_explained_by_zone_routing() -> None:
    # Pods 0 (zone-a) and 1 (zone-b) busy: the skew does not follow the zones.
    assert not _rule(_ev(loads=(1.9, 1.8, 0.03, 0.02, 0.02, 0.01)))


def test_nodes_without_zone_labels_say_nothing_of_zones() -> None:
    assert not _rule(_ev(labelled=False))


def test_without_a_latency_or_error_alert_nothing_fires() -> None:
    assert not _rule(_ev(alerts=[]))
