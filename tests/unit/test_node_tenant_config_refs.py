"""Checks that a Node's incident, whose pods come from every namespace, does not read a tenant's
ConfigMap as missing when that namespace's ConfigMaps were never listed (the collector lists
the pods on the node, not their namespaces' ConfigMaps): the reference is unknown, and no
config-missing finding blames a ConfigMap that exists. Near misses keep "missing": the same
pod when its namespace's ConfigMaps were listed (another one is there), and a namespaced
incident whose pod names an absent ConfigMap.

Real: the pure builder (``tests.support.built``) over raw objects, and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Category
from tests.support.built import built
from tests.support.evidence import analyze, by_category

NODE = "worker-1"


def _node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "db-0", "namespace": "analytics", "labels": {"app": "db"}},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "db", "image": "db:1"}],
            "volumes": [{"name": "config", "configMap": {"name": "db-config"}}],
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "db", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }


def _config_map(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "analytics"},
        "data": {"k": "v"},
    }


def _ref_exists(objects: list[dict[str, Any]], target: ObjectRef) -> bool | None:
    evidence = built(objects, target)
    pod = next(p for p in evidence.pods if p.name == "db-0")
    return next(r.exists for r in pod.config_refs if r.name == "db-config")


def test_a_node_tenants_unlisted_config_map_is_unknown_not_missing() -> None:
    node = ObjectRef(kind="Node", name=NODE)
    evidence = built([_node(), _pod()], node)
    assert _ref_exists([_node(), _pod()], node) is None
    assert not by_category(analyze(evidence), Category.CONFIG_MISSING)


def test_listed_namespaces_and_namespaced_incidents_still_see_it_missing() -> None:
    node = ObjectRef(kind="Node", name=NODE)
    assert _ref_exists([_node(), _pod(), _config_map("other")], node) is False
    own = ObjectRef(kind="Pod", name="db-0", namespace="analytics")
    assert _ref_exists([_node(), _pod()], own) is False
