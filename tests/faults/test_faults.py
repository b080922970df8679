"""Fault injection: the real operator keeps its promise under faults, namely every Incident
ends Diagnosed (or Failed with a reason), none is lost and none duplicated. Faults: SIGKILL
of ``kubetriage run`` mid-diagnosis, a stalled and a garbage-speaking LLM, Prometheus
stopped mid-way, Qdrant storage locked or impossible, the API refusing status writes, API
watches dropped and expired (410), and a webhook storm into the real receiver with a small
queue. Real: the API emulator over HTTP, Kopf, the operator (in a thread, or ``kubetriage
run`` as a process), the official openai client against a scripted server, a Prometheus
process, Qdrant local storage, the aiohttp receiver. Every test records its fault and
outcome in the fault report."""

from __future__ import annotations

import concurrent.futures
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubetriage.replay.emulator import AuditRecord, EmulatorThread
from kubetriage.replay.promtool import start_with_case_metrics
from kubetriage.settings import Settings
from tests.faults.cluster import (
    all_incidents,
    assert_settled_with_reasons,
    conditions,
    wait_events,
    wait_settled,
)
from tests.faults.process import OperatorProcess
from tests.faults.report import FaultRun
from tests.integration.alertmanager_fixtures import (
    TOKEN,
    ReceiverThread,
    crashloop_labels,
    prepare_cluster,
    receiver_settings,
    webhook_alert,
    webhook_payload,
)
from tests.support.oom_example import ANSWER, NAMESPACE, create, prepare, title_of
from tests.support.openai_server import ScriptedOpenAIServer, answer, slow, text
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for
from tests.support.qdrant import storage_held_by_another_process


def _expected(*names: str) -> set[tuple[str, str]]:
    return {(NAMESPACE, name) for name in names}


def _fast_settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "memory_enabled": False,
        "retry_delay_seconds": 0.2,
        "retry_limit": 5,
        "diagnosis_timeout_seconds": 20,
        **extra,
    }
    return Settings(**values)


def _llm_settings(server: ScriptedOpenAIServer, **extra: Any) -> Settings:
    return _fast_settings(
        llm_base_url=server.base_url,
        llm_model="scripted",
        llm_max_retries=0,
        **extra,
    )


def _requests_per_incident(server: ScriptedOpenAIServer, names: list[str]) -> dict[str, int]:
    """Chat requests by Incident, told apart by the unique title in the prompt."""
    prompts = [str(body.get("messages")) for body in server.chat_bodies]
    return {name: sum(title_of(name) in prompt for prompt in prompts) for name in names}


# --- 1. SIGKILL of the operator process mid-diagnosis -----------------------------------


