"""A stand-in OpenTelemetry collector on 127.0.0.1: OTLP/HTTP protobuf ``/v1/traces`` and
``/v1/metrics``, decoded with opentelemetry-proto and kept for assertions. Served from its
own thread, so a subprocess (the CLI) can export to it while the test waits."""

from __future__ import annotations

import gzip

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.support.http_server import ThreadedServer


class OTLPCapture(ThreadedServer):
    name = "otlp-capture"

    def __init__(self) -> None:
        super().__init__()
        self._traces: list[ExportTraceServiceRequest] = []
        self._metrics: list[ExportMetricsServiceRequest] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/traces", self._on_traces)
        app.router.add_post("/v1/metrics", self._on_metrics)

    @property
    def spans(self) -> list[Span]:
        with self._lock:
            return [
                span
                for request in self._traces
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]

    @property
    def metric_names(self) -> set[str]:
        with self._lock:
            return {
                metric.name
                for request in self._metrics
                for resource_metrics in request.resource_metrics
                for scope_metrics in resource_metrics.scope_metrics
                for metric in scope_metrics.metrics
            }

    @staticmethod
    async def _body(request: web.Request) -> bytes:
        raw = await request.read()
        return gzip.decompress(raw) if request.headers.get("Content-Encoding") == "gzip" else raw

    async def _on_traces(self, request: web.Request) -> web.Response:
        decoded = ExportTraceServiceRequest.FromString(await self._body(request))
        with self._lock:
            self._traces.append(decoded)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    async def _on_metrics(self, request: web.Request) -> web.Response:
        decoded = ExportMetricsServiceRequest.FromString(await self._body(request))
        with self._lock:
            self._metrics.append(decoded)
        return web.Response(
            body=ExportMetricsServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )
