"""Checks build_evidence (kubetriage.evidence.build) on the example cases and on edge cases.

Real inputs: the three shared example cases are loaded from their YAML files, and small
hand-written Kubernetes objects cover the edge cases (missing ConfigMap key, Pending pod,
Pending PVC, NotReady node, empty Service, 10,000 events, 10 MB of logs, malformed objects).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import ingress_backends, selector_matches
from kubetriage.settings import Settings
from tests.support.built import built, case_evidence, deployment_manifest
from tests.support.cases import EXAMPLES

CASES = EXAMPLES
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
LIMITS = EvidenceLimits()


def _case(name: str) -> Case:
    path = CASES / name / "case.yaml"
    return Case.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _case_evidence(case: Case, objects: list[dict[str, Any]] | None = None) -> Evidence:
    return case_evidence(case, objects)


def _claim(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """The PersistentVolumeClaim app/data-db-0 with ``status`` (and ``spec`` when given)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-db-0", "namespace": "app"},
        "status": status,
    }
    if spec:
        body["spec"] = spec
    return body


def _build(
    objects: list[Any],
    target: ObjectRef | None,
    *,
    logs: list[LogTail] | None = None,
    limits: EvidenceLimits = LIMITS,
    unavailable_kinds: tuple[str, ...] = (),
) -> Evidence:
    return built(
        objects, target, logs=logs or [], limits=limits, unavailable_kinds=unavailable_kinds
    )


# --- the example cases --------------------------------------------------------------------


def test_oom_case_exporter_last_state_limit_and_restarts() -> None:
    evidence = _case_evidence(_case("example-oom-csv-exporter"))
    assert evidence.target is not None
    assert evidence.target.key() == "Pod/exports/csv-exporter-5f7d8c9b6d-k2x9p"
    assert evidence.workload is not None
    assert evidence.workload.ref.key() == "Deployment/exports/csv-exporter"
    assert evidence.workload.unavailable_replicas == 1
    [pod] = evidence.pods
    [exporter] = pod.containers
    assert exporter.name == "exporter"
    assert exporter.restart_count == 5
    assert exporter.limits["memory"] == "256Mi"
    assert exporter.state.state == "waiting"
    assert exporter.state.reason == "CrashLoopBackOff"
    assert exporter.last_state is not None
    assert (exporter.last_state.reason, exporter.last_state.exit_code) == ("OOMKilled", 137)
    assert exporter.last_state.finished_at == datetime(2026, 11, 20, 9, 58, 30, tzinfo=UTC)
    # Default admission tolerations are noise; the service-account CA is not a dependency.
    assert pod.tolerations == []
    assert pod.config_refs == []
    [event] = evidence.events
    assert (event.reason, event.type, event.count) == ("BackOff", "Warning", 14)
    assert [n.name for n in evidence.nodes] == ["demo-worker"]
    assert evidence.nodes[0].ready == "True"
    [revision] = evidence.revisions
    assert revision.current
    assert revision.revision == 3
    [log] = evidence.logs
    assert log.lines[-1] == "INFO:exporter:loaded 2400000 rows, rss=241MB"
    assert evidence.collection_errors == []


def test_image_pull_case_revisions_pods_and_events() -> None:
    case = _case("example-image-tag-typo")
    evidence = _case_evidence(case)
    assert evidence.target is not None
    assert evidence.target.key() == "Deployment/marketing-site/landing-page"
    assert [(r.revision, r.images["web"], r.current) for r in evidence.revisions] == [
        (4, "docker.io/library/nginx:1.27-alpline", True),
        (3, "docker.io/library/nginx:1.27-alpine", False),
    ]
    # All three pods of the Deployment, the one stuck pulling first.
    assert len(evidence.pods) == 3
    stuck = evidence.pods[0]
    assert stuck.name == "landing-page-66b9d5c7f8-q4m7t"
    assert stuck.containers[0].state.reason == "ImagePullBackOff"
    assert stuck.containers[0].probes[0].handler == "httpGet / :http"
    assert [(e.reason, e.involved.kind) for e in evidence.events] == [
        ("BackOff", "Pod"),
        ("Failed", "Pod"),
        ("ScalingReplicaSet", "Deployment"),
    ]
    assert evidence.workload is not None
    progressing = [c for c in evidence.workload.conditions if c.type == "Progressing"]
    assert progressing[0].reason == "ProgressDeadlineExceeded"
    # When a condition last changed is kept: when availability was lost dates a rollout.
    assert progressing[0].last_transition_time == datetime(2026, 11, 20, 9, 39, tzinfo=UTC)


