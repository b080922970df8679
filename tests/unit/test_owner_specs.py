"""The addresses an operator's custom resource configures its pods with name their callees:
a CloudNativePG Cluster's WAL archive endpoint names the object store its instances upload
to, so the store (and the volume behind it) is followed like an env value's host. Near
misses: a pod controlled by a workload or by an operator kind not read, values that address
nothing (an image, a size), and a resource that was not read.

Real: ``owner_spec_texts`` and ``named_hosts`` over raw objects, and the evidence builder
(``tests.support.built``) for the followed dependency.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.dependencies import named_hosts
from kubetriage.evidence.owner_specs import owner_spec_texts
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict
from tests.support.built import built, deployment_manifest, service_manifest

POD = ObjectRef(kind="Pod", namespace="db", name="orders-pg-1")


def _pod(kind: str = "Cluster", api_version: str = "postgresql.cnpg.io/v1") -> JsonDict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "orders-pg-1",
            "namespace": "db",
            "labels": {"cnpg.io/cluster": "orders-pg"},
            "ownerReferences": [
                {"apiVersion": api_version, "kind": kind, "name": "orders-pg", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "postgres", "image": "ghcr.io/cnpg/postgresql:16"}]},
        "status": {"phase": "Running"},
    }


def _cluster(**backup: Any) -> JsonDict:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "orders-pg", "namespace": "db"},
        "spec": {
            "instances": 3,
            "imageName": "ghcr.io/cloudnative-pg/postgresql:16.6",
            "storage": {"size": "80Gi"},
            "backup": {"barmanObjectStore": backup},
        },
    }


def _lookup(*objects: JsonDict) -> Any:
    by_key = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects}
    return lambda kind, ns, name: by_key.get((kind, ns or "", name))


def test_the_archive_endpoint_of_the_cluster_running_the_pods_names_its_store() -> None:
    cluster = _cluster(
        destinationPath="s3://pg-backups/orders-pg",
        endpointURL="http://minio.storage.svc.cluster.local:9000",
    )
    texts = owner_spec_texts([_pod(), _pod()], _lookup(cluster))
    # Once per resource; the image and the sizes address nothing.
    assert [(source.variable, value) for source, value in texts] == [
        ("spec.backup.barmanObjectStore.destinationPath", "s3://pg-backups/orders-pg"),
        (
            "spec.backup.barmanObjectStore.endpointURL",
            "http://minio.storage.svc.cluster.local:9000",
        ),
    ]
    source = texts[1][0]
    assert (source.kind, source.owner_kind, source.owner) == ("owner-spec", "Cluster", "orders-pg")
    qualified = [(h.name, h.namespace, h.port) for h in named_hosts(texts, []) if h.namespace]
    assert qualified == [("minio", "storage", 9000)]


def test_pods_of_a_workload_or_of_an_operator_kind_not_read_name_nothing() -> None:
    cluster = _cluster(endpointURL="http://minio.storage.svc:9000")
    lookup = _lookup(cluster)
    assert owner_spec_texts([_pod(kind="StatefulSet", api_version="apps/v1")], lookup) == []
    assert owner_spec_texts([_pod(api_version="acid.zalan.do/v1")], lookup) == []
    assert owner_spec_texts([_pod()], _lookup()) == []  # the Cluster was not read
    # An external object store (no cluster host) is a URL, named like an env URL would be.
    external = _cluster(endpointURL="https://s3.eu-west-1.amazonaws.com")
    assert [v for _, v in owner_spec_texts([_pod()], _lookup(external))] == [
        "https://s3.eu-west-1.amazonaws.com"
    ]


def test_the_builder_follows_the_store_the_cluster_archives_to() -> None:
    store = deployment_manifest("minio", "storage", ("minio", "quay.io/minio/minio:latest"))
    service = service_manifest("minio", "storage", {"app": "minio"}, port=9000, target_port=9000)
    cluster = _cluster(endpointURL="http://minio.storage.svc.cluster.local:9000")
    claim: JsonDict = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "orders-pg-1", "namespace": "db"},
        "spec": {"resources": {"requests": {"storage": "80Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "80Gi"}},
    }
    pod = _pod()
    pod["spec"]["volumes"] = [
        {"name": "pgdata", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    ]
    ev = built([pod, cluster, claim, store, service], POD)
    [dependency] = ev.dependencies
    assert dependency.ref is not None
    assert (dependency.ref.kind, dependency.ref.namespace, dependency.ref.name) == (
        "Service",
        "storage",
        "minio",
    )
    assert [s.kind for s in dependency.named_by] == ["owner-spec"]
    # Near miss: the same pods and store without the Cluster read follow nothing.
    assert built([pod, claim, store, service], POD).dependencies == []
