"""The Helm chart installed for real: `helm install` creates the CRD, the RBAC objects, the
ServiceAccount and the Deployment (whose pod kwok fakes: it is scheduled and reported Ready,
nothing runs), `helm upgrade` with changed values rolls the Deployment to a new revision, and
`helm uninstall` leaves nothing of the release behind but the CRD (Helm's crds/ convention).
Real: the helm binary built from its Go module, kube-apiserver, etcd, controllers, scheduler,
kwok. Runs on the local control plane.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.chart import CHART
from tests.support.cluster import LocalCluster

pytestmark = pytest.mark.e2e

RELEASE = "helm-e2e"
NAMESPACE = "helm-e2e"
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
KINDS = "deployments,serviceaccounts,services,configmaps,secrets,roles,rolebindings"


def _helm(cluster: LocalCluster, home: Path, *args: str) -> str:
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run(
        [str(cluster.binary("helm")), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _names(cluster: LocalCluster, kinds: str, *args: str) -> set[str]:
    out = cluster.kubectl("get", kinds, "-l", INSTANCE, "-o", "name", *args).stdout
    return set(out.split())


def test_helm_install_upgrade_uninstall(local_cluster: LocalCluster, tmp_path: Path) -> None:
    cluster = local_cluster
    _helm(
        cluster, tmp_path, "install", RELEASE, str(CHART), "-n", NAMESPACE, "--create-namespace",
        "--wait", "--timeout=120s",
    )  # fmt: skip
    assert cluster.kubectl("get", "crd", "incidents.kubetriage.io").returncode == 0
    namespaced = _names(cluster, KINDS, "-n", NAMESPACE)
    assert any(n.startswith("serviceaccount/") for n in namespaced)
    cluster_wide = _names(cluster, "clusterroles,clusterrolebindings")
    assert any(n.startswith("clusterrole.rbac.authorization.k8s.io/") for n in cluster_wide)
    assert any(n.startswith("clusterrolebinding.rbac.authorization.k8s.io/") for n in cluster_wide)
    (deployment,) = [n for n in namespaced if n.startswith("deployment.apps/")]
    pods = cluster.get_json("pods", "-n", NAMESPACE, "-l", INSTANCE)["items"]
    assert pods
    assert all(p["status"]["phase"] == "Running" for p in pods)

    _helm(
        cluster, tmp_path, "upgrade", RELEASE, str(CHART), "-n", NAMESPACE,
        "--set", "operator.concurrency=2", "--wait", "--timeout=120s",
    )  # fmt: skip
    body = cluster.get_json(deployment, "-n", NAMESPACE)
    assert body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    history = _helm(cluster, tmp_path, "history", RELEASE, "-n", NAMESPACE)
    assert len(history.strip().splitlines()) == 3  # header + two revisions

    _helm(cluster, tmp_path, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    assert _names(cluster, KINDS, "-n", NAMESPACE) == set()
    assert _names(cluster, "clusterroles,clusterrolebindings") == set()
    assert cluster.kubectl("get", "crd", "incidents.kubetriage.io").returncode == 0