def test_operator_killed_mid_diagnosis(
    emulator: EmulatorThread, fault: FaultRun, tmp_path: Path
) -> None:
    fault.describe(
        "`kubetriage run` (a separate process) is SIGKILLed while 4 Incidents are "
        "Investigating: 2 model answers arrived and were cached in status.modelCache but "
        "the Diagnosed write is held back by the API; 2 model calls are still in flight. "
        "A new process is started.",
        "every Incident ends Diagnosed with the model's answer; an Incident whose answer was "
        "cached before the kill is never sent to the model again",
    )
    prepare(emulator)
    names = [f"kill-{i}" for i in range(4)]
    status_patches: dict[str, int] = {}
    hold_diagnosed_writes = threading.Event()
    hold_diagnosed_writes.set()

    def held(record: AuditRecord) -> bool:
        # Per Incident: 1 = Investigating, 2 = modelCache, 3+ = Diagnosed (and the retries'
        # Investigating): held while the flag is up, so the process dies with the answer
        # cached but not yet written as a diagnosis.
        if record.resource != "incidents" or record.subresource != "status":
            return False
        if record.verb != "patch":
            return False
        status_patches[record.name] = status_patches.get(record.name, 0) + 1
        return hold_diagnosed_writes.is_set() and status_patches[record.name] >= 3

    emulator.emulator.fail_requests(100_000, code=503, predicate=held)
    with ScriptedOpenAIServer() as server:
        # Arrival order decides: the first two requests are answered at once, the other two
        # are still waiting for the model when the process dies.
        server.script(
            answer(ANSWER, delay_seconds=0.1),
            answer(ANSWER, delay_seconds=0.1),
            slow(60, answer(ANSWER)),
            slow(60, answer(ANSWER)),
        )
        env = {
            "KUBETRIAGE_LLM_BASE_URL": server.base_url,
            "KUBETRIAGE_LLM_MODEL": "scripted",
            "KUBETRIAGE_LLM_MAX_RETRIES": "0",
            "KUBETRIAGE_LLM_TIMEOUT_SECONDS": "60",
            "KUBETRIAGE_DIAGNOSIS_TIMEOUT_SECONDS": "90",
            "KUBETRIAGE_MEMORY_ENABLED": "false",
            "KUBETRIAGE_RETRY_LIMIT": "50",
            "KUBETRIAGE_RETRY_DELAY_SECONDS": "0.3",
            "KUBETRIAGE_METRICS_PORT": "0",
            "KUBETRIAGE_HEALTH_PORT": "0",
        }
        log = tmp_path / "operator.log"
        first = OperatorProcess(emulator, log, env).start()
        try:
            create(emulator, names)

            def cached_answers() -> set[str]:
                return {
                    b["metadata"]["name"]
                    for b in all_incidents(emulator)
                    if (b.get("status") or {}).get("modelCache")
                }

            cached = wait_for(
                cached_answers,
                until=lambda found: len(server.chat_bodies) >= 4 and len(found) >= 2,
                what="the kill point (4 model calls, 2 cached answers)",
                within=30,
                show=lambda found: (
                    f"{len(server.chat_bodies)} calls, cached {found}\n{first.log_tail()}"
                ),
            )
            bodies = all_incidents(emulator)
            phases = {b["metadata"]["name"]: b["status"]["phase"] for b in bodies}
            first.kill()
        finally:
            first.kill()
        calls_before_kill = _requests_per_incident(server, names)
        fault.observe(f"at the kill: phases {phases}, cached answers for {sorted(cached)}")
        assert set(phases.values()) == {"Investigating"}, phases

        hold_diagnosed_writes.clear()
        server.repeat(answer(ANSWER))
        with OperatorProcess(emulator, log, env):
            restarted = time.monotonic()
            bodies = wait_settled(emulator, len(names), timeout=60)
            recovery = time.monotonic() - restarted
        calls = _requests_per_incident(server, names)
    fault.record_incidents(bodies, "LLMUnavailable")
    fault.observe(f"model calls per Incident: before the kill {calls_before_kill}, total {calls}")
    fault.observe(f"the new process settled every Incident {recovery:.1f}s after it watched")
    assert_settled_with_reasons(bodies, _expected(*names))
    for body in bodies:
        name = body["metadata"]["name"]
        status = body["status"]
        assert status["phase"] == "Diagnosed", (name, status)
        assert status["diagnosis"]["llm"]["used"] is True, (name, status["diagnosis"]["llm"])
        if name in cached:
            assert calls[name] == 1, f"{name}: answer was cached, yet {calls[name]} model calls"
            assert status["diagnosis"]["llm"]["cached"] is True, status["diagnosis"]["llm"]
        else:
            assert calls[name] == 2, f"{name}: expected the lost call to be redone once: {calls}"


# --- 2./3. an LLM that stalls, or answers garbage ----------------------------------------


def test_stalled_llm_times_out_into_an_analyzer_diagnosis(
    emulator: EmulatorThread, fault: FaultRun
) -> None:
    fault.describe(
        "the model server accepts every request and never answers within "
        "llm_timeout_seconds=1 (replies after 30s)",
        "every Incident ends Diagnosed from the analyzers (oom-killed) with "
        "LLMUnavailable=True/Timeout (the time to settle is recorded); one call per Incident",
    )
    prepare(emulator)
    names = [f"stalled-{i}" for i in range(3)]
    with ScriptedOpenAIServer(default=slow(30, answer(ANSWER))) as server:
        settings = _llm_settings(server, llm_timeout_seconds=1)
        with OperatorThread(emulator.kubeconfig_path, settings=settings):
            started = time.monotonic()
            create(emulator, names)
            bodies = wait_settled(emulator, len(names), timeout=30)
            elapsed = time.monotonic() - started
        calls = _requests_per_incident(server, names)
    fault.record_incidents(bodies, "LLMUnavailable")
    fault.observe(f"all settled {elapsed:.1f}s after creation; model calls {calls}")
    assert_settled_with_reasons(bodies, _expected(*names))
    for body in bodies:
        status = body["status"]
        assert status["phase"] == "Diagnosed"
        assert status["diagnosis"]["category"] == "oom-killed"
        assert status["diagnosis"]["llm"]["used"] is False
        llm = conditions(body)["LLMUnavailable"]
        assert (llm["status"], llm["reason"]) == ("True", "Timeout"), llm
    assert set(calls.values()) == {1}, calls