def test_image_pull_events_are_deduplicated_with_counts_summed() -> None:
    case = _case("example-image-tag-typo")
    objects = copy.deepcopy(case.cluster)
    backoff = next(o for o in objects if o["kind"] == "Event" and o["reason"] == "BackOff")
    older = copy.deepcopy(backoff)
    older["metadata"]["name"] += "-older"
    older["count"] = 10
    older["firstTimestamp"] = "2026-11-20T09:20:00Z"
    older["lastTimestamp"] = "2026-11-20T09:25:00Z"
    older["type"] = "Warning"
    objects.append(older)
    evidence = _case_evidence(case, objects)
    merged = [e for e in evidence.events if e.reason == "BackOff"]
    assert len(merged) == 1
    assert merged[0].count == 140
    assert merged[0].type == "Warning"
    assert merged[0].first_seen == datetime(2026, 11, 20, 9, 20, tzinfo=UTC)
    assert merged[0].last_seen == datetime(2026, 11, 20, 9, 59, 45, tzinfo=UTC)
    assert evidence.events[0] is merged[0]


def test_dependency_case_external_name_service_and_logs() -> None:
    evidence = _case_evidence(_case("example-external-api-503"))
    # The alert only has `job: mailer`; the Deployment of that name is the first that exists.
    assert evidence.target is not None
    assert evidence.target.key() == "Deployment/newsletter/mailer"
    assert evidence.workload is not None
    assert evidence.workload.containers[0].env["EMAIL_API_URL"].startswith("https://email-api.")
    [service] = evidence.services
    assert service.name == "email-api"
    assert service.type == "ExternalName"
    assert service.external_name == "api.mailprovider.example.com"
    assert service.ready_endpoints is None
    assert service.matching_pods is None
    assert "status page" in service.annotations["example.org/owner"]
    assert [p.name for p in evidence.pods] == ["mailer-84c9b7d6f5-7rjvz"]
    assert any("status=503" in line for line in evidence.logs[0].lines)


# --- hand-written edge cases --------------------------------------------------------------


def _pod(
    name: str,
    *,
    namespace: str = "app",
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None,
    node: str | None = "node-a",
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers or [{"name": "app", "image": "app:1"}]}
    if node:
        spec["nodeName"] = node
    if volumes:
        spec["volumes"] = volumes
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": "web"}},
        "spec": spec,
        "status": status if status is not None else {"phase": "Running"},
    }


def _event(
    involved: dict[str, str], reason: str, message: str, last: datetime, *, name: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": involved.get("namespace", "default")},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 1,
        "lastTimestamp": last.isoformat().replace("+00:00", "Z"),
    }


def _node(
    name: str, *, ready: str = "True", taints: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"taints": taints or [], "unschedulable": bool(taints)},
        "status": {
            "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletNotReady"}],
            "allocatable": {"cpu": "2", "memory": "4Gi"},
        },
    }


