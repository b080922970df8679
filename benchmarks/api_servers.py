"""The API servers a diagnosis benchmark runs against, with the cases' workloads in place:
a fresh API emulator loaded with the cases' objects and logs, or the local control plane
(``tests/support/cluster.py``) where each case's real-cluster half is applied and broken by
kwok.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import ssl
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kubetriage.crd import build_incident_crd, render_incident_crd_yaml
from kubetriage.models.case import Case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import case_alert, load_case_into
from kubetriage.replay.snapshot import log_placement
from tests.e2e.conftest import Cluster as E2ECluster
from tests.support.cases import REPO
from tests.support.cluster import LocalCluster, run_kubectl


def load_cases(cases: Sequence[Case], cluster: EmulatorThread) -> None:
    emulator = cluster.emulator
    emulator.load([build_incident_crd()])
    for case in cases:
        load_case_into(emulator, case)


# The example cases with a real-cluster half in tests/e2e/manifests (the same Deployment,
# broken on the local control plane by a kwok Stage): manifest, app label, the pod reasons
# that show it broke.
REAL_HALVES: dict[str, tuple[str, str, frozenset[str]]] = {
    "example-image-tag-typo": (
        "image-pull.yaml", "landing-page", frozenset({"ErrImagePull", "ImagePullBackOff"}),
    ),
    "example-oom-csv-exporter": ("oom.yaml", "csv-exporter", frozenset({"OOMKilled"})),
}  # fmt: skip
MANIFESTS = REPO / "tests" / "e2e" / "manifests"
# How long one kubectl command of a benchmark may take (``tests.support.cluster.run_kubectl``):
# a burst's apply, or a `delete --wait` of every Incident, on a loaded machine.
KUBECTL_SECONDS = 300


@dataclasses.dataclass
class ApiServer:
    """The API server a scenario runs against, with the cases' workloads in place."""

    label: str
    kubeconfig: Path
    url: str
    token: str
    context: ssl.SSLContext | None
    # Stores Incidents all at once: one emulator call, or one `kubectl create` on a real one.
    store_all: Callable[[list[dict[str, Any]]], object]


# Gives a scenario its API server, holding the cases' objects (a context manager per scenario).
Backend = Callable[[Sequence[Case]], contextlib.AbstractContextManager[ApiServer]]


@contextlib.contextmanager
def emulated(cases: Sequence[Case]) -> Iterator[ApiServer]:
    """A fresh API emulator with the cases' objects and logs loaded."""
    with EmulatorThread() as cluster:
        load_cases(cases, cluster)
        yield ApiServer(
            "emulator",
            cluster.kubeconfig_path,
            cluster.url,
            cluster.emulator.token,
            None,
            cluster.emulator.load,
        )


class RealApiServer:
    """The local control plane (``tests/support/cluster.py``), started once per run. Each
    case's real-cluster half is applied and broken by kwok once, with the case's container
    logs; every scenario starts with no Incident left in the cluster."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.e2e = E2ECluster(kubeconfig=cluster.kubeconfig, emulator=None, local=cluster)
        self.kubectl = str(cluster.binary("kubectl"))
        self.label = f"kube-apiserver {cluster.bin_dir.parent.name} (local)"
        self.token = json.loads(cluster.kubeconfig.read_text())["users"][0]["user"]["token"]
        self.context = ssl.create_default_context(cafile=str(cluster.ca_file))
        self.broken: set[str] = set()

    @contextlib.contextmanager
    def __call__(self, cases: Sequence[Case]) -> Iterator[ApiServer]:
        install_crd(self.kubectl, self.cluster.kubeconfig)
        for case in cases:
            if case.id not in self.broken:
                self._break(case)
                self.broken.add(case.id)
        run_kubectl(
            self.kubectl, self.cluster.kubeconfig, "delete", "incidents", "--all",
            "--all-namespaces", "--wait=true", "--timeout=300s", timeout=KUBECTL_SECONDS,
        )  # fmt: skip
        yield ApiServer(
            self.label,
            self.cluster.kubeconfig,
            self.cluster.server,
            self.token,
            self.context,
            self._create,
        )

    def _create(self, bodies: list[dict[str, Any]]) -> None:
        stream = yaml.safe_dump_all(bodies, sort_keys=False)
        run_kubectl(
            self.kubectl,
            self.cluster.kubeconfig,
            "create",
            "-f",
            "-",
            input_text=stream,
            timeout=KUBECTL_SECONDS,
        )

    def _break(self, case: Case) -> None:
        manifest, app, reasons = REAL_HALVES[case.id]
        namespace = case_alert(case, datetime.now(UTC)).labels.get("namespace") or "default"
        logs = {(c, text, previous) for _, _, c, text, previous in log_placement(case)}
        self.e2e.break_workload(
            MANIFESTS / manifest, namespace, app, set(reasons), logs=sorted(logs), timeout=180
        )


def apply_text(kubectl: str, kubeconfig: Path, manifest: str) -> None:
    """``kubectl apply -f -`` of a manifest's text (YAML or JSON)."""
    run_kubectl(
        kubectl, kubeconfig, "apply", "-f", "-", input_text=manifest, timeout=KUBECTL_SECONDS
    )


def install_crd(kubectl: str, kubeconfig: Path) -> None:
    """The Incident CRD, applied and (on a real apiserver) Established."""
    apply_text(kubectl, kubeconfig, render_incident_crd_yaml())
    # The emulator sets no CRD conditions, so `kubectl wait` fails there: not fatal.
    run_kubectl(
        kubectl,
        kubeconfig,
        "wait",
        "--for=condition=Established",
        "crd/incidents.kubetriage.io",
        "--timeout=60s",
        check=False,
        timeout=90,
    )
