"""A node going NotReady under a workload, on the local control plane: a Deployment pinned to a
fresh kwok node runs, the node then reports Ready=False the way a kubelet whose network plugin
died does (kwok Stage node-not-ready), the real node lifecycle controller taints it, and an
Incident on the Deployment ends Diagnosed as node-failure with draining that node first.
Real: kube-apiserver, etcd, controller-manager (node lifecycle), scheduler, kwok, kubectl,
Kopf, the operator (no LLM, no memory). Local control plane only: it adds and breaks a node.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml

from kubetriage.crd import render_incident_crd_yaml
from tests.support.cluster import LocalCluster, node_ready
from tests.support.incidents import incident
from tests.support.operator import OperatorThread

pytestmark = pytest.mark.e2e


def test_a_node_going_not_ready_is_diagnosed_as_node_failure(local_cluster: LocalCluster) -> None:
    cluster = local_cluster
    node = f"kwok-worker-{uuid.uuid4().hex[:6]}"
    namespace = f"batch-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("apply", "-f", "-", input_text=render_incident_crd_yaml())
    cluster.kubectl("wait", "--for=condition=Established", "crd/incidents.kubetriage.io")
    cluster.add_nodes([node])
    try:
        cluster.wait_for(lambda: node_ready(cluster.get_json("node", node)), f"{node} Ready")
        cluster.kubectl("create", "namespace", namespace)
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "report-worker", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "report-worker"}},
                "template": {
                    "metadata": {"labels": {"app": "report-worker"}},
                    "spec": {
                        "nodeSelector": {"kubernetes.io/hostname": node},
                        "containers": [
                            {"name": "worker", "image": "registry.example/report-worker:2.0"}
                        ],
                    },
                },
            },
        }
        cluster.kubectl("apply", "-f", "-", input_text=json.dumps(deployment))

        def running() -> bool:
            pods = cluster.get_json("pods", "-n", namespace)["items"]
            return len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods)

        cluster.wait_for(running, "the pods running on the node")
        cluster.kubectl("label", "node", node, "kubetriage.io/fault=not-ready")
        cluster.wait_for(lambda: not node_ready(cluster.get_json("node", node)), "NotReady")
        manifest = incident(
            "workers-down",
            namespace,
            title="report-worker is not processing",
            workload="report-worker",
            severity="critical",
        )
        with OperatorThread(cluster.kubeconfig):
            cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump(manifest))

            def status() -> dict[str, Any]:
                body = cluster.get_json("incident", "workers-down", "-n", namespace)
                return dict(body.get("status") or {})

            cluster.wait_for(lambda: status().get("phase") in {"Diagnosed", "Failed"}, "diagnosis")
            final = status()
        assert final["phase"] == "Diagnosed", final
        diagnosis = final["diagnosis"]
        assert diagnosis["category"] == "node-failure", diagnosis.get("summary")
        top = diagnosis["remediations"][0]
        assert top["action"] == "drain-node"
        assert (top["target"]["kind"], top["target"]["name"]) == ("Node", node)
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        cluster.kubectl("delete", "node", node, "--wait=false", check=False)