def test_config_references_missing_key_missing_map_and_unknown_secret() -> None:
    pod = _pod(
        "web-1",
        containers=[
            {
                "name": "app",
                "image": "app:1",
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {
                        "name": "DB_URL",
                        "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "DB_URL"}},
                    },
                    {
                        "name": "LEVEL",
                        "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "LEVEL"}},
                    },
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "api-token", "key": "t"}},
                    },
                ],
                "envFrom": [{"configMapRef": {"name": "feature-flags", "optional": True}}],
            }
        ],
        volumes=[{"name": "tls", "secret": {"secretName": "web-tls"}}],
    )
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": "app"},
        "data": {"LEVEL": "debug"},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web-tls", "namespace": "app"},
    }
    evidence = _build(
        [pod, config_map, secret], ObjectRef(kind="Pod", name="web-1", namespace="app")
    )
    refs = {(r.kind, r.name, r.key): r for r in evidence.pods[0].config_refs}
    assert refs[("ConfigMap", "app-config", "DB_URL")].key_exists is False
    assert refs[("ConfigMap", "app-config", "DB_URL")].exists is True
    assert refs[("ConfigMap", "app-config", "LEVEL")].key_exists is True
    assert refs[("ConfigMap", "feature-flags", None)].exists is False
    assert refs[("ConfigMap", "feature-flags", None)].optional is True
    assert refs[("Secret", "api-token", "t")].exists is None  # never fetched, so unknown
    assert refs[("Secret", "web-tls", None)].exists is True
    assert refs[("Secret", "web-tls", None)].via == "volume tls"
    assert evidence.pods[0].containers[0].env == {"MODE": "prod"}
    assert evidence.config_maps == {"app-config": ["LEVEL"]}
    # When the ConfigMap list failed, absence no longer means missing.
    unknown = _build(
        [pod],
        ObjectRef(kind="Pod", name="web-1", namespace="app"),
        unavailable_kinds=("ConfigMap",),
    )
    assert {r.exists for r in unknown.pods[0].config_refs if r.kind == "ConfigMap"} == {None}


def test_pending_pod_with_failed_scheduling_brings_all_nodes() -> None:
    pending = _pod(
        "big-1",
        node=None,
        status={
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/2 nodes are available",
                }
            ],
        },
    )
    event = _event(
        {"kind": "Pod", "name": "big-1", "namespace": "app"},
        "FailedScheduling",
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint",
        NOW - timedelta(minutes=1),
        name="big-1.1",
    )
    nodes = [
        _node("node-b"),
        _node("node-a", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    ]
    evidence = _build(
        [pending, event, *nodes], ObjectRef(kind="Pod", name="big-1", namespace="app")
    )
    [pod] = evidence.pods
    assert pod.phase == "Pending"
    assert pod.node is None
    assert pod.conditions[0].reason == "Unschedulable"
    assert [e.reason for e in evidence.events] == ["FailedScheduling"]
    # Tainted node first: it is the likelier cause.
    assert [n.name for n in evidence.nodes] == ["node-a", "node-b"]
    assert evidence.nodes[0].taints == ["dedicated=gpu:NoSchedule"]
    assert evidence.nodes[0].unschedulable is True


def test_pending_pvc_is_reported_with_its_events() -> None:
    pod = _pod(
        "db-0",
        node=None,
        status={"phase": "Pending"},
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}],
    )
    pvc = _claim(
        {"phase": "Pending"},
        storageClassName="fast",
        accessModes=["ReadWriteOnce"],
        resources={"requests": {"storage": "10Gi"}},
    )
    event = _event(
        {"kind": "PersistentVolumeClaim", "name": "data-db-0", "namespace": "app"},
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "fast" not found',
        NOW,
        name="pvc.1",
    )
    evidence = _build([pod, pvc, event], ObjectRef(kind="Pod", name="db-0", namespace="app"))
    assert evidence.pods[0].pvc_names == ["data-db-0"]
    [claim] = evidence.pvcs
    assert (claim.phase, claim.storage_class, claim.requested) == ("Pending", "fast", "10Gi")
    assert claim.access_modes == ["ReadWriteOnce"]
    assert [e.reason for e in evidence.events] == ["ProvisioningFailed"]


