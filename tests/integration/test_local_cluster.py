"""The local control plane and the failures its kwok Stages produce.

Checks that the real control plane does its part (the scheduler places pods and reports
FailedScheduling, the controllers roll Deployments out through ReplicaSets, keep rollout
history, leave a PVC with no provisioner Pending and a Service with no ready pods without
endpoints, taint a NotReady node), that each failure in tests/k8s/stages/faults.yaml shows the
statuses and Events a kubelet would post, that pod logs come back through `kubectl logs`, that
the audit log records requests and their response codes, and that teardown leaves no process.
Real: etcd, kube-apiserver (RBAC, audit log), kube-controller-manager, kube-scheduler, kwok,
kubectl. Fake (kwok): nodes and containers; nothing runs in a pod.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import ADMIN_USER, LocalCluster, node_ready

KUBERNETES_VERSION = "v1.37.2"


def _namespace(cluster: LocalCluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    return name


def _deployment(
    name: str,
    *,
    replicas: int = 1,
    fault: str | None = None,
    image: str = "registry.example/app:1.0",
    cpu: str = "10m",
    annotations: dict[str, str] | None = None,
) -> str:
    labels = {"app": name, **({"kubetriage.io/fault": fault} if fault else {})}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": labels, "annotations": annotations or {}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": image,
                                "resources": {"requests": {"cpu": cpu, "memory": "32Mi"}},
                            }
                        ]
                    },
                },
            },
        }
    )


def _pods(cluster: LocalCluster, namespace: str, app: str) -> list[dict[str, Any]]:
    return list(cluster.get_json("pods", "-n", namespace, "-l", f"app={app}")["items"])


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def _pod_node(cluster: LocalCluster, namespace: str, name: str) -> str:
    return str(cluster.get_json("pod", name, "-n", namespace)["spec"].get("nodeName", ""))


def _event_reasons(cluster: LocalCluster, namespace: str) -> set[str]:
    return {e["reason"] for e in cluster.get_json("events", "-n", namespace)["items"]}


def _events(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    return list(cluster.get_json("events", "-n", namespace)["items"])


def test_server_version_and_a_deployment_rolls_out_on_kwok_nodes(
    local_cluster: LocalCluster,
) -> None:
    cluster = local_cluster
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == KUBERNETES_VERSION
    assert version["clientVersion"]["gitVersion"] == KUBERNETES_VERSION
    ns = _namespace(cluster, "healthy")
    cluster.kubectl("apply", "-n", ns, "-f", "-", input_text=_deployment("web", replicas=3))

    def rolled_out() -> bool:
        pods = _pods(cluster, ns, "web")
        return len(pods) == 3 and all(
            p["status"].get("phase") == "Running"
            and _statuses(p)
            and all(s.get("ready") for s in _statuses(p))
            for p in pods
        )

    cluster.wait_for(rolled_out, "3 Running, ready pods")
    pods = _pods(cluster, ns, "web")
    assert {p["spec"]["nodeName"] for p in pods} <= {"kwok-node-0", "kwok-node-1"}
    assert all(p["status"]["podIP"] for p in pods)
    deployment = cluster.get_json("deployment", "web", "-n", ns)
    cluster.wait_for(
        lambda: cluster.get_json("deployment", "web", "-n", ns)["status"].get("readyReplicas") == 3,
        "the Deployment's readyReplicas",
    )
    assert deployment["metadata"]["generation"] == 1
    assert {"Scheduled", "Created"} <= _event_reasons(cluster, ns)

    # A new image is a new ReplicaSet: the rollout history the rollback analyzers read.
    cluster.kubectl("set", "image", "-n", ns, "deployment/web", "app=registry.example/app:1.1")
    cluster.wait_for(
        lambda: len(cluster.get_json("replicasets", "-n", ns, "-l", "app=web")["items"]) == 2,
        "a second ReplicaSet",
    )
    history = cluster.kubectl("rollout", "history", "-n", ns, "deployment/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]


@pytest.mark.parametrize(
    ("fault", "reason", "exit_code", "event"),
    [
        ("oom-killed", "OOMKilled", 137, "BackOff"),
        ("crash", "Error", 1, "BackOff"),
        ("liveness-probe", "Error", 137, "Unhealthy"),
    ],
)
def test_crashing_containers_restart_with_their_last_termination(
    local_cluster: LocalCluster, fault: str, reason: str, exit_code: int, event: str
) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, fault)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input_text=_deployment("worker", fault=fault))
    seen_waiting: set[str | None] = set()

    def restarted_twice() -> bool:
        for pod in _pods(cluster, ns, "worker"):
            for status in _statuses(pod):
                seen_waiting.add(((status.get("state") or {}).get("waiting") or {}).get("reason"))
                if status.get("restartCount", 0) >= 2:
                    return True
        return False

    cluster.wait_for(restarted_twice, f"{fault}: two restarts")
    (pod,) = _pods(cluster, ns, "worker")
    (status,) = _statuses(pod)
    terminated = status["lastState"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == (reason, exit_code)
    assert status["ready"] is False
    assert "CrashLoopBackOff" in seen_waiting
    events = _events(cluster, ns)
    assert any(e["reason"] == event and e["type"] == "Warning" for e in events)
    if fault == "liveness-probe":
        assert any("Liveness probe failed" in e["message"] for e in events)


def test_image_pull_failure_alternates_err_image_pull_and_back_off(
    local_cluster: LocalCluster,
) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, "image-pull")
    image = "registry.example/app:does-not-exist"
    cluster.kubectl(
        "apply", "-n", ns, "-f", "-", input_text=_deployment("web", fault="image-pull", image=image)
    )
    seen: dict[str, str] = {}

    def both_reasons() -> bool:
        for pod in _pods(cluster, ns, "web"):
            for status in _statuses(pod):
                waiting = (status.get("state") or {}).get("waiting") or {}
                if waiting.get("reason"):
                    seen[waiting["reason"]] = waiting.get("message", "")
        return {"ErrImagePull", "ImagePullBackOff"} <= set(seen)

    cluster.wait_for(both_reasons, "ErrImagePull then ImagePullBackOff")
    assert image in seen["ErrImagePull"]
    assert seen["ImagePullBackOff"] == f'Back-off pulling image "{image}"'
    assert {"Failed", "BackOff"} <= _event_reasons(cluster, ns)


def test_readiness_probe_failure_keeps_the_pod_out_of_the_endpoints(
    local_cluster: LocalCluster,
) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, "readiness")
    cluster.kubectl(
        "apply", "-n", ns, "-f", "-", input_text=_deployment("api", fault="readiness-probe")
    )
    cluster.kubectl("create", "service", "clusterip", "api", "--tcp=80:8080", "-n", ns)

    def running_unready() -> bool:
        pods = _pods(cluster, ns, "api")
        return any(
            p["status"].get("phase") == "Running"
            and all("running" in (s.get("state") or {}) and not s["ready"] for s in _statuses(p))
            for p in pods
        )

    cluster.wait_for(running_unready, "a running pod that is not ready")
    cluster.wait_for(
        lambda: any(
            e["reason"] == "Unhealthy" and e["message"].startswith("Readiness probe failed")
            for e in _events(cluster, ns)
        ),
        "an Unhealthy event",
    )

    def endpoints_not_ready() -> bool:
        slices = cluster.get_json(
            "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=api"
        )["items"]
        endpoints = [e for s in slices for e in s.get("endpoints") or []]
        return bool(endpoints) and not any(e["conditions"].get("ready") for e in endpoints)

    cluster.wait_for(endpoints_not_ready, "the Service's only endpoint listed as not ready")


def test_create_container_config_error_carries_the_missing_key(
    local_cluster: LocalCluster,
) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, "config")
    message = "couldn't find key DATABASE_URL in ConfigMap config/app-settings"
    manifest = _deployment(
        "app", fault="config-error", annotations={"kubetriage.io/fault-message": message}
    )
    cluster.kubectl("apply", "-n", ns, "-f", "-", input_text=manifest)

    def waiting_with_message() -> bool:
        return any(
            ((s.get("state") or {}).get("waiting") or {}).get("reason")
            == "CreateContainerConfigError"
            and s["state"]["waiting"]["message"] == message
            for p in _pods(cluster, ns, "app")
            for s in _statuses(p)
        )

    cluster.wait_for(waiting_with_message, "CreateContainerConfigError with the message")
    assert "Failed" in _event_reasons(cluster, ns)


def test_the_real_scheduler_reports_failed_scheduling(local_cluster: LocalCluster) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, "unschedulable")
    cluster.kubectl("apply", "-n", ns, "-f", "-", input_text=_deployment("big", cpu="64"))
    cluster.wait_for(
        lambda: any(
            e["reason"] == "FailedScheduling" and "Insufficient cpu" in e["message"]
            for e in _events(cluster, ns)
        ),
        "FailedScheduling: Insufficient cpu",
    )
    (pod,) = _pods(cluster, ns, "big")
    assert pod["status"]["phase"] == "Pending"
    assert "nodeName" not in pod["spec"]
    (condition,) = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")


def test_pvc_without_a_provisioner_and_service_without_pods(local_cluster: LocalCluster) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, "storage")
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "fast-ssd",
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    cluster.kubectl("apply", "-n", ns, "-f", "-", input_text=json.dumps(claim))
    cluster.kubectl("create", "service", "clusterip", "orphan", "--tcp=80:8080", "-n", ns)
    # The persistent-volume controller looks for the class and says why it cannot bind.
    cluster.wait_for(
        lambda: any(
            e["involvedObject"]["name"] == "data" and "fast-ssd" in e["message"]
            for e in _events(cluster, ns)
        ),
        "the PVC's binding event",
    )
    assert cluster.get_json("pvc", "data", "-n", ns)["status"]["phase"] == "Pending"
    cluster.wait_for(
        lambda: bool(
            cluster.get_json("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=orphan")[
                "items"
            ]
        ),
        "the Service's EndpointSlice",
    )
    slices = cluster.get_json("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=orphan")
    assert [e for s in slices["items"] for e in s.get("endpoints") or []] == []


def test_a_node_going_not_ready_is_tainted_by_the_node_controller(
    local_cluster: LocalCluster,
) -> None:
    cluster = local_cluster
    name = f"kwok-flaky-{uuid.uuid4().hex[:6]}"
    cluster.add_nodes([name])
    try:
        cluster.wait_for(lambda: node_ready(cluster.get_json("node", name)), f"{name} Ready")
        cluster.kubectl("label", "node", name, "kubetriage.io/fault=not-ready")
        cluster.wait_for(lambda: not node_ready(cluster.get_json("node", name)), f"{name} NotReady")
        node = cluster.get_json("node", name)
        (ready,) = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready["reason"] == "KubeletNotReady"
        assert "NetworkPluginNotReady" in ready["message"]
        cluster.wait_for(
            lambda: any(
                t["key"] == "node.kubernetes.io/not-ready"
                for t in cluster.get_json("node", name)["spec"].get("taints") or []
            ),
            "the not-ready taint",
        )
    finally:
        cluster.kubectl("delete", "node", name, "--wait=false")


def test_pod_logs_current_and_previous(local_cluster: LocalCluster) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, "logs")
    cluster.kubectl("apply", "-n", ns, "-f", "-", input_text=_deployment("app", fault="crash"))
    cluster.wait_for(lambda: bool(_pods(cluster, ns, "app")), "the pod")
    (pod,) = _pods(cluster, ns, "app")
    name = pod["metadata"]["name"]
    cluster.set_logs(ns, name, "app", "starting\nlistening on :8080")
    cluster.set_logs(ns, name, "app", "panic: nil map\ngoroutine 1 [running]", previous=True)
    cluster.wait_for(lambda: bool(_pod_node(cluster, ns, name)), "the pod scheduled")
    cluster.wait_for(
        lambda: (
            cluster.kubectl("logs", "-n", ns, name, "-c", "app", check=False).stdout
            == "starting\nlistening on :8080\n"
        ),
        "the current log",
    )
    previous = cluster.kubectl("logs", "-n", ns, name, "-c", "app", "--previous").stdout
    assert previous == "panic: nil map\ngoroutine 1 [running]\n"


def test_the_audit_log_records_users_verbs_and_denials(
    local_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = local_cluster
    ns = _namespace(cluster, "audit")
    cluster.kubectl("create", "serviceaccount", "nobody", "-n", ns)
    token = cluster.kubectl("create", "token", "nobody", "-n", ns).stdout.strip()
    nobody = cluster.kubeconfig_with_token(tmp_path / "nobody.kubeconfig", token)
    denied = cluster.kubectl("get", "secrets", "-n", ns, kubeconfig=nobody, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr
    user = f"system:serviceaccount:{ns}:nobody"
    cluster.wait_for(
        lambda: any(
            e.user == user and e.resource == "secrets" and e.code == 403
            for e in cluster.audit_events()
        ),
        "the denial in the audit log",
    )
    created = [
        e
        for e in cluster.audit_events()
        if e.user == ADMIN_USER and e.verb == "create" and e.resource == "serviceaccounts"
    ]
    assert any(e.namespace == ns and e.name == "nobody" and e.code == 201 for e in created)


def test_a_second_cluster_starts_and_stops_without_leftovers(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "second", nodes=1) as cluster:
        pids = cluster.pids()
        assert len(pids) == 5  # etcd, apiserver, controller-manager, scheduler, kwok
        assert cluster.get_json("nodes")["items"][0]["metadata"]["name"] == "kwok-node-0"
    # stop() waited for (and so reaped) every process: none is left, not even a zombie.
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
