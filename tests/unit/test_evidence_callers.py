"""Checks ``Evidence.callers`` as the pure builder reads it from objects: the Deployments, in
any namespace, whose pod template names a Service of the incident's pods (by cluster DNS name,
``svc.ns``, or the short name in the callee's own namespace), each with its rollouts from its
ReplicaSets; a short name in another namespace, an unrelated Deployment and the incident's own
workload are no callers.

Real: ``build_evidence`` (via ``tests.support.built``) over raw objects.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.callers import MAX_CALLERS, find_callers
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.shared_callers import caller_log_requests
from kubetriage.models.base import ObjectRef
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import log, naming

TARGET = ObjectRef(kind="Deployment", namespace="catalog", name="inventory")


def _client(name: str, namespace: str, address: str, image: str = "client:2") -> dict[str, Any]:
    container = {"name": "app", "image": image, "env": [{"name": "UPSTREAM", "value": address}]}
    return deployment_manifest(name, namespace, container)


def _replica_set(owner: dict[str, Any], revision: int, image: str) -> dict[str, Any]:
    meta = owner["metadata"]
    template = {
        "metadata": owner["spec"]["template"]["metadata"],
        "spec": {"containers": [{**owner["spec"]["template"]["spec"]["containers"][0]}]},
    }
    template["spec"]["containers"][0]["image"] = image
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{revision}",
            "namespace": meta["namespace"],
            "creationTimestamp": f"2026-11-20T09:{revision:02d}:00Z",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": meta["name"],
                    "controller": True,
                }
            ],
        },
        "spec": {"template": template},
    }


def _callee() -> list[dict[str, Any]]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "inventory-abc",
            "namespace": "catalog",
            "labels": {"app": "inventory"},
        },
        "spec": {"containers": [{"name": "inventory", "image": "inventory:1"}]},
    }
    return [
        deployment_manifest("inventory", "catalog", ("inventory", "inventory:1")),
        pod,
        service_manifest("inventory", "catalog", {"app": "inventory"}, port=9090),
    ]


def test_a_deployment_naming_the_callees_service_is_a_caller_with_its_rollouts() -> None:
    caller = _client("storefront", "web", "dns:///inventory.catalog.svc.cluster.local:9090")
    objects = [
        *_callee(),
        caller,
        _replica_set(caller, 30, "client:1"),
        _replica_set(caller, 31, "client:2"),
        _client("search", "web", "http://search-index.web:9200"),
    ]
    evidence = built(objects, TARGET)
    assert [c.ref for c in evidence.callers] == [
        ObjectRef(kind="Deployment", namespace="web", name="storefront")
    ]
    found = evidence.callers[0]
    assert found.callee == ObjectRef(kind="Service", namespace="catalog", name="inventory")
    assert found.named_by == naming("Deployment storefront env UPSTREAM")
    assert [(c.from_revision, c.to_revision, c.aspects) for c in found.changes] == [
        (30, 31, ["image"])
    ]


def test_a_short_name_means_the_callers_own_namespace() -> None:
    objects = [
        *_callee(),
        _client("same-ns", "catalog", "http://inventory:9090"),
        _client("other-ns", "web", "http://inventory:9090"),
    ]
    assert [c.ref.name for c in built(objects, TARGET).callers] == ["same-ns"]


def test_the_incidents_own_workload_is_not_its_caller() -> None:
    objects = _callee()
    objects[0]["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "SELF", "value": "inventory.catalog.svc:9090"}
    ]
    assert built(objects, TARGET).callers == []


def test_callers_are_bounded() -> None:
    service = service_manifest("inventory", "catalog", {"app": "inventory"})
    clients = [_client(f"c{i}", "web", "inventory.catalog:9090") for i in range(MAX_CALLERS + 2)]
    assert len(find_callers(clients, [service], [])) == MAX_CALLERS


def _shared_cache() -> list[dict[str, Any]]:
    """The incident's workload naming a cache Service of another namespace, and the cache."""
    objects = _callee()
    objects[0]["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "CACHE_URL", "value": "redis://kv.cache.svc.cluster.local:6379/0"}
    ]
    objects[1]["spec"]["containers"][0]["env"] = [
        {"name": "CACHE_URL", "value": "redis://kv.cache.svc.cluster.local:6379/0"}
    ]
    return [*objects, service_manifest("kv", "cache", {"app": "kv"}, port=6379)]


