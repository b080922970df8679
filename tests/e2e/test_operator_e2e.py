"""End to end: kubectl applies the CRD and Incidents, the real operator (Kopf + pipeline,
no LLM) diagnoses them. Real: HTTP API server (the emulator, or a kind cluster when
KUBETRIAGE_E2E_KUBECONFIG is set), kubectl, the kubernetes client, Kopf."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetriage.replay.cases import load_case
from kubetriage.replay.session import load_case_into
from tests.e2e.conftest import Cluster
from tests.support.cases import EXAMPLES
from tests.support.incidents import INCIDENT_COLUMNS, incident
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

pytestmark = pytest.mark.e2e

SHARED_CASES = EXAMPLES
MANIFESTS = Path(__file__).parent / "manifests"


def _incident(name: str, namespace: str, **spec: Any) -> str:
    return yaml.safe_dump(incident(name, namespace, **spec))


def _get(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    out = cluster.kubectl("get", "incident", name, "-n", namespace, "-o", "json").stdout
    return json.loads(out)  # type: ignore[no-any-return]


def _wait_phase(cluster: Cluster, namespace: str, name: str, phases: set[str]) -> dict[str, Any]:
    return wait_for(
        lambda: _get(cluster, namespace, name),
        until=lambda body: (body.get("status") or {}).get("phase") in phases,
        what=f"{namespace}/{name} to reach {phases}",
        within=90,
    )


def _patch_spec(cluster: Cluster, namespace: str, name: str, spec: dict[str, Any]) -> None:
    """What a person does with ``kubectl patch inc --type merge``."""
    body = json.dumps({"spec": spec})
    cluster.kubectl("patch", "inc", name, "-n", namespace, "--type", "merge", "-p", body)


def _reasons(cluster: Cluster, namespace: str, name: str) -> set[str]:
    events = json.loads(
        cluster.kubectl(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            f"involvedObject.name={name}",
            "-o",
            "json",
        ).stdout
    )["items"]
    return {e["reason"] for e in events}


def _break_image_pull(cluster: Cluster) -> None:
    """Make marketing-site/landing-page fail to pull its image."""
    if cluster.emulator is not None:
        case = load_case(SHARED_CASES / "example-image-tag-typo")
        load_case_into(cluster.emulator, case)
        return
    cluster.break_workload(
        MANIFESTS / "image-pull.yaml",
        "marketing-site",
        "landing-page",
        {"ErrImagePull", "ImagePullBackOff"},
        timeout=180,
    )


def test_kubectl_applied_incident_is_diagnosed(crd_installed: Cluster, tmp_path: Path) -> None:
    cluster = crd_installed
    _break_image_pull(cluster)
    manifest = tmp_path / "incident.yaml"
    manifest.write_text(
        _incident(
            "landing-page-rollout",
            "marketing-site",
            title="landing-page rollout is stuck",
            severity="warning",
            target={"kind": "Deployment", "namespace": "marketing-site", "name": "landing-page"},
        )
    )
    cluster.kubectl("apply", "-f", str(manifest))
    with OperatorThread(cluster.kubeconfig):
        body = _wait_phase(
            cluster, "marketing-site", "landing-page-rollout", {"Diagnosed", "Failed"}
        )
        # Kopf posts events asynchronously: wait for them while the operator still runs.
        reasons = wait_for(
            lambda: _reasons(cluster, "marketing-site", "landing-page-rollout"),
            until=lambda found: {"Investigating", "Diagnosed", "RemediationSuggested"} <= found,
            what="the diagnosis's events",
            within=15,
        )
    status = body["status"]
    assert status["phase"] == "Diagnosed", status
    assert status["observedGeneration"] == body["metadata"]["generation"]
    diagnosis = status["diagnosis"]
    assert diagnosis["category"] == "image-pull"
    top = diagnosis["remediations"][0]
    assert top["action"] in {"fix-image", "rollback"}
    assert {k: top["target"][k] for k in ("kind", "namespace", "name")} == {
        "kind": "Deployment",
        "namespace": "marketing-site",
        "name": "landing-page",
    }
    assert top["command"].startswith("kubectl -n marketing-site ")
    assert diagnosis["llm"]["used"] is False
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Diagnosed"]["status"] == "True"
    assert conditions["LLMUnavailable"]["reason"] == "NotConfigured"
    assert conditions["EvidenceCollected"]["status"] == "True"

    table = cluster.kubectl("get", "inc", "-n", "marketing-site").stdout
    header, row = table.splitlines()[:2]
    assert header.split() == list(INCIDENT_COLUMNS)
    assert row.split()[:4] == ["landing-page-rollout", "Diagnosed", "warning", "image-pull"]

    assert {"Investigating", "Diagnosed", "RemediationSuggested"} <= reasons


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"title": "x", "severity": "catastrophic"}, "spec.severity"),
        ({"severity": "warning"}, "spec.title"),
        ({"title": "x", "target": {"name": "no-kind"}}, "spec.target.kind"),
    ],
)
def test_invalid_incident_is_rejected_with_the_field_named(
    crd_installed: Cluster, tmp_path: Path, spec: dict[str, Any], field: str
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(_incident("bad", "default", **spec))
    result = crd_installed.kubectl("apply", "-f", str(manifest), check=False)
    assert result.returncode != 0
    assert field in result.stderr
    listed = crd_installed.kubectl("get", "inc", "-n", "default", "-o", "name").stdout
    assert "bad" not in listed


def test_nonsense_incident_fails_with_a_clear_condition(
    crd_installed: Cluster, tmp_path: Path
) -> None:
    cluster = crd_installed
    manifest = tmp_path / "nonsense.yaml"
    manifest.write_text(
        _incident(
            "nonsense",
            "default",
            title="the secret is wrong",
            target={"kind": "Secret", "namespace": "default", "name": "db-password"},
        )
    )
    cluster.kubectl("apply", "-f", str(manifest))
    with OperatorThread(cluster.kubeconfig):
        body = _wait_phase(cluster, "default", "nonsense", {"Failed", "Diagnosed"})
    assert body["status"]["phase"] == "Failed"
    diagnosed = {c["type"]: c for c in body["status"]["conditions"]}["Diagnosed"]
    assert diagnosed["status"] == "False"
    assert diagnosed["reason"] == "UnsupportedTargetKind"
    assert "Secret" in diagnosed["message"]


def test_spec_change_rediagnoses_but_status_and_feedback_do_not(
    crd_installed: Cluster, tmp_path: Path
) -> None:
    cluster = crd_installed
    _break_image_pull(cluster)
    manifest = tmp_path / "incident.yaml"
    manifest.write_text(
        _incident(
            "regen",
            "marketing-site",
            title="first title",
            target={"kind": "Deployment", "namespace": "marketing-site", "name": "landing-page"},
        )
    )
    cluster.kubectl("apply", "-f", str(manifest))
    with OperatorThread(cluster.kubeconfig):
        first = _wait_phase(cluster, "marketing-site", "regen", {"Diagnosed"})
        assert first["status"]["observedGeneration"] == 1

        def investigating_events() -> list[dict[str, Any]]:
            listed = cluster.kubectl("get", "events", "-n", "marketing-site", "-o", "json")
            return [
                e
                for e in json.loads(listed.stdout)["items"]
                if e["involvedObject"]["name"] == "regen" and e["reason"] == "Investigating"
            ]

        def settled_count(expected: int) -> int:
            # Events are posted asynchronously but in order: once the expected one is
            # there, a wrong extra one posted before it would be too (the last count, after
            # a later investigation, catches one after the feedback).
            wait_for(
                lambda: len(investigating_events()),
                until=lambda count: count >= expected,
                what=f"{expected} Investigating events",
                within=15,
            )
            return len(investigating_events())

        assert settled_count(1) == 1

        # Feedback is not a reason to diagnose again; the generation is acknowledged.
        _patch_spec(
            cluster,
            "marketing-site",
            "regen",
            {"feedback": {"helpful": True, "resolution": "fixed the tag"}},
        )
        wait_for(
            lambda: _get(cluster, "marketing-site", "regen")["status"],
            until=lambda status: status["observedGeneration"] == 2,
            what="the feedback generation acknowledged",
            within=30,
        )
        assert settled_count(1) == 1

        # A real spec change does.
        _patch_spec(cluster, "marketing-site", "regen", {"title": "second title"})
        wait_for(
            lambda: _get(cluster, "marketing-site", "regen")["status"],
            until=lambda status: (
                status.get("observedGeneration") == 3 and status["phase"] == "Diagnosed"
            ),
            what="the changed spec diagnosed",
        )
        assert settled_count(2) == 2
