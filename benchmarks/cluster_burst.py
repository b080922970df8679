"""The cluster benchmark's burst: N Incidents in one ``kubectl apply`` against a Deployment
whose pod fails to pull, followed with one ``kubectl get --watch`` until every one is
Diagnosed or Failed, with the CPU each process spent.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from benchmarks.api_servers import KUBECTL_SECONDS, apply_text, install_crd
from benchmarks.measure import control_plane_cpu, load_average, own_cpu_seconds
from benchmarks.phases import PhaseWatch

from kubetriage.settings import Settings
from tests.e2e.conftest import Cluster as E2ECluster
from tests.support.cases import REPO
from tests.support.cluster import LocalCluster, run_kubectl
from tests.support.operator import OperatorThread

PULL_FAILED = {"ErrImagePull", "ImagePullBackOff"}


# The e2e image-pull scenario's Deployment (its pod template carries the kwok fault label).
PULL_MANIFEST = REPO / "tests" / "e2e" / "manifests" / "image-pull.yaml"
APP = "landing-page"


def workload(namespace: str) -> dict[str, Any]:
    """The Deployment every Incident of a burst targets, in ``namespace``; on the local
    control plane kwok keeps its pod failing to pull."""
    deployment = next(
        doc for doc in yaml.safe_load_all(PULL_MANIFEST.read_text()) if doc["kind"] == "Deployment"
    )
    deployment["metadata"]["namespace"] = namespace
    return dict(deployment)


def incidents(count: int, namespace: str) -> str:
    items = [
        {
            "apiVersion": "kubetriage.io/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": f"burst-{i:04d}", "namespace": namespace},
            "spec": {
                "title": f"{APP} is not serving ({i})",
                "severity": "warning",
                "target": {"kind": "Deployment", "namespace": namespace, "name": APP},
            },
        }
        for i in range(count)
    ]
    # A YAML stream, as a person's file would be (the emulator cannot validate a v1 List).
    return yaml.safe_dump_all(items, sort_keys=False)


def burst(
    kubectl: str,
    kubeconfig: Path,
    operator_kubeconfig: Path,
    count: int,
    timeout: float,
    *,
    namespace: str,
    local: LocalCluster | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Apply `count` Incidents at once; seconds until all are Diagnosed or Failed. On the
    ``local`` control plane the Deployment's pod is failing to pull first (the emulator
    runs no controllers: there the Deployment has no pods)."""
    install_crd(kubectl, kubeconfig)
    run_kubectl(kubectl, kubeconfig, "create", "namespace", namespace, timeout=KUBECTL_SECONDS)
    if local is not None:
        manifest_file = local.workdir / f"{namespace}-workload.json"
        manifest_file.write_text(json.dumps(workload(namespace)))
        E2ECluster(kubeconfig, emulator=None, local=local).break_workload(
            manifest_file, namespace, APP, PULL_FAILED, timeout=180
        )
    else:
        apply_text(kubectl, kubeconfig, json.dumps(workload(namespace)))
    manifest = incidents(count, namespace)
    settings = settings or Settings(memory_enabled=False)
    own_cpu = own_cpu_seconds()
    kubectl_cpu = own_cpu_seconds(resource.RUSAGE_CHILDREN)
    plane_cpu = control_plane_cpu(local) if local is not None else {}
    with OperatorThread(operator_kubeconfig, settings=settings):
        watch = PhaseWatch(kubectl, kubeconfig, namespace)
        try:
            started = time.monotonic()
            wall_start = time.time()
            apply_text(kubectl, kubeconfig, manifest)
            applied = time.monotonic() - started
            phases = watch.until_done(count, started + timeout)
            elapsed = time.monotonic() - started
        finally:
            watch.close()
        # Until the operator stops: its CPU, and the control plane's, for the burst.
        cpu = {
            "benchmark process (operator, watch reader)": own_cpu_seconds() - own_cpu,
            "kubectl (apply, watch)": own_cpu_seconds(resource.RUSAGE_CHILDREN) - kubectl_cpu,
        }
        if local is not None:
            cpu |= {k: v - plane_cpu.get(k, 0.0) for k, v in control_plane_cpu(local).items()}
    return {
        "namespace": namespace,
        "count": count,
        "apply_s": applied,
        "all_done_s": elapsed,
        "phases": dict(phases),
        "window": (wall_start, time.time()),
        "load": load_average(),
        "cpu": cpu,
    }


def burst_summary(label: str, runs: Sequence[dict[str, Any]]) -> list[str]:
    times = sorted(r["all_done_s"] for r in runs)
    return [
        f"{label}: median {statistics.median(times):.1f} s over {len(times)} runs "
        f"(min {times[0]:.1f}, max {times[-1]:.1f}).",
        "",
    ]
