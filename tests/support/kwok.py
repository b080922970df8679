"""What kwok fakes on the local control plane, as objects and files: Node objects it keeps
Ready, and the pod logs it serves (files in the CRI log format, named by a Logs object per
pod)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def fake_nodes(names: list[str]) -> dict[str, Any]:
    """A v1 List of Nodes that kwok keeps Ready (4 CPUs, 16Gi, 110 pods each)."""
    capacity = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "type": "kwok",
                },
            },
            "status": {"allocatable": capacity, "capacity": capacity},
        }
        for name in names
    ]
    return {"kind": "List", "apiVersion": "v1", "items": docs}


def pod_logs(
    folder: Path, namespace: str, pod: str, container: str, text: str, previous: bool = False
) -> dict[str, Any]:
    """Writes ``text`` as the container's current (or, if ``previous``, previous) log into
    ``folder`` (one per pod) in the CRI log format; returns the pod's Logs object, naming
    every container's files there."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    current, older = folder / f"{container}.log", folder / f"{container}.previous.log"
    for path in (current, older):
        path.touch()
    (older if previous else current).write_text(
        "".join(f"{stamp} stdout F {line}\n" for line in text.splitlines())
    )
    entries = [
        {
            "containers": [log.name.removesuffix(".log")],
            "logsFile": str(log),
            "previousLogsFile": str(log.with_suffix(".previous.log")),
        }
        for log in sorted(folder.glob("*.log"))
        if not log.name.endswith(".previous.log")
    ]
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Logs",
        "metadata": {"name": pod, "namespace": namespace},
        "spec": {"logs": entries},
    }
