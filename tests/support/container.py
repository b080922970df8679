"""Run the operator's OCI image the way the Helm chart runs it, with runc and no container engine.

`make image` writes the image as an OCI archive (tools/image/build.sh). Here it is unpacked with
umoci into a runc bundle whose ``config.json`` is rewritten from the chart's rendered operator
Deployment: the container's args, env (``fieldRef`` and ``secretKeyRef`` resolved as the kubelet
would), uid/gid, read-only root filesystem, dropped capabilities, no privilege escalation, the
writable volumes (``/tmp`` as a tmpfs, the embedded-Qdrant volume as a host directory), and the
chart ServiceAccount's token, CA and namespace at the in-cluster path. The pod's network is the
host's (loopback), and ``KUBERNETES_SERVICE_HOST``/``PORT`` point at the local real apiserver.

What differs from a kubelet, because this sandbox refuses it: no user or cgroup namespace, no
``/sys/fs/cgroup`` mount, no rlimits, no seccomp profile (RuntimeDefault is not applied).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.chart import CHART

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Namespaces runc must not create here (the sandbox refuses them); the rest stay.
DROPPED_NAMESPACES = {"user", "cgroup", "network"}


def image_ref() -> tuple[str, str]:
    """The chart's default image: (values.yaml image.repository, Chart.yaml appVersion)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return values["image"]["repository"], values["image"].get("tag") or meta["appVersion"]


def image_cache() -> Path:
    root = os.environ.get("KUBETRIAGE_CACHE_DIR") or str(Path.home() / ".cache" / "kubetriage")
    return Path(root) / "image"


def image_archive() -> Path:
    """Where `make image` wrote the OCI archive of the chart's default image."""
    return image_cache() / f"kubetriage-{image_ref()[1]}.oci.tar"


def resolve_env(
    container: dict[str, Any], *, pod_name: str, namespace: str, secrets: dict[str, dict[str, str]]
) -> dict[str, str]:
    """The container's environment as the kubelet gives it: literal values, the pod's own
    ``fieldRef``s, and ``secretKeyRef``s read from ``secrets`` (name -> decoded data)."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            env[item["name"]] = {"metadata.name": pod_name, "metadata.namespace": namespace}[path]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            raise ValueError(f"unsupported env source for {item['name']}: {source}")
    return env


@dataclass
class Bundle:
    """An unpacked runc bundle and the host directories mounted into it."""

    path: Path
    volumes: dict[str, Path] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.path / "config.json"


def unpack(archive: Path, tag: str, workdir: Path) -> Bundle:
    """OCI archive -> OCI layout directory -> runc bundle (umoci)."""
    layout = workdir / "oci"
    layout.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="tar")
    bundle = workdir / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(layout)
    return Bundle(bundle)


def archive_tags(archive: Path) -> list[str]:
    """The ref names in an OCI archive's index (what umoci can unpack)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        index = json.load(member)
    return [
        m.get("annotations", {}).get("org.opencontainers.image.ref.name", "")
        for m in index.get("manifests", [])
    ]


def configure(
    bundle: Bundle,
    *,
    deployment: dict[str, Any],
    env: dict[str, str],
    service_account_dir: Path,
    workdir: Path,
) -> dict[str, Any]:
    """Rewrite the bundle's config.json from the chart's Deployment (see the module docstring)."""
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "operator"]
    context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    config: dict[str, Any] = json.loads(bundle.config.read_text())
    process = config["process"]
    entrypoint = process["args"][: len(process["args"]) - len(_image_cmd(config))]
    process["args"] = [*entrypoint, *container.get("args", [])]
    image_env = dict(e.split("=", 1) for e in process.get("env", []))
    process["env"] = [f"{k}={v}" for k, v in {**image_env, **env}.items()]
    process["user"] = {"uid": context["runAsUser"], "gid": context["runAsGroup"]}
    process["user"]["additionalGids"] = [pod["securityContext"]["fsGroup"]]
    process["terminal"] = False
    process.pop("rlimits", None)
    dropped = set(container["securityContext"]["capabilities"]["drop"])
    if "ALL" in dropped:
        process["capabilities"] = {k: [] for k in process.get("capabilities", {})}
    process["noNewPrivileges"] = not container["securityContext"]["allowPrivilegeEscalation"]
    config["root"]["readonly"] = bool(container["securityContext"]["readOnlyRootFilesystem"])
    linux = config["linux"]
    linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] not in DROPPED_NAMESPACES]
    for key in ("resources", "cgroupsPath", "uidMappings", "gidMappings"):
        linux.pop(key, None)
    mounts = [m for m in config["mounts"] if not m["destination"].startswith("/sys/fs/cgroup")]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    fs_group = pod["securityContext"]["fsGroup"]
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume and mount["mountPath"] == "/tmp":
            size = volume["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m")
            mounts.append(_tmpfs(mount["mountPath"], size=size, gid=fs_group))
            continue
        host = workdir / "volumes" / mount["name"]
        host.mkdir(parents=True, exist_ok=True)
        os.chown(host, context["runAsUser"], fs_group)
        bundle.volumes[mount["name"]] = host
        options = ["rbind", "ro" if mount.get("readOnly") else "rw"]
        mounts.append(_bind(host, mount["mountPath"], options))
    if pod.get("automountServiceAccountToken", True):
        mounts.append(_bind(service_account_dir, SA_DIR, ["rbind", "ro"]))
    for mount in mounts:
        # The root is read-only at run time: make every mount point now, in the bundle.
        target = bundle.path / "rootfs" / _inside(bundle.path / "rootfs", mount["destination"])
        target.mkdir(parents=True, exist_ok=True)
    config["mounts"] = mounts
    config["hostname"] = env.get("POD_NAME", "kubetriage")
    bundle.config.write_text(json.dumps(config, indent=2))
    return config


def _image_cmd(config: dict[str, Any]) -> list[str]:
    cmd = config.get("annotations", {}).get("org.opencontainers.image.cmd")
    if cmd:
        return list(json.loads(cmd))
    # umoci records the image's Cmd after its Entrypoint in process.args; ours is fixed.
    return ["run", "--all-namespaces"]


def _inside(rootfs: Path, destination: str) -> str:
    """The destination with symlinks inside the rootfs resolved (e.g. /var/run -> /run)."""
    parts = Path(destination.lstrip("/")).parts
    resolved = Path()
    for part in parts:
        candidate = rootfs / resolved / part
        if candidate.is_symlink():
            link = os.readlink(candidate)
            resolved = Path(link.lstrip("/")) if link.startswith("/") else resolved / link
        else:
            resolved = resolved / part
    return str(resolved)


def _tmpfs(destination: str, *, size: str, gid: int) -> dict[str, Any]:
    return {
        "destination": destination,
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777", f"size={size}", f"gid={gid}"],
    }


def _bind(source: Path, destination: str, options: list[str]) -> dict[str, Any]:
    return {"destination": destination, "type": "bind", "source": str(source), "options": options}


class RuncContainer:
    """One ``runc run`` of a bundle in the foreground of a child process; stdout and stderr go
    to a log file. ``stop`` sends a signal through runc and waits for the process to exit."""

    def __init__(self, bundle: Bundle, container_id: str, log: Path) -> None:
        self.bundle = bundle
        self.id = container_id
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                ["runc", "run", "--bundle", str(self.bundle.path), self.id],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def state(self) -> dict[str, Any]:
        out = subprocess.run(["runc", "state", self.id], capture_output=True, text=True, check=True)
        state: dict[str, Any] = json.loads(out.stdout)
        return state

    def stop(self, sig: signal.Signals = signal.SIGTERM, *, grace: float) -> tuple[int, float]:
        """Signal the container's init and wait up to ``grace`` seconds: (exit code, seconds)."""
        assert self._proc is not None
        began = time.monotonic()
        subprocess.run(["runc", "kill", self.id, sig.name], check=False, capture_output=True)
        try:
            code = self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            subprocess.run(["runc", "kill", self.id, "KILL"], check=False, capture_output=True)
            code = self._proc.wait(timeout=30)
            code = -9 if code == 0 else code
        return code, time.monotonic() - began

    def remove(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):
                self.stop(signal.SIGKILL, grace=10)
        subprocess.run(["runc", "delete", "--force", self.id], check=False, capture_output=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