def test_not_ready_node_target_with_taints_and_its_pods() -> None:
    node = _node(
        "worker-3",
        ready="Unknown",
        taints=[
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        ],
    )
    on_node = _pod("web-1", node="worker-3")
    elsewhere = _pod("web-2", node="worker-1")
    event = _event(
        {"kind": "Node", "name": "worker-3"},
        "NodeNotReady",
        "Node worker-3 status is now: NodeNotReady",
        NOW,
        name="n.1",
    )
    evidence = _build([node, on_node, elsewhere, event], ObjectRef(kind="Node", name="worker-3"))
    [summary] = evidence.nodes
    assert summary.ready == "Unknown"
    assert summary.taints == [
        "node.kubernetes.io/unreachable:NoExecute",
        "node.kubernetes.io/unreachable:NoSchedule",
    ]
    assert [p.name for p in evidence.pods] == ["web-1"]
    assert [e.reason for e in evidence.events] == ["NodeNotReady"]


def test_service_whose_selector_matches_no_pods() -> None:
    pods = [_pod("web-1"), _pod("web-2")]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {
            "selector": {"app": "web-v2"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "app"},
    }
    evidence = _build(
        [*pods, service, endpoints], ObjectRef(kind="Service", name="web", namespace="app")
    )
    [summary] = evidence.services
    assert summary.matching_pods == 0
    assert summary.ready_endpoints == 0
    assert summary.port_texts() == ["http:80->8080/TCP"]
    assert [(p.port, p.target, p.name) for p in summary.ports] == [(80, "8080", "http")]
    assert evidence.pods == []


def test_network_policy_hpa_quota_and_certificate() -> None:
    deployment = deployment_manifest("web", "app", ("app", "app:1"), status={}, replicas=2)
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-web", "namespace": "app"},
        "spec": {
            "podSelector": {
                "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]
            },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                    "ports": [{"port": 8080}],
                }
            ],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
        "status": {
            "currentReplicas": 4,
            "desiredReplicas": 4,
            "conditions": [
                {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}
            ],
        },
    }
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "app"},
        "status": {"hard": {"pods": "10"}, "used": {"pods": "10"}},
    }
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "web-tls", "namespace": "app"},
        "spec": {
            "secretName": "web-tls",
            "dnsNames": ["web.example.com"],
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
        },
        "status": {
            "notAfter": "2026-11-19T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "False", "reason": "Expired"}],
        },
    }
    evidence = _build(
        [deployment, _pod("web-1"), policy, hpa, quota, certificate],
        ObjectRef(kind="Deployment", name="web", namespace="app"),
    )
    [np] = evidence.network_policies
    assert np.selects_target
    assert np.rules == ["ingress from pods(app=frontend) :8080/TCP", "egress: deny all"]
    [autoscaler] = evidence.autoscalers
    assert (autoscaler.max_replicas, autoscaler.current_replicas) == (4, 4)
    assert autoscaler.conditions[0].reason == "TooManyReplicas"
    assert evidence.quotas[0].used == {"pods": "10"}
    [cert] = evidence.other_objects
    assert cert.ref.kind == "Certificate"
    assert cert.fields["expired"] == "true"
    assert cert.fields["issuer"] == "ClusterIssuer/letsencrypt"
    assert cert.conditions[0].reason == "Expired"


def test_ten_thousand_events_are_bounded_newest_first() -> None:
    pod = _pod("web-1")
    events = [
        _event(
            {"kind": "Pod", "name": "web-1", "namespace": "app"},
            "Unhealthy",
            f"Readiness probe failed: attempt {i}",
            NOW - timedelta(seconds=10_000 - i),
            name=f"e{i}",
        )
        for i in range(10_000)
    ]
    unrelated = _event(
        {"kind": "Pod", "name": "other", "namespace": "app"}, "Killing", "x", NOW, name="u"
    )
    limits = EvidenceLimits(max_events=25)
    evidence = _build(
        [pod, *events, unrelated],
        ObjectRef(kind="Pod", name="web-1", namespace="app"),
        limits=limits,
    )
    assert len(evidence.events) == 25
    assert evidence.events[0].message == "Readiness probe failed: attempt 9999"
    assert all(e.involved.name == "web-1" for e in evidence.events)
    assert evidence.truncated == ["events: kept 25 of 10000, newest first"]


