"""Checks the callers a mounted file configures: a gateway or proxy Deployment, in any
namespace, whose ConfigMap names the incident's Service by its cluster DNS name (a declarative
gateway config, an nginx upstream) is a caller, with its rollouts; ``configured_by`` bounds
which ConfigMaps the collector reads (those of the most recently rolled-out workloads first).
Near misses: a ConfigMap naming another Service, a ConfigMap the Deployment does not use.

Real: ``build_evidence`` (via ``tests.support.built``) over raw objects.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.callers import configured_by
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import config_map_source
from tests.support.built import built, deployment_manifest, service_manifest

TARGET = ObjectRef(kind="Deployment", namespace="shop", name="orders")


def _callee() -> list[dict[str, Any]]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orders-abc", "namespace": "shop", "labels": {"app": "orders"}},
        "spec": {"containers": [{"name": "orders", "image": "orders:1"}]},
    }
    return [
        deployment_manifest("orders", "shop", ("orders", "orders:1")),
        pod,
        service_manifest("orders", "shop", {"app": "orders"}, port=8080),
    ]


def _gateway(config: str, *, updated: str = "2026-11-20T09:40:00Z") -> dict[str, Any]:
    gateway = deployment_manifest(
        "edge",
        "gateway",
        ("proxy", "proxy:3"),
        status={"conditions": [{"type": "Progressing", "lastUpdateTime": updated}]},
    )
    gateway["spec"]["template"]["spec"]["volumes"] = [
        {"name": "conf", "configMap": {"name": config}}
    ]
    return gateway


def _config_map(name: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "gateway"},
        "data": {"routes.yaml": f"services:\n- name: api\n  url: {url}\n"},
    }


def test_a_gateway_whose_mounted_file_routes_to_the_service_is_its_caller() -> None:
    objects = [
        *_callee(),
        _gateway("edge-routes"),
        _config_map("edge-routes", "http://orders.shop.svc.cluster.local:8080"),
    ]
    callers = built(objects, TARGET).callers
    assert [c.ref for c in callers] == [
        ObjectRef(kind="Deployment", namespace="gateway", name="edge")
    ]
    assert callers[0].callee == ObjectRef(kind="Service", namespace="shop", name="orders")
    assert callers[0].named_by == [config_map_source("edge-routes", used_by="Deployment edge")]
    assert callers[0].naming_texts() == ["Deployment edge ConfigMap edge-routes"]


def test_a_file_routing_elsewhere_or_not_mounted_makes_no_caller() -> None:
    elsewhere = [
        *_callee(),
        _gateway("edge-routes"),
        _config_map("edge-routes", "http://billing.shop.svc.cluster.local:8080"),
    ]
    assert built(elsewhere, TARGET).callers == []
    unmounted = [
        *_callee(),
        _gateway("other"),
        _config_map("edge-routes", "http://orders.shop.svc.cluster.local:8080"),
    ]
    assert built(unmounted, TARGET).callers == []


def test_the_collector_reads_the_files_of_the_latest_rollouts_first() -> None:
    old = _gateway("old-routes", updated="2026-10-01T00:00:00Z")
    old["metadata"]["name"] = "old-edge"
    new = _gateway("new-routes")
    assert configured_by([old, new], [], limit=1) == [("gateway", "new-routes")]
    assert configured_by([old, new], [new]) == [("gateway", "old-routes")]
