"""The cluster the end-to-end scenarios run against.

By default: a real local control plane (tests/support/cluster.py: etcd, kube-apiserver,
controller-manager, scheduler and kwok's fake nodes, built by `make cluster-bin`), started once
per session; each scenario applies ordinary manifests whose pods a kwok Stage breaks
(tests/k8s/stages). With ``KUBETRIAGE_E2E_KUBECONFIG`` set: that cluster instead (any real one,
e.g. kind), where the same manifests break for real. A few tests that need to inject faults
into the API server itself use the emulator (`emulated` fixtures in their modules).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubetriage.crd import render_incident_crd_yaml
from kubetriage.replay.emulator import EmulatorThread, KubeEmulator
from tests.support.cluster import LocalCluster, run_kubectl
from tests.support.polling import wait_for


@dataclass
class Cluster:
    kubeconfig: Path
    emulator: KubeEmulator | None  # None on a real cluster
    local: LocalCluster | None = None  # the local control plane, when it is the one in use

    @property
    def real(self) -> bool:
        return self.emulator is None

    def kubectl(
        self,
        *args: str,
        input_text: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        binary = self.local.binary("kubectl") if self.local else "kubectl"
        return run_kubectl(
            binary, kubeconfig or self.kubeconfig, *args, input_text=input_text, check=check
        )

    def set_logs(
        self, namespace: str, pod: str, container: str, text: str, previous: bool = False
    ) -> None:
        """What the container's logs say, where the cluster lets a test decide it."""
        if self.emulator is not None:
            self.emulator.set_logs(namespace, pod, container, text, previous=previous)
        elif self.local is not None:
            self.local.set_logs(namespace, pod, container, text, previous=previous)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        wait_for(condition, what=what, within=timeout)

    def break_workload(
        self,
        manifest: Path,
        namespace: str,
        app: str,
        reasons: set[str],
        logs: list[tuple[str, str, bool]] | None = None,
        timeout: float = 120,
    ) -> None:
        """Apply `manifest`, wait until a pod labelled app=`app` shows one of `reasons` (as
        its containers' waiting reason or last termination reason), then give its containers
        `logs`: (container, text, previous). On the local control plane a kwok Stage breaks
        the pod; on another real cluster the workload breaks for real."""
        self.kubectl("apply", "-f", str(manifest))

        def pods_and_reasons() -> tuple[list[dict[str, Any]], set[str | None]]:
            pods = json.loads(
                self.kubectl(
                    "get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json"
                ).stdout
            )["items"]
            seen = {
                reason
                for p in pods
                for s in (p.get("status") or {}).get("containerStatuses") or []
                for reason in (
                    ((s.get("state") or {}).get("waiting") or {}).get("reason"),
                    ((s.get("lastState") or {}).get("terminated") or {}).get("reason"),
                )
            }
            return pods, seen

        pods, _ = wait_for(
            pods_and_reasons,
            what=f"{namespace}/{app} to show one of {sorted(reasons)}",
            until=lambda found: bool(found[1] & reasons),
            within=timeout,
            interval=0.5,
            show=lambda found: f"reasons seen: {found[1]}",
        )
        for pod in pods:
            for container, text, previous in logs or []:
                self.set_logs(namespace, pod["metadata"]["name"], container, text, previous)


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_scenario() -> Iterator[None]:
    """Finalise what a scenario's operator and clients left for the garbage collector while
    that scenario is still running: the control plane outlives every test, so a connection
    object collected only at session end would surface there, in no test's name (a
    ResourceWarning at interpreter shutdown, seen intermittently before this)."""
    yield
    gc.collect()


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    other = os.environ.get("KUBETRIAGE_E2E_KUBECONFIG")
    if other:
        yield Cluster(kubeconfig=Path(other), emulator=None)
        return
    local_cluster: LocalCluster = request.getfixturevalue("local_cluster")  # tests/conftest.py
    running = Cluster(kubeconfig=local_cluster.kubeconfig, emulator=None, local=local_cluster)
    yield running
    # The control plane outlives the test: leave no Incident behind for the next operator.
    running.kubectl("delete", "incidents", "--all", "--all-namespaces", "--wait=false", check=False)


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