def test_ten_megabytes_of_logs_are_cut_to_the_newest_lines() -> None:
    limits = EvidenceLimits(max_log_lines=40, max_log_line_bytes=200, max_log_tail_bytes=2000)
    text = "".join(f"line {i} " + "x" * 90 + "\n" for i in range(100_000))  # ~10 MB
    tail = tail_from_text("app", "web-1", "app", text, limits=limits)
    assert tail.truncated
    assert tail.lines[-1].startswith("line 99999 ")
    assert sum(len(line.encode()) + 1 for line in tail.lines) <= 2000
    # One 10 MB line (a JSON blob, a binary dump) is cut too, multibyte-safe.
    huge = LogTail(namespace="app", pod="web-1", container="app", lines=["é" * 5_000_000])
    evidence = _build(
        [_pod("web-1")],
        ObjectRef(kind="Pod", name="web-1", namespace="app"),
        logs=[huge],
        limits=limits,
    )
    [line] = evidence.logs[0].lines
    assert len(line.encode()) <= 200
    assert line.endswith("…[truncated]")
    assert evidence.logs[0].truncated


def test_malformed_objects_are_skipped_and_reported() -> None:
    broken_pod = _pod("web-1")
    broken_pod["status"] = None
    broken_pod["spec"]["containers"] = [
        {"name": "app", "image": None, "resources": None, "env": None}
    ]
    weird_status = _pod(
        "web-2",
        status={
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "restartCount": "many",
                    "state": None,
                    "lastState": {"terminated": {"exitCode": "x"}},
                }
            ],
        },
    )
    evidence = _build(
        [
            "not an object",
            {"kind": "Pod"},
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "e"},
                "involvedObject": None,
            },
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "n"},
                "spec": None,
                "status": {"conditions": None},
            },
            broken_pod,
            weird_status,
        ],
        ObjectRef(kind="Namespace", name="app"),
    )
    assert {p.name for p in evidence.pods} == {"web-1", "web-2"}
    weird = next(p for p in evidence.pods if p.name == "web-2").containers[0]
    assert weird.restart_count == 0
    assert weird.last_state is not None
    assert weird.last_state.exit_code is None
    assert [n.ready for n in evidence.nodes] == ["Unknown"]
    assert evidence.collection_errors == [
        "skipped object #0: no kind or metadata.name",
        "skipped object #1: no kind or metadata.name",
    ]


def _owned(pod: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    owner = {"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}
    return {**pod, "metadata": {**pod["metadata"], "ownerReferences": [owner]}}


def _replica_set(name: str, deployment: str) -> dict[str, Any]:
    return _owned(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "app"},
        },
        "Deployment",
        deployment,
    )


def test_a_namespace_that_runs_one_application_is_about_its_workload() -> None:
    # Two ReplicaSets of one Deployment (mid-rollout): one application.
    objects = [
        deployment_manifest("web", "app", ("app", "app:2")),
        _replica_set("web-5d8f7c6b9", "web"),
        _replica_set("web-7c9d8e6f5", "web"),
        _owned(_pod("web-5d8f7c6b9-aaaaa"), "ReplicaSet", "web-5d8f7c6b9"),
        _owned(_pod("web-7c9d8e6f5-bbbbb"), "ReplicaSet", "web-7c9d8e6f5"),
    ]
    namespace = ObjectRef(kind="Namespace", name="app")
    evidence = _build(objects, namespace)
    assert evidence.workload is not None
    assert evidence.workload.ref.same_object(
        ObjectRef(kind="Deployment", namespace="app", name="web")
    )
    # A second application, or a bare pod, makes it a namespace again.
    worker = deployment_manifest("worker", "app", ("w", "worker:1"))
    other = [
        worker,
        _replica_set("worker-6b7c8d9e0", "worker"),
        _owned(_pod("worker-6b7c8d9e0-ccccc"), "ReplicaSet", "worker-6b7c8d9e0"),
    ]
    assert _build(objects + other, namespace).workload is None
    assert _build([*objects, _pod("debug")], namespace).workload is None


