"""Replay one incident case end to end, offline: the case's objects and logs go into the
Kubernetes API emulator, the real operator runs against it in-process, an Incident is
created from the case's alert exactly as the receiver would, and the final status is read
back. Used by ``kubetriage diagnose`` and (through ``ReplayEnvironment``) by eval and demo.

Only ``alert``, ``cluster``, ``logs`` and ``metrics`` reach the diagnosis; ``id``, ``title``,
``source`` and ``expect`` never do (the Incident's name comes from the alert's labels).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from kubernetes.client.exceptions import ApiException
from pydantic import SecretStr

from kubetriage.alerts import label_fingerprint
from kubetriage.analyzers.log_times import line_time
from kubetriage.app import MemoryStage
from kubetriage.assembly import AssembledOperator, assemble_operator
from kubetriage.crd import build_incident_crd
from kubetriage.handlers import RunOptions
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.learning import parse_time
from kubetriage.memory.embeddings import Embedder, OnnxMiniLMEmbedder
from kubetriage.memory.store import IncidentMemory
from kubetriage.models.case import Case
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import Alert, Phase
from kubetriage.pipeline import Stages
from kubetriage.receiver.server import Receiver
from kubetriage.receiver.state import group_notification
from kubetriage.redaction import redact_text
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.emulator import EmulatorThread, KubeEmulator
from kubetriage.replay.ports import free_port
from kubetriage.replay.promtool import PROMETHEUS_BINARY, LocalPrometheus, start_with_case_metrics
from kubetriage.replay.seeding import seed_from_cases
from kubetriage.replay.snapshot import alert_of, log_placement
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry

logger = logging.getLogger(__name__)
TERMINAL_PHASES = frozenset({Phase.DIAGNOSED.value, Phase.FAILED.value})


@dataclass
class ReplayOutcome:
    incident_name: str
    namespace: str
    phase: str | None
    diagnosis: Diagnosis | None
    status: dict[str, Any]
    latency_ms: float
    timed_out: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    severity: str | None = None
    created_at: datetime | None = None


# Timestamps that record when something was observed (never future ones like notAfter).
_OBSERVED_KEYS = frozenset(
    {
        "creationTimestamp",
        "firstTimestamp",
        "lastTimestamp",
        "eventTime",
        "lastHeartbeatTime",
        "lastTransitionTime",
        "lastUpdateTime",
        "lastProbeTime",
        "startedAt",
        "finishedAt",
        "lastScaleTime",
    }
)


def _latest_log_time(case: Case, now: datetime) -> datetime | None:
    """The latest time a line of the case's logs starts with, read by the analyzers' own
    parser (``line_time``: RFC 3339 and its relatives, slash dates, klog headers, structured
    time fields); ``now`` supplies klog's missing year."""
    latest: datetime | None = None
    for text in case.logs.values():
        for line in text.splitlines():
            stamp = line_time(line, now)
            if stamp is not None and (latest is None or stamp > latest):
                latest = stamp
    return latest


def case_time(case: Case) -> datetime | None:
    """The moment the case was captured: the latest observed timestamp in its objects or at
    the start of its log lines (logs are captured with the objects, and usually run later
    than the last event), rounded up to the minute. Replaying "as of" that moment keeps
    relative facts (a certificate that expires in two days, an event from five minutes ago)
    true however long after the capture the case is replayed, and puts the metrics' last
    sample where the objects and logs place "now"; None when nothing carries a timestamp."""
    latest: datetime | None = None
    stack: list[Any] = list(case.cluster)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in _OBSERVED_KEYS and isinstance(value, str):
                    try:
                        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
                    except ValueError:
                        continue
                    if stamp.tzinfo is not None and (latest is None or stamp > latest):
                        latest = stamp
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    logged = _latest_log_time(case, latest or datetime.now(UTC))
    if logged is not None and (latest is None or logged > latest):
        latest = logged
    if latest is None:
        return None
    rounded = latest.replace(second=0, microsecond=0)
    return rounded if rounded == latest else rounded + timedelta(minutes=1)


def replay_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and advances in real time."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def case_alert(case: Case, now: datetime) -> Alert:
    """The case's alert as Alertmanager would send it (``alert_of`` plus a fingerprint)."""
    alert = alert_of(case, now)
    alert.fingerprint = label_fingerprint(alert.labels)
    return alert


def load_case_into(emulator: KubeEmulator, case: Case) -> None:
    """A case's objects and logs into the emulated API, each log where ``log_placement``
    puts it (the one way replay, tests and benchmarks load a case)."""
    emulator.load(case.cluster)
    for namespace, pod, container, text, previous in log_placement(case):
        emulator.set_logs(namespace, pod, container, text, previous=previous)


