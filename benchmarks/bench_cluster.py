"""Benchmark of the local control plane (tests/support/cluster.py) and of the operator on it:
start-up time of the cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok, until
its nodes are Ready and the default ServiceAccount exists) and its teardown, and a user-level
burst: N Incidents in one `kubectl apply`, time until every one is Diagnosed or Failed, on the
real apiserver and, in the same run, on the API emulator. No LLM, no memory. On the real
apiserver the audit log says where the operator's requests went (count and summed server-side
latency per verb and resource), which is the profile of the burst.

Run by ``benchmarks/run.py`` (or alone: ``.venv/bin/python benchmarks/bench_cluster.py
[--quick]``); needs ``make cluster-bin``. Writes ``benchmarks/results/cluster.md``.
``--build-time LABEL=FILE`` adds the cold build measured by ``/usr/bin/time -v`` (FILE) to the
report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from kubetriage.crd import render_incident_crd_yaml  # noqa: E402
from kubetriage.replay.emulator import EmulatorThread  # noqa: E402
from kubetriage.settings import Settings  # noqa: E402
from tests.support.cluster import LocalCluster, cluster_bin_dir  # noqa: E402
from tests.support.operator import OperatorThread  # noqa: E402

DONE = {"Diagnosed", "Failed"}
NAMESPACE = "bench"
WORKLOAD = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": NAMESPACE},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web", "kubetriage.io/fault": "image-pull"}},
            "spec": {"containers": [{"name": "web", "image": "registry.example/web:typo"}]},
        },
    },
}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def incidents(count: int) -> str:
    items = [
        {
            "apiVersion": "kubetriage.io/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": f"burst-{i:04d}", "namespace": NAMESPACE},
            "spec": {
                "title": f"web is not serving ({i})",
                "severity": "warning",
                "target": {"kind": "Deployment", "namespace": NAMESPACE, "name": "web"},
            },
        }
        for i in range(count)
    ]
    # A YAML stream, as a person's file would be (the emulator cannot validate a v1 List).
    return yaml.safe_dump_all(items, sort_keys=False)


def run_kubectl(kubectl: str, kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        [kubectl, f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout


def install_crd(kubectl: str, kubeconfig: Path) -> None:
    """The Incident CRD, applied and (on a real apiserver) Established."""
    run_kubectl(kubectl, kubeconfig, "apply", "-f", "-", stdin=render_incident_crd_yaml())
    # The emulator sets no CRD conditions, so `kubectl wait` fails there: not fatal.
    subprocess.run(
        [kubectl, f"--kubeconfig={kubeconfig}", "wait", "--for=condition=Established",
         "crd/incidents.kubetriage.io", "--timeout=60s"],
        capture_output=True, check=False, timeout=90,
    )  # fmt: skip


def burst(
    kubectl: str,
    kubeconfig: Path,
    operator_kubeconfig: Path,
    count: int,
    timeout: float,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Apply `count` Incidents at once; seconds until all are Diagnosed or Failed."""
    install_crd(kubectl, kubeconfig)
    run_kubectl(kubectl, kubeconfig, "create", "namespace", NAMESPACE)
    run_kubectl(kubectl, kubeconfig, "apply", "-f", "-", stdin=json.dumps(WORKLOAD))
    manifest = incidents(count)
    settings = settings or Settings(memory_enabled=False)
    with OperatorThread(operator_kubeconfig, settings=settings):
        started = time.monotonic()
        wall_start = time.time()
        run_kubectl(kubectl, kubeconfig, "apply", "-f", "-", stdin=manifest)
        applied = time.monotonic() - started
        phases: Counter[str] = Counter()
        while time.monotonic() - started < timeout:
            listed = json.loads(
                run_kubectl(kubectl, kubeconfig, "get", "incidents", "-n", NAMESPACE, "-o", "json")
            )["items"]
            phases = Counter((i.get("status") or {}).get("phase", "") for i in listed)
            if sum(phases[p] for p in DONE) == count:
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - started
    return {
        "count": count,
        "apply_s": applied,
        "all_done_s": elapsed,
        "phases": dict(phases),
        "window": (wall_start, time.time()),
        "load": load_average(),
    }


def operator_token(cluster: LocalCluster) -> Path:
    """A ServiceAccount bound to cluster-admin for the operator, so the audit log tells its
    requests apart from kubectl's (the chart's least-privilege RBAC is tested in e2e)."""
    cluster.kubectl("create", "serviceaccount", "bench-operator", "-n", "default")
    cluster.kubectl(
        "create", "clusterrolebinding", "bench-operator", "--clusterrole=cluster-admin",
        "--serviceaccount=default:bench-operator",
    )  # fmt: skip
    token = cluster.kubectl("create", "token", "bench-operator", "--duration=2h").stdout.strip()
    return cluster.kubeconfig_with_token(cluster.workdir / "operator.kubeconfig", token)