def _crash_looping() -> dict[str, Any]:
    return {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "app",
                "ready": False,
                "restartCount": 6,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            }
        ],
    }


def _ready() -> dict[str, Any]:
    return {
        "phase": "Running",
        "containerStatuses": [
            {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
        ],
    }


def _replica(name: str, template_hash: str, status: dict[str, Any]) -> dict[str, Any]:
    pod = _pod(
        f"{name}-{template_hash}-{template_hash[:5]}",
        labels={"app": name, "pod-template-hash": template_hash},
        status=status,
    )
    return _owned(pod, "ReplicaSet", f"{name}-{template_hash}")


def test_a_namespace_whose_one_failing_application_fails_alone_is_about_it() -> None:
    # A worker mid-rollout (its old replica ready, its new ones crash-looping) beside a ready
    # Redis: a namespace-wide alert (a queue backing up) is about the worker.
    worker = [
        deployment_manifest("worker", "app", ("app", "worker:1")),
        _replica_set("worker-6c4b7d8f9", "worker"),
        _replica_set("worker-7f6d8c9b5", "worker"),
        _replica("worker", "6c4b7d8f9", _crash_looping()),
        _replica("worker", "7f6d8c9b5", _ready()),
    ]
    redis = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "redis", "namespace": "app"},
            "spec": {"selector": {"matchLabels": {"app": "redis"}}},
        },
        _owned(_pod("redis-0", labels={"app": "redis"}, status=_ready()), "StatefulSet", "redis"),
    ]
    namespace = ObjectRef(kind="Namespace", name="app")
    evidence = _build(worker + redis, namespace)
    assert evidence.workload is not None
    assert evidence.workload.ref.same_object(
        ObjectRef(kind="Deployment", namespace="app", name="worker")
    )
    assert {p.name for p in evidence.pods} >= {"worker-6c4b7d8f9-6c4b7", "redis-0"}
    # Near misses: nothing fails, two applications fail, or the failing pod is bare.
    healthy = [*worker[:3], _replica("worker", "6c4b7d8f9", _ready()), worker[4]]
    assert _build(healthy + redis, namespace).workload is None
    redis_failing = [redis[0], {**redis[1], "status": _crash_looping()}]
    assert _build(worker + redis_failing, namespace).workload is None
    bare = _pod("debug", labels={"run": "debug"}, status=_crash_looping())
    assert _build([*worker, *redis, bare], namespace).workload is None
    # A pod still being set up, or waiting for a node, is not failing.
    creating = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "app",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }
        ],
    }
    starting = [*worker[:3], _replica("worker", "6c4b7d8f9", creating), worker[4]]
    assert _build(starting + redis, namespace).workload is None


def test_missing_target_is_reported_not_raised() -> None:
    evidence = _build([_pod("web-1")], ObjectRef(kind="Deployment", name="gone", namespace="app"))
    assert evidence.workload is None
    assert evidence.collection_errors == ["target Deployment/app/gone not found"]


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        (
            {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
            {"a": "1"},
            False,
        ),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"b": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
    ],
)
def test_label_selector_semantics(
    selector: dict[str, Any], labels: dict[str, str], expected: bool
) -> None:
    assert selector_matches(selector, labels) is expected


