"""Checks "the proxies in front of healthy pods are not scheduled": an Istio ambient namespace
(or Service) labelled ``istio.io/use-waypoint`` sends its Services' traffic through that
waypoint's proxy pods (labelled ``gateway.networking.k8s.io/gateway-name``); when none of
them is ready and they all sit Pending unplaced, their workload is the target (free
capacity or fix the constraint), above whatever the healthy backend's alert suggests. Near
misses: a Service that opts out (``none``), a namespace without the label, one proxy ready,
and proxies Pending on an image rather than on the scheduler.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, the analyzer
registry, and the ingress walk's waypoint step over a reader that lists by equality selector
as the API does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.ingress_walk import follow_gateway_proxies
from kubetriage.evidence.summaries.gateway_proxies import served_waypoints
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads
from tests.support.listing import ListingReader

API = ObjectRef(kind="Deployment", namespace="orders", name="api", api_version="apps/v1")
WAYPOINT = ObjectRef(kind="Deployment", namespace="orders", name="waypoint")
WAYPOINT_LABELS = {"gateway.networking.k8s.io/gateway-name": "waypoint"}


def _namespace(labels: dict[str, str]) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "orders", "labels": labels},
    }


def _pod(name: str, owner: str, labels: dict[str, str], state: str) -> Any:
    """A pod of ReplicaSet ``owner``: "ready", "unplaced" (Pending, no container status) or
    "pulling" (Pending on an image pull)."""
    status: dict[str, Any] = {"phase": "Pending"}
    if state == "ready":
        status = {
            "phase": "Running",
            "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        }
    elif state == "pulling":
        status["containerStatuses"] = [
            {
                "name": "app",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff"}},
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "orders",
            "labels": {**labels, "pod-template-hash": "6f8d"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        "status": status,
    }


def _service(labels: dict[str, str] | None = None) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api", "namespace": "orders", "labels": labels or {}},
        "spec": {"selector": {"app": "api"}, "ports": [{"port": 8080}]},
    }


def _api() -> list[Any]:
    return [
        deployment_manifest(
            "api",
            "orders",
            ("app", "api:1"),
            replicas=1,
            status={"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        ),
        _pod("api-6f8d-aaaaa", "api-6f8d", {"app": "api"}, "ready"),
    ]


def _waypoints(*states: str) -> list[Any]:
    return [
        _pod(f"waypoint-6f8d-{i}", "waypoint-6f8d", WAYPOINT_LABELS, state)
        for i, state in enumerate(states)
    ]


def test_a_service_uses_its_own_waypoint_label_before_its_namespaces() -> None:
    pods = [_pod("api-6f8d-aaaaa", "api-6f8d", {"app": "api"}, "ready")]
    namespace = _namespace({"istio.io/use-waypoint": "waypoint"})
    assert [w for _, w in served_waypoints([namespace], [_service()], pods)] == [
        ("orders", "waypoint")
    ]
    own = _service({"istio.io/use-waypoint": "api-wp", "istio.io/use-waypoint-namespace": "mesh"})
    assert [w for _, w in served_waypoints([namespace], [own], pods)] == [("mesh", "api-wp")]
    # Near misses: the Service opts out; the namespace has no waypoint; another app's Service.
    opted_out = _service({"istio.io/use-waypoint": "none"})
    assert served_waypoints([namespace], [opted_out], pods) == []
    assert served_waypoints([_namespace({})], [_service()], pods) == []
    assert served_waypoints([namespace], [_service()], [_waypoints("ready")[0]]) == []


def test_unscheduled_waypoint_proxies_are_the_cause_in_front_of_healthy_pods() -> None:
    namespace = _namespace({"istio.io/use-waypoint": "waypoint"})
    ev = built([namespace, *_api(), _service(), *_waypoints("unplaced", "unplaced")], API)
    (proxy,) = ev.gateway_proxies
    assert proxy.gateway == ObjectRef(kind="Gateway", namespace="orders", name="waypoint")
    assert proxy.ready_pods == 0
    assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, WAYPOINT)


def test_a_ready_proxy_or_an_image_pull_makes_no_unscheduled_finding() -> None:
    namespace = _namespace({"istio.io/use-waypoint": "waypoint"})
    for states in (("ready", "unplaced"), ("pulling", "pulling"), ("unplaced", "pulling")):
        ev = built([namespace, *_api(), _service(), *_waypoints(*states)], API)
        found = analyze(ev)
        assert not [f for f in found.findings if f.analyzer == "gateway-proxy-unscheduled"]


def _walked(cluster: list[Any], scope: Scope, *, ambient: bool = True) -> set[str]:
    run = CollectionRun(asyncio.Semaphore(1))
    run.add(_service())
    pods = [_pod("api-6f8d-aaaaa", "api-6f8d", {"app": "api"}, "ready")]
    if ambient:
        pods[0]["metadata"]["annotations"] = {"ambient.istio.io/redirection": "enabled"}
    reader = ListingReader(cluster)
    asyncio.run(follow_gateway_proxies(reader, run, "orders", pods, scope))  # type: ignore[arg-type]
    return {f"{k}/{name}" for k, _, name in run.objects if k != "Service"}


def test_the_walk_reads_the_namespace_and_lists_its_waypoint_proxies() -> None:
    namespace = _namespace({"istio.io/use-waypoint": "waypoint"})
    stranger = _pod("other", "x", {"a": "b"}, "ready")
    assert _walked([namespace, *_waypoints("unplaced"), stranger], Scope.unrestricted()) == {
        "Namespace/orders",
        "Pod/waypoint-6f8d-0",
    }
    # Near misses: a namespace without a waypoint lists no proxies; pods outside the ambient
    # mesh do not even read their Namespace.
    assert _walked([_namespace({}), *_waypoints("unplaced")], Scope.unrestricted()) == {
        "Namespace/orders"
    }
    cluster = [namespace, *_waypoints("unplaced")]
    assert _walked(cluster, Scope.unrestricted(), ambient=False) == set()
