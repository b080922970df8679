"""Benchmark of the operator's diagnosis path: time to diagnosis (p50/p95, without an LLM
and with an instant scripted one), throughput of a burst of Incidents with the peak number
of diagnoses in flight against ``settings.concurrency``, operator RSS (in-process, and a
separate ``kubetriage run`` process for a clean figure), prompt tokens per diagnosis over a
case set, and LLM calls per incident (one; none when a re-diagnosis sees the same evidence).

Run by ``benchmarks/run.py`` (or alone: ``.venv/bin/python benchmarks/bench_diagnosis.py
[--quick]``); writes ``benchmarks/results/diagnosis.md`` and a JSON twin for the runner.

Everything real except the model: the Kubernetes API emulator (HTTP, in this process, own
thread), the operator (Kopf + pipeline, ``tests.support.operator.OperatorThread``) or the
``kubetriage run`` CLI in a child process, and ``tests.support.openai_server`` answering
every chat completion at once with the same valid answer. Phases are observed through a
watch on Incidents, so "in flight" is what the API server saw: Incidents in phase
Investigating, in resourceVersion order.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import platform
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT))

import kopf  # noqa: E402
import yaml  # noqa: E402
from benchmarks.bench_cluster import install_crd, registry_extended, run_kubectl  # noqa: E402
from kubernetes import client as k8s  # noqa: E402

from kubetriage.alerts import spec_from_alerts  # noqa: E402
from kubetriage.analyzers import run_analyzers  # noqa: E402
from kubetriage.crd import build_incident_crd  # noqa: E402
from kubetriage.kubeclient import api_client  # noqa: E402
from kubetriage.llm.prompt import render_messages  # noqa: E402
from kubetriage.llm.schema import answer_json_schema  # noqa: E402
from kubetriage.models.base import ObjectRef  # noqa: E402
from kubetriage.models.case import Case  # noqa: E402
from kubetriage.models.diagnosis import SimilarIncident  # noqa: E402
from kubetriage.models.evidence import Evidence  # noqa: E402
from kubetriage.models.findings import Finding  # noqa: E402
from kubetriage.models.incident import GROUP, KIND, PLURAL, VERSION, Alert  # noqa: E402
from kubetriage.pipeline import EvidenceSource, ModelOutcome, ModelSource  # noqa: E402
from kubetriage.redaction import redact_evidence  # noqa: E402
from kubetriage.replay.cases import load_case_set  # noqa: E402
from kubetriage.replay.emulator import EmulatorThread  # noqa: E402
from kubetriage.replay.session import case_alert, load_case_into  # noqa: E402
from kubetriage.replay.snapshot import SnapshotEvidenceSource, log_placement  # noqa: E402
from kubetriage.settings import Settings  # noqa: E402
from kubetriage.tenancy import Scope  # noqa: E402
from tests.e2e.conftest import Cluster as E2ECluster  # noqa: E402
from tests.support.cluster import LocalCluster, cluster_bin_dir  # noqa: E402
from tests.support.llm_samples import valid_answer  # noqa: E402
from tests.support.openai_server import CHARS_PER_TOKEN, ScriptedOpenAIServer, answer  # noqa: E402
from tests.support.operator import OperatorThread  # noqa: E402

SHARED_CASES = ROOT / "tests" / "cases" / "examples"
DONE_PHASES = frozenset({"Diagnosed", "Failed"})


# --- measurement helpers ----------------------------------------------------------------


def _shown(arg: str) -> str:
    """A command-line argument as the report shows it: paths inside the repository relative
    to it, so a report names no machine's directories."""
    path = Path(arg)
    if path.is_absolute() and path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return arg


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]) of a non-empty sample."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def proc_memory(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0])
    return values


