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
import cProfile
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from benchmarks.api_servers import KUBECTL_SECONDS  # noqa: E402
from benchmarks.cluster_burst import burst, burst_summary  # noqa: E402
from benchmarks.measure import load_average  # noqa: E402
from benchmarks.operator_audit import audit_profile, incident_timeline, operator_token  # noqa: E402
from benchmarks.operator_hooks import cpu_buckets, profile_operator, registry_extended  # noqa: E402

from kubetriage.replay.emulator import EmulatorThread  # noqa: E402
from kubetriage.settings import Settings  # noqa: E402
from tests.support.cluster import LocalCluster, cluster_bin_dir, run_kubectl  # noqa: E402


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
    parser.add_argument("--repeat", type=int, default=3, help="bursts per API server")
    parser.add_argument("--bin-dir", type=Path, default=None, help="default: make cluster-bin's")
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the extra real burst with the operator's event loop under cProfile",
    )
    parser.add_argument(
        "--evidence-cache-seconds",
        type=float,
        default=None,
        help="the operator's KUBETRIAGE_EVIDENCE_CACHE_SECONDS (default: its default)",
    )
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"memory_enabled": False}
    if args.evidence_cache_seconds is not None:
        overrides["evidence_cache_seconds"] = args.evidence_cache_seconds
    settings_in_use = Settings(**overrides)
    # A tree from before the setting existed ignores it (the same harness measures both).
    shared_for = getattr(settings_in_use, "evidence_cache_seconds", None)
    starts, count = (1, 10) if args.quick else (args.starts, args.incidents)
    if args.quick:
        args.repeat = 1
    bin_dir = args.bin_dir or cluster_bin_dir()
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
        gocache = Path(
            subprocess.run(
                ["go", "env", "GOCACHE"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
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
        "Operator in this process (Kopf + pipeline, default settings: concurrency "
        f"{Settings().concurrency}), no LLM, no memory; the target is a Deployment whose pod "
        "kwok keeps in ImagePullBackOff (on the emulator, which runs no controllers, the "
        "Deployment has no pods). Phases are followed with one `kubectl get --watch`. Runs "
        "alternate between the API servers; each real run uses a fresh namespace. "
        + (
            f"Evidence reads shared for {shared_for:g} s (`KUBETRIAGE_EVIDENCE_CACHE_SECONDS`)."
            if shared_for is not None
            else "No evidence read sharing (before `KUBETRIAGE_EVIDENCE_CACHE_SECONDS`)."
        ),
        "",
        "| run | API server | apply s | all done s | phases | load |",
        "| ---: | --- | ---: | ---: | --- | --- |",
    ]
    real_runs: list[dict[str, Any]] = []
    emulated_runs: list[dict[str, Any]] = []
    buckets: list[tuple[str, float]] = []
    label = f"kube-apiserver {bin_dir.parent.name} (local)"
    with (
        tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp,
        LocalCluster(Path(tmp), bin_dir=bin_dir) as cluster,
    ):
        operator_kubeconfig = operator_token(cluster)
        for run in range(args.repeat):
            real = burst(
                kubectl,
                cluster.kubeconfig,
                operator_kubeconfig,
                count,
                600,
                namespace=f"bench-{run + 1}",
                local=cluster,
                settings=settings_in_use,
            )
            real["profile"] = audit_profile(cluster, real["window"])
            real["timeline"] = incident_timeline(cluster, real["namespace"])
            real_runs.append(real)
            # The next operator would otherwise start by resuming these Incidents.
            run_kubectl(
                kubectl, cluster.kubeconfig, "delete", "incidents", "--all", "-n",
                real["namespace"], "--wait=true", timeout=KUBECTL_SECONDS,
            )  # fmt: skip
            with EmulatorThread(kubeconfig_path=Path(tmp) / f"emulator-{run}.kubeconfig") as em:
                emulated_runs.append(
                    burst(
                        kubectl,
                        em.kubeconfig_path,
                        em.kubeconfig_path,
                        count,
                        600,
                        namespace=f"bench-{run + 1}",
                        settings=settings_in_use,
                    )
                )
            for name, result in ((label, real), ("emulator", emulated_runs[-1])):
                lines.append(
                    f"| {run + 1} | {name} | {result['apply_s']:.1f} | "
                    f"{result['all_done_s']:.1f} | {result['phases']} | {result['load']} |"
                )
        if args.profile:
            profile = cProfile.Profile(time.thread_time)
            with registry_extended(profile_operator(profile)):
                profiled = burst(
                    kubectl,
                    cluster.kubeconfig,
                    operator_kubeconfig,
                    count,
                    600,
                    namespace="bench-profiled",
                    local=cluster,
                    settings=settings_in_use,
                )
            buckets = cpu_buckets(profile)
    lines += ["", *burst_summary(label, real_runs), *burst_summary("emulator", emulated_runs)]
    # The profile of the median real run.
    real = sorted(real_runs, key=lambda r: r["all_done_s"])[len(real_runs) // 2]
    profile_rows = real["profile"]
    total = sum(s for _, _, s in profile_rows)
    lines += [
        "",
        f"### Where the time goes (real apiserver, run of {real['all_done_s']:.1f} s)",
        "",
        "Each Incident's way, from the audit log's timestamps (server side; median and p95 "
        "over the Incidents of the run):",
        "",
        "| step | median s | p95 s |",
        "| --- | ---: | ---: |",
        *(f"| {step} | {median:.3f} | {p95:.3f} |" for step, median, p95 in real["timeline"]),
        "",
        "CPU seconds spent during the run (wall "
        f"{real['all_done_s']:.1f} s on {os.cpu_count()} CPUs shared with other work):",
        "",
        "| process | CPU s |",
        "| --- | ---: |",
        *(f"| {name} | {seconds:.1f} |" for name, seconds in real["cpu"].items()),
        "",
        f"The operator's requests (audit log): {sum(n for _, n, _ in profile_rows)} requests, "
        f"{sum(n for _, n, _ in profile_rows) / count:.1f} per Incident; server-side time "
        f"summed over requests (they overlap, so the sum exceeds the wall time): {total:.1f} s.",
        "",
        "| request | count | summed server s |",
        "| --- | ---: | ---: |",
        *(f"| {key} | {n} | {s:.2f} |" for key, n, s in profile_rows[:25]),
        "",
    ]
    if buckets:
        lines += [
            f"The operator's event-loop thread, profiled (cProfile on thread CPU time) in one "
            f"more real run ({profiled['all_done_s']:.1f} s under the profiler, "
            f"{profiled['phases']}): {sum(s for _, s in buckets):.1f} CPU s, by where the "
            "code lives (self time). The kubernetes client's requests run in worker threads "
            "(`asyncio.to_thread`), outside this profile: they are the rest of the process's "
            "CPU above.",
            "",
            "| code | CPU s |",
            "| --- | ---: |",
            *(f"| {name} | {seconds:.2f} |" for name, seconds in buckets),
            "",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