def test_the_other_callers_of_a_dependency_it_names_come_with_their_rollouts() -> None:
    # Who else calls the shared cache, and which of them rolled out: the dependency's callers.
    sweeper = _client("sweeper", "identity", "kv.cache.svc.cluster.local:6379")
    objects = [
        *_shared_cache(),
        sweeper,
        _replica_set(sweeper, 40, "client:1"),
        _replica_set(sweeper, 41, "client:2"),
        _client("search", "web", "http://search-index.web:9200"),
    ]
    evidence = built(objects, TARGET)
    cache = next(d for d in evidence.dependencies if d.service and d.service.name == "kv")
    assert [c.ref for c in cache.callers] == [
        ObjectRef(kind="Deployment", namespace="identity", name="sweeper")
    ]
    assert cache.callers[0].callee == ObjectRef(kind="Service", namespace="cache", name="kv")
    assert [(c.from_revision, c.to_revision, c.aspects) for c in cache.callers[0].changes] == [
        (40, 41, ["image"])
    ]
    # They are the dependency's callers, not the incident's.
    assert evidence.callers == []


def _pod_of(owner: dict[str, Any], name: str) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": owner["spec"]["template"]["metadata"]["labels"],
        },
        "spec": {"containers": [{"name": "app", "image": "client:2"}]},
        "status": {"containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}]},
    }


def test_the_other_callers_of_a_dependency_come_with_a_tail_of_their_first_pod() -> None:
    # Does an unchanged caller fail on the shared cache too? Its own words say.
    profile = _client("profile", "identity", "kv.cache.svc.cluster.local:6379")
    pods = [_pod_of(profile, "profile-b"), _pod_of(profile, "profile-a")]
    tails = [
        log(pod, "app", "Command timed out", namespace="identity", source="dependency")
        for pod in ("profile-a", "profile-b")
    ]
    read = caller_log_requests(profile, pods, EvidenceLimits())
    assert read == [("identity", "profile-a", "app", False)]
    evidence = built([*_shared_cache(), profile, *pods], TARGET, logs=tails)
    cache = next(d for d in evidence.dependencies if d.service and d.service.name == "kv")
    assert [(t.pod, t.lines) for t in cache.callers[0].logs] == [
        ("profile-a", ["Command timed out"])
    ]


def test_a_caller_without_pods_has_no_tail_to_read() -> None:
    profile = _client("profile", "identity", "kv.cache.svc.cluster.local:6379")
    assert caller_log_requests(profile, [], EvidenceLimits()) == []


def test_a_dependency_named_by_nobody_else_has_no_callers() -> None:
    evidence = built(_shared_cache(), TARGET)
    cache = next(d for d in evidence.dependencies if d.service and d.service.name == "kv")
    assert cache.callers == []


def _job(name: str, namespace: str, address: str) -> dict[str, Any]:
    container = {"name": "app", "image": "tools:1", "env": [{"name": "UPSTREAM", "value": address}]}
    labels = {"batch.kubernetes.io/job-name": name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
        "status": {"active": 1},
    }


def test_a_job_naming_a_shared_dependency_is_one_of_its_callers() -> None:
    # A backfill Job loads the shared cache (or an outside API's account) as well.
    backfill = _job("backfill", "ops", "kv.cache.svc.cluster.local:6379")
    unrelated = _job("export", "ops", "http://search-index.web:9200")
    evidence = built([*_shared_cache(), backfill, unrelated], TARGET)
    cache = next(d for d in evidence.dependencies if d.service and d.service.name == "kv")
    assert [c.ref for c in cache.callers] == [
        ObjectRef(kind="Job", namespace="ops", name="backfill")
    ]
    assert cache.callers[0].changes == []
