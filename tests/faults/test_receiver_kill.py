"""Delivery guarantee of the receiver (issue 10): a notification Alertmanager was answered
2xx for is already in an Incident, so killing ``kubetriage run`` (SIGKILL, as the OOM killer
would) in the middle of a burst loses nothing: what was acknowledged is stored, and what
was not is sent again by Alertmanager once the operator is back. A graceful stop (SIGTERM)
answers what it received before it exits. Real: ``prometheus-alertmanager`` 0.25 routing
to ``kubetriage run`` as a separate process, the API emulator over HTTP (in this process,
so it outlives the kill) failing the first Incident writes with 503 so writes are still
pending when the kill comes, and a recording HTTP proxy between the two that keeps what
Alertmanager was answered for every notification."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kubetriage.alerts import incident_name, label_fingerprint
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.ports import free_port
from tests.faults.process import OperatorProcess
from tests.faults.report import FaultRun
from tests.integration.alertmanager_fixtures import (
    TOKEN,
    Alertmanager,
    alertmanager_config,
    api_alert,
    incidents,
    prepare_cluster,
)
from tests.support.polling import wait_for

NAMESPACE = "exports"
GROUPS, PER_GROUP = 12, 3
INJECTED_FAILURES = 12


class RecordingProxy:
    """Forwards webhook POSTs to ``target`` and records (status Alertmanager got, payload);
    an unreachable target is a 502, as a load balancer would answer."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.in_flight += 1
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
                session.post(
                    f"{self.target}/alerts",
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": request.headers.get("Authorization", ""),
                    },
                ) as response,
            ):
                status, text = response.status, await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError):
            status, text = 502, b'{"error": "receiver unreachable"}'
        with self._lock:
            self.in_flight -= 1
            self.answers.append((status, json.loads(body)))
        return web.Response(status=status, body=text, content_type="application/json")

    def start(self) -> RecordingProxy:
        self._thread.start()

        async def serve() -> str:
            app = web.Application()
            app.router.add_post("/alerts", self._forward)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            port = free_port()
            await web.TCPSite(self._runner, "127.0.0.1", port).start()
            return f"http://127.0.0.1:{port}/alerts"

        self.url = asyncio.run_coroutine_threadsafe(serve(), self._loop).result(30)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def acknowledged(self) -> int:
        with self._lock:
            return sum(1 for status, _ in self.answers if 200 <= status < 300)

    def snapshot(self) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        with self._lock:
            return self.in_flight, list(self.answers)


def _wait(what: str, probe: Callable[[], Any], timeout: float = 120) -> Any:
    return wait_for(probe, what=what, within=timeout, interval=0.05)


def _stored(emulator: EmulatorThread) -> dict[str, set[str]]:
    """Incident name -> fingerprints of the alerts it holds (kept or counted as omitted)."""
    found: dict[str, set[str]] = {}
    for body in incidents(emulator):
        alerts = {a.get("fingerprint", "") for a in body["spec"].get("alerts") or []}
        group = (body.get("status") or {}).get("alertGroup") or {}
        found[body["metadata"]["name"]] = alerts | set(group.get("omittedFingerprints") or [])
    return found


def _missing(answers: list[tuple[int, dict[str, Any]]], stored: dict[str, set[str]]) -> list[str]:
    """Alerts of notifications answered 2xx that no Incident holds."""
    missing = []
    for status, payload in answers:
        if not 200 <= status < 300:
            continue
        name = incident_name(payload["groupLabels"].get("alertname", ""), payload["groupKey"])
        for alert in payload["alerts"]:
            fingerprint = alert.get("fingerprint") or label_fingerprint(alert["labels"])
            if fingerprint not in stored.get(name, set()):
                missing.append(f"{name}: {alert['labels'].get('pod')}")
    return missing


def _operator(emulator: EmulatorThread, tmp_path: Path, port: int) -> OperatorProcess:
    env = {
        "KUBETRIAGE_WEBHOOK_TOKEN": TOKEN,
        "KUBETRIAGE_WEBHOOK_HOST": "127.0.0.1",
        "KUBETRIAGE_WEBHOOK_PORT": str(port),
        "KUBETRIAGE_HEALTH_PORT": str(free_port()),
        "KUBETRIAGE_METRICS_PORT": "0",
        "KUBETRIAGE_MEMORY_ENABLED": "false",
        "KUBETRIAGE_INCIDENT_NAMESPACE": "kubetriage",
        "KUBETRIAGE_WEBHOOK_WORKERS": "2",
    }
    # The operator watches an empty namespace: this test is about the receiver's writes.
    return OperatorProcess(emulator, tmp_path / "operator.log", env, args=("--namespace", "idle"))


def _alerts() -> list[dict[str, Any]]:
    return [
        api_alert(
            {
                "alertname": f"Burst{g:02d}",
                "namespace": NAMESPACE,
                "pod": f"worker-{g}-{p}",
                "severity": "warning",
            }
        )
        for g in range(GROUPS)
        for p in range(PER_GROUP)
    ]


@pytest.mark.parametrize("stop", ["kill", "term"])
def test_acknowledged_notifications_survive_the_operator_dying_mid_burst(
    emulator: EmulatorThread, fault: FaultRun, tmp_path: Path, stop: str
) -> None:
    fault.describe(
        f"{GROUPS * PER_GROUP} alerts in {GROUPS} groups posted to a real Alertmanager that "
        f"routes to kubetriage run; the API fails the first {INJECTED_FAILURES} Incident "
        f"writes; {'SIGKILL' if stop == 'kill' else 'SIGTERM'} once three notifications are "
        "acknowledged, then kubetriage run starts again",
        "right after the stop, every alert of every notification answered 2xx is in an "
        "Incident; after the restart, Alertmanager's retries bring every alert in",
    )
    prepare_cluster(emulator, NAMESPACE, "idle")
    emulator.emulator.fail_requests(
        INJECTED_FAILURES,
        code=503,
        predicate=lambda r: r.resource == "incidents" and r.verb in {"create", "patch"},
    )
    port = free_port()
    operator = _operator(emulator, tmp_path, port).start()
    proxy = RecordingProxy(f"http://127.0.0.1:{port}").start()
    try:
        config = alertmanager_config(proxy.url, TOKEN)
        with Alertmanager(tmp_path, config) as alertmanager:
            alertmanager.post_alerts(_alerts())
            # Mid-burst: some notifications acknowledged, the others still being written.
            _wait("three notifications acknowledged", lambda: proxy.acknowledged() >= 3)
            if stop == "kill":
                operator.kill()
            else:
                operator.stop()
            in_flight, answers = proxy.snapshot()
            acknowledged = sum(1 for status, _ in answers if 200 <= status < 300)
            missing = _missing(answers, _stored(emulator))
            fault.observe(
                f"at the stop: {len(answers)} notifications answered ({acknowledged} 2xx), "
                f"{in_flight} in flight; 2xx-answered alerts missing from Incidents: "
                f"{len(missing)}"
            )
            assert missing == []
            operator = _operator(emulator, tmp_path, port).start()
            expected = {a["labels"]["pod"] for a in _alerts()}
            _wait(
                "every alert in an Incident",
                lambda: (
                    expected
                    <= {
                        a["labels"]["pod"]
                        for body in incidents(emulator)
                        for a in body["spec"].get("alerts") or []
                    }
                ),
            )
            _, answers = proxy.snapshot()
            fault.observe(f"after the restart: {len(answers)} notifications answered in all")
            assert _missing(answers, _stored(emulator)) == []
        assert len(incidents(emulator)) == GROUPS
    finally:
        operator.stop()
        proxy.stop()
