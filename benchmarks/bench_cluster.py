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
import contextlib
import cProfile
import json
import os
import platform
import pstats
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

from kubetriage import handlers  # noqa: E402
from kubetriage.crd import render_incident_crd_yaml  # noqa: E402
from kubetriage.reactions.context import OperatorContext  # noqa: E402
from kubetriage.replay.emulator import EmulatorThread  # noqa: E402
from kubetriage.settings import Settings  # noqa: E402
from tests.e2e.conftest import Cluster as E2ECluster  # noqa: E402
from tests.support.cluster import AuditEvent, LocalCluster, cluster_bin_dir  # noqa: E402
from tests.support.operator import OperatorThread  # noqa: E402

DONE = {"Diagnosed", "Failed"}
OPERATOR_USER = "system:serviceaccount:default:bench-operator"
PULL_FAILED = {"ErrImagePull", "ImagePullBackOff"}


# The e2e image-pull scenario's Deployment (its pod template carries the kwok fault label).
PULL_MANIFEST = ROOT / "tests" / "e2e" / "manifests" / "image-pull.yaml"
APP = "landing-page"


def workload(namespace: str) -> dict[str, Any]:
    """The Deployment every Incident of a burst targets, in ``namespace``; on the local
    control plane kwok keeps its pod failing to pull."""
    deployment = next(
        doc for doc in yaml.safe_load_all(PULL_MANIFEST.read_text()) if doc["kind"] == "Deployment"
    )
    deployment["metadata"]["namespace"] = namespace
    return dict(deployment)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def registry_extended(extend: Callable[[kopf.OperatorRegistry], None]) -> Iterator[None]:
    """While the block runs, every registry the operator builds (the real
    ``handlers.build_registry``) also gets the handlers ``extend`` adds, after its own: how
    a benchmark observes the operator from inside without another code path."""
    original = handlers.build_registry

    def build_registry(ctx: OperatorContext) -> kopf.OperatorRegistry:
        registry = original(ctx)
        extend(registry)
        return registry

    handlers.build_registry = build_registry
    try:
        yield
    finally:
        handlers.build_registry = original


def profile_operator(profile: cProfile.Profile) -> Callable[[kopf.OperatorRegistry], None]:
    """Handlers that profile the operator's event-loop thread from Kopf's startup to its
    cleanup (CPU time when ``profile`` runs on ``time.thread_time``)."""

    def extend(registry: kopf.OperatorRegistry) -> None:
        @kopf.on.startup(registry=registry)
        async def start_profile(**_: Any) -> None:
            profile.enable()

        @kopf.on.cleanup(registry=registry)
        async def stop_profile(**_: Any) -> None:
            profile.disable()

    return extend


# Where the operator thread's CPU time goes: self time of each function, by where the
# function lives (the first matching fragment of its file, or of a built-in's name, wins).
# Anything else (built-ins, the standard library's small helpers) counts for its callers.
CPU_BUCKETS = (
    ("Kopf: watch, causes and diffs, progress, patches, event posting", ("/kopf/",)),
    ("aiohttp (Kopf's HTTP client)", ("/aiohttp/", "/yarl/", "/multidict/", "/frozenlist/")),
    ("copy.deepcopy (Kopf copies every body it hands out)", ("/copy.py", "deepcopy")),
    ("pydantic (validation, dumps)", ("/pydantic/", "pydantic_core")),
    ("evidence: parsing responses, building Evidence", ("/kubetriage/evidence/",)),
    ("analyzers", ("/kubetriage/analyzers/",)),
    ("redaction", ("/kubetriage/redaction/",)),
    ("other kubetriage: pipeline, combine, prose, status", ("/kubetriage/",)),
    ("json (decode, encode)", ("/json/", "json.")),
    ("kubernetes client, urllib3, ssl (loop-thread part)", ("/kubernetes/", "/urllib3/", "ssl")),
    ("asyncio event loop, hand-off to worker threads", ("/asyncio/", "/concurrent/")),
)


def _bucket(function: tuple[str, int, str]) -> str | None:
    file, _, name = function
    where = file if file != "~" else name
    return next((label for label, parts in CPU_BUCKETS if any(p in where for p in parts)), None)


