"""Checks where the mesh sends a host the pods call (``kubetriage.evidence.mesh_routes``): a
VirtualService bound to the sidecars whose hosts hold a host the pods name routes it to a
cluster Service (an egress gateway), which the builder then follows as a dependency; a
VirtualService bound only to a gateway, a route rule matched on another gateway, a host
nobody names, and a destination that is the outside host itself are no hops. With that
Service's workload throttled, the caller's timeouts (the JDK HTTP client's
HttpTimeoutException among them) are the throttled egress gateway's, not the outside API's.

Real: the pure helper, the pure builder (``tests.support.built``), Evidence models from
``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.log_signatures import ANSWER_TIMEOUT_LOG, DEPENDENCY_LOG
from kubetriage.evidence.mesh_routes import mesh_route_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import log, named

PAYMENTS = ObjectRef(kind="Deployment", namespace="payments", name="payment-service")
GATEWAY = ObjectRef(kind="Deployment", namespace="istio-system", name="istio-egressgateway")
OUTSIDE = "api.paygate.example"
EGRESS_SVC = "istio-egressgateway.istio-system.svc.cluster.local"
POD_ENV = named("pod payments/payment-service-7c9d-x1 env")
ENV = (POD_ENV, f"PAYGATE_URL=http://{OUTSIDE}/v1")
TIMEOUT = (
    f"WARN c.a.PaygateClient : charge to http://{OUTSIDE}/v1/charges failed after 3001 ms: "
    "java.net.http.HttpTimeoutException: request timed out"
)


def _virtual_service(
    gateways: list[str] | None = None, rule_gateways: list[str] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "hosts": [OUTSIDE],
        "http": [
            {
                "match": [{"port": 80, **({"gateways": rule_gateways} if rule_gateways else {})}],
                "route": [{"destination": {"host": EGRESS_SVC, "port": {"number": 80}}}],
            },
            {
                "match": [{"gateways": ["istio-system/egress"], "port": 80}],
                "route": [{"destination": {"host": OUTSIDE, "port": {"number": 443}}}],
            },
        ],
    }
    if gateways is not None:
        spec["gateways"] = gateways
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "paygate-via-egress", "namespace": "payments"},
        "spec": spec,
    }


def test_a_named_host_the_sidecars_route_to_the_egress_gateway_makes_it_a_callee() -> None:
    for vs in (_virtual_service(["istio-system/egress", "mesh"], ["mesh"]), _virtual_service()):
        (host,) = mesh_route_hosts([vs], [ENV])
        assert (host.name, host.namespace, host.port, host.cluster_dns) == (
            "istio-egressgateway",
            "istio-system",
            80,
            True,
        )
        assert host.source is not None
        assert host.source.text.startswith(
            f"VirtualService payments/paygate-via-egress routes {OUTSIDE}"
        )


def test_gateway_only_routes_unnamed_hosts_and_outside_destinations_are_no_hops() -> None:
    assert mesh_route_hosts([_virtual_service(["istio-system/egress"])], [ENV]) == []
    assert mesh_route_hosts([_virtual_service(rule_gateways=["istio-system/egress"])], [ENV]) == []
    assert mesh_route_hosts([_virtual_service()], [(POD_ENV, "URL=http://api.other.example")]) == []
    # A longer name that merely starts with the host is another host.
    assert mesh_route_hosts([_virtual_service()], [(POD_ENV, f"URL=https://{OUTSIDE}.eu/v1")]) == []
    direct = _virtual_service()
    direct["spec"]["http"] = [{"route": [{"destination": {"host": OUTSIDE}}]}]
    assert mesh_route_hosts([direct], [ENV]) == []


def test_the_jdk_http_clients_timeout_is_a_failing_call_waiting_for_an_answer() -> None:
    assert DEPENDENCY_LOG.search(TIMEOUT)
    assert ANSWER_TIMEOUT_LOG.search(TIMEOUT)
    assert not ANSWER_TIMEOUT_LOG.search("HttpConnectTimeoutException: HTTP connect timed out")


def _pod(name: str, namespace: str, labels: dict[str, str], owner: str, **spec: Any) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1", **spec}]},
        "status": {"phase": "Running"},
    }


def test_the_caller_timing_out_through_a_throttled_egress_gateway_raises_its_limit() -> None:
    gw = {"app": "istio-egressgateway"}
    env = [{"name": "PAYGATE_URL", "value": f"http://{OUTSIDE}/v1"}]
    caller = _pod(
        "payment-service-7c9d-x1",
        "payments",
        {"app": "payment-service"},
        "payment-service-7c9d",
        env=env,
    )
    objects = [
        deployment_manifest("payment-service", "payments", ("app", "app:1")),
        caller,
        _virtual_service(["istio-system/egress", "mesh"], ["mesh"]),
        service_manifest("istio-egressgateway", "istio-system", gw),
        deployment_manifest(
            "istio-egressgateway", "istio-system", ("istio-proxy", "proxyv2:1"), labels=gw
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "istio-egressgateway-5f8c",
                "namespace": "istio-system",
                "labels": gw,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "istio-egressgateway",
                        "controller": True,
                    }
                ],
            },
            "spec": {"selector": {"matchLabels": gw}},
        },
        _pod("istio-egressgateway-5f8c-q1", "istio-system", gw, "istio-egressgateway-5f8c"),
    ]
    ev = built(
        objects,
        PAYMENTS,
        logs=[log("payment-service-7c9d-x1", "app", TIMEOUT, namespace="payments")],
    )
    assert [d.workload for d in ev.dependencies] == [GATEWAY]
    throttled = make.metric(
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total...",
        name="callee_cpu_throttled_ratio",
        labels={
            "namespace": "istio-system",
            "pod": "istio-egressgateway-5f8c-q1",
            "container": "istio-proxy",
        },
        first=0.0,
        last=0.65,
    )
    make.assert_leads(
        make.analyze(ev.model_copy(update={"metrics": [throttled]})),
        Category.CPU_THROTTLING,
        Action.INCREASE_CPU,
        GATEWAY,
    )
