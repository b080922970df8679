"""The operator's Prometheus ``/metrics``, scraped over HTTP after a real diagnosis: every
family the Helm chart's dashboard reads, with values that match what happened (tokens the
model server counted, the analyzers that fired, the seeded memory, the webhook requests the
real receiver rejected, the Incident's phase and category, and the Incident leaving the
gauge when deleted).

Real: the Kubernetes API emulator over HTTP, Kopf and the operator's handlers
(``AssembledOperator.run``), the stages from ``app.build_components`` (Kubernetes evidence, on-disk
incident memory seeded from the shared cases, the openai client against a scripted server
on 127.0.0.1), the Alertmanager receiver, prometheus-client's registry and parser.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families

from kubetriage.assembly import assemble_operator
from kubetriage.crd import build_incident_crd
from kubetriage.handlers import RunOptions
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
from kubetriage.memory.store import IncidentMemory
from kubetriage.metrics import OperatorMetrics
from kubetriage.models.incident import GROUP, PLURAL, VERSION
from kubetriage.receiver import Receiver
from kubetriage.redaction import redact_text
from kubetriage.replay.cases import load_case, load_case_set
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.ports import free_port
from kubetriage.replay.seeding import seed_from_cases
from kubetriage.replay.session import load_case_into
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.openai_server import ScriptedOpenAIServer, answer
from tests.support.polling import wait_for_async

SHARED = EXAMPLES
WORKLOAD = {"kind": "Deployment", "namespace": "exports", "name": "csv-exporter"}
FAMILIES = {
    "kubetriage_incidents",
    "kubetriage_diagnosis_duration_seconds",
    "kubetriage_llm_calls",
    "kubetriage_llm_tokens",
    "kubetriage_webhook_requests",
    "kubetriage_memory_records",
    "kubetriage_analyzer_hits",
}

Samples = dict[str, dict[frozenset[tuple[str, str]], float]]


@dataclass
class Running:
    cluster: EmulatorThread
    server: ScriptedOpenAIServer
    metrics: OperatorMetrics
    incidents: IncidentStore
    api: k8s.ApiClient
    metrics_url: str
    seeded: int


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    memory_path = tmp_path / "memory"
    with IncidentMemory(OnnxMiniLMEmbedder(), redact=redact_text, path=memory_path) as memory:
        seeded = len(seed_from_cases(memory, load_case_set(SHARED)))
    port = free_port()
    with (
        EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as cluster,
        ScriptedOpenAIServer() as server,
    ):
        cluster.emulator.load([build_incident_crd()])
        settings = Settings(
            llm_base_url=server.base_url,
            llm_model="scripted",
            qdrant_path=memory_path,
            memory_score_threshold=0.99,
            metrics_host="127.0.0.1",
            metrics_port=port,
        )
        api = api_client(cluster.kubeconfig_path)
        operator = assemble_operator(settings, api, metrics=True)
        ctx = operator.context
        metrics, incidents = ctx.metrics, ctx.incidents
        assert metrics is not None
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(operator.run(RunOptions(stop_flag=stop, ready_flag=ready)))
        try:
            await asyncio.wait_for(ready.wait(), timeout=60)
            yield Running(
                cluster, server, metrics, incidents, api, f"http://127.0.0.1:{port}/metrics", seeded
            )
        finally:
            stop.set()
            # Kopf ends its own task by cancellation when the stop flag is set.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)  # closes the operator's components
            api.close()  # type: ignore[no-untyped-call]


async def _scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        body = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            key = frozenset(sample.labels.items())
            samples.setdefault(sample.name, {})[key] = sample.value
        samples.setdefault(f"family:{family.name}", {})
    return samples


def _one(samples: Samples, name: str, **labels: str) -> float:
    return samples[name][frozenset(labels.items())]


async def _wait_phase(running: Running, namespace: str, name: str) -> dict[str, Any]:
    return await wait_for_async(
        lambda: running.incidents.get(namespace, name),
        until=lambda body: (body.get("status") or {}).get("phase") in {"Diagnosed", "Failed"},
        what=f"{namespace}/{name} diagnosed",
    )


async def _wait_for(running: Running, check: Any) -> Samples:
    return await wait_for_async(
        lambda: _scrape(running.metrics_url), until=check, what="the metrics", within=30
    )


async def _post_rejected_webhooks(running: Running) -> None:
    """Two requests the real receiver turns away (wrong token, not JSON), counted by the
    middleware ``kubetriage run`` adds to its app."""
    settings = Settings(webhook_token="s3cret")
    receiver = Receiver(settings, running.api)
    receiver.app.middlewares.append(running.metrics.webhook_middleware())
    url = await receiver.start(host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as session:
            wrong = {"Authorization": "Bearer nope"}
            async with session.post(f"{url}/alerts", json={}, headers=wrong) as response:
                assert response.status == 401
            right = {"Authorization": "Bearer s3cret", "Content-Type": "text/plain"}
            async with session.post(f"{url}/alerts", data="hi", headers=right) as response:
                assert response.status == 415
            async with session.get(f"{url}/healthz") as response:
                assert response.status == 200  # not a webhook request: not counted
    finally:
        await receiver.stop()


async def test_metrics_after_a_diagnosis(running: Running) -> None:
    case = load_case(SHARED / "example-oom-csv-exporter")
    load_case_into(running.cluster.emulator, case)
    running.server.script(
        answer(
            {
                "category": "oom-killed",
                "confidence": 0.9,
                "summary": "exporter exceeds its memory limit",
                "root_cause": "loads the whole table",
                "evidence": ["lastState OOMKilled exit 137"],
                "remediations": [
                    {"action": "increase-memory", "target": WORKLOAD, "rationale": "peak"}
                ],
                "disagrees_with_analyzers": None,
            }
        )
    )
    before = await _scrape(running.metrics_url)
    assert _one(before, "kubetriage_memory_records") == running.seeded > 0
    assert "kubetriage_incidents" not in before  # nothing seen yet: no series

    await running.incidents.create(
        "exports",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Incident",
            "metadata": {"name": "exporter-oom", "namespace": "exports"},
            "spec": {"title": "csv-exporter OOMKilled", "severity": "warning", "target": WORKLOAD},
        },
    )
    body = await _wait_phase(running, "exports", "exporter-oom")
    assert body["status"]["phase"] == "Diagnosed"
    category = body["status"]["diagnosis"]["category"]
    assert category == "oom-killed"
    await _post_rejected_webhooks(running)

    samples = await _wait_for(
        running,
        lambda s: s.get("kubetriage_incidents", {}).get(
            frozenset({("phase", "Diagnosed"), ("category", "oom-killed")})
        ),
    )
    assert {name.removeprefix("family:") for name in samples if name.startswith("family:")} >= (
        FAMILIES
    )
    assert _one(samples, "kubetriage_incidents", phase="Diagnosed", category=category) == 1
    assert len(samples["kubetriage_incidents"]) == 1
    assert _one(samples, "kubetriage_diagnosis_duration_seconds_count") == 1
    assert _one(samples, "kubetriage_diagnosis_duration_seconds_sum") > 0
    assert _one(samples, "kubetriage_llm_calls_total", outcome="ok") == 1
    [usage] = running.server.usages
    assert _one(samples, "kubetriage_llm_tokens_total", type="input") == usage.prompt_tokens
    assert _one(samples, "kubetriage_llm_tokens_total", type="output") == usage.completion_tokens
    assert _one(samples, "kubetriage_webhook_requests_total", code="401") == 1
    assert _one(samples, "kubetriage_webhook_requests_total", code="415") == 1
    assert _one(samples, "kubetriage_memory_records") == running.seeded
    hits = samples["kubetriage_analyzer_hits_total"]
    assert hits
    assert all(value >= 1 for value in hits.values())
    assert any(dict(labels)["category"] == "oom-killed" for labels in hits)

    await asyncio.to_thread(
        k8s.CustomObjectsApi(running.api).delete_namespaced_custom_object,
        GROUP,
        VERSION,
        "exports",
        PLURAL,
        "exporter-oom",
    )
    after = await _wait_for(running, lambda s: not s.get("kubetriage_incidents"))
    assert not after.get("kubetriage_incidents")
