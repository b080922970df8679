"""OpenTelemetry traces and GenAI metrics for diagnoses, built once at startup.

``kubetriage run`` reads the standard ``OTEL_*`` variables into a ``TelemetryConfig``
(``TelemetryConfig.from_env``) and builds one ``Telemetry`` from it; that object (tracer,
meter, the two GenAI histograms, the content-capture switch) is passed down through
``app.build_components`` to the pipeline (``Stages.telemetry``), the LLM client and the
memory stage. Nothing here touches OpenTelemetry's global providers, so tests build their
own ``Telemetry`` around an in-memory exporter. With nothing configured every provider is
a no-op: no exporter, no thread, no network.

Conventions: the OpenTelemetry GenAI semantic conventions, latest experimental version
(``gen_ai.provider.name``, not the deprecated ``gen_ai.system``; their names and a chat
request's attributes in ``kubetriage.telemetry_genai``):

- one trace per diagnosis, rooted at ``diagnose incident``; it *links* to the webhook
  request's trace (the Incident's ``kubetriage.io/traceparent`` annotation) instead of
  joining it, because the diagnosis runs later, may be retried or repeated, and would
  otherwise hang off a request span that ended long before;
- one ``chat {model}`` CLIENT span per HTTP request to the model (the spec's unit), so a
  diagnosis that retried shows every attempt with its own ``error.type``;
- ``embeddings {model}`` for the embedder and ``retrieval {collection}`` for the incident
  memory search (operation ``retrieval``, ``gen_ai.data_source.id`` = the collection);
- ``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration`` histograms with
  the spec's bucket boundaries.

Prompt and completion content is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` at startup, and then always
through ``redact_text``, as the ``gen_ai.input.messages`` / ``gen_ai.output.messages``
span attributes (JSON strings: the Python SDK has no structured attribute values).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kubetriage.redaction import redact_text
from kubetriage.telemetry_config import (
    TelemetryConfig,
)
from kubetriage.telemetry_genai import (
    ERROR_TYPE,
    OP_CHAT,
    OP_EMBEDDINGS,
    OP_RETRIEVAL,
    OPERATION_DURATION_BUCKETS,
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SERVER_ADDRESS,
    SERVER_PORT,
    TOKEN_USAGE_BUCKETS,
    ChatCall,
    ChatEndpoint,
    embedder_provider,
    error_type_of,
)

if TYPE_CHECKING:
    from kubetriage.memory.embeddings import Embedder

logger = logging.getLogger(__name__)

INSTRUMENTATION_NAME = "kubetriage"
TRACEPARENT_ANNOTATION = "kubetriage.io/traceparent"
DIAGNOSIS_SPAN = "diagnose incident"


def trace_links(traceparent: str | None) -> list[Link]:
    """A link to the W3C ``traceparent`` an Incident was created under; none if absent or
    malformed (a bad annotation must not fail a diagnosis)."""
    if not traceparent:
        return []
    carrier = {"traceparent": traceparent.strip()}
    extracted = TraceContextTextMapPropagator().extract(carrier, context=otel_context.Context())
    span_context = trace.get_current_span(extracted).get_span_context()
    if not span_context.is_valid:
        return []
    return [Link(span_context, {"kubetriage.link.source": "alertmanager-webhook"})]


@dataclass(frozen=True)
class Telemetry:
    """Tracer, meter and GenAI instruments of this process; build with ``from_config`` (or
    ``disabled``) once, pass it down, ``shutdown`` at exit to flush."""

    tracer: Tracer
    meter: Meter
    token_usage: Histogram
    operation_duration: Histogram
    capture_content: bool = False
    redact: Callable[[str], str] = redact_text
    _shutdown: tuple[Callable[[], object], ...] = ()

    @classmethod
    def _build(
        cls,
        tracer_provider: trace.TracerProvider,
        meter_provider: metrics.MeterProvider,
        *,
        capture_content: bool,
        shutdown: tuple[Callable[[], object], ...] = (),
    ) -> Telemetry:
        meter = meter_provider.get_meter(INSTRUMENTATION_NAME)
        return cls(
            tracer=tracer_provider.get_tracer(INSTRUMENTATION_NAME),
            meter=meter,
            token_usage=meter.create_histogram(
                "gen_ai.client.token.usage",
                unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=list(TOKEN_USAGE_BUCKETS),
            ),
            operation_duration=meter.create_histogram(
                "gen_ai.client.operation.duration",
                unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=list(OPERATION_DURATION_BUCKETS),
            ),
            capture_content=capture_content,
            _shutdown=shutdown,
        )

    @classmethod
    def disabled(cls) -> Telemetry:
        """No-op providers: spans and measurements cost next to nothing and go nowhere."""
        return cls._build(
            trace.NoOpTracerProvider(), metrics.NoOpMeterProvider(), capture_content=False
        )

    @classmethod
    def from_config(
        cls,
        config: TelemetryConfig,
        *,
        span_exporter: SpanExporter | None = None,
        metric_reader: MetricReader | None = None,
    ) -> Telemetry:
        """SDK providers for the configured signals; ``span_exporter`` / ``metric_reader``
        (tests) replace the OTLP exporters and are used synchronously."""
        resource = Resource.create(
            {**config.resource_attributes, "service.name": config.service_name}
        )
        shutdown: list[Callable[[], object]] = []
        tracer_provider: trace.TracerProvider = trace.NoOpTracerProvider()
        if span_exporter is not None or config.traces_endpoint:
            sdk_tracer = TracerProvider(resource=resource)
            if span_exporter is not None:
                sdk_tracer.add_span_processor(SimpleSpanProcessor(span_exporter))
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                sdk_tracer.add_span_processor(
                    BatchSpanProcessor(OTLPSpanExporter(endpoint=config.traces_endpoint))
                )
            shutdown.append(sdk_tracer.shutdown)
            tracer_provider = sdk_tracer
        meter_provider: metrics.MeterProvider = metrics.NoOpMeterProvider()
        if metric_reader is not None or config.metrics_endpoint:
            if metric_reader is None:
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                    OTLPMetricExporter,
                )

                metric_reader = PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=config.metrics_endpoint),
                    export_interval_millis=config.metric_export_interval_ms,
                )
            sdk_meter = MeterProvider(resource=resource, metric_readers=[metric_reader])
            shutdown.append(sdk_meter.shutdown)
            meter_provider = sdk_meter
        return cls._build(
            tracer_provider,
            meter_provider,
            capture_content=config.capture_content,
            shutdown=tuple(shutdown),
        )

    def shutdown(self) -> None:
        """Flush and stop the exporters (blocking: call off the event loop)."""
        for stop in self._shutdown:
            try:
                stop()
            except Exception:  # a collector being down must not fail the operator's exit
                logger.warning("telemetry shutdown failed", exc_info=True)

    # --- spans ---------------------------------------------------------------------------

    @contextmanager
    def diagnosis(
        self, *, name: str | None, namespace: str | None, traceparent: str | None
    ) -> Iterator[Span]:
        """The root span of one diagnosis: always a new trace, linked to the webhook's."""
        attributes: dict[str, Any] = {}
        if name:
            attributes["kubetriage.incident.name"] = name
        if namespace:
            attributes["kubetriage.incident.namespace"] = namespace
        with self.tracer.start_as_current_span(
            DIAGNOSIS_SPAN,
            context=otel_context.Context(),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=trace_links(traceparent),
        ) as span:
            yield span

    @contextmanager
    def stage(self, name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
        """An internal child span for one pipeline stage."""
        with self.tracer.start_as_current_span(
            name, kind=SpanKind.INTERNAL, attributes=dict(attributes or {})
        ) as span:
            yield span

    @contextmanager
    def chat(self, endpoint: ChatEndpoint) -> Iterator[ChatCall]:
        """One request to the chat model: a CLIENT span and the two GenAI metrics."""
        request = endpoint.attributes()
        started = time.perf_counter()
        with self.tracer.start_as_current_span(
            f"{OP_CHAT} {endpoint.model}",
            kind=SpanKind.CLIENT,
            attributes=request,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            call = ChatCall(span, self.capture_content, self.redact)
            try:
                yield call
            except BaseException as error:
                call.failed(error_type_of(error), str(error))
                span.record_exception(error)
                raise
            finally:
                self.record_operation(
                    request,
                    seconds=time.perf_counter() - started,
                    response_model=call.response_model,
                    error_type=call.error_type,
                    input_tokens=call.input_tokens,
                    output_tokens=call.output_tokens,
                )

    @contextmanager
    def retrieval(
        self, *, data_source_id: str, top_k: int | None, query: str | None = None
    ) -> Iterator[Span]:
        """A search of the incident memory (operation ``retrieval``)."""
        attributes: dict[str, Any] = {
            OPERATION_NAME: OP_RETRIEVAL,
            "gen_ai.data_source.id": data_source_id,
            "db.system.name": "qdrant",
            "db.collection.name": data_source_id,
        }
        if top_k is not None:
            attributes["gen_ai.request.top_k"] = float(top_k)
        if self.capture_content and query is not None:
            attributes["gen_ai.retrieval.query.text"] = self.redact(query)
        with self.tracer.start_as_current_span(
            f"{OP_RETRIEVAL} {data_source_id}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield span

    def retrieved(self, span: Span, documents: Sequence[tuple[str, float]]) -> None:
        """What a retrieval found; the documents themselves only with content capture."""
        span.set_attribute("kubetriage.memory.matches", len(documents))
        if self.capture_content:
            body = [{"id": self.redact(doc), "score": round(score, 4)} for doc, score in documents]
            span.set_attribute("gen_ai.retrieval.documents", json.dumps(body))

    def record_operation(
        self,
        request: Mapping[str, Any],
        *,
        seconds: float,
        response_model: str | None = None,
        error_type: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> None:
        keys = (OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL, SERVER_ADDRESS, SERVER_PORT)
        attributes: dict[str, Any] = {k: request[k] for k in keys if k in request}
        if response_model:
            attributes[RESPONSE_MODEL] = response_model
        for token_type, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None:
                self.token_usage.record(count, {**attributes, "gen_ai.token.type": token_type})
        if error_type:
            attributes[ERROR_TYPE] = error_type
        self.operation_duration.record(seconds, attributes)

    def traced_embedder(self, embedder: Embedder) -> Embedder:
        return TracedEmbedder(embedder, self)


class TracedEmbedder:
    """An ``Embedder`` whose every call is an ``embeddings {model}`` span (INTERNAL for the
    in-process ONNX model, CLIENT for a remote one) plus the operation-duration metric."""

    def __init__(self, inner: Embedder, telemetry: Telemetry) -> None:
        self._inner = inner
        self._telemetry = telemetry

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        provider = embedder_provider(self.model_id)
        request: dict[str, Any] = {
            OPERATION_NAME: OP_EMBEDDINGS,
            PROVIDER_NAME: provider,
            REQUEST_MODEL: self.model_id,
        }
        started = time.perf_counter()
        error_type: str | None = None
        with self._telemetry.tracer.start_as_current_span(
            f"{OP_EMBEDDINGS} {self.model_id}",
            kind=SpanKind.INTERNAL if provider == "onnxruntime" else SpanKind.CLIENT,
            attributes={
                **request,
                "gen_ai.embeddings.dimension.count": self.dimension,
                "kubetriage.embeddings.inputs": len(texts),
            },
        ) as span:
            try:
                return self._inner.embed(texts)
            except BaseException as error:
                error_type = error_type_of(error)
                span.set_attribute(ERROR_TYPE, error_type)
                raise
            finally:
                self._telemetry.record_operation(
                    request, seconds=time.perf_counter() - started, error_type=error_type
                )