def test_statefulset_revisions_come_from_controller_revisions() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "app"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            "template": {"spec": {"containers": [{"name": "pg", "image": "postgres:17"}]}},
        },
        "status": {"readyReplicas": 0, "updateRevision": "db-2"},
    }
    revisions = [
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": f"db-{n}", "namespace": "app", "ownerReferences": [owner]},
            "revision": n,
            "data": {
                "spec": {"template": {"spec": {"containers": [{"name": "pg", "image": image}]}}}
            },
        }
        for n, image in ((1, "postgres:16"), (2, "postgres:17"))
    ]
    pod = _pod("db-0", labels={"app": "db"})
    pod["metadata"]["ownerReferences"] = [owner]
    claim = _claim({"phase": "Bound", "capacity": {"storage": "1Gi"}})
    evidence = _build(
        [statefulset, *revisions, pod, claim], ObjectRef(kind="Pod", name="db-0", namespace="app")
    )
    assert evidence.workload is not None
    assert evidence.workload.ref.kind == "StatefulSet"
    assert [(r.revision, r.images["pg"], r.current) for r in evidence.revisions] == [
        (2, "postgres:17", True),
        (1, "postgres:16", False),
    ]
    # The claim is found through the volumeClaimTemplate naming, not a pod volume.
    assert [(c.name, c.capacity) for c in evidence.pvcs] == [("data-db-0", "1Gi")]


def test_statefulset_pod_mount_without_its_volume_names_the_templates_claim() -> None:
    """A trimmed snapshot of a StatefulSet's pod lists the mount but not the volume: the
    claim is ``<template>-<pod>``; a Deployment's pod gets no such reading."""
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
    mounting = [
        {
            "name": "pg",
            "image": "postgres:17",
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/pg"}],
        }
    ]
    pod = _pod("db-0", containers=mounting)
    pod["metadata"]["ownerReferences"] = [owner]
    evidence = _build([pod], ObjectRef(kind="Pod", name="db-0", namespace="app"))
    assert evidence.pods[0].pvc_names == ["data-db-0"]
    declared = _pod(
        "db-0",
        containers=mounting,
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "pg-data"}}],
    )
    declared["metadata"]["ownerReferences"] = [owner]
    evidence = _build([declared], ObjectRef(kind="Pod", name="db-0", namespace="app"))
    assert evidence.pods[0].pvc_names == ["pg-data"]
    loose = _pod("db-0", containers=mounting)
    evidence = _build([loose], ObjectRef(kind="Pod", name="db-0", namespace="app"))
    assert evidence.pods[0].pvc_names == []


def test_hpa_target_resolves_the_scaled_workload_and_its_pods() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "app", "uid": "d1"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}},
        "status": {"readyReplicas": 3},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api", "namespace": "app"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 3},
        "status": {"currentReplicas": 3, "desiredReplicas": 3},
    }
    pods = [_pod(f"api-{i}", labels={"app": "api"}) for i in range(3)]
    evidence = _build(
        [deployment, hpa, *pods],
        ObjectRef(kind="HorizontalPodAutoscaler", name="api", namespace="app"),
    )
    assert evidence.workload is not None
    assert evidence.workload.ref.key() == "Deployment/app/api"
    assert len(evidence.pods) == 3
    assert [a.name for a in evidence.autoscalers] == ["api"]


def test_without_any_existing_candidate_the_first_is_kept_and_reported() -> None:
    alert = Alert(labels={"alertname": "X", "namespace": "gone", "job": "ghost"})
    evidence = built([_pod("web-1")], None, alerts=[alert])
    assert evidence.target is not None
    assert evidence.target.key() == "Deployment/gone/ghost"
    assert evidence.pods == []
    assert evidence.collection_errors[0].startswith(
        "no candidate target exists: Deployment/gone/ghost"
    )


def test_limits_follow_the_operator_settings() -> None:
    settings = Settings(max_pods=3, max_events=7, log_tail_lines=11, log_tail_bytes=4096)
    limits = EvidenceLimits.from_settings(settings)
    assert (limits.max_pods, limits.max_events) == (3, 7)
    assert (limits.max_log_lines, limits.max_log_tail_bytes) == (11, 4096)
    with pytest.raises(ValueError, match="frozen"):
        limits.max_pods = 1  # type: ignore[misc]