class ReplayEnvironment:
    """An emulated cluster with the real operator running against it (async context)."""

    def __init__(
        self,
        settings: Settings,
        *,
        stages: Stages | None = None,
        memory: MemoryStage | None = None,
        clock: Callable[[], datetime] | None = None,
        serve_metrics: bool = False,
        telemetry: Telemetry | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self._telemetry = telemetry
        self._embedder = embedder
        self._serve_metrics = serve_metrics
        self.clock = clock or (lambda: datetime.now(UTC))
        self._given_stages = stages
        self._given_memory = memory
        self.cluster = EmulatorThread()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.incidents: IncidentStore | None = None
        # Set when the webhook receiver / operator metrics are served for this environment.
        self.webhook_url: str | None = None
        self.webhook_token: str | None = None
        self.metrics_url: str | None = None
        self._operator: AssembledOperator | None = None
        self.receiver: Receiver | None = None

    async def __aenter__(self) -> ReplayEnvironment:
        self.cluster.start()
        # The operator's own namespace exists, as the Helm release's would: the LLM budget
        # keeps its usage in a ConfigMap there.
        budget_namespace = self.settings.llm_budget_namespace or self.settings.incident_namespace
        self.cluster.emulator.load(
            [
                build_incident_crd(),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": budget_namespace}},
            ]
        )
        client = api_client(self.cluster.kubeconfig_path)
        self.api_client = client
        if self._serve_metrics:
            port = free_port()
            self.settings = self.settings.model_copy(
                update={"metrics_host": "127.0.0.1", "metrics_port": port}
            )
            self.metrics_url = f"http://127.0.0.1:{port}/metrics"
        else:
            self.settings = self.settings.model_copy(update={"metrics_port": 0})
        # Cases are loaded one after another into this one emulator: an evidence read shared
        # for a few seconds would carry one case's objects into the next case's diagnosis.
        self.settings = self.settings.model_copy(update={"evidence_cache_seconds": 0.0})
        self._operator = assemble_operator(
            self.settings,
            client,
            stages=self._given_stages,
            memory=self._given_memory,
            telemetry=self._telemetry,
            metrics=self._serve_metrics,
            clock=self.clock,
            embedder=self._embedder,
        )
        ctx = self._operator.context
        self.incidents = ctx.incidents
        metrics = ctx.metrics
        # The real webhook receiver, as Alertmanager would reach it, with a fresh token.
        self.webhook_token = secrets.token_urlsafe(24)
        receiver_settings = self.settings.model_copy(
            update={"webhook_token": SecretStr(self.webhook_token), "namespaces": []}
        )
        self.receiver = Receiver(receiver_settings, client, clock=self.clock, metrics=metrics)
        if metrics is not None:
            self.receiver.app.middlewares.append(metrics.webhook_middleware())
        self.webhook_url = f"{await self.receiver.start('127.0.0.1', 0)}/alerts"
        self.cluster.emulator.load(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": self.settings.incident_namespace},
                }
            ]
        )
        ready = asyncio.Event()
        # The task closes what was assembled when the operator stops.
        self._task = asyncio.create_task(
            self._operator.run(RunOptions(stop_flag=self._stop, ready_flag=ready))
        )
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            {waiter, self._task}, timeout=60, return_when="FIRST_COMPLETED"
        )
        if self._task in done:
            waiter.cancel()
            self._task.result()  # re-raise why the operator stopped
            raise RuntimeError("the operator stopped before it was ready")
        if waiter not in done:
            waiter.cancel()
            raise RuntimeError("the operator did not become ready within 60s")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.receiver is not None:
            await self.receiver.stop()
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=30)
        self.api_client.close()  # type: ignore[no-untyped-call]
        self.cluster.stop()

    def load_case(self, case: Case) -> None:
        load_case_into(self.cluster.emulator, case)

    async def post_alerts(self, alerts: list[Alert]) -> tuple[str, str]:
        """POST the notification Alertmanager would send for ``alerts`` to the real
        receiver; returns where it stored the Incident (namespace, name)."""
        assert self.webhook_url is not None
        notification = group_notification(alerts, received_at=self.clock())
        body = notification.payload.model_dump(by_alias=True, mode="json")
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.webhook_url,
                json=body,
                headers={"Authorization": f"Bearer {self.webhook_token}"},
            ) as response,
        ):
            if response.status != 200:
                raise RuntimeError(
                    f"the receiver answered {response.status}: {await response.text()}"
                )
            answer = await response.json()
        return str(answer["namespace"]), str(answer["incident"])

    async def wait_for(
        self, namespace: str, name: str, *, within: float, started: float | None = None
    ) -> ReplayOutcome:
        """Poll until the Incident is Diagnosed or Failed; latency counts from ``started``
        (a ``time.monotonic()`` taken before the alert was posted), else from now."""
        assert self.incidents is not None
        started = time.monotonic() if started is None else started
        deadline = started + within
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                body = await self.incidents.get(namespace, name)
            except ApiException as error:
                if error.status != 404:  # the receiver may not have written it yet
                    raise
                await asyncio.sleep(0.05)
                continue
            phase = (body.get("status") or {}).get("phase")
            if phase in TERMINAL_PHASES:
                return self._outcome(body, namespace, name, started, timed_out=False)
            await asyncio.sleep(0.05)
        return self._outcome(body, namespace, name, started, timed_out=True)

    def _outcome(
        self, body: dict[str, Any], namespace: str, name: str, started: float, *, timed_out: bool
    ) -> ReplayOutcome:
        status = body.get("status") or {}
        raw = status.get("diagnosis")
        events = [
            e
            for e in self.cluster.emulator.objects("events", namespace)
            if (e.get("involvedObject") or {}).get("name") == name
        ]
        return ReplayOutcome(
            incident_name=name,
            namespace=namespace,
            phase=status.get("phase"),
            diagnosis=Diagnosis.model_validate(raw) if raw else None,
            status=status,
            latency_ms=(time.monotonic() - started) * 1000,
            timed_out=timed_out,
            events=events,
            severity=(body.get("spec") or {}).get("severity"),
            created_at=parse_time((body.get("metadata") or {}).get("creationTimestamp")),
        )


