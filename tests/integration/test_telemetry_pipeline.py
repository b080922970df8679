"""The trace and GenAI metrics of one full diagnosis, and content capture off and on.

Real: the Kubernetes API emulator over HTTP with a shared case loaded, the stages built by
``app.build_components`` (Kubernetes evidence collector, Prometheus collector against a
closed port, on-disk incident memory with the ONNX embedder, the official openai client
against a scripted server on 127.0.0.1), the pipeline, and the OpenTelemetry SDK with its
in-memory span exporter and metric reader in place of OTLP.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kubetriage.app import LLMStage, build_components
from kubetriage.kubeclient import api_client
from kubetriage.memory.store import DEFAULT_COLLECTION
from kubetriage.models.case import Case
from kubetriage.models.incident import IncidentSpec
from kubetriage.pipeline import PipelineResult, diagnose
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import case_alert, load_case_into
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry
from kubetriage.telemetry_config import TelemetryConfig
from kubetriage.telemetry_genai import OPERATION_DURATION_BUCKETS, TOKEN_USAGE_BUCKETS
from tests.support.cases import EXAMPLES
from tests.support.openai_server import ScriptedOpenAIServer, Usage, answer

SHARED = EXAMPLES
NOW = datetime.now(UTC)
WORKLOAD = {"kind": "Deployment", "namespace": "exports", "name": "csv-exporter"}
WEBHOOK_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
WEBHOOK_TRACEPARENT = f"00-{WEBHOOK_TRACE_ID}-b7ad6b7169203331-01"
SECRET = "hunter2"
# Unique enough that finding it anywhere in telemetry means the prompt leaked.
LOG_MARKER = "exporter-telemetry-probe: loading batch 77 of table orders"


@dataclass
class Run:
    result: PipelineResult
    spans: list[ReadableSpan]
    reader: InMemoryMetricReader
    usage: Usage
    server_port: int
    sent: list[dict[str, Any]]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _case() -> Case:
    case = load_case(SHARED / "example-oom-csv-exporter")
    key = next(iter(case.logs))
    case.logs[key] += f"INFO {LOG_MARKER}\nDEBUG db: connecting with password={SECRET}\n"
    return case


def _answer() -> dict[str, Any]:
    return {
        "category": "oom-killed",
        "confidence": 0.9,
        "summary": "exporter exceeds its memory limit while loading the table",
        # A model echoing a credential: capture must still mask it.
        "root_cause": f"loads the whole table; its DSN has password={SECRET}",
        "evidence": ["lastState OOMKilled exit 137"],
        "remediations": [
            {"action": "increase-memory", "target": WORKLOAD, "rationale": "peak above limit"}
        ],
        "disagrees_with_analyzers": None,
    }


async def _diagnose_once(tmp_path: Path, *, capture: bool) -> Run:
    case = _case()
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    telemetry = Telemetry.from_config(
        TelemetryConfig(capture_content=capture), span_exporter=exporter, metric_reader=reader
    )
    with (
        EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as cluster,
        ScriptedOpenAIServer() as server,
    ):
        load_case_into(cluster.emulator, case)
        server.script(answer(_answer()))
        settings = Settings(
            llm_base_url=server.base_url,
            llm_model="scripted",
            llm_max_retries=0,
            prometheus_url=f"http://127.0.0.1:{_closed_port()}",
            prometheus_timeout_seconds=2,
            qdrant_path=tmp_path / "memory",
        )
        client = api_client(cluster.kubeconfig_path)
        components = build_components(settings, client, telemetry)
        try:
            result = await diagnose(
                IncidentSpec(
                    title="KubePodCrashLooping",
                    source="alertmanager",
                    alerts=[case_alert(case, NOW)],
                ),
                namespace="exports",
                name="csv-exporter-crashloop",
                stages=components.stages,
                now=NOW,
                traceparent=WEBHOOK_TRACEPARENT,
            )
        finally:
            if isinstance(components.stages.model, LLMStage):
                await components.stages.model.aclose()
            if components.memory is not None:
                components.memory.close()
            client.close()  # type: ignore[no-untyped-call]
        port = int(server.base_url.split(":")[2].split("/")[0])
        run = Run(result, list(exporter.get_finished_spans()), reader, server.usages[0], port, [])
        run.sent = server.chat_bodies
    return run


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("telemetry")


@pytest.fixture(scope="module")
def default_run(module_tmp: Path) -> Run:
    return asyncio.run(_diagnose_once(module_tmp / "default", capture=False))


@pytest.fixture(scope="module")
def capture_run(module_tmp: Path) -> Run:
    return asyncio.run(_diagnose_once(module_tmp / "capture", capture=True))


def _by_name(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def _everything_recorded(spans: list[ReadableSpan]) -> str:
    """Every attribute and event of every span, as one searchable string."""
    parts = []
    for span in spans:
        parts.append(json.dumps(dict(span.attributes or {}), default=str))
        for event in span.events:
            parts.append(event.name + json.dumps(dict(event.attributes or {}), default=str))
        parts.append(span.status.description or "")
    return "\n".join(parts)


def test_one_trace_per_diagnosis_with_a_span_per_stage(default_run: Run) -> None:
    spans = _by_name(default_run.spans)
    root = spans["diagnose incident"]
    assert root.parent is None
    assert {s.context.trace_id for s in default_run.spans} == {root.context.trace_id}
    children = {s.name for s in default_run.spans if s.parent == root.context}
    assert children == {
        "collect kubernetes evidence",
        "query prometheus",
        "run analyzers",
        f"retrieval {DEFAULT_COLLECTION}",
        "chat scripted",
    }
    retrieval = spans[f"retrieval {DEFAULT_COLLECTION}"]
    embedding = next(s for s in default_run.spans if s.name.startswith("embeddings "))
    assert embedding.parent == retrieval.context


def test_root_span_carries_the_incident_and_its_outcome(default_run: Run) -> None:
    root = _by_name(default_run.spans)["diagnose incident"]
    attributes = dict(root.attributes or {})
    diagnosis = default_run.result.diagnosis
    assert attributes["kubetriage.incident.name"] == "csv-exporter-crashloop"
    assert attributes["kubetriage.incident.namespace"] == "exports"
    assert attributes["kubetriage.diagnosis.category"] == diagnosis.category.value == "oom-killed"
    assert attributes["kubetriage.diagnosis.confidence"] == pytest.approx(diagnosis.confidence)
    # Linked to the webhook request's trace, not a child of it.
    assert root.parent is None
    assert [link.context.trace_id for link in root.links] == [int(WEBHOOK_TRACE_ID, 16)]


def test_stage_spans_describe_what_each_stage_did(default_run: Run) -> None:
    spans = _by_name(default_run.spans)
    evidence = dict(spans["collect kubernetes evidence"].attributes or {})
    assert evidence["kubetriage.evidence.pods"] == len(default_run.result.evidence.pods) > 0
    assert evidence["kubetriage.evidence.logs"] == len(default_run.result.evidence.logs) > 0
    prometheus = dict(spans["query prometheus"].attributes or {})
    assert prometheus["kubetriage.metrics.status"] == "unavailable"
    fired = spans["run analyzers"].attributes or {}
    expected = sorted({f.analyzer for f in default_run.result.findings})
    assert expected
    assert list(fired["kubetriage.analyzers.fired"]) == expected  # type: ignore[arg-type]

    retrieval = spans[f"retrieval {DEFAULT_COLLECTION}"]
    assert retrieval.kind is SpanKind.CLIENT
    assert (
        dict(retrieval.attributes or {}).items()
        >= {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.data_source.id": DEFAULT_COLLECTION,
            "gen_ai.request.top_k": 3.0,
            "kubetriage.memory.matches": 0,
        }.items()
    )
    embedding = next(s for s in default_run.spans if s.name.startswith("embeddings "))
    attributes = dict(embedding.attributes or {})
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.provider.name"] == "onnxruntime"
    assert str(attributes["gen_ai.request.model"]).startswith("all-MiniLM-L6-v2")
    assert embedding.name == f"embeddings {attributes['gen_ai.request.model']}"
    assert attributes["gen_ai.embeddings.dimension.count"] == 384


def test_llm_span_follows_the_genai_conventions(default_run: Run) -> None:
    chat = _by_name(default_run.spans)["chat scripted"]
    assert chat.kind is SpanKind.CLIENT
    assert chat.status.status_code is StatusCode.UNSET
    attributes = dict(chat.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert "gen_ai.system" not in attributes
    assert attributes["gen_ai.request.model"] == "scripted"
    assert attributes["gen_ai.response.model"] == "scripted"
    assert str(attributes["gen_ai.response.id"]).startswith("chatcmpl-")
    assert tuple(attributes["gen_ai.response.finish_reasons"]) == ("stop",)  # type: ignore[arg-type]
    assert attributes["gen_ai.usage.input_tokens"] == default_run.usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == default_run.usage.completion_tokens
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == default_run.server_port
    assert "error.type" not in attributes


def _points(reader: InMemoryMetricReader, name: str) -> list[HistogramDataPoint]:
    data = reader.get_metrics_data()
    assert data is not None
    found: list[HistogramDataPoint] = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(p for p in metric.data.data_points)  # type: ignore[misc]
    return found


def test_genai_metrics_record_tokens_and_durations(default_run: Run) -> None:
    tokens = {
        p.attributes["gen_ai.token.type"]: p
        for p in _points(default_run.reader, "gen_ai.client.token.usage")
        if p.attributes is not None
    }
    assert set(tokens) == {"input", "output"}
    assert tokens["input"].sum == default_run.usage.prompt_tokens
    assert tokens["output"].sum == default_run.usage.completion_tokens
    assert tuple(tokens["input"].explicit_bounds) == TOKEN_USAGE_BUCKETS
    assert (
        dict(tokens["input"].attributes or {}).items()
        >= {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "scripted",
            "gen_ai.response.model": "scripted",
        }.items()
    )
    durations = {
        str((p.attributes or {})["gen_ai.operation.name"]): p
        for p in _points(default_run.reader, "gen_ai.client.operation.duration")
    }
    assert set(durations) == {"chat", "embeddings"}
    assert durations["chat"].count == 1
    assert tuple(durations["chat"].explicit_bounds) == OPERATION_DURATION_BUCKETS
    assert "error.type" not in (durations["chat"].attributes or {})


def test_no_content_is_captured_by_default(default_run: Run) -> None:
    recorded = _everything_recorded(default_run.spans)
    assert LOG_MARKER in json.dumps(default_run.sent)  # the marker did reach the model
    assert LOG_MARKER not in recorded
    assert SECRET not in recorded
    assert "gen_ai.input.messages" not in recorded
    assert "gen_ai.output.messages" not in recorded
    assert "gen_ai.retrieval.query.text" not in recorded


def test_captured_content_is_redacted(capture_run: Run) -> None:
    spans = _by_name(capture_run.spans)
    chat = dict(spans["chat scripted"].attributes or {})
    inputs = json.loads(str(chat["gen_ai.input.messages"]))
    assert [m["role"] for m in inputs] == [m["role"] for m in capture_run.sent[0]["messages"]]
    assert LOG_MARKER in json.dumps(inputs)
    outputs = json.loads(str(chat["gen_ai.output.messages"]))
    assert outputs[0]["role"] == "assistant"
    assert outputs[0]["finish_reason"] == "stop"
    assert "password=[REDACTED:password]" in outputs[0]["parts"][0]["content"]
    retrieval = dict(spans[f"retrieval {DEFAULT_COLLECTION}"].attributes or {})
    assert "OOMKilled" in str(retrieval["gen_ai.retrieval.query.text"])
    assert SECRET not in _everything_recorded(capture_run.spans)
