"""The operator's container image, started the way the Helm chart starts it, on the real local
control plane: in-cluster mode with the chart ServiceAccount's token, health, readiness and
/metrics on the chart's ports, an Incident applied with kubectl diagnosed, and a clean exit on
SIGTERM within the pod's grace period.

Real: the OCI archive `make image` built from ./Dockerfile (podman, no daemon), unpacked by
umoci and run by runc as uid 10001 on a read-only root filesystem (tests/support/container.py
says what differs from a kubelet); the chart rendered by Helm's engine and its objects applied
to the local kube-apiserver (tests/support/cluster.py), whose RBAC authorizer judges every call
the containerised operator makes; kubectl; kwok's fake kubelet breaks the target's pods.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetriage.replay.ports import free_port
from tests.support.chart import NAMESPACE, RELEASE, REPO, chart_crds, manifests, of_kind
from tests.support.cluster import LocalCluster
from tests.support.container import (
    SA_DIR,
    RuncContainer,
    archive_tags,
    configure,
    image_archive,
    image_ref,
    resolve_env,
    unpack,
)
from tests.support.incidents import incident

pytestmark = pytest.mark.e2e

OOM_MANIFEST = Path(__file__).parent / "manifests" / "oom.yaml"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return 0, ""


def _secrets(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for secret in of_kind(docs, "Secret"):
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        data.update(secret.get("stringData") or {})
        out[secret["metadata"]["name"]] = data
    return out


@pytest.fixture
def chart_values() -> dict[str, Any]:
    # Free ports on the host network (as hostNetwork would need); everything else is default.
    return {
        "webhook": {"port": free_port()},
        "metrics": {"port": free_port()},
        "operator": {"healthPort": free_port()},
    }


@pytest.fixture
def operator_container(
    local_cluster: LocalCluster, chart_values: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[RuncContainer, dict[str, Any]]]:
    archive = image_archive()
    assert archive.is_file(), f"{archive} is missing: `make image` builds it (make test runs it)"
    repository, tag = image_ref()
    assert archive_tags(archive) == [f"{repository}:{tag}"]
    docs = manifests(chart_values)
    installed = [d for d in docs if d["kind"] not in {"Deployment", "PersistentVolumeClaim"}]
    crds = tmp_path / "crds.yaml"
    crds.write_text(yaml.safe_dump_all(chart_crds()))
    local_cluster.kubectl("apply", "--server-side", "-f", str(crds))
    local_cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    objects = tmp_path / "chart.yaml"
    objects.write_text(yaml.safe_dump_all(installed))
    local_cluster.kubectl("apply", "-f", str(objects))
    (deployment,) = of_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    account = pod["serviceAccountName"]
    token = local_cluster.kubectl(
        "create", "token", account, "-n", NAMESPACE, "--duration=1h"
    ).stdout.strip()
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "token").write_text(token)
    (sa_dir / "ca.crt").write_bytes(local_cluster.ca_file.read_bytes())
    (sa_dir / "namespace").write_text(NAMESPACE)
    (container_spec,) = pod["containers"]
    pod_name = f"{RELEASE}-image-test"
    env = resolve_env(
        container_spec, pod_name=pod_name, namespace=NAMESPACE, secrets=_secrets(docs)
    )
    server = local_cluster.server.removeprefix("https://")
    host, port = server.rsplit(":", 1)
    env |= {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
    bundle = unpack(archive, f"{repository}:{tag}", tmp_path / "runc")
    configure(bundle, deployment=deployment, env=env, service_account_dir=sa_dir, workdir=tmp_path)
    running = RuncContainer(bundle, f"kubetriage-{tmp_path.name}"[:60], tmp_path / "container.log")
    running.start()
    try:
        yield running, deployment
    finally:
        running.remove()
        local_cluster.kubectl("delete", "-f", str(objects), "--wait=false", check=False)


def test_sbom_lists_every_pinned_distribution() -> None:
    sbom = image_archive().with_name(image_archive().name.replace(".oci.tar", ".cdx.json"))
    assert sbom.is_file(), f"{sbom} is missing: `make image` writes it beside the archive"
    body = json.loads(sbom.read_text())
    assert body["bomFormat"] == "CycloneDX"
    listed = {(c["name"].lower(), c.get("version")) for c in body["components"]}
    pins = [
        tuple(line.lower().split("=="))
        for line in (REPO / "image-constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pins
    assert set(pins) <= listed


def test_image_runs_as_the_chart_says_and_diagnoses(
    local_cluster: LocalCluster,
    operator_container: tuple[RuncContainer, dict[str, Any]],
    chart_values: dict[str, Any],
    tmp_path: Path,
) -> None:
    running, deployment = operator_container
    health = f"http://127.0.0.1:{chart_values['operator']['healthPort']}/healthz"
    ready = f"http://127.0.0.1:{chart_values['webhook']['port']}/readyz"
    metrics = f"http://127.0.0.1:{chart_values['metrics']['port']}/metrics"

    def up() -> bool:
        assert running.running(), running.output()
        return _get(health)[0] == 200 and _get(ready)[0] == 200

    local_cluster.wait_for(up, "the containerised operator's liveness and readiness", 180)
    status, body = _get(metrics)
    assert status == 200
    assert "kubetriage_" in body

    # The container is what the chart's securityContext asks for.
    whoami = _exec(running, "python3", "-c", "import os; print(os.getuid(), os.getgid())")
    assert whoami.split() == ["10001", "10001"]
    refused = _exec(running, "python3", "-c", _WRITE_ROOT, check=False)
    assert "Read-only file system" in refused
    token = _exec(running, "python3", "-c", f"print(open('{SA_DIR}/namespace').read())")
    assert token.strip() == NAMESPACE

    # An Incident about a workload kwok's kubelet OOM-kills, applied as a user would.
    local_cluster.kubectl("apply", "-f", str(OOM_MANIFEST))

    def oom_seen() -> bool:
        pods = local_cluster.get_json("pods", "-n", "exports", "-l", "app=csv-exporter")
        return any(
            ((s.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
            for p in pods["items"]
            for s in (p.get("status") or {}).get("containerStatuses") or []
        )

    local_cluster.wait_for(oom_seen, "kwok to OOM-kill csv-exporter", 120)
    manifest = incident(
        "image-oom",
        "exports",
        title="csv-exporter restarts",
        workload="csv-exporter",
        severity="warning",
    )
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(manifest))
    local_cluster.kubectl("apply", "-f", str(path))

    def diagnosed() -> dict[str, Any] | None:
        got = local_cluster.get_json("incident", "image-oom", "-n", "exports")
        status = got.get("status") or {}
        return got if status.get("phase") in {"Diagnosed", "Failed"} else None

    local_cluster.wait_for(lambda: diagnosed() is not None, "the Incident to be diagnosed", 180)
    got = diagnosed()
    assert got is not None
    assert got["status"]["phase"] == "Diagnosed", json.dumps(got["status"], indent=1)
    diagnosis = got["status"]["diagnosis"]
    assert diagnosis["category"] == "oom-killed", diagnosis
    assert diagnosis["remediations"][0]["action"] == "increase-memory"

    # SIGTERM, as the kubelet sends it: a clean exit within the pod's grace period.
    grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    code, _ = running.stop(signal.SIGTERM, grace=grace)
    assert code == 0, running.output()[-3000:]
    # The workload stays (other scenarios apply the same manifest; deleting its namespace
    # would leave it Terminating under them); this test's Incident goes.
    local_cluster.kubectl("delete", "incident", "image-oom", "-n", "exports", "--wait=false")


_WRITE_ROOT = """
try:
    open('/opt/kubetriage/written', 'w')
except OSError as error:
    print(error.strerror)
"""


def _exec(running: RuncContainer, *argv: str, check: bool = True) -> str:
    done = subprocess.run(
        ["runc", "exec", running.id, *argv], capture_output=True, text=True, timeout=60
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr
