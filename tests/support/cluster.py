"""A real Kubernetes control plane on 127.0.0.1 for the tests and `make cluster`.

etcd, kube-apiserver (RBAC authorization, static-token authentication, a ServiceAccount signing
key, an audit policy writing a JSON audit log), kube-controller-manager, kube-scheduler and kwok
(fake nodes and pod lifecycles driven by the Stages in tests/k8s/stages). The binaries are the
ones `make cluster-bin` (tools/k8s/build.sh) built into the per-machine cache. Everything lives in
one temporary directory, every port is a free one on 127.0.0.1, readiness is polled with a
deadline, and `stop()` ends every process it started (and nothing else).

What kwok fakes: no container ever runs. Nodes are objects kwok keeps Ready with leases; a pod
scheduled on one of them gets the statuses its Stages write (Running, OOMKilled, ErrImagePull...)
and the Events they post; `kubectl logs` is served by kwok from the files named in
tests/k8s/stages/logs.yaml. The apiserver, etcd, controllers and scheduler are the real ones.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from kubetriage.lifecycle import StartStop
from kubetriage.replay.ports import free_port
from tests.support import polling
from tests.support.audit_log import AuditEvent, audit_policy, read_audit_events
from tests.support.cases import REPO
from tests.support.cluster_flags import (
    apiserver_flags,
    controller_manager_flags,
    etcd_flags,
    kwok_flags,
    scheduler_flags,
)
from tests.support.cluster_pki import write_kubeconfig, write_pki
from tests.support.kwok import fake_nodes, pod_logs
from tests.support.lifecycle import terminate

KWOK_CRDS = REPO / "tests" / "k8s" / "crds"
BUILD_SCRIPT = REPO / "tools" / "k8s" / "build.sh"
# The users the control plane's own components authenticate as (static tokens). They are left
# out of the audit log, which therefore holds only what tests and the operator asked for.
COMPONENT_USERS = ("system:kube-controller-manager", "system:kube-scheduler", "kwok-controller")
ADMIN_USER = "kubetriage-admin"


def run_kubectl(
    binary: Path | str,
    kubeconfig: Path,
    *args: str,
    input_text: str | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``kubectl --kubeconfig=... args`` (text in and out, ``timeout`` seconds at most, one
    minute unless told): the one way tests, the e2e fixtures and the benchmarks run kubectl
    to completion, against the local control plane or the emulator."""
    return subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig}", *args],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


class ClusterError(RuntimeError):
    """The local control plane could not be started (the message says which part and why)."""


def cluster_bin_dir() -> Path:
    """Where tools/k8s/build.sh puts the binaries; raises if they were never built."""
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--bin-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    bin_dir = Path(out)
    if not (bin_dir / ".stamp").is_file():
        raise ClusterError(f"no control-plane binaries in {bin_dir}: run `make cluster-bin` first")
    return bin_dir


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the process that started it dies, so a
    killed test run (no teardown) leaves no control plane behind (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def node_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class LocalCluster(StartStop):
    """Start with `with LocalCluster(workdir) as cluster:`; `cluster.kubeconfig` is the admin's."""

    workdir: Path
    nodes: int = 2
    bin_dir: Path = field(default_factory=cluster_bin_dir)
    ready_timeout: float = 120.0
    _procs: list[_Proc] = field(default_factory=list)
    apiserver_port: int = 0

    # -- paths ------------------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    @property
    def ca_file(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def binary(self, name: str) -> Path:
        return self.bin_dir / name

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_pki(self.pki)
        tokens = {user: os.urandom(16).hex() for user in (ADMIN_USER, *COMPONENT_USERS)}
        (self.workdir / "tokens.csv").write_text(
            "".join(f"{tok},{user},{user},system:masters\n" for user, tok in tokens.items())
        )
        (self.workdir / "audit-policy.yaml").write_text(audit_policy(COMPONENT_USERS))
        self.apiserver_port = free_port()
        for user, token in tokens.items():
            self._write_kubeconfig(self._kubeconfig_for(user), token)
        self._start_etcd()
        self._start_apiserver()
        self._wait_http(f"{self.server}/readyz", token=tokens[ADMIN_USER], what="kube-apiserver")
        self._start_controller_manager()
        self._start_scheduler()
        for crd in sorted(KWOK_CRDS.glob("*.yaml")):
            self.kubectl("apply", "-f", str(crd))
        self._start_kwok()
        self._create_nodes()
        self.wait_for(self._nodes_ready, "kwok nodes Ready")
        self.wait_for(self._default_service_account, "the default ServiceAccount")
        return self

    def stop(self) -> None:
        """Stop every started process, newest first (kwok ... etcd): SIGTERM to its process
        group, then SIGKILL if it has not exited within 15 s."""
        for proc in reversed(self._procs):
            terminate(proc.popen, process_group=True)
        self._procs.clear()

    def pids(self) -> list[int]:
        return [proc.popen.pid for proc in self._procs]

    # -- helpers for tests --------------------------------------------------------------------
    def kubectl(
        self,
        *args: str,
        input_text: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(
            self.binary("kubectl"),
            kubeconfig or self.kubeconfig,
            *args,
            input_text=input_text,
            check=check,
        )

    def kubeconfig_with_token(self, path: Path, token: str) -> Path:
        """A kubeconfig for this cluster authenticating with `token` (e.g. a ServiceAccount's)."""
        self._write_kubeconfig(path, token)
        return path

    def set_logs(
        self, namespace: str, pod: str, container: str, text: str, previous: bool = False
    ) -> None:
        """What `kubectl logs` (with `--previous` if `previous`) returns for that container.

        kwok serves pod logs from files in the CRI log format, named by a Logs object per pod.
        """
        folder = self.workdir / "logs" / namespace / pod
        body = pod_logs(folder, namespace, pod, container, text, previous)
        self.kubectl("apply", "-f", "-", input_text=json.dumps(body))

    def audit_events(self) -> Iterator[AuditEvent]:
        return read_audit_events(self.audit_log)

    def wait_for(self, condition: Any, what: str, timeout: float | None = None) -> None:
        """Poll `condition()` until it is true; fail naming `what` (and dead processes) if not."""

        def probe() -> object:
            self._check_alive()
            return condition()

        polling.wait_for(
            probe,
            what=f"{what} (logs in {self.workdir})",
            within=timeout or self.ready_timeout,
            interval=0.2,
        )

    # -- internals ----------------------------------------------------------------------------
    def _kubeconfig_for(self, user: str) -> Path:
        return self.kubeconfig if user == ADMIN_USER else self.workdir / f"{user}.kubeconfig"

    def _write_kubeconfig(self, path: Path, token: str) -> None:
        write_kubeconfig(path, self.server, self.ca_file, token)

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [str(self.binary(name)), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._procs.append(_Proc(name, popen, log))

    def _check_alive(self) -> None:
        for proc in self._procs:
            code = proc.popen.poll()
            if code is not None:
                tail = proc.log.read_text(errors="replace")[-2000:]
                raise ClusterError(f"{proc.name} exited with {code}:\n{tail}")

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        self._spawn("etcd", etcd_flags(self.workdir / "etcd", self.etcd_url, peer))
        self._wait_http(f"{self.etcd_url}/health", token=None, what="etcd")

    def _start_apiserver(self) -> None:
        self._spawn(
            "kube-apiserver",
            apiserver_flags(
                etcd_url=self.etcd_url,
                port=self.apiserver_port,
                pki=self.pki,
                ca_file=self.ca_file,
                tokens_file=self.workdir / "tokens.csv",
                audit_policy_file=self.workdir / "audit-policy.yaml",
                audit_log=self.audit_log,
            ),
        )

    def _start_controller_manager(self) -> None:
        kubeconfig = self._kubeconfig_for("system:kube-controller-manager")
        self._spawn(
            "kube-controller-manager",
            controller_manager_flags(kubeconfig, free_port(), self.pki, self.ca_file),
        )

    def _start_scheduler(self) -> None:
        kubeconfig = self._kubeconfig_for("system:kube-scheduler")
        self._spawn("kube-scheduler", scheduler_flags(kubeconfig, free_port()))

    def _start_kwok(self) -> None:
        self.kwok_port = free_port()
        kubeconfig = self._kubeconfig_for("kwok-controller")
        self._spawn("kwok", kwok_flags(kubeconfig, self.kwok_port, self.pki))

    def _create_nodes(self) -> None:
        self.add_nodes([f"kwok-node-{i}" for i in range(self.nodes)])

    def add_nodes(self, names: list[str]) -> None:
        """Fake nodes that kwok keeps Ready (4 CPUs, 16Gi, 110 pods each)."""
        self.kubectl("create", "-f", "-", input_text=json.dumps(fake_nodes(names)))

    def get_json(self, *args: str) -> Any:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def _nodes_ready(self) -> bool:
        return all(node_ready(self.get_json("node", f"kwok-node-{i}")) for i in range(self.nodes))

    def _default_service_account(self) -> bool:
        return self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0

    def _wait_http(self, url: str, token: str | None, what: str) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        def ok() -> bool:
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=5, context=context) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        self.wait_for(ok, what)