def test_garbage_llm_leaves_an_analyzer_diagnosis(
    emulator: EmulatorThread, fault: FaultRun
) -> None:
    fault.describe(
        "the model answers every request with prose instead of the JSON diagnosis",
        "every Incident ends Diagnosed from the analyzers (oom-killed) with "
        "LLMUnavailable=True/InvalidAnswer and an LLMUnavailable Warning event",
    )
    prepare(emulator)
    names = [f"garbage-{i}" for i in range(3)]
    garbage = text("It is probably DNS. It is always DNS. {not json")
    with ScriptedOpenAIServer(default=garbage) as server:
        with OperatorThread(emulator.kubeconfig_path, settings=_llm_settings(server)):
            create(emulator, names)
            bodies = wait_settled(emulator, len(names), timeout=30)
            warnings = wait_events(emulator, "LLMUnavailable", names)
        calls = _requests_per_incident(server, names)
    fault.record_incidents(bodies, "LLMUnavailable")
    fault.observe(f"model calls {calls}; LLMUnavailable events {dict(warnings)}")
    assert_settled_with_reasons(bodies, _expected(*names))
    for body in bodies:
        name = body["metadata"]["name"]
        assert body["status"]["phase"] == "Diagnosed"
        assert body["status"]["diagnosis"]["category"] == "oom-killed"
        assert body["status"]["diagnosis"]["llm"]["used"] is False
        llm = conditions(body)["LLMUnavailable"]
        assert (llm["status"], llm["reason"]) == ("True", "InvalidAnswer"), llm
        assert warnings[name] == 1, (name, warnings)


# --- 4. Prometheus stopped mid-way ---------------------------------------------------------


def test_prometheus_stopped_mid_way(emulator: EmulatorThread, fault: FaultRun) -> None:
    fault.describe(
        "a real Prometheus holding the OOM case's metrics serves the first Incident, then "
        "is stopped before the next two arrive",
        "the first Incident has MetricsAvailable=True/Queried; the later ones end Diagnosed "
        "(oom-killed, from Kubernetes evidence) with MetricsAvailable=False/"
        "PrometheusUnavailable",
    )
    case = prepare(emulator)
    assert case.metrics is not None
    end = datetime.now(UTC).replace(microsecond=0)
    alert = {"labels": case.alert.labels, "annotations": case.alert.annotations}
    prometheus = start_with_case_metrics(case.metrics, end)
    try:
        settings = _fast_settings(prometheus_url=prometheus.url, prometheus_timeout_seconds=2)
        with OperatorThread(emulator.kubeconfig_path, settings=settings):
            create(emulator, ["prom-before"], alerts=[alert])
            wait_settled(emulator, 1, timeout=30)
            prometheus.stop()
            create(emulator, ["prom-after-0", "prom-after-1"], alerts=[alert])
            bodies = wait_settled(emulator, 3, timeout=30)
    finally:
        prometheus.stop()
    fault.record_incidents(bodies, "MetricsAvailable")
    assert_settled_with_reasons(bodies, _expected("prom-before", "prom-after-0", "prom-after-1"))
    by_name = {b["metadata"]["name"]: b for b in bodies}
    before = conditions(by_name.pop("prom-before"))["MetricsAvailable"]
    assert (before["status"], before["reason"]) == ("True", "Queried"), before
    for name, body in by_name.items():
        assert body["status"]["phase"] == "Diagnosed", name
        assert body["status"]["diagnosis"]["category"] == "oom-killed"
        metrics = conditions(body)["MetricsAvailable"]
        assert (metrics["status"], metrics["reason"]) == ("False", "PrometheusUnavailable"), (
            name,
            metrics,
        )