def reset_peak_rss(pid: int | str = "self") -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5), so a peak is per phase."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class InFlight:
    """Counts concurrent calls and remembers the peak (thread-safe: the watcher and the
    operator may live on different threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.calls = 0

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.calls += 1
            self.peak = max(self.peak, self.current)

    def exit(self) -> None:
        with self._lock:
            self.current -= 1


class CountingEvidence:
    """The real evidence collector, counted: how many collections run at once."""

    def __init__(self, inner: EvidenceSource, counter: InFlight) -> None:
        self._inner = inner
        self._counter = counter

    async def collect(
        self,
        *,
        target: ObjectRef | None,
        alerts: list[Alert],
        title: str,
        description: str | None,
        now: datetime,
        scope: Scope,
    ) -> Evidence:
        self._counter.enter()
        try:
            return await self._inner.collect(
                target=target,
                alerts=alerts,
                title=title,
                description=description,
                now=now,
                scope=scope,
            )
        finally:
            self._counter.exit()


class CountingModel:
    """The real LLM stage, counted: how many model calls run at once."""

    def __init__(self, inner: ModelSource, counter: InFlight) -> None:
        self._inner = inner
        self._counter = counter

    async def __call__(
        self, evidence: Evidence, findings: list[Finding], similar: list[SimilarIncident]
    ) -> ModelOutcome:
        self._counter.enter()
        try:
            return await self._inner(evidence, findings, similar)
        finally:
            self._counter.exit()


def _failure(incident: dict[str, Any]) -> str:
    """The "reason: message" of a Failed Incident's failure condition (False, with a reason)."""
    for condition in (incident.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason"):
            return f"{condition['reason']}: {str(condition.get('message') or '')[:200]}"
    return "no failure condition"


class PhaseWatcher:
    """Watches Incidents over HTTP in a thread and timestamps, per Incident, the first
    Investigating and the first terminal phase it saw; counts Investigating Incidents in the
    order the API server serialised the writes, and remembers the peak."""

    def __init__(self, url: str, token: str, context: ssl.SSLContext | None = None) -> None:
        self._url = urllib.parse.urlsplit(url)
        self._token = token
        self._context = context
        self._lock = threading.Lock()
        self.investigating_at: dict[str, float] = {}
        self.done_at: dict[str, float] = {}
        self.phases: dict[str, str] = {}
        # Why an Incident ended Failed: its failure condition's "reason: message".
        self.failures: dict[str, str] = {}
        self._in_flight: set[str] = set()
        self.peak_in_flight = 0
        self._connected = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="phase-watcher", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> PhaseWatcher:
        self._thread.start()
        if not self._connected.wait(timeout=30):
            raise RuntimeError(f"the Incident watch did not connect: {self.error}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None and self._conn.sock is not None:
            with contextlib.suppress(OSError):
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        host, port = self._url.hostname or "127.0.0.1", self._url.port or 80
        conn = (
            http.client.HTTPSConnection(host, port, timeout=None, context=self._context)
            if self._url.scheme == "https"
            else http.client.HTTPConnection(host, port, timeout=None)
        )
        self._conn = conn
        path = f"/apis/{GROUP}/{VERSION}/{PLURAL}?watch=true&timeoutSeconds=3600"
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self._token}"})
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"watch answered {response.status}")
            self._connected.set()
            while True:
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    self._observe(json.loads(line))
        except (OSError, http.client.HTTPException, ValueError, RuntimeError) as error:
            self.error = error
        finally:
            self._connected.set()
            conn.close()

    def _observe(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        phase = (obj.get("status") or {}).get("phase")
        now = time.monotonic()
        with self._lock:
            if phase:
                self.phases[key] = phase
            if phase == "Failed":
                self.failures[key] = _failure(obj)
            if phase == "Investigating" and key not in self.investigating_at:
                self.investigating_at[key] = now
                self._in_flight.add(key)
                self.peak_in_flight = max(self.peak_in_flight, len(self._in_flight))
            elif phase in DONE_PHASES and key not in self.done_at:
                self.done_at[key] = now
                self._in_flight.discard(key)

    def wait_done(self, keys: Sequence[str], *, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if all(k in self.done_at for k in keys):
                    return True
            time.sleep(0.02)
        return False


# --- the emulated cluster ---------------------------------------------------------------


def load_cases(cases: Sequence[Case], cluster: EmulatorThread) -> None:
    emulator = cluster.emulator
    emulator.load([build_incident_crd()])
    for case in cases:
        load_case_into(emulator, case)


def incident_body(case: Case, name: str, now: datetime) -> dict[str, Any]:
    """The Incident the receiver would create for the case's alert."""
    alert = case_alert(case, now)
    namespace = alert.labels.get("namespace") or "default"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec_from_alerts([alert]).dump_k8s(),
    }


def key_of(body: dict[str, Any]) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


def llm_settings(server: ScriptedOpenAIServer | None, concurrency: int) -> Settings:
    base: dict[str, Any] = {
        "memory_enabled": False,
        "concurrency": concurrency,
        "metrics_port": 0,
        "retry_delay_seconds": 1.0,
    }
    if server is not None:
        base |= {"llm_base_url": server.base_url, "llm_model": "scripted", "llm_max_retries": 0}
    return Settings(**base)


# The example cases with a real-cluster half in tests/e2e/manifests (the same Deployment,
# broken on the local control plane by a kwok Stage): manifest, app label, the pod reasons
# that show it broke.
REAL_HALVES: dict[str, tuple[str, str, frozenset[str]]] = {
    "example-image-tag-typo": (
        "image-pull.yaml", "landing-page", frozenset({"ErrImagePull", "ImagePullBackOff"}),
    ),
    "example-oom-csv-exporter": ("oom.yaml", "csv-exporter", frozenset({"OOMKilled"})),
}  # fmt: skip
MANIFESTS = ROOT / "tests" / "e2e" / "manifests"


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
            "--all-namespaces", "--wait=true", "--timeout=300s",
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
        run_kubectl(self.kubectl, self.cluster.kubeconfig, "create", "-f", "-", stdin=stream)

    def _break(self, case: Case) -> None:
        manifest, app, reasons = REAL_HALVES[case.id]
        namespace = case_alert(case, datetime.now(UTC)).labels.get("namespace") or "default"
        logs = {(c, text, previous) for _, _, c, text, previous in log_placement(case)}
        self.e2e.break_workload(
            MANIFESTS / manifest, namespace, app, set(reasons), logs=sorted(logs), timeout=180
        )


@dataclasses.dataclass
class Running:
    server: ApiServer
    operator: OperatorThread
    watcher: PhaseWatcher
    api: k8s.CustomObjectsApi
    collections: InFlight
    model_calls: InFlight


@contextlib.contextmanager
def running_operator(
    backend: Backend, cases: Sequence[Case], settings: Settings
) -> Iterator[Running]:
    """An API server with the cases' objects, the real operator in a thread with its
    evidence and model stages counted, and an Incident watch."""
    with backend(cases) as server:
        operator = OperatorThread(server.kubeconfig, settings=settings)
        collections, model_calls = InFlight(), InFlight()
        stages = operator.stages
        operator.stages = dataclasses.replace(
            stages,
            evidence=CountingEvidence(stages.evidence, collections),
            model=CountingModel(stages.model, model_calls) if stages.model else None,
        )
        client = api_client(server.kubeconfig)
        watch = PhaseWatcher(server.url, server.token, server.context)
        try:
            with operator, watch as watcher:
                yield Running(
                    server,
                    operator,
                    watcher,
                    k8s.CustomObjectsApi(client),
                    collections,
                    model_calls,
                )
        finally:
            client.close()  # type: ignore[no-untyped-call]


def create(api: k8s.CustomObjectsApi, body: dict[str, Any]) -> None:
    api.create_namespaced_custom_object(GROUP, VERSION, body["metadata"]["namespace"], PLURAL, body)


def not_diagnosed(watcher: PhaseWatcher, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Each of ``keys`` the watch did not see Diagnosed: the phase it last saw and, for a
    Failed one, its failure condition ("reason: message")."""
    return [
        {
            "incident": key,
            "phase": watcher.phases.get(key),
            "failure": watcher.failures.get(key, ""),
        }
        for key in keys
        if watcher.phases.get(key) != "Diagnosed"
    ]


# --- benchmarks -------------------------------------------------------------------------


def bench_latency(
    backend: Backend,
    cases: Sequence[Case],
    *,
    count: int,
    interval: float,
    concurrency: int,
    server: ScriptedOpenAIServer | None,
) -> dict[str, Any]:
    """Incidents created one every ``interval`` seconds; creation (request returned) to the
    watch seeing Diagnosed."""
    with running_operator(backend, cases, llm_settings(server, concurrency=concurrency)) as run:
        warm = incident_body(cases[0], "bench-warmup", datetime.now(UTC))
        create(run.api, warm)
        run.watcher.wait_done([key_of(warm)], within=60)
        requests_before = len(server.chat_bodies) if server else 0
        created: dict[str, float] = {}
        started = time.monotonic()
        for i in range(count):
            due = started + i * interval
            time.sleep(max(0.0, due - time.monotonic()))
            body = incident_body(cases[i % len(cases)], f"bench-lat-{i:04d}", datetime.now(UTC))
            create(run.api, body)
            created[key_of(body)] = time.monotonic()
        finished = run.watcher.wait_done(list(created), within=300)
        if not any(k in run.watcher.done_at for k in created):
            raise RuntimeError(f"no Incident was diagnosed (watch error: {run.watcher.error})")
        latencies = [
            (run.watcher.done_at[k] - t) * 1000
            for k, t in created.items()
            if k in run.watcher.done_at
        ]
        phases = [run.watcher.phases.get(k) for k in created]
        result: dict[str, Any] = {
            "api": run.server.label,
            "count": count,
            "concurrency": concurrency,
            "interval_ms": interval * 1000,
            "completed": len(latencies),
            "all_completed": finished,
            "diagnosed": phases.count("Diagnosed"),
            "not_diagnosed": not_diagnosed(run.watcher, list(created)),
            "p50_ms": statistics.median(latencies),
            "p95_ms": percentile(latencies, 0.95),
            "max_ms": max(latencies),
            "peak_in_flight": run.watcher.peak_in_flight,
            "load": load_average(),
        }
        if server is not None:
            result["llm_requests"] = len(server.chat_bodies) - requests_before
            result |= bench_repeats(run, server, cases[0])
        return result


def _wait_generation(run: Running, namespace: str, name: str, within: float = 60) -> dict[str, Any]:
    """Wait until the Incident's current generation is diagnosed; returns its status."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        body = cast(
            "dict[str, Any]",
            run.api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name),
        )
        status = body.get("status") or {}
        if status.get("phase") in DONE_PHASES and status.get("observedGeneration") == body[
            "metadata"
        ].get("generation"):
            return dict(status)
        time.sleep(0.02)
    raise RuntimeError(f"{namespace}/{name} was not re-diagnosed within {within}s")


