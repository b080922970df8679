"""An alert through a real Alertmanager to the receiver, on a real cluster: the OOM
scenario's Deployment is broken (a kwok Stage on the local control plane), Prometheus' alert
for its crash-looping pod is posted to Alertmanager, whose webhook reaches the receiver; the
receiver creates the Incident and the operator diagnoses it: category oom-killed, the memory
increase first, aimed at the owning Deployment.
Real: prometheus-alertmanager (Debian), the receiver (aiohttp), kube-apiserver, etcd, the
controllers, kwok, Kopf, the operator, kubectl.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubetriage.replay.cases import load_case
from kubetriage.replay.snapshot import log_placement
from tests.e2e.conftest import Cluster
from tests.integration.alertmanager_fixtures import (
    TOKEN,
    Alertmanager,
    ReceiverThread,
    alertmanager_config,
    api_alert,
    receiver_settings,
)
from tests.support.cases import EXAMPLES
from tests.support.operator import OperatorThread

pytestmark = pytest.mark.e2e

MANIFESTS = Path(__file__).parent / "manifests"
NAMESPACE, WORKLOAD = "exports", "csv-exporter"


def _incidents(cluster: Cluster) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "incidents", "-n", NAMESPACE, "-o", "json").stdout
    return list(json.loads(out)["items"])


def test_an_alert_through_alertmanager_is_diagnosed(crd_installed: Cluster, tmp_path: Path) -> None:
    cluster = crd_installed
    case = load_case(EXAMPLES / "example-oom-csv-exporter")
    logs = [(container, text, previous) for _, _, container, text, previous in log_placement(case)]
    cluster.break_workload(MANIFESTS / "oom.yaml", NAMESPACE, WORKLOAD, {"OOMKilled"}, logs)
    cluster.kubectl("create", "namespace", "kubetriage", check=False)
    pods = json.loads(
        cluster.kubectl(
            "get", "pods", "-n", NAMESPACE, "-l", f"app={WORKLOAD}", "-o", "json"
        ).stdout
    )["items"]
    # The alert names the pod that really crash-loops here.
    labels = {**case.alert.labels, "pod": pods[0]["metadata"]["name"]}
    settings = receiver_settings()
    with (
        ReceiverThread(settings, cluster.kubeconfig) as receiver,
        OperatorThread(cluster.kubeconfig),
        Alertmanager(
            tmp_path, alertmanager_config(f"{receiver.url}/alerts", TOKEN)
        ) as alertmanager,
    ):
        alertmanager.post_alerts([api_alert(labels, annotations=dict(case.alert.annotations))])
        cluster.wait_for(
            lambda: any(
                (i.get("status") or {}).get("phase") in {"Diagnosed", "Failed"}
                for i in _incidents(cluster)
            ),
            "the alert's Incident diagnosed",
        )
    (incident,) = _incidents(cluster)
    status = incident["status"]
    assert status["phase"] == "Diagnosed", status
    target = incident["spec"]["target"]
    assert (target["kind"], target["name"]) == ("Pod", labels["pod"])
    diagnosis = status["diagnosis"]
    assert diagnosis["category"] == "oom-killed"
    top = diagnosis["remediations"][0]
    assert top["action"] == "increase-memory"
    assert (top["target"]["kind"], top["target"]["name"]) == ("Deployment", WORKLOAD)
