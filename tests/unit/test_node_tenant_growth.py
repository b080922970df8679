"""A node-level alert names only a node: the workload on it whose own series of the alert's
resource grew with the alert is the cause. Its rollout before the growth is rolled back;
unchanged and leaking file descriptors, it is restarted. Near misses keep the Node: the
growth spread over several tenants, a tenant that grew elsewhere (a pod on another node),
an inode alert (no per-pod series measures a tenant's inodes), a disk alert without a
rollout. The evidence side: a Node incident reads its tenants' workloads with their
rollouts (node agents left out), and the tenants' pods scope the per-pod queries.

Real: Evidence factories and ``run_analyzers``; ``build_evidence`` on API-shaped dicts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.tenant_growth import check_tenant_growth
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built

NODE = ObjectRef(kind="Node", name="w3")
UPLOADS = ObjectRef(kind="Deployment", namespace="media", name="uploads", api_version="apps/v1")
API = ObjectRef(kind="Deployment", namespace="media", name="api", api_version="apps/v1")


def _fds(pod: str, first: float, last: float, name: str = "process_open_fds") -> MetricSummary:
    labels = {"namespace": "media", "pod": pod}
    return make.metric(
        f'{name}{{namespace="media",pod="{pod}"}}', first=first, last=last, labels=labels
    )


def _node_evidence(
    *metrics: MetricSummary,
    alertname: str = "NodeFileDescriptorLimit",
    summary: str = "Kernel is predicted to exhaust file descriptors limit soon.",
    uploads_rolled: float | None = 80,
) -> Evidence:
    changes = (
        [make.rollout_change(UPLOADS, 8, "image", "env", minutes_ago=uploads_rolled)]
        if uploads_rolled is not None
        else []
    )
    alert = make.alert(alertname=alertname, instance="w3")
    alert = alert.model_copy(update={"annotations": {"summary": summary}})
    return make.evidence(
        target=NODE,
        alerts=[alert],
        node_tenants=[
            NodeTenantEvidence(ref=UPLOADS, pods=["uploads-7d9f6c8b5-x2x9k"], changes=changes),
            NodeTenantEvidence(ref=API, pods=["api-5c6d7e8f9-q8mzt"]),
        ],
        metrics=list(metrics),
    )


def test_the_tenant_whose_open_fds_grew_after_its_rollout_is_rolled_back() -> None:
    ev = _node_evidence(
        _fds("uploads-7d9f6c8b5-x2x9k", 180_000, 711_000),
        _fds("api-5c6d7e8f9-q8mzt", 212, 212),
    )
    [finding] = check_tenant_growth(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        UPLOADS,
    )


def test_unchanged_and_leaking_file_descriptors_it_is_restarted() -> None:
    ev = _node_evidence(
        _fds("uploads-7d9f6c8b5-x2x9k", 180_000, 711_000, name="container_file_descriptors"),
        uploads_rolled=None,
    )
    [finding] = check_tenant_growth(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.RESOURCE_SATURATION,
        Action.RESTART,
        UPLOADS,
    )


def test_a_rollout_long_before_the_onset_does_not_explain_the_growth() -> None:
    ev = _node_evidence(_fds("uploads-7d9f6c8b5-x2x9k", 180_000, 711_000), uploads_rolled=600)
    [finding] = check_tenant_growth(ev)
    assert finding.action is Action.RESTART


def test_near_miss_growth_spread_over_two_tenants_names_neither() -> None:
    ev = _node_evidence(
        _fds("uploads-7d9f6c8b5-x2x9k", 100_000, 400_000),
        _fds("api-5c6d7e8f9-q8mzt", 100_000, 350_000),
    )
    assert check_tenant_growth(ev) == []


def test_near_miss_a_pod_of_another_node_is_no_tenant_here() -> None:
    ev = _node_evidence(_fds("uploads-7d9f6c8b5-zz9zz", 180_000, 711_000))
    assert check_tenant_growth(ev) == []


def test_near_miss_an_inode_alert_has_no_per_tenant_series() -> None:
    usage = make.metric(
        'container_fs_usage_bytes{namespace="media",pod="uploads-7d9f6c8b5-x2x9k"}',
        first=1e9,
        last=9e9,
        labels={"namespace": "media", "pod": "uploads-7d9f6c8b5-x2x9k"},
    )
    ev = _node_evidence(
        usage,
        alertname="NodeFilesystemFilesFillingUp",
        summary="Filesystem is predicted to run out of inodes within the next 24 hours.",
    )
    assert check_tenant_growth(ev) == []


def test_a_disk_space_alert_names_the_tenant_whose_disk_use_grew_after_its_rollout() -> None:
    usage = make.metric(
        'container_fs_usage_bytes{namespace="media",pod="uploads-7d9f6c8b5-x2x9k"}',
        first=1e9,
        last=9e9,
        labels={"namespace": "media", "pod": "uploads-7d9f6c8b5-x2x9k"},
    )
    alert = {"alertname": "NodeFilesystemSpaceFillingUp", "summary": "Filesystem filling up"}
    ev = _node_evidence(usage, alertname=alert["alertname"], summary=alert["summary"])
    [finding] = check_tenant_growth(ev)
    assert (finding.action, finding.target) == (Action.ROLLBACK, UPLOADS)
    quiet = _node_evidence(
        usage, alertname=alert["alertname"], summary=alert["summary"], uploads_rolled=None
    )
    assert check_tenant_growth(quiet) == []


def test_near_miss_a_workload_incident_is_not_a_node_alert() -> None:
    ev = _node_evidence(_fds("uploads-7d9f6c8b5-x2x9k", 180_000, 711_000))
    ev = ev.model_copy(update={"target": UPLOADS})
    assert check_tenant_growth(ev) == []


# --- the evidence side -------------------------------------------------------------------


def _owned(kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}


def _pod(name: str, owner: dict[str, Any], node: str, template_hash: str = "") -> dict[str, Any]:
    labels = {"pod-template-hash": template_hash} if template_hash else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "media",
            "labels": labels,
            "ownerReferences": [owner],
        },
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running"},
    }


def _replica_set(hash_: str, image: str, created: str, revision: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"uploads-{hash_}",
            "namespace": "media",
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "labels": {"app": "uploads", "pod-template-hash": hash_},
            "ownerReferences": [_owned("Deployment", "uploads")],
        },
        "spec": {
            "selector": {"matchLabels": {"app": "uploads", "pod-template-hash": hash_}},
            "template": {
                "metadata": {"labels": {"app": "uploads"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
        "status": {"replicas": 1},
    }


def test_a_node_incident_reads_its_tenants_and_their_rollouts_not_its_agents() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "uploads",
            "namespace": "media",
            "annotations": {"deployment.kubernetes.io/revision": "9"},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "uploads"}},
            "template": {
                "metadata": {"labels": {"app": "uploads"}},
                "spec": {"containers": [{"name": "app", "image": "uploads:2.5"}]},
            },
        },
    }
    objects = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w3"}, "status": {}},
        deployment,
        _replica_set("7d9f6c8b5", "uploads:2.5", "2026-11-20T08:40:00Z", "9"),
        _replica_set("5c6d7e8f9", "uploads:2.4", "2026-11-04T13:10:00Z", "8"),
        _pod(
            "uploads-7d9f6c8b5-x2x9k", _owned("ReplicaSet", "uploads-7d9f6c8b5"), "w3", "7d9f6c8b5"
        ),
        _pod(
            "uploads-7d9f6c8b5-zz9zz", _owned("ReplicaSet", "uploads-7d9f6c8b5"), "w1", "7d9f6c8b5"
        ),
        _pod("node-exporter-m5t8r", _owned("DaemonSet", "node-exporter"), "w3"),
    ]
    ev = built(objects, NODE)
    [tenant] = ev.node_tenants
    assert (tenant.ref, tenant.pods) == (UPLOADS, ["uploads-7d9f6c8b5-x2x9k"])
    assert [c.aspects for c in tenant.changes][:1] == [["image"]]
    assert built(objects, UPLOADS).node_tenants == []


def test_the_tenants_pods_scope_the_per_pod_queries_of_a_node_incident() -> None:
    pods = [ObjectRef(kind="Pod", namespace="media", name="uploads-7d9f6c8b5-x2x9k")]
    window = timedelta(hours=1)
    names = {q.name: q.promql for q in select_queries(build_scope(NODE, [], tenants=pods), window)}
    assert 'pod=~"uploads-7d9f6c8b5-x2x9k"' in names["tenant_open_fds"]
    assert "tenant_open_fds" not in {q.name for q in select_queries(build_scope(NODE, []), window)}