def bench_repeats(run: Running, server: ScriptedOpenAIServer, case: Case) -> dict[str, Any]:
    """LLM calls for re-diagnoses: a spec change that leaves the evidence as it was
    (severity, twice), one that changes it (title), and a new Incident identical to an
    existing one."""
    body = incident_body(case, "bench-repeat", datetime.now(UTC))
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    calls = len(server.chat_bodies)
    create(run.api, body)
    _wait_generation(run, namespace, name)
    first = len(server.chat_bodies) - calls
    rows: list[dict[str, Any]] = [{"step": "new Incident", "llm_requests": first}]
    for severity in ("critical", "warning"):
        calls = len(server.chat_bodies)
        run.api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": {"severity": severity}}
        )
        status = _wait_generation(run, namespace, name)
        rows.append(
            {
                "step": f"spec.severity -> {severity} (evidence unchanged)",
                "llm_requests": len(server.chat_bodies) - calls,
                "cached": bool((status.get("diagnosis") or {}).get("llm", {}).get("cached")),
            }
        )
    calls = len(server.chat_bodies)
    run.api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": {"title": "a new title"}}
    )
    status = _wait_generation(run, namespace, name)
    rows.append(
        {
            "step": "spec.title changed (title is evidence)",
            "llm_requests": len(server.chat_bodies) - calls,
            "cached": bool((status.get("diagnosis") or {}).get("llm", {}).get("cached")),
        }
    )
    twin = incident_body(case, "bench-repeat-twin", datetime.now(UTC))
    twin["spec"] = dict(body["spec"])
    calls = len(server.chat_bodies)
    create(run.api, twin)
    _wait_generation(run, namespace, "bench-repeat-twin")
    rows.append(
        {
            "step": "second Incident, same spec and evidence",
            "llm_requests": len(server.chat_bodies) - calls,
        }
    )
    return {"repeats": rows}


