"""``kubectl triage`` on the e2e cluster (the emulator by default, a real cluster with
``KUBETRIAGE_E2E_KUBECONFIG``): an Incident applied with kubectl and diagnosed by the real
operator is listed, shown, put on a timeline and given feedback through the plugin, which
the real ``kubectl`` runs with the same kubeconfig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster
from tests.e2e.test_operator_e2e import _break_image_pull
from tests.support.incidents import incident
from tests.support.kubectl_plugin import KubectlTriage
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

pytestmark = pytest.mark.e2e
NAME, NAMESPACE = "landing-page-plugin", "marketing-site"


def _incident() -> dict[str, Any]:
    return incident(NAME, NAMESPACE, title="landing-page rollout is stuck", workload="landing-page")


def _status(cluster: Cluster) -> dict[str, Any]:
    out = cluster.kubectl("get", "incident", NAME, "-n", NAMESPACE, "-o", "json").stdout
    return dict(json.loads(out).get("status") or {})


def test_plugin_lists_shows_and_gives_feedback(crd_installed: Cluster, tmp_path: Path) -> None:
    cluster = crd_installed
    _break_image_pull(cluster)
    manifest = tmp_path / "incident.yaml"
    manifest.write_text(yaml.safe_dump(_incident()))
    cluster.kubectl("apply", "-f", str(manifest))
    plugin = KubectlTriage(cluster.kubeconfig, tmp_path)
    with OperatorThread(cluster.kubeconfig):
        wait_for(
            lambda: _status(cluster),
            until=lambda status: status.get("phase") == "Diagnosed",
            what=f"{NAMESPACE}/{NAME} diagnosed",
            within=90,
        )
        rows = plugin.run("list", "-n", NAMESPACE).splitlines()
        assert rows[1].split()[:4] == [NAME, "Diagnosed", "warning", "image-pull"]
        shown = plugin.run("show", NAME, "-n", NAMESPACE)
        assert "category:   image-pull" in shown
        assert "$ kubectl -n marketing-site " in shown
        timeline = plugin.run("timeline", NAME, "-n", NAMESPACE)
        assert "Diagnosed=True DiagnosisWritten" in timeline
        plugin.run("feedback", NAME, "-n", NAMESPACE, "--helpful", "--action", "fix-image")
        out = cluster.kubectl("get", "incident", NAME, "-n", NAMESPACE, "-o", "json").stdout
    assert json.loads(out)["spec"]["feedback"] == {
        "helpful": True,
        "actionTaken": "fix-image",
        "by": "kubectl:alice",
    }
