"""Test data and helpers for the Alertmanager receiver: webhook payloads (version 4) as
Alertmanager sends them, and a real ``prometheus-alertmanager`` process routing to a
receiver URL. Used by the receiver's unit, integration and fuzz tests and its benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

import aiohttp
import yaml

from kubetriage.alerts import label_fingerprint
from kubetriage.crd import build_incident_crd
from kubetriage.kubeclient import api_client
from kubetriage.lifecycle import StartStop
from kubetriage.metrics import OperatorMetrics
from kubetriage.receiver import Receiver, ReceiverStats
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.ports import free_port
from kubetriage.settings import Settings
from tests.support.lifecycle import terminate
from tests.support.polling import wait_for, wait_for_async

T = TypeVar("T")
ALERTMANAGER_BINARY = "/usr/bin/prometheus-alertmanager"
ZERO_TIME = "0001-01-01T00:00:00Z"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def webhook_alert(
    labels: dict[str, str],
    *,
    status: str = "firing",
    annotations: dict[str, str] | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    started = starts_at or datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations or {},
        "startsAt": iso(started),
        "endsAt": iso(ends_at) if ends_at else ZERO_TIME,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint or label_fingerprint(labels),
    }


def webhook_payload(
    alerts: list[dict[str, Any]],
    *,
    group_labels: dict[str, str],
    group_key: str | None = None,
    receiver: str = "kubetriage",
    status: str | None = None,
) -> dict[str, Any]:
    """A version 4 payload; ``status`` is resolved only when every alert is (as Alertmanager
    computes it) unless given."""
    common = dict(alerts[0]["labels"]) if alerts else {}
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert["labels"].get(k) == v}
    key = group_key or "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}"
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": key,
        "truncatedAlerts": 0,
        "status": status or ("firing" if firing else "resolved"),
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def crashloop_labels(
    namespace: str = "exports", pod: str = "csv-exporter-5f7d8c9b6d-k2x9p"
) -> dict[str, str]:
    return {
        "alertname": "KubePodCrashLooping",
        "namespace": namespace,
        "pod": pod,
        "container": "exporter",
        "job": "kube-state-metrics",
        "severity": "warning",
    }


def alertmanager_config(
    url: str, credentials: str, *, repeat_interval: str = "1h"
) -> dict[str, Any]:
    """Routes everything to ``url`` with a bearer token, grouped by alertname and namespace,
    with short timers so tests are fast."""
    return {
        "route": {
            "receiver": "kubetriage",
            "group_by": ["alertname", "namespace"],
            "group_wait": "200ms",
            "group_interval": "500ms",
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": "kubetriage",
                "webhook_configs": [
                    {
                        "url": url,
                        "send_resolved": True,
                        "max_alerts": 0,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": credentials}
                        },
                    }
                ],
            }
        ],
    }


class Alertmanager(StartStop):
    """A real ``prometheus-alertmanager`` on 127.0.0.1 (no clustering), for one test."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        if shutil.which(ALERTMANAGER_BINARY) is None:
            raise RuntimeError(
                f"{ALERTMANAGER_BINARY} is not installed (apt-get install prometheus-alertmanager)"
            )
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / "alertmanager.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        (self.workdir / "data").mkdir(exist_ok=True)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [
                ALERTMANAGER_BINARY,
                f"--config.file={self.config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        process = self._process

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        wait_for(ready, what="alertmanager to be ready", within=30)
        return self

    def stop(self) -> None:
        if self._process is not None:
            terminate(self._process, grace=10)
            self._log.close()

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts`` as Prometheus does."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.read()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include ``labels``."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            if series != name and not series.startswith(name + "{"):
                continue
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total


def api_alert(
    labels: dict[str, str],
    *,
    annotations: dict[str, str] | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> dict[str, Any]:
    """An alert as Prometheus posts it to Alertmanager's API v2."""
    now = datetime.now(UTC)
    return {
        "labels": labels,
        "annotations": annotations or {},
        "startsAt": iso(starts_at or now - timedelta(minutes=5)),
        "endsAt": iso(ends_at or now + timedelta(hours=1)),
        "generatorURL": "http://prometheus:9090/graph",
    }


TOKEN = "s3cret-receiver-token"


def receiver_settings(**overrides: Any) -> Settings:
    """Receiver settings for tests: a token, loopback, no memory (no Qdrant)."""
    values: dict[str, Any] = {
        "webhook_token": TOKEN,
        "webhook_host": "127.0.0.1",
        "webhook_port": 0,
        "memory_enabled": False,
        "incident_namespace": "kubetriage",
        **overrides,
    }
    return Settings(**values)


def prepare_cluster(emulator: EmulatorThread, *namespaces: str) -> None:
    """The Incident CRD and the namespaces Incidents may go into."""
    emulator.emulator.load(
        [build_incident_crd()]
        + [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            for ns in ("kubetriage", *namespaces)
        ]
    )


def incidents(emulator: EmulatorThread, namespace: str | None = None) -> list[dict[str, Any]]:
    return emulator.emulator.objects("incidents", namespace)


@contextlib.asynccontextmanager
async def running_receiver(settings: Settings, kubeconfig: Path) -> AsyncIterator[Receiver]:
    """A started receiver writing to the cluster ``kubeconfig`` names."""
    client = api_client(kubeconfig)
    receiver = Receiver(settings, client)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()
        client.close()  # type: ignore[no-untyped-call]


class ReceiverThread(StartStop):
    """The real receiver on its own event loop in a thread, for synchronous tests (the
    operator runs in another thread, Alertmanager in a process)."""

    def __init__(
        self, settings: Settings, kubeconfig: Path, *, metrics: OperatorMetrics | None = None
    ) -> None:
        self.settings = settings
        self.kubeconfig = kubeconfig
        self.metrics = metrics
        self.url = ""
        self.receiver: Receiver | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        self.client = api_client(self.kubeconfig)

        async def start() -> str:
            self.receiver = Receiver(self.settings, self.client, metrics=self.metrics)
            return await self.receiver.start()

        self.url = self.call(start())
        return self

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def drain(self, timeout: float = 60) -> None:
        assert self.receiver is not None
        self.call(self.receiver.drain(), timeout)

    @property
    def stats(self) -> ReceiverStats:
        assert self.receiver is not None
        return self.receiver.stats

    def stop(self) -> None:
        if self.receiver is not None:
            self.call(self.receiver.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self.client.close()  # type: ignore[no-untyped-call]


def post(
    url: str,
    body: bytes | dict[str, Any] | list[Any],
    *,
    token: str | None = TOKEN,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST to the receiver; returns status, headers and the JSON answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/alerts", data=data, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


async def wait_ready(session: aiohttp.ClientSession, base: str, *, within: float = 60.0) -> None:
    """Wait until ``base/readyz`` answers 200: the receiver of ``kubetriage run`` serves."""

    async def ready() -> bool:
        try:
            async with session.get(f"{base}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    await wait_for_async(ready, what="the receiver to answer /readyz", within=within)