@contextlib.contextmanager
def replay_memory(
    settings: Settings,
    memory_from: Path | None,
    *,
    exclude_ids: frozenset[str] = frozenset(),
    embedder: Embedder | None = None,
) -> Iterator[Settings]:
    """Settings whose incident memory is a fresh on-disk store for this replay, seeded with
    the solved cases in ``memory_from`` except ``exclude_ids`` (leave-one-out), so a replay
    never reads or writes the user's own memory and never finds the case it replays.
    ``embedder``: one already loaded (else MiniLM is loaded for the seeding)."""
    if not settings.memory_enabled:
        yield settings
        return
    with tempfile.TemporaryDirectory(prefix="kubetriage-memory-") as tmp:
        path = Path(tmp) / "qdrant"
        if memory_from is not None:
            cases = load_case_set(memory_from)
            seeder = embedder or OnnxMiniLMEmbedder()
            with IncidentMemory(seeder, redact=redact_text, path=path) as memory:
                seed_from_cases(memory, cases, exclude_ids=exclude_ids)
        yield settings.model_copy(update={"qdrant_path": path, "qdrant_url": None})


def one_tenant(case: Case, settings: Settings) -> Settings:
    """A replayed case is one captured incident, one tenant: unless the tenancy rule is set
    explicitly (``KUBETRIAGE_CLUSTER_SCOPE_NAMESPACES``), its Incident may read every
    namespace the case holds, as an Incident in a cluster-scope namespace may in a cluster
    (dependencies in other namespaces are followed). A live operator keeps the strict
    default: an Incident reads its own namespace only."""
    if settings.cluster_scope_namespaces is not None:
        return settings
    namespaces = {
        str(namespace)
        for obj in case.cluster
        if (namespace := (obj.get("metadata") or {}).get("namespace"))
    }
    listed = sorted(namespaces | {settings.incident_namespace})
    return settings.model_copy(update={"cluster_scope_namespaces": listed})


async def replay_case(
    case: Case,
    settings: Settings,
    *,
    within: float = 120.0,
    memory_from: Path | None = None,
    telemetry: Telemetry | None = None,
    embedder: Embedder | None = None,
) -> ReplayOutcome:
    """Diagnose one case in a fresh emulated cluster with the real operator (exporting
    its spans and GenAI metrics through ``telemetry`` when given). ``embedder``: the incident
    memory's, already loaded (an evaluation loads one for all its replays, not one each)."""
    with replay_memory(
        settings, memory_from, exclude_ids=frozenset({case.id}), embedder=embedder
    ) as replay_settings:
        return await _replay_in_fresh_cluster(
            case, replay_settings, within=within, telemetry=telemetry, embedder=embedder
        )


async def _replay_in_fresh_cluster(
    case: Case,
    settings: Settings,
    *,
    within: float,
    telemetry: Telemetry | None,
    embedder: Embedder | None,
) -> ReplayOutcome:
    now = case_time(case) or datetime.now(UTC)
    clock = replay_clock(now)
    settings = one_tenant(case, settings)
    prometheus: LocalPrometheus | None = None
    if case.metrics and case.metrics.series and settings.replay_prometheus:
        if shutil.which(PROMETHEUS_BINARY) and shutil.which("promtool"):
            # The case's history, backfilled into a real Prometheus whose "now" is ours.
            prometheus = await asyncio.to_thread(start_with_case_metrics, case.metrics, now)
            settings = settings.model_copy(update={"prometheus_url": prometheus.url})
        else:
            logger.warning("prometheus/promtool not installed: the case's metrics are not replayed")
    try:
        async with ReplayEnvironment(
            settings, clock=clock, telemetry=telemetry, embedder=embedder
        ) as env:
            env.load_case(case)
            posted = time.monotonic()
            namespace, name = await env.post_alerts([case_alert(case, now)])
            return await env.wait_for(namespace, name, within=within, started=posted)
    finally:
        if prometheus is not None:
            await asyncio.to_thread(prometheus.stop)