# --- 5. Qdrant storage unavailable ---------------------------------------------------------


def _check_memory_unavailable(
    emulator: EmulatorThread, fault: FaultRun, qdrant_path: Path, prefix: str, message: str
) -> None:
    names = [f"{prefix}-{i}" for i in range(2)]
    settings = _fast_settings(memory_enabled=True, qdrant_path=qdrant_path)
    with OperatorThread(emulator.kubeconfig_path, settings=settings):
        create(emulator, names)
        bodies = wait_settled(emulator, len(names), timeout=30)
    fault.record_incidents(bodies, "MemoryAvailable")
    assert_settled_with_reasons(bodies, _expected(*names))
    for body in bodies:
        assert body["status"]["phase"] == "Diagnosed"
        assert body["status"]["diagnosis"]["category"] == "oom-killed"
        memory = conditions(body)["MemoryAvailable"]
        assert (memory["status"], memory["reason"]) == ("False", "MemoryUnavailable"), memory
        assert message in memory["message"], memory


def test_memory_locked_by_another_process(
    emulator: EmulatorThread, fault: FaultRun, tmp_path: Path
) -> None:
    fault.describe(
        "the Qdrant local storage at qdrant_path is held (file lock) by another process "
        "when the operator starts",
        "every Incident ends Diagnosed with MemoryAvailable=False/MemoryUnavailable saying "
        "the storage is in use by another process",
    )
    prepare(emulator)
    path = tmp_path / "qdrant"
    with storage_held_by_another_process(path):
        _check_memory_unavailable(emulator, fault, path, "locked", "in use by another process")


def test_memory_on_a_path_that_cannot_exist(
    emulator: EmulatorThread, fault: FaultRun, tmp_path: Path
) -> None:
    fault.describe(
        "qdrant_path lies under a regular file, so the storage directory cannot be created",
        "every Incident ends Diagnosed with MemoryAvailable=False/MemoryUnavailable saying "
        "the storage cannot be opened",
    )
    prepare(emulator)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    _check_memory_unavailable(emulator, fault, blocker / "qdrant", "nopath", "cannot be opened")


# --- API refusing Incident status writes ----------------------------------------------


def _refuse_first_status_writes(emulator: EmulatorThread, per_incident: int) -> None:
    """The API answers 503 to the first ``per_incident`` status writes of each Incident."""
    writes: dict[str, int] = {}

    def refused(record: AuditRecord) -> bool:
        if record.resource != "incidents" or record.subresource != "status":
            return False
        if record.verb != "patch":
            return False
        writes[record.name] = writes.get(record.name, 0) + 1
        return writes[record.name] <= per_incident

    emulator.emulator.fail_requests(100_000, code=503, predicate=refused)


def test_status_writes_refused_then_accepted(emulator: EmulatorThread, fault: FaultRun) -> None:
    fault.describe(
        "the API answers 503 to the first 2 status writes of each of 4 Incidents (the "
        "Investigating write and its first retry); retry_limit=5, retry_delay_seconds=0.2",
        "each Incident is retried (a Retrying Warning event says so) at the configured "
        "delay and ends Diagnosed (the time to settle is recorded); one Investigating event "
        "each",
    )
    prepare(emulator)
    names = [f"refused-{i}" for i in range(4)]
    _refuse_first_status_writes(emulator, 2)
    with OperatorThread(emulator.kubeconfig_path, settings=_fast_settings()):
        started = time.monotonic()
        create(emulator, names)
        bodies = wait_settled(emulator, len(names), timeout=30)
        elapsed = time.monotonic() - started
        retrying = wait_events(emulator, "Retrying", names, timeout=2)
        investigating = wait_events(emulator, "Investigating", names, timeout=2)
    fault.record_incidents(bodies)
    fault.observe(
        f"settled {elapsed:.1f}s after creation; Retrying events {dict(retrying)}, "
        f"Investigating events {dict(investigating)}"
    )
    assert_settled_with_reasons(bodies, _expected(*names))
    assert all(b["status"]["phase"] == "Diagnosed" for b in bodies)
    assert set(retrying) == set(names), f"retried without a Retrying event: {dict(retrying)}"
    assert investigating == dict.fromkeys(names, 1), f"Investigating events: {investigating}"