def test_missing_config_map_target_scopes_the_pods_that_use_it() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-5d9", "controller": True}
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "api-5d9", "namespace": "app"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}},
    }
    user = _pod(
        "api-5d9-x",
        labels={"app": "api"},
        status={"phase": "Pending"},
        containers=[
            {"name": "app", "image": "api:2", "envFrom": [{"configMapRef": {"name": "api-env"}}]}
        ],
    )
    user["metadata"]["ownerReferences"] = [owner]
    bystander = _pod("web-1")
    evidence = _build(
        [replica_set, user, bystander], ObjectRef(kind="ConfigMap", name="api-env", namespace="app")
    )
    assert [p.name for p in evidence.pods] == ["api-5d9-x"]
    assert evidence.pods[0].config_refs[0].exists is False
    assert evidence.workload is not None
    assert evidence.workload.ref.key() == "ReplicaSet/app/api-5d9"
    assert evidence.collection_errors == ["target ConfigMap/app/api-env not found"]


@pytest.mark.parametrize(
    ("status", "ips"),
    [
        (
            {
                "phase": "Running",
                "podIP": "10.0.0.7",
                "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
            },
            ["10.0.0.7", "fd00::7"],
        ),
        ({"phase": "Running", "podIP": "10.0.0.8"}, ["10.0.0.8"]),
        ({"phase": "Pending"}, []),
    ],
)
def test_pod_ips_come_from_pod_ips_else_pod_ip(status: dict[str, Any], ips: list[str]) -> None:
    evidence = _build(
        [_pod("web-1", status=status)], ObjectRef(kind="Pod", name="web-1", namespace="app")
    )
    [pod] = evidence.pods
    assert pod.ips == ips


def test_ingress_backends_are_the_default_and_every_path_service_once() -> None:
    ingress = {
        "spec": {
            "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
            "rules": [
                {"http": {"paths": [{"backend": {"service": {"name": "web"}}}]}},
                {"http": {"paths": [{"backend": {"service": {"name": "web"}}}, {"backend": {}}]}},
                {"host": "no-http.example.com"},
            ],
        }
    }
    assert ingress_backends(ingress) == ["fallback", "web"]
    assert ingress_backends({"spec": {"rules": "garbage"}}) == []


def test_ingress_target_scopes_the_pods_behind_its_backend_services() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web-svc", "namespace": "app"},
        "spec": {"selector": {"app": "web"}},
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "app"},
        "spec": {"defaultBackend": {"service": {"name": "web-svc", "port": {"number": 80}}}},
    }
    pods = [_pod("web-1"), _pod("other-1", labels={"app": "other"})]
    evidence = _build(
        [*pods, service, ingress], ObjectRef(kind="Ingress", name="shop", namespace="app")
    )
    assert [p.name for p in evidence.pods] == ["web-1"]


def test_a_custom_resources_nested_step_messages_are_kept_first() -> None:
    """A workflow engine writes why a step has no pod in the step's record, deeper than the
    flattened spec and status reach: the summary keeps those messages, once each and first, so
    that a long spec cannot push them out of the bounded fields."""
    refusal = 'pods "etl-1-transform-1" is forbidden: exceeded quota: q, requested: cpu=8'
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "etl-1", "namespace": "data", "uid": "w1"},
        "spec": {f"option{i}": str(i) for i in range(40)},
        "status": {
            "phase": "Running",
            "message": "top-level",
            "nodes": {
                "etl-1": {"phase": "Running"},
                "etl-1-1": {"phase": "Pending", "message": refusal},
                "etl-1-2": {"phase": "Pending", "message": refusal},
            },
        },
    }
    evidence = built([workflow], ObjectRef(kind="Namespace", name="data"))
    [summary] = evidence.other_objects
    assert next(iter(summary.fields)) == "status.messages"
    assert summary.fields["status.messages"] == refusal


def test_a_custom_resource_without_nested_messages_has_no_messages_field() -> None:
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "etl-2", "namespace": "data", "uid": "w2"},
        "spec": {"entrypoint": "main"},
        "status": {"phase": "Succeeded", "message": "done", "nodes": {"etl-2": {"phase": "Done"}}},
    }
    [summary] = built([workflow], ObjectRef(kind="Namespace", name="data")).other_objects
    assert "status.messages" not in summary.fields
    assert summary.fields["status.message"] == "done"