def audit_profile(
    cluster: LocalCluster, window: tuple[float, float]
) -> list[tuple[str, int, float]]:
    """(verb resource[/subresource], requests, summed server-side seconds) of the operator."""
    user = "system:serviceaccount:default:bench-operator"
    count: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    for event in cluster.audit_events():
        if event.user != user or not window[0] <= event.received <= window[1]:
            continue
        what = event.resource + (f"/{event.subresource}" if event.subresource else "")
        key = f"{event.verb} {what or event.uri.split('?')[0]}"
        count[key] += 1
        seconds[key] += event.completed - event.received
    return [(k, n, seconds[k]) for k, n in count.most_common()]


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.monotonic()
    result = step()
    return time.monotonic() - started, result


def parse_time_v(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        key, _, value = line.strip().partition(": ")
        fields[key] = value
    return {
        "wall": fields.get("Elapsed (wall clock) time (h:mm:ss or m:ss)", "?"),
        "user_s": fields.get("User time (seconds)", "?"),
        "sys_s": fields.get("System time (seconds)", "?"),
        "peak_rss_mib": str(int(fields.get("Maximum resident set size (kbytes)", "0")) // 1024),
    }


def du_mib(path: Path) -> int:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) // 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cluster.md")
    parser.add_argument("--quick", action="store_true", help="1 start, a burst of 10")
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--build-time", action="append", default=[], metavar="LABEL=FILE")
    args = parser.parse_args(argv)
    starts, count = (1, 10) if args.quick else (args.starts, args.incidents)
    bin_dir = cluster_bin_dir()
    kubectl = str(bin_dir / "kubectl")
    lines = [
        "# Local control plane: start-up, teardown, 100 Incidents by kubectl apply",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs. Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`.",
        "The machine is shared with other engineers: the load average is given per row.",
        "",
    ]
    if args.build_time:
        lines += [
            "## Cold build (`make cluster-bin`, empty Go build cache, `-p 2`, nice 5)",
            "",
            "| what | wall | user s | sys s | peak RSS MiB |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for item in args.build_time:
            label, _, file = item.partition("=")
            t = parse_time_v(Path(file))
            lines.append(
                f"| {label} | {t['wall']} | {t['user_s']} | {t['sys_s']} | {t['peak_rss_mib']} |"
            )
        gocache = Path(subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True,
                                      check=True).stdout.strip())  # fmt: skip
        lines += [
            "",
            f"Disk: binaries {du_mib(bin_dir)} MiB in the cache directory; Go build cache "
            f"{du_mib(gocache)} MiB and module cache {du_mib(Path.home() / 'go' / 'pkg' / 'mod')}"
            " MiB after the build (shared with whatever else this machine built).",
            "",
        ]
    lines += [
        "## Start-up and teardown",
        "",
        "Start: processes spawned, /readyz, nodes Ready, default ServiceAccount present.",
        "",
        "| run | start s | stop s | load |",
        "| --- | ---: | ---: | --- |",
    ]
    for run in range(starts):
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
            cluster = LocalCluster(Path(tmp), bin_dir=bin_dir)
            start_s, _ = timed(cluster.__enter__)
            stop_s, _ = timed(cluster.stop)
        lines.append(f"| {run + 1} | {start_s:.1f} | {stop_s:.1f} | {load_average()} |")
    lines += [
        "",
        f"## {count} Incidents in one `kubectl apply`, until all are Diagnosed or Failed",
        "",
        "Operator in this process (Kopf + pipeline, default concurrency), no LLM, no memory; the "
        "target is a Deployment whose pod kwok keeps in ImagePullBackOff. Phases are polled "
        "with `kubectl get` every 0.25 s.",
        "",
        "| API server | apply s | all done s | phases | load |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        with LocalCluster(Path(tmp), bin_dir=bin_dir) as cluster:
            real = burst(kubectl, cluster.kubeconfig, operator_token(cluster), count, 600)
            profile = audit_profile(cluster, real["window"])
        with EmulatorThread(kubeconfig_path=Path(tmp) / "emulator.kubeconfig") as emulated:
            emu = burst(kubectl, emulated.kubeconfig_path, emulated.kubeconfig_path, count, 600)
    for label, result in (("kube-apiserver v1.37.2 (local)", real), ("emulator", emu)):
        lines.append(
            f"| {label} | {result['apply_s']:.1f} | {result['all_done_s']:.1f} | "
            f"{result['phases']} | {result['load']} |"
        )
    total = sum(s for _, _, s in profile)
    lines += [
        "",
        "### Where the operator's requests went (real apiserver, audit log)",
        "",
        f"{sum(n for _, n, _ in profile)} requests; server-side time summed over requests "
        f"(they overlap, so the sum exceeds the wall time): {total:.1f} s.",
        "",
        "| request | count | summed server s |",
        "| --- | ---: | ---: |",
        *(f"| {key} | {n} | {s:.2f} |" for key, n, s in profile[:25]),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