def test_status_writes_refused_until_retries_run_out(
    emulator: EmulatorThread, fault: FaultRun
) -> None:
    fault.describe(
        "the API answers 503 to the first 3 status writes of each of 3 Incidents, "
        "retry_limit=3: every attempt's Investigating write fails",
        "no Incident is left without a phase: each ends Failed with RetriesExhausted and "
        "the API error in the message (the time to settle is recorded)",
    )
    prepare(emulator)
    names = [f"exhausted-{i}" for i in range(3)]
    _refuse_first_status_writes(emulator, 3)
    with OperatorThread(emulator.kubeconfig_path, settings=_fast_settings(retry_limit=3)):
        started = time.monotonic()
        create(emulator, names)
        bodies = wait_settled(emulator, len(names), timeout=20)
        elapsed = time.monotonic() - started
    fault.record_incidents(bodies)
    fault.observe(f"settled {elapsed:.1f}s after creation")
    assert_settled_with_reasons(bodies, _expected(*names))
    for body in bodies:
        diagnosed = conditions(body)["Diagnosed"]
        assert body["status"]["phase"] == "Failed", body["status"]
        assert diagnosed["reason"] == "RetriesExhausted", diagnosed
        assert "503" in diagnosed["message"], diagnosed


# --- 6. watches dropped and expired ------------------------------------------------------


def test_dropped_and_expired_watches(emulator: EmulatorThread, fault: FaultRun) -> None:
    fault.describe(
        "while 20 Incidents are created (one every 50ms), the API server closes every open "
        "watch every 100ms and answers the next watch with 410 Gone every 300ms",
        "none lost, none duplicated: each Incident has exactly one Investigating and one "
        "Diagnosed event and ends Diagnosed",
    )
    prepare(emulator)
    names = [f"watch-{i:02}" for i in range(20)]
    closed = expired = 0

    def create_one_by_one() -> None:
        for name in names:
            create(emulator, [name])
            time.sleep(0.05)  # the load under test: Incidents arrive one by one, not at once

    # The default concurrency (4), as in production.
    with OperatorThread(emulator.kubeconfig_path, settings=_fast_settings()):
        creator = threading.Thread(target=create_one_by_one, name="incident-creator")
        creator.start()
        ticks = 0
        while creator.is_alive() or ticks < 20:
            closed += emulator.emulator.close_watches()
            if ticks % 3 == 0:
                emulator.emulator.expire_watches(1)
                expired += 1
            ticks += 1
            time.sleep(0.1)  # the fault's cadence (a watch closed every 100ms), not a wait
        creator.join()
        bodies = wait_settled(emulator, len(names), timeout=60)
        diagnosed = wait_events(emulator, "Diagnosed", names)
        investigating = wait_events(emulator, "Investigating", names)
    # A 410 answers the next watch of any resource the operator watches (Incidents, Kopf's
    # peering objects, ...): whichever it hit must have been listed again.
    lists = Counter(r.resource for r in emulator.emulator.audit if r.verb == "list")
    fault.record_incidents(bodies)
    fault.observe(
        f"{closed} watch streams closed, {expired} watches answered 410 Gone, "
        f"lists by resource (relists when above 1): {dict(lists)}"
    )
    assert_settled_with_reasons(bodies, _expected(*names))
    assert closed > 0, "no watch was open to close: the fault was not injected"
    assert max(lists.values()) > 1, f"the operator never relisted after 410 Gone: {lists}"
    assert all(b["status"]["phase"] == "Diagnosed" for b in bodies)
    assert investigating == dict.fromkeys(names, 1), f"Investigating events: {investigating}"
    assert diagnosed == dict.fromkeys(names, 1), f"Diagnosed events: {diagnosed}"


# --- 7. webhook storm ----------------------------------------------------------------------

STORM_GROUPS = 50
STORM_ALERTS_PER_GROUP = 40
STORM_WAVES = 4