def cpu_buckets(profile: cProfile.Profile) -> list[tuple[str, float]]:
    """(bucket, CPU seconds) of the profiled thread, largest first."""
    totals: defaultdict[str, float] = defaultdict(float)
    stats: dict[tuple[str, int, str], Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for function, (_, _, self_time, _, callers) in stats.items():
        label = _bucket(function)
        if label is not None or not callers:
            totals[label or "other"] += self_time
            continue
        for caller, (_, _, time_from_caller, _) in callers.items():
            totals[_bucket(caller) or "other"] += time_from_caller
    return sorted(totals.items(), key=lambda item: -item[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def control_plane_cpu(cluster: LocalCluster) -> dict[str, float]:
    """CPU seconds so far of each control-plane process, by name."""
    return {
        Path(f"/proc/{pid}/comm").read_text().strip(): cpu_seconds(pid) for pid in cluster.pids()
    }


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


def run_kubectl(kubectl: str, kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        [kubectl, f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout


class PhaseWatch:
    """``kubectl get incidents --watch`` in one process, as a person would follow a burst:
    each line it prints is an Incident's name and phase. (Polling with a new ``kubectl get``
    every 0.25 s, as this benchmark did until 2026-12-02, listed every Incident's full body
    four times a second and started a process each time, on the two cores the operator and
    the apiserver share.)"""

    def __init__(self, kubectl: str, kubeconfig: Path, namespace: str) -> None:
        self.process = subprocess.Popen(
            [
                kubectl,
                f"--kubeconfig={kubeconfig}",
                "get",
                "incidents",
                "-n",
                namespace,
                "--watch",
                "--no-headers",
                "-o",
                "custom-columns=NAME:.metadata.name,PHASE:.status.phase",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until_done(self, count: int, deadline: float) -> Counter[str]:
        """The phases once ``count`` Incidents are Diagnosed or Failed (or at ``deadline``)."""
        phases: dict[str, str] = {}
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            name, _, phase = line.strip().partition(" ")
            phases[name] = phase.strip()
            if sum(p in DONE for p in phases.values()) == count:
                break
        return Counter(phases.values())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)


def install_crd(kubectl: str, kubeconfig: Path) -> None:
    """The Incident CRD, applied and (on a real apiserver) Established."""
    run_kubectl(kubectl, kubeconfig, "apply", "-f", "-", stdin=render_incident_crd_yaml())
    # The emulator sets no CRD conditions, so `kubectl wait` fails there: not fatal.
    subprocess.run(
        [
            kubectl,
            f"--kubeconfig={kubeconfig}",
            "wait",
            "--for=condition=Established",
            "crd/incidents.kubetriage.io",
            "--timeout=60s",
        ],
        capture_output=True,
        check=False,
        timeout=90,
    )


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
    run_kubectl(kubectl, kubeconfig, "create", "namespace", namespace)
    if local is not None:
        manifest_file = local.workdir / f"{namespace}-workload.json"
        manifest_file.write_text(json.dumps(workload(namespace)))
        E2ECluster(kubeconfig, emulator=None, local=local).break_workload(
            manifest_file, namespace, APP, PULL_FAILED, timeout=180
        )
    else:
        run_kubectl(kubectl, kubeconfig, "apply", "-f", "-", stdin=json.dumps(workload(namespace)))
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
            run_kubectl(kubectl, kubeconfig, "apply", "-f", "-", stdin=manifest)
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


def operator_token(cluster: LocalCluster) -> Path:
    """A ServiceAccount bound to cluster-admin for the operator, so the audit log tells its
    requests apart from kubectl's (the chart's least-privilege RBAC is tested in e2e)."""
    cluster.kubectl("create", "serviceaccount", "bench-operator", "-n", "default")
    cluster.kubectl(
        "create",
        "clusterrolebinding",
        "bench-operator",
        "--clusterrole=cluster-admin",
        "--serviceaccount=default:bench-operator",
    )
    token = cluster.kubectl("create", "token", "bench-operator", "--duration=2h").stdout.strip()
    return cluster.kubeconfig_with_token(cluster.workdir / "operator.kubeconfig", token)


def audit_profile(
    cluster: LocalCluster, window: tuple[float, float]
) -> list[tuple[str, int, float]]:
    """(verb resource[/subresource], requests, summed server-side seconds) of the operator."""
    count: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    for event in cluster.audit_events():
        if event.user != OPERATOR_USER or not window[0] <= event.received <= window[1]:
            continue
        what = event.resource + (f"/{event.subresource}" if event.subresource else "")
        key = f"{event.verb} {what or event.uri.split('?')[0]}"
        count[key] += 1
        seconds[key] += event.completed - event.received
    return [(k, n, seconds[k]) for k, n in count.most_common()]


# Each Incident's way through the operator, from the audit log's timestamps (server side).
TIMELINE = (
    "created -> Investigating write received (waiting for a diagnosis slot, Kopf's queue)",
    "Investigating status write (server time)",
    "Investigating written -> re-read sent (evidence calls, pipeline)",
    "re-read sent -> Diagnosed written (re-read, Diagnosed status write)",
    "Diagnosed written -> Kopf's own patch written (progress, last-handled annotations)",
    "created -> Kopf's patch written (the whole way)",
)


def incident_timeline(cluster: LocalCluster, namespace: str) -> list[tuple[str, float, float]]:
    """(step, median s, p95 s) over the Incidents of a burst in ``namespace``: create is
    kubectl's request; the operator writes Investigating, re-reads the Incident, writes
    Diagnosed (status patches), and Kopf then patches its annotations."""
    events: defaultdict[str, list[AuditEvent]] = defaultdict(list)
    for event in cluster.audit_events():
        if event.resource == "incidents" and event.namespace == namespace and event.name:
            events[event.name].append(event)
    steps: list[list[float]] = [[] for _ in TIMELINE]
    for seen in events.values():
        ours = sorted((e for e in seen if e.user == OPERATOR_USER), key=lambda e: e.received)
        created = next((e for e in seen if e.verb == "create"), None)
        writes = [e for e in ours if e.verb == "patch" and e.subresource == "status"]
        reread = [e for e in ours if e.verb == "get" and not e.subresource]
        kopf_patch = [e for e in ours if e.verb == "patch" and not e.subresource]
        if created is None or len(writes) < 2 or not reread or not kopf_patch:
            continue  # not (yet) through the whole way: left out
        first, last = writes[0], writes[-1]
        marks = (
            first.received - created.completed,
            first.completed - first.received,
            reread[0].received - first.completed,
            last.completed - reread[0].received,
            kopf_patch[-1].completed - last.completed,
            kopf_patch[-1].completed - created.completed,
        )
        for values, mark in zip(steps, marks, strict=True):
            values.append(mark)
    return [
        (label, statistics.median(values), sorted(values)[int(0.95 * (len(values) - 1))])
        for label, values in zip(TIMELINE, steps, strict=True)
        if values
    ]


def burst_summary(label: str, runs: Sequence[dict[str, Any]]) -> list[str]:
    times = sorted(r["all_done_s"] for r in runs)
    return [
        f"{label}: median {statistics.median(times):.1f} s over {len(times)} runs "
        f"(min {times[0]:.1f}, max {times[-1]:.1f}).",
        "",
    ]


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
                real["namespace"], "--wait=true",
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
