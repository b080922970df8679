"""The real OTLP/HTTP exporters deliver a diagnosis's spans and GenAI metrics: a small OTLP
receiver (aiohttp on 127.0.0.1, decoding the protobuf requests with opentelemetry-proto)
stands in for a collector.

Real: ``TelemetryConfig.from_env`` on ``OTEL_*`` variables, the SDK with the OTLP/HTTP span
and metric exporters, the Kubernetes API emulator with a shared case, the stages from
``app.build_components`` and the openai client against a scripted server.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from kubetriage.app import LLMStage, build_components
from kubetriage.kubeclient import api_client
from kubetriage.models.incident import IncidentSpec
from kubetriage.pipeline import diagnose
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import case_alert, load_case_into
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry
from kubetriage.telemetry_config import TelemetryConfig
from kubetriage.telemetry_genai import TOKEN_USAGE_BUCKETS
from tests.support.cases import EXAMPLES
from tests.support.llm_samples import valid_answer
from tests.support.openai_server import ScriptedOpenAIServer, answer

SHARED = EXAMPLES


@dataclass
class OTLPReceiver:
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)
    url: str = ""

    async def _body(self, request: web.Request) -> bytes:
        self.content_types.add(request.content_type)
        raw = await request.read()
        return gzip.decompress(raw) if request.headers.get("Content-Encoding") == "gzip" else raw

    async def on_traces(self, request: web.Request) -> web.Response:
        self.traces.append(ExportTraceServiceRequest.FromString(await self._body(request)))
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    async def on_metrics(self, request: web.Request) -> web.Response:
        self.metrics.append(ExportMetricsServiceRequest.FromString(await self._body(request)))
        return web.Response(
            body=ExportMetricsServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )


@pytest.fixture
async def receiver() -> AsyncIterator[OTLPReceiver]:
    state = OTLPReceiver()
    app = web.Application()
    app.router.add_post("/v1/traces", state.on_traces)
    app.router.add_post("/v1/metrics", state.on_metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items if isinstance(kv, KeyValue)}


async def test_spans_and_metrics_arrive_over_otlp_http(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    config = TelemetryConfig.from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "kubetriage-otlp"}
    )
    assert config.traces_endpoint == f"{receiver.url}/v1/traces"
    telemetry = Telemetry.from_config(config)
    case = load_case(SHARED / "example-oom-csv-exporter")
    with (
        EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as cluster,
        ScriptedOpenAIServer() as server,
    ):
        load_case_into(cluster.emulator, case)
        server.script(answer(valid_answer()))
        settings = Settings(
            llm_base_url=server.base_url, llm_model="scripted", memory_enabled=False
        )
        client = api_client(cluster.kubeconfig_path)
        components = build_components(settings, client, telemetry)
        now = datetime.now(UTC)
        try:
            await diagnose(
                IncidentSpec(title="KubePodCrashLooping", alerts=[case_alert(case, now)]),
                namespace="exports",
                name="otlp-incident",
                stages=components.stages,
                now=now,
            )
        finally:
            assert isinstance(components.stages.model, LLMStage)
            await components.stages.model.aclose()
            client.close()  # type: ignore[no-untyped-call]
        [usage] = server.usages
    # Shutdown flushes both exporters; they block, and this loop must keep serving them.
    await asyncio.to_thread(telemetry.shutdown)

    assert receiver.content_types == {"application/x-protobuf"}
    spans: list[SpanProto] = []
    for request in receiver.traces:
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            assert resource["service.name"] == "kubetriage-otlp"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "kubetriage"
                spans.extend(scope_spans.spans)
    by_name = {span.name: span for span in spans}
    assert {"diagnose incident", "collect kubernetes evidence", "run analyzers"} <= set(by_name)
    root, chat = by_name["diagnose incident"], by_name["chat scripted"]
    assert chat.trace_id == root.trace_id
    assert chat.parent_span_id == root.span_id
    assert chat.kind == SpanProto.SPAN_KIND_CLIENT
    chat_attributes = _attributes(chat.attributes)
    assert chat_attributes["gen_ai.operation.name"] == "chat"
    assert chat_attributes["gen_ai.provider.name"] == "openai"
    assert chat_attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert chat_attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert _attributes(root.attributes)["kubetriage.diagnosis.category"] == "oom-killed"

    histograms = {
        metric.name: metric
        for request in receiver.metrics
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }
    tokens = histograms["gen_ai.client.token.usage"]
    assert tokens.unit == "{token}"
    points = {
        _attributes(p.attributes)["gen_ai.token.type"]: p for p in tokens.histogram.data_points
    }
    assert points["input"].sum == usage.prompt_tokens
    assert points["output"].sum == usage.completion_tokens
    assert tuple(points["input"].explicit_bounds) == TOKEN_USAGE_BUCKETS
    duration = histograms["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    [chat_duration] = duration.histogram.data_points
    assert chat_duration.count == 1
    assert _attributes(chat_duration.attributes)["gen_ai.request.model"] == "scripted"