def _post_until_accepted(url: str, body: bytes, deadline: float) -> int:
    """POST like Alertmanager's webhook notifier: retry 503 (and connection errors) with
    jittered exponential backoff until accepted or the deadline; returns the 503s seen."""
    busy, delay = 0, 0.02
    request_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    while True:
        request = urllib.request.Request(
            f"{url}/alerts", data=body, headers=request_headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200, response.status
                return busy
        except urllib.error.HTTPError as error:
            if error.code != 503:
                raise AssertionError(f"receiver answered {error.code}: {error.read()!r}") from None
            busy += 1
        if time.monotonic() > deadline:
            raise AssertionError("the receiver kept answering 503 past the storm's deadline")
        time.sleep(delay * random.uniform(0.5, 1.5))  # the client's backoff under test
        delay = min(delay * 2, 0.5)


def _storm_payloads() -> list[bytes]:
    """Alertmanager's notifications for 50 groups, each re-sent with more alerts firing in
    every wave: 2,000 distinct alerts, 200 notifications."""
    per_wave = STORM_ALERTS_PER_GROUP // STORM_WAVES
    payloads = []
    for wave in range(1, STORM_WAVES + 1):
        for group in range(STORM_GROUPS):
            alertname = f"StormAlert{group:02}"
            alerts = [
                webhook_alert(
                    {
                        **crashloop_labels(pod=f"csv-exporter-5f7d8c9b6d-{i:03}"),
                        "alertname": alertname,
                    },
                    annotations={"summary": f"storm group {group}"},
                )
                for i in range(wave * per_wave)
            ]
            group_labels = {"alertname": alertname, "namespace": NAMESPACE}
            payloads.append(json.dumps(webhook_payload(alerts, group_labels=group_labels)).encode())
    return payloads


def test_webhook_storm(emulator: EmulatorThread, fault: FaultRun) -> None:
    fault.describe(
        f"{STORM_GROUPS * STORM_ALERTS_PER_GROUP} alerts in {STORM_GROUPS} groups "
        f"({STORM_GROUPS * STORM_WAVES} notifications, 16 senders at once) into the real "
        "receiver with a queue of 4 and 2 workers; 503s are retried with backoff as "
        "Alertmanager does",
        f"some 503s happen; every notification is accepted and every Incident settles "
        f"(operator concurrency 4; both times are recorded); exactly {STORM_GROUPS} "
        f"Incidents exist, each holding all {STORM_ALERTS_PER_GROUP} of its alerts and ending "
        "Diagnosed or Failed with a reason",
    )
    prepare(emulator)
    prepare_cluster(emulator, NAMESPACE)
    payloads = _storm_payloads()
    settings = receiver_settings(webhook_queue_size=4, webhook_workers=2)
    # The default concurrency (4): the storm must not need a bigger one to drain in time.
    operator_settings = _fast_settings()
    with (
        OperatorThread(emulator.kubeconfig_path, settings=operator_settings),
        ReceiverThread(settings, emulator.kubeconfig_path) as receiver,
    ):
        started = time.monotonic()
        deadline = started + 60
        with concurrent.futures.ThreadPoolExecutor(16) as senders:
            busy = sum(
                senders.map(
                    lambda body: _post_until_accepted(receiver.url, body, deadline), payloads
                )
            )
        receiver.drain()
        accepted = time.monotonic() - started
        bodies = wait_settled(emulator, STORM_GROUPS, timeout=90)
        settled = time.monotonic() - started
        stats = receiver.stats
    fault.record_incidents(bodies)
    fault.observe(
        f"{busy} answers 503 (retried), all {len(payloads)} notifications accepted after "
        f"{accepted:.1f}s, all Incidents settled after {settled:.1f}s; receiver stats "
        f"accepted={stats.accepted} written={stats.written} failed={stats.failed}"
    )
    groups = {b["status"]["alertGroup"]["groupKey"] for b in bodies}
    assert busy > 0, "the queue never filled: the storm did not exercise 503 and retries"
    assert stats.failed == 0, stats
    assert len(bodies) == STORM_GROUPS, f"{len(bodies)} Incidents for {STORM_GROUPS} groups"
    assert len(groups) == STORM_GROUPS, "two Incidents share an alert group"
    assert_settled_with_reasons(
        bodies, {(b["metadata"]["namespace"], b["metadata"]["name"]) for b in bodies}
    )
    for body in bodies:
        assert len(body["spec"]["alerts"]) == STORM_ALERTS_PER_GROUP, body["metadata"]["name"]
