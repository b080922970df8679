"""Checks "the Gateway in front of healthy pods is itself failing": a Gateway API route whose
backend Service selects the incident's pods attaches to a Gateway (its parentRefs), whose
proxy pods its controller labels with it (Envoy Gateway's owning-gateway labels in the
controller's namespace, or the Gateway API's ``gateway-name`` label in the Gateway's own
namespace). When those proxies are OOM-killed and not all ready, their workload is the
target (raise its memory), above whatever the healthy backend's alert suggests. Near misses:
proxies that all run ready, the proxies of another Gateway, and a route that does not serve
the incident's pods.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, the analyzer
registry, the ingress walk's Gateway step over a reader that lists by equality selector as
the API does, and the train case written for this, replayed through the builder.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.ingress_walk import follow_gateway_proxies
from kubetriage.evidence.summaries.gateway_proxies import ENVOY_GATEWAY_NAME
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.tenancy import Scope
from tests.support.built import built, case_evidence, deployment_manifest
from tests.support.cases import TRAIN
from tests.support.evidence import analyze, assert_leads, by_category
from tests.support.listing import ListingReader

WEB = ObjectRef(kind="Deployment", namespace="web", name="shop", api_version="apps/v1")
PROXY = ObjectRef(kind="Deployment", namespace="envoy-gateway-system", name="envoy-web-edge-1a2b")
ISTIO_PROXY = ObjectRef(kind="Deployment", namespace="web", name="edge-istio")
ENVOY = {
    "app.kubernetes.io/name": "envoy",
    "gateway.envoyproxy.io/owning-gateway-name": "edge",
    "gateway.envoyproxy.io/owning-gateway-namespace": "web",
}
GATEWAY_API = {"gateway.networking.k8s.io/gateway-name": "edge"}


def _pod(name: str, namespace: str, owner: str, labels: dict[str, str], *, oom: bool) -> Any:
    state: dict[str, Any] = {"running": {}}
    last: dict[str, Any] = {}
    if oom:
        state = {"waiting": {"reason": "CrashLoopBackOff"}}
        last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**labels, "pod-template-hash": "6f8d"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": not oom,
                    "restartCount": 8 if oom else 0,
                    "state": state,
                    "lastState": last,
                }
            ],
        },
    }


def _shop() -> list[Any]:
    """The healthy workload the alert is about, its Service and the route to it."""
    return [
        deployment_manifest(
            "shop",
            "web",
            ("app", "shop:1"),
            replicas=2,
            status={"replicas": 2, "readyReplicas": 2, "availableReplicas": 2},
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "shop-6f8d",
                "namespace": "web",
                "labels": {"app": "shop"},
                "ownerReferences": [{"kind": "Deployment", "name": "shop", "controller": True}],
            },
            "spec": {"selector": {"matchLabels": {"app": "shop"}}},
        },
        _pod("shop-6f8d-aaaaa", "web", "shop-6f8d", {"app": "shop"}, oom=False),
        _pod("shop-6f8d-bbbbb", "web", "shop-6f8d", {"app": "shop"}, oom=False),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "shop", "namespace": "web"},
            "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80}]},
        },
    ]


def _route(gateway: str = "edge", backend: str = "shop") -> Any:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "shop", "namespace": "web"},
        "spec": {
            "parentRefs": [{"name": gateway}],
            "hostnames": ["shop.example.org"],
            "rules": [{"backendRefs": [{"name": backend, "port": 80}]}],
        },
    }


def _envoy(*, oom: tuple[bool, bool], labels: dict[str, str] = ENVOY) -> list[Any]:
    """Two Envoy Gateway proxies in the controller's namespace."""
    owner = "envoy-web-edge-1a2b-6f8d"
    return [
        _pod(f"{owner}-{i}", "envoy-gateway-system", owner, labels, oom=killed)
        for i, killed in enumerate(oom)
    ]


def test_oom_killed_envoy_gateway_proxies_are_the_cause_in_front_of_healthy_pods() -> None:
    ev = built([*_shop(), _route(), *_envoy(oom=(False, True))], WEB)
    (proxy,) = ev.gateway_proxies
    assert proxy.gateway == ObjectRef(kind="Gateway", namespace="web", name="edge")
    assert (proxy.workload, proxy.pods, proxy.ready_pods) == (PROXY, 2, 1)
    leader = assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, PROXY)
    assert "Gateway web/edge" in leader.summary


def test_proxies_labelled_with_the_gateway_api_name_in_the_gateways_namespace() -> None:
    owner = "edge-istio-6f8d"
    proxies = [_pod(f"{owner}-{i}", "web", owner, GATEWAY_API, oom=True) for i in range(2)]
    ev = built([*_shop(), _route(), *proxies], WEB)
    assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, ISTIO_PROXY)


def test_ready_proxies_or_another_gateways_proxies_earn_nothing() -> None:
    healthy = built([*_shop(), _route(), *_envoy(oom=(False, False))], WEB)
    assert [p.ready_pods for p in healthy.gateway_proxies] == [2]
    assert not by_category(analyze(healthy), Category.OOM_KILLED)
    other = built([*_shop(), _route(gateway="internal"), *_envoy(oom=(True, True))], WEB)
    assert other.gateway_proxies == []
    assert not by_category(analyze(other), Category.OOM_KILLED)


def test_a_route_to_another_service_leads_to_no_gateway() -> None:
    ev = built([*_shop(), _route(backend="search"), *_envoy(oom=(True, True))], WEB)
    assert ev.gateway_proxies == []


def test_the_train_case_of_oom_killed_envoy_gateway_proxies() -> None:
    case = (
        "oom-killed-onprem-envoy-gateway-proxy-512mi-limit-oomkilled-every-few-minutes-"
        "storefront-probe-fails"
    )
    first = analyze(case_evidence(load_case(TRAIN / case))).findings[0]
    assert (first.category, first.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)
    assert first.target.same_object(
        ObjectRef(
            kind="Deployment", namespace="envoy-gateway-system", name="envoy-web-public-5e2b7a91"
        )
    ), first


# --- the live walk reads what the builder recognises ------------------------------------------


def _walked(read: list[Any], cluster: list[Any], scope: Scope) -> set[str]:
    run = CollectionRun(asyncio.Semaphore(1))
    for obj in read:
        run.add(obj)
    pods = [o for o in read if o["kind"] == "Pod"]
    reader = ListingReader(cluster)
    asyncio.run(follow_gateway_proxies(reader, run, "web", pods, scope))  # type: ignore[arg-type]
    known = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in read}
    return {f"{k}/{ns}/{name}" for k, ns, name in run.objects if (k, ns, name) not in known}


def test_the_live_walk_reads_the_proxies_of_the_gateway_serving_the_pods() -> None:
    proxies = _envoy(oom=(False, True))
    stranger = _envoy(oom=(True, True), labels={**ENVOY, ENVOY_GATEWAY_NAME: "internal"})
    stranger[0]["metadata"]["name"] = "envoy-web-internal-0"
    assert _walked([*_shop(), _route()], [*proxies, stranger[0]], Scope.unrestricted()) == {
        "Pod/envoy-gateway-system/envoy-web-edge-1a2b-6f8d-0",
        "Pod/envoy-gateway-system/envoy-web-edge-1a2b-6f8d-1",
    }
    assert _walked([*_shop(), _route()], proxies, Scope("web", cluster_wide=False)) == set()
    assert _walked([*_shop(), _route(backend="search")], proxies, Scope.unrestricted()) == set()