@contextlib.contextmanager
def kopf_queueing(seconds: float | None, seen: dict[str, Any]) -> Iterator[None]:
    """Record (into ``seen``) the Kopf queueing settings the operator runs with and, when
    ``seconds`` is given, override ``settings.queueing.idle_timeout`` first: an experiment
    to compare with what the product configures. Adds one startup handler, after the
    product's own, to the registry the real ``build_registry`` returns, for the block."""

    def extend(registry: kopf.OperatorRegistry) -> None:
        @kopf.on.startup(registry=registry)
        async def observe_queueing(settings: kopf.OperatorSettings, **_: Any) -> None:
            if seconds is not None:
                settings.queueing.idle_timeout = seconds
            seen["idle_timeout"] = settings.queueing.idle_timeout
            seen["worker_limit"] = settings.queueing.worker_limit

    with registry_extended(extend):
        yield


def bench_burst(
    backend: Backend,
    cases: Sequence[Case],
    *,
    count: int,
    concurrency: int,
    server: ScriptedOpenAIServer,
    idle_timeout: float | None = None,
) -> dict[str, Any]:
    """``count`` Incidents stored in one emulator call (all ADDED at once); time until the
    watch has seen every one terminal, and the peaks of work in flight."""
    settings = llm_settings(server, concurrency=concurrency)
    queueing: dict[str, Any] = {}
    with (
        kopf_queueing(idle_timeout, queueing),
        running_operator(backend, cases, settings) as run,
    ):
        warm = incident_body(cases[0], "bench-warmup", datetime.now(UTC))
        create(run.api, warm)
        run.watcher.wait_done([key_of(warm)], within=60)
        now = datetime.now(UTC)
        bodies = [
            incident_body(cases[i % len(cases)], f"bench-burst-{i:04d}", now) for i in range(count)
        ]
        requests_before = len(server.chat_bodies)
        reset_peak_rss()
        rss_before = proc_memory()
        started = time.monotonic()
        run.server.store_all(bodies)
        loaded = time.monotonic() - started
        keys = [key_of(b) for b in bodies]
        finished = run.watcher.wait_done(keys, within=900)
        last = max((run.watcher.done_at.get(k, 0.0) for k in keys), default=started)
        elapsed = last - started
        rss_after = proc_memory()
        phases = [run.watcher.phases.get(k) for k in keys]
        return {
            "api": run.server.label,
            "count": count,
            "concurrency": concurrency,
            "kopf_idle_timeout": idle_timeout,
            "kopf_queueing": queueing,
            "all_completed": finished,
            "diagnosed": phases.count("Diagnosed"),
            "not_diagnosed": not_diagnosed(run.watcher, keys),
            "load_seconds": loaded,
            "seconds": elapsed,
            "per_second": count / elapsed if elapsed > 0 else 0.0,
            "peak_investigating": run.watcher.peak_in_flight,
            "peak_collections": run.collections.peak,
            "peak_model_calls": run.model_calls.peak,
            "llm_requests": len(server.chat_bodies) - requests_before,
            "rss_before_kib": rss_before["VmRSS"],
            "rss_after_kib": rss_after["VmRSS"],
            "rss_peak_kib": rss_after["VmHWM"],
            "load": load_average(),
        }


