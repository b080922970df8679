"""Kubernetes API emulator vs. the real ``kubectl`` binary: apply of a CRD and its custom
resources (server-side strict validation), printer columns, short names, patch, delete,
``get pods -A`` and ``logs`` (current and ``--previous``).

Real: HTTP server on 127.0.0.1, kubectl (installed by `make system-deps`) run as a
subprocess with a kubeconfig.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kubetriage.replay.emulator import EmulatorThread
from tests.integration.emulator_fixtures import pod, widget, widget_crd
from tests.support.built import deployment_manifest

KUBECTL = shutil.which("kubectl") or "kubectl"


class Kubectl:
    def __init__(self, emulator: EmulatorThread, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        # A private HOME keeps kubectl's discovery/OpenAPI caches out of the user's ~/.kube.
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path / "home"),
            "KUBECONFIG": str(emulator.kubeconfig_path),
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [KUBECTL, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def apply(self, obj: dict[str, object], check: bool = True) -> subprocess.CompletedProcess[str]:
        path = self.tmp_path / f"manifest-{abs(hash(json.dumps(obj, sort_keys=True)))}.yaml"
        path.write_text(yaml.safe_dump(obj))
        return self.run("apply", "-f", str(path), check=check)


@pytest.fixture
def kubectl(emulator: EmulatorThread, tmp_path: Path) -> Kubectl:
    assert shutil.which("kubectl"), "kubectl is not installed (`make system-deps` installs it)"
    return Kubectl(emulator, tmp_path)


def test_apply_crd_then_custom_resources(kubectl: Kubectl, emulator: EmulatorThread) -> None:
    out = kubectl.apply(widget_crd()).stdout
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.tests.example.com created" in out
    out = kubectl.apply(widget("w1", target={"name": "web"})).stdout
    assert "widget.tests.example.com/w1 created" in out
    # Re-applying is a no-op patch.
    assert "unchanged" in kubectl.apply(widget("w1", target={"name": "web"})).stdout

    table = kubectl.run("get", "widgets").stdout.splitlines()
    assert table[0].split() == ["NAME", "SEVERITY", "TARGET", "PHASE", "AGE"]
    assert table[1].split()[:3] == ["w1", "warning", "web"]

    as_yaml = yaml.safe_load(kubectl.run("get", "wdg", "w1", "-o", "yaml").stdout)
    assert as_yaml["kind"] == "Widget"
    assert as_yaml["spec"]["replicas"] == 1  # schema default applied

    kubectl.run("patch", "wdg", "w1", "--type", "merge", "-p", '{"spec":{"severity":"info"}}')
    stored = emulator.emulator.get("widgets", "w1", "default")
    assert stored is not None
    assert stored["spec"]["severity"] == "info"
    assert stored["metadata"]["generation"] == 2

    assert 'widget.tests.example.com "w1" deleted' in kubectl.run("delete", "wdg", "w1").stdout
    assert emulator.emulator.objects("widgets") == []


def test_apply_invalid_custom_resource_names_the_field(kubectl: Kubectl) -> None:
    kubectl.apply(widget_crd())
    bad = kubectl.apply(widget("w2", severity="bogus"), check=False)
    assert bad.returncode != 0
    assert "spec.severity" in bad.stderr
    assert 'Unsupported value: "bogus"' in bad.stderr

    unknown = kubectl.apply(widget("w3", surprise=True), check=False)
    assert unknown.returncode != 0
    assert 'unknown field "spec.surprise"' in unknown.stderr


def test_builtins_get_pods_all_namespaces_and_logs(
    kubectl: Kubectl, emulator: EmulatorThread
) -> None:
    running = pod("web-1", namespace="shop")
    running["status"] = {
        "phase": "Running",
        "containerStatuses": [{"name": "app", "ready": True, "restartCount": 3}],
    }
    emulator.emulator.load([running, pod("db-0", namespace="data")])
    emulator.emulator.set_logs("shop", "web-1", "app", "started\nserving\n")
    emulator.emulator.set_logs("shop", "web-1", "app", "panic: boom\n", previous=True)

    lines = kubectl.run("get", "pods", "-A").stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {tuple(line.split()[:5]) for line in lines[1:]}
    assert ("shop", "web-1", "1/1", "Running", "3") in rows
    assert any(row[:2] == ("data", "db-0") for row in rows)

    assert kubectl.run("logs", "-n", "shop", "web-1").stdout == "started\nserving\n"
    assert kubectl.run("logs", "-n", "shop", "web-1", "--previous").stdout == "panic: boom\n"
    missing = kubectl.run("logs", "-n", "data", "db-0", "--previous", check=False)
    assert missing.returncode != 0
    assert "previous terminated container" in missing.stderr


def test_apply_builtin_twice_uses_strategic_merge(
    kubectl: Kubectl, emulator: EmulatorThread
) -> None:
    deployment = deployment_manifest("web", "default", ("app", "nginx:1"), replicas=1)
    kubectl.apply(deployment)
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert "configured" in kubectl.apply(deployment).stdout
    stored = emulator.emulator.get("deployments", "web", "default")
    assert stored is not None
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert stored["metadata"]["generation"] == 2
    kubectl.run("scale", "deployment", "web", "--replicas=3")
    assert emulator.emulator.get("deployments", "web", "default")["spec"]["replicas"] == 3  # type: ignore[index]


def test_imperative_create_generators_send_protobuf(
    kubectl: Kubectl, emulator: EmulatorThread
) -> None:
    kubectl.run("create", "namespace", "shop")
    kubectl.run("create", "configmap", "settings", "-n", "shop", "--from-literal=mode=fast")
    kubectl.run("create", "secret", "generic", "token", "-n", "shop", "--from-literal=t=x")
    kubectl.run("create", "deployment", "web", "-n", "shop", "--image=nginx", "--replicas=2")
    emu = emulator.emulator
    assert emu.get("configmaps", "settings", "shop")["data"] == {"mode": "fast"}  # type: ignore[index]
    assert emu.get("secrets", "token", "shop")["data"] == {"t": "eA=="}  # type: ignore[index]
    deployment = emu.get("deployments", "web", "shop")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert "creationTimestamp" not in deployment["spec"]["template"]["metadata"]


def test_server_side_apply_creates_and_updates(kubectl: Kubectl, emulator: EmulatorThread) -> None:
    kubectl.apply(widget_crd())
    path = kubectl.tmp_path / "ssa.yaml"
    path.write_text(yaml.safe_dump(widget("w1", target={"name": "a"})))
    assert "serverside-applied" in kubectl.run("apply", "--server-side", "-f", str(path)).stdout
    path.write_text(yaml.safe_dump(widget("w1", target={"name": "b"})))
    kubectl.run("apply", "--server-side", "-f", str(path))
    stored = emulator.emulator.get("widgets", "w1", "default")
    assert stored is not None
    assert stored["spec"]["target"] == {"name": "b"}
