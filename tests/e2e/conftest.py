"""The cluster the end-to-end scenarios run against.

By default: the Kubernetes API emulator over real HTTP on 127.0.0.1, with each scenario's
broken state loaded as a snapshot. With ``KUBETRIAGE_E2E_KUBECONFIG`` set: that real cluster
(e.g. kind), where each scenario's manifests are applied and left to break for real. The
tests are the same either way; only how a broken workload comes to exist differs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubetriage.crd import render_incident_crd_yaml
from kubetriage.replay.emulator import EmulatorThread, KubeEmulator


@dataclass
class Cluster:
    kubeconfig: Path
    emulator: KubeEmulator | None  # None on a real cluster

    @property
    def real(self) -> bool:
        return self.emulator is None

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    real = os.environ.get("KUBETRIAGE_E2E_KUBECONFIG")
    if real:
        yield Cluster(kubeconfig=Path(real), emulator=None)
        return
    with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as running:
        yield Cluster(kubeconfig=running.kubeconfig_path, emulator=running.emulator)


@pytest.fixture
def crd_installed(cluster: Cluster, tmp_path: Path) -> Cluster:
    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(render_incident_crd_yaml())
    cluster.kubectl("apply", "-f", str(crd_file))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/incidents.kubetriage.io", check=False
    )
    return cluster


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Cluster]:
    """Always the emulator (for its audit log and fault injection), with the CRD applied."""
    with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as running:
        cluster = Cluster(kubeconfig=running.kubeconfig_path, emulator=running.emulator)
        crd_file = tmp_path / "crd.yaml"
        crd_file.write_text(render_incident_crd_yaml())
        cluster.kubectl("apply", "-f", str(crd_file))
        yield cluster