def bench_subprocess_memory(
    cases: Sequence[Case], *, count: int, concurrency: int, server: ScriptedOpenAIServer
) -> dict[str, Any]:
    """RSS of ``kubetriage run`` in its own process: idle (after one diagnosis) and while a
    burst of ``count`` Incidents is diagnosed (sampled every 100 ms, plus VmHWM)."""
    with EmulatorThread() as cluster:
        load_cases(cases, cluster)
        env = dict(os.environ)
        env.update(
            {
                "KUBETRIAGE_MEMORY_ENABLED": "false",
                "KUBETRIAGE_METRICS_PORT": "0",
                "KUBETRIAGE_HEALTH_PORT": str(free_port()),
                "KUBETRIAGE_LLM_BASE_URL": server.base_url,
                "KUBETRIAGE_LLM_MODEL": "scripted",
                "KUBETRIAGE_LLM_MAX_RETRIES": "0",
                "PYTHONPATH": str(ROOT / "operator"),
            }
        )
        command = [
            sys.executable,
            "-m",
            "kubetriage",
            "run",
            "--kubeconfig",
            str(cluster.kubeconfig_path),
            "--all-namespaces",
            "--standalone",
            "--no-webhook",
            "--concurrency",
            str(concurrency),
        ]
        log = Path(tempfile.gettempdir()) / "kubetriage-bench-operator.log"
        with (
            log.open("w") as log_file,
            PhaseWatcher(cluster.url, cluster.emulator.token) as watcher,
        ):
            child = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                client = api_client(cluster.kubeconfig_path)
                api = k8s.CustomObjectsApi(client)
                warm = incident_body(cases[0], "bench-warmup", datetime.now(UTC))
                create(api, warm)
                if not watcher.wait_done([key_of(warm)], within=120):
                    raise RuntimeError(f"the operator subprocess did not diagnose; see {log}")
                time.sleep(2.0)
                idle = proc_memory(child.pid)
                reset_peak_rss(child.pid)
                now = datetime.now(UTC)
                bodies = [
                    incident_body(cases[i % len(cases)], f"bench-mem-{i:04d}", now)
                    for i in range(count)
                ]
                keys = [key_of(b) for b in bodies]
                started = time.monotonic()
                cluster.emulator.load(bodies)
                samples: list[int] = []
                deadline = started + 600
                while time.monotonic() < deadline:
                    samples.append(proc_memory(child.pid)["VmRSS"])
                    if watcher.wait_done(keys, within=0.1):
                        break
                elapsed = max(watcher.done_at.get(k, 0.0) for k in keys) - started
                loaded = proc_memory(child.pid)
                client.close()  # type: ignore[no-untyped-call]
            finally:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        return {
            "count": count,
            "concurrency": concurrency,
            "idle_rss_kib": idle["VmRSS"],
            "idle_peak_kib": idle["VmHWM"],
            "load_rss_max_sampled_kib": max(samples),
            "load_peak_kib": loaded["VmHWM"],
            "after_rss_kib": loaded["VmRSS"],
            "seconds": elapsed,
            "peak_investigating": watcher.peak_in_flight,
            "diagnosed": sum(watcher.phases.get(k) == "Diagnosed" for k in keys),
            "failures": sorted({watcher.failures[k] for k in keys if k in watcher.failures}),
            "load": load_average(),
        }


# --- prompt size ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    name: str
    count: Callable[[str], int]


def tokenizers() -> list[Tokenizer]:
    """Real tokenizers when importable (an OpenAI BPE via ``bpe_openai``, the demo model's
    own via llama.cpp), and always the scripted server's estimate (4 characters a token)."""
    found: list[Tokenizer] = []
    try:
        import bpe_openai  # type: ignore[import-not-found,unused-ignore]

        encoding = bpe_openai.get_encoding("o200k_base")
        found.append(
            Tokenizer("o200k_base (GPT-4o, bpe-openai)", lambda s: len(encoding.encode(s)))
        )
    except ImportError:
        pass
    with contextlib.suppress(ImportError, ValueError, RuntimeError):
        from kubetriage.replay.local_llm import find_local_model

        model = find_local_model()
        if model is not None:
            import llama_cpp

            vocab = llama_cpp.Llama(str(model.gguf), vocab_only=True, verbose=False)
            found.append(
                Tokenizer(
                    "SmolLM2-135M (demo model, llama.cpp)",
                    lambda s: len(vocab.tokenize(s.encode(), add_bos=False, special=True)),
                )
            )
    found.append(estimate_tokenizer())
    return found


def case_messages(case: Case, settings: Settings) -> list[dict[str, str]]:
    """The prompt the operator would send for the case, on snapshot evidence (the case's
    objects and logs; its Prometheus series are not replayed here)."""
    now = datetime.now(UTC)
    spec = spec_from_alerts([case_alert(case, now)])
    source = SnapshotEvidenceSource(case)
    target = spec.target
    raw = source.build(
        target=target, alerts=spec.alerts, title=spec.title, description=spec.description, now=now
    )
    evidence = redact_evidence(raw)
    findings = list(run_analyzers(evidence).findings)
    return render_messages(evidence, findings, [], max_chars=settings.llm_prompt_max_chars)


def estimate_tokenizer() -> Tokenizer:
    return Tokenizer(
        f"estimate: chars/{CHARS_PER_TOKEN} (scripted server)",
        lambda s: max(1, len(s) // CHARS_PER_TOKEN),
    )


def bench_prompt_size(
    case_dir: Path, counters: Sequence[Tokenizer] | None = None
) -> dict[str, Any]:
    """Prompt tokens per case with each tokenizer (default: every one available)."""
    cases = load_case_set(case_dir)
    settings = Settings(memory_enabled=False)
    prompts = {case.id: case_messages(case, settings) for case in cases}
    schema_text = json.dumps(answer_json_schema())
    rows = []
    for tokenizer in counters if counters is not None else tokenizers():
        counts = {
            cid: sum(tokenizer.count(m["content"]) for m in messages)
            for cid, messages in prompts.items()
        }
        largest = max(counts, key=lambda cid: counts[cid])
        rows.append(
            {
                "tokenizer": tokenizer.name,
                "median": statistics.median(counts.values()),
                "max": counts[largest],
                "max_case": largest,
                "min": min(counts.values()),
                "schema": tokenizer.count(schema_text),
            }
        )
    chars = [sum(len(m["content"]) for m in messages) for messages in prompts.values()]
    return {
        "cases": len(cases),
        "case_dir": str(case_dir.relative_to(ROOT) if case_dir.is_relative_to(ROOT) else case_dir),
        "max_chars_setting": settings.llm_prompt_max_chars,
        "chars_median": statistics.median(chars),
        "chars_max": max(chars),
        "rows": rows,
    }


# --- report -----------------------------------------------------------------------------


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def _within(row: dict[str, Any]) -> bool:
    peak = max(row["peak_investigating"], row["peak_collections"], row["peak_model_calls"])
    return bool(peak <= row["concurrency"])


def _peak_cell(row: dict[str, Any]) -> str:
    peak = row["peak_in_flight"]
    return f"{peak} (**queued**)" if peak >= row["concurrency"] else str(peak)


def _failures(rows: Sequence[dict[str, Any]]) -> list[str]:
    """A line per scenario in which Incidents did not end Diagnosed: how many, in which
    phase, and the reasons their status gives (older runs did not record them)."""
    lines: list[str] = []
    for row in rows:
        missing = row["count"] - row["diagnosed"]
        if missing <= 0:
            continue
        where = f"{row.get('api', 'emulator')}, concurrency {row['concurrency']}"
        if "not_diagnosed" not in row:
            lines.append(f"- {where}: {missing} not Diagnosed; this run did not record why.")
            continue
        reasons = Counter(
            f"{r['phase']} ({r['failure'] or 'no failure seen'})" for r in row["not_diagnosed"]
        )
        said = "; ".join(f"{n} x {text}" for text, n in reasons.most_common())
        lines.append(f"- {where}: {missing} not Diagnosed: {said}")
    return ["", "Incidents that did not end Diagnosed:", "", *lines] if lines else []


def _burst_rows(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| API server | concurrency | Kopf idle_timeout | incidents | diagnosed | seconds | "
        "incidents/s | peak Investigating | peak collections | peak LLM calls | LLM requests | "
        "within limit | load |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        idle = row["kopf_queueing"].get("idle_timeout")
        lines.append(
            f"| {row.get('api', 'emulator')} | {row['concurrency']} | {idle} s | "
            f"{row['count']} | {row['diagnosed']} | {row['seconds']:.1f} | "
            f"{row['per_second']:.1f} | {row['peak_investigating']} | "
            f"{row['peak_collections']} | {row['peak_model_calls']} | {row['llm_requests']} | "
            f"{'yes' if _within(row) else '**NO**'} | {row['load']} |"
        )
    return lines


def _cached_cell(row: dict[str, Any]) -> str:
    if "cached" not in row:
        return "-"
    if row["cached"] and row["llm_requests"]:
        return "true (**stale**, see below)"
    return "true" if row["cached"] else "unset"


def report(results: dict[str, Any]) -> str:
    lat = results["latency"]
    bursts = results["burst"]
    product = [r for r in bursts if r["kopf_idle_timeout"] is None]
    experiment = [r for r in bursts if r["kopf_idle_timeout"] is not None]
    lines = [
        "# Diagnosis benchmark",
        "",
        f"Run {results['date']} on {results['machine']}. Command: `{results['command']}`.",
        "Load average (1/5/15 min) is given per scenario: other engineers share this machine.",
        "",
        "## Time to diagnosis",
        "",
        "Incidents created through the API (the example cases that have a real-cluster half "
        "in tests/e2e/manifests, round-robin, each in its own namespace) one every "
        f"{lat[0]['interval_ms']:.0f} ms; latency = create request returned -> a watch sees "
        "phase Diagnosed. Operator in-process (Kopf + pipeline, concurrency "
        f"{lat[0]['concurrency']}). API servers: the emulator in the same process, loaded "
        "with the cases' objects and logs; and the local control plane "
        "(tests/support/cluster.py: etcd, kube-apiserver, controllers, scheduler, kwok), where "
        "the cases' real-cluster halves are applied and broken by kwok Stages, with the "
        "cases' container logs. The LLM is a scripted server answering at once, so the LLM "
        "rows are our overhead without model latency. The pace is chosen below the "
        "operator's capacity on a quiet machine (see throughput), so a row is latency, not "
        "queueing, while peak Investigating stays under the limit; a row where it reached "
        "the limit is marked queued: under that run's load the Incidents waited for a slot "
        "and its times include the wait.",
        "",
        "| API server | LLM | incidents | diagnosed | p50 ms | p95 ms | max ms | "
        "peak Investigating | LLM requests | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in lat:
        lines.append(
            f"| {row.get('api', 'emulator')} | {row['mode']} | {row['count']} | "
            f"{row['diagnosed']} | {row['p50_ms']:.0f} | "
            f"{row['p95_ms']:.0f} | {row['max_ms']:.0f} | {_peak_cell(row)} | "
            f"{row.get('llm_requests', 0)} | {row['load']} |"
        )
    lines += _failures(lat)
    lines += [
        "",
        "## Throughput and concurrency",
        "",
        "Incidents stored at once with the instant LLM (one emulator call; one `kubectl "
        "create` of a YAML stream on the real apiserver, whose time is included); time until "
        "the watch has seen every one Diagnosed. In flight: Incidents in phase "
        "Investigating as the API serialised the writes (the whole handler), concurrent "
        "evidence collections and concurrent model calls (counting adapters around the real "
        "collector and LLM stage).",
        "",
        "`settings.concurrency` bounds the diagnoses (a semaphore around the diagnose "
        "handler); Kopf's worker limit is 4 x `concurrency`. Kopf keeps each worker for "
        "`queueing.idle_timeout` after the object's last event; the column shows the value "
        "the operator ran with (read back from Kopf's settings).",
        "",
        "As shipped:",
        "",
        *_burst_rows(product),
        *_failures(product),
    ]
    if experiment:
        lines += [
            "",
            "For comparison, the same operator with `queueing.idle_timeout` forced to the "
            "given value by the benchmark (Kopf's own default is 5 s; when `concurrency` was "
            "Kopf's worker limit, a slot then served about one Incident per 5 s):",
            "",
            *_burst_rows(experiment),
            *_failures(experiment),
        ]
    mem = results["memory"]
    lines += [
        "",
        "## Memory (RSS)",
        "",
        "Separate process: `kubetriage run --all-namespaces --standalone --no-webhook "
        f"--concurrency {mem['concurrency']}` (as shipped; incident memory off, instant LLM) "
        "against the emulator in the benchmark process.",
        "",
        "| operator process | RSS |",
        "| --- | ---: |",
        f"| idle, after one diagnosis | {_mib(mem['idle_rss_kib'])} |",
        f"| peak (VmHWM) while diagnosing {mem['count']} Incidents of a burst "
        f"({mem['seconds']:.1f} s, {mem['diagnosed']} diagnosed, peak Investigating "
        f"{mem['peak_investigating']}) | {_mib(mem['load_peak_kib'])} |",
        f"| after the burst | {_mib(mem['after_rss_kib'])} |",
        "",
        *(
            [
                f"Ended Failed in that burst: {len(mem['failures'])} distinct reason(s): "
                + "; ".join(f"`{f}`" for f in mem["failures"][:3]),
                "",
            ]
            if mem.get("failures")
            else []
        ),
        "In-process (benchmark process = operator + API emulator + watcher + scripted LLM "
        f"server; {_mib(results['rss_start_kib'])} after imports), so an upper bound that "
        "grows with the objects the emulator holds:",
        "",
        "| burst | RSS before | peak during | after |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| {row['count']} Incidents, concurrency {row['concurrency']}, "
            f"{row.get('api', 'emulator')} | "
            f"{_mib(row['rss_before_kib'])} | {_mib(row['rss_peak_kib'])} | "
            f"{_mib(row['rss_after_kib'])} |"
            for row in bursts
        ],
    ]
    prompt = results["prompt"]
    llm_row = next(row for row in lat if row["mode"] != "none")
    lines += [
        "",
        "## Prompt size",
        "",
        f"The real prompt (`render_messages`, system + user, `llm_prompt_max_chars` = "
        f"{prompt['max_chars_setting']}) for each of the {prompt['cases']} cases in "
        f"`{prompt['case_dir']}`, on snapshot evidence (the case's objects and logs, redacted, "
        "analyzer findings; no similar incidents; the case's Prometheus series are not "
        f"replayed here). Characters: median {prompt['chars_median']:.0f}, max "
        f"{prompt['chars_max']}. The JSON schema sent as `response_format` is counted apart.",
        "",
        "| tokenizer | median tokens | max tokens (case) | min | + response schema |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[
            f"| {row['tokenizer']} | {row['median']:.0f} | {row['max']} ({row['max_case']}) | "
            f"{row['min']} | {row['schema']} |"
            for row in prompt["rows"]
        ],
        "",
        "## LLM calls per incident",
        "",
        f"Latency run with the LLM ({llm_row.get('api', 'emulator')}): {llm_row['count']} "
        f"Incidents, {llm_row.get('llm_requests', 0)} chat completion requests at the "
        "scripted server. "
        "Burst runs: "
        + ", ".join(f"{r['llm_requests']} requests for {r['count']} Incidents" for r in bursts)
        + ". Re-diagnoses of one Incident:",
        "",
        "| step | LLM requests | status `diagnosis.llm.cached` |",
        "| --- | ---: | --- |",
        *[
            f"| {row['step']} | {row['llm_requests']} | {_cached_cell(row)} |"
            for row in llm_row.get("repeats", [])
        ],
        "",
    ]
    if any(row.get("cached") and row["llm_requests"] for row in llm_row.get("repeats", [])):
        lines += [
            "**Stale flag:** a step that paid for a new model call still shows "
            "`llm.cached: true`: the earlier cached re-diagnosis set it, and the status merge "
            "patch of the fresh diagnosis omits the unset field instead of clearing it.",
            "",
        ]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Sizes:
    latency: int
    interval_ms: float
    latency_concurrency: int
    # (concurrency, incidents, Kopf idle_timeout or None for the shipped default)
    bursts: tuple[tuple[int, int, float | None], ...]
    subprocess_burst: int


FULL = Sizes(
    latency=200,
    interval_ms=200,
    latency_concurrency=16,
    bursts=((4, 1000, None), (16, 1000, None), (4, 40, 5.0), (16, 160, 5.0)),
    subprocess_burst=1000,
)
QUICK = Sizes(
    latency=20,
    interval_ms=200,
    latency_concurrency=16,
    bursts=((4, 50, None), (16, 100, None), (4, 8, 5.0), (16, 32, 5.0)),
    subprocess_burst=50,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--cases", type=Path, default=SHARED_CASES, help="incidents' cases")
    parser.add_argument("--prompt-cases", type=Path, default=ROOT / "tests" / "cases" / "train")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "diagnosis.md"
    )
    parser.add_argument(
        "--report-from", type=Path, default=None, help="re-render a run's JSON; run nothing"
    )
    parser.add_argument(
        "--api-servers",
        choices=("both", "emulator", "local"),
        default="both",
        help="time to diagnosis and bursts on the emulator, the local control plane "
        "(tests/support/cluster.py; needs `make cluster-bin`) or both, in one run",
    )
    args = parser.parse_args(argv)
    if args.report_from is not None:
        args.out.write_text(report(json.loads(args.report_from.read_text())))
        return 0
    sizes = QUICK if args.quick else FULL
    cases = load_case_set(args.cases)
    command = " ".join(
        [
            ".venv/bin/python benchmarks/bench_diagnosis.py",
            *(_shown(arg) for arg in (sys.argv[1:] if argv is None else argv)),
        ]
    )
    results: dict[str, Any] = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "command": command,
        "sizes": dataclasses.asdict(sizes),
        "rss_start_kib": proc_memory()["VmRSS"],
    }
    interval = sizes.interval_ms / 1000
    latency: list[dict[str, Any]] = []
    results["latency"], results["burst"] = latency, []
    with contextlib.ExitStack() as stack:
        backends: list[Backend] = []
        if args.api_servers in ("both", "emulator"):
            backends.append(emulated)
        timed = cases
        if args.api_servers in ("both", "local"):
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-diag-")))
            cluster = stack.enter_context(LocalCluster(workdir, bin_dir=cluster_bin_dir()))
            backends.append(RealApiServer(cluster))
            # The same workloads on every API server: the cases with a real-cluster half.
            timed = [case for case in cases if case.id in REAL_HALVES]
        server = stack.enter_context(ScriptedOpenAIServer(default=answer(valid_answer())))
        for backend in backends:
            for mode, llm in (("none", None), ("scripted, instant", server)):
                print(f"latency, LLM {mode} ({sizes.latency}) ...", flush=True)
                latency.append(
                    {"mode": mode}
                    | bench_latency(
                        backend,
                        timed,
                        count=sizes.latency,
                        interval=interval,
                        concurrency=sizes.latency_concurrency,
                        server=llm,
                    )
                )
        for concurrency, count, idle in sizes.bursts:
            # The idle_timeout experiment runs on the emulator only.
            for backend in backends if idle is None else backends[:1]:
                print(f"burst of {count}, concurrency {concurrency}, idle {idle} ...", flush=True)
                results["burst"].append(
                    bench_burst(
                        backend,
                        timed,
                        count=count,
                        concurrency=concurrency,
                        server=server,
                        idle_timeout=idle,
                    )
                )
        print(f"subprocess memory, burst of {sizes.subprocess_burst} ...", flush=True)
        results["memory"] = bench_subprocess_memory(
            cases, count=sizes.subprocess_burst, concurrency=16, server=server
        )
    # Last: the tokenizers it loads would otherwise count in the in-process RSS above.
    print("prompt size ...", flush=True)
    results["prompt"] = bench_prompt_size(args.prompt_cases)
    text = report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    print(text)
    ok = all(r["all_completed"] for r in [*latency, *results["burst"]]) and all(
        _within(r) for r in results["burst"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
