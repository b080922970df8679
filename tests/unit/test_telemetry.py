"""Telemetry configuration from ``OTEL_*`` variables, the no-op default, trace links from a
``traceparent`` and the endpoint attributes. Real: ``kubetriage.telemetry`` and the
OpenTelemetry API/SDK; nothing is exported."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kubetriage.telemetry import Telemetry, trace_links
from kubetriage.telemetry_config import TelemetryConfig, TelemetryConfigError
from kubetriage.telemetry_genai import (
    OPERATION_DURATION_BUCKETS,
    TOKEN_USAGE_BUCKETS,
    server_attributes,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_nothing_configured_exports_nothing() -> None:
    config = TelemetryConfig.from_env({})
    assert config == TelemetryConfig()
    assert config.service_name == "kubetriage"
    assert config.traces_endpoint is None
    assert config.metrics_endpoint is None
    assert config.capture_content is False


def test_base_endpoint_gets_the_signal_paths() -> None:
    config = TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert config.traces_endpoint == "http://collector:4318/v1/traces"
    assert config.metrics_endpoint == "http://collector:4318/v1/metrics"


def test_signal_endpoint_is_used_as_is_and_none_disables_a_signal() -> None:
    config = TelemetryConfig.from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://metrics:9000/ingest",
            "OTEL_TRACES_EXPORTER": "none",
        }
    )
    assert config.traces_endpoint is None
    assert config.metrics_endpoint == "http://metrics:9000/ingest"


def test_explicit_otlp_without_endpoint_uses_the_default_collector() -> None:
    config = TelemetryConfig.from_env({"OTEL_TRACES_EXPORTER": "otlp"})
    assert config.traces_endpoint == "http://localhost:4318/v1/traces"
    assert config.metrics_endpoint is None


def test_sdk_disabled_switches_everything_off() -> None:
    config = TelemetryConfig.from_env(
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    )
    assert (config.traces_endpoint, config.metrics_endpoint) == (None, None)


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "console"},
        {"OTEL_METRICS_EXPORTER": "otlp,prometheus"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {"OTEL_METRIC_EXPORT_INTERVAL": "soon"},
    ],
)
def test_what_cannot_be_honoured_is_refused(environ: dict[str, str]) -> None:
    with pytest.raises(TelemetryConfigError):
        TelemetryConfig.from_env(environ)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("false", False)])
def test_content_capture_switch(value: str, expected: bool) -> None:
    environ = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": value}
    assert TelemetryConfig.from_env(environ).capture_content is expected


def test_service_name_and_resource_attributes() -> None:
    config = TelemetryConfig.from_env(
        {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-resource,deployment.environment=prod"}
    )
    assert config.service_name == "from-resource"
    assert config.resource_attributes["deployment.environment"] == "prod"
    named = TelemetryConfig.from_env(
        {"OTEL_SERVICE_NAME": "triage", "OTEL_RESOURCE_ATTRIBUTES": "service.name=other"}
    )
    assert named.service_name == "triage"


def test_unconfigured_telemetry_is_a_no_op() -> None:
    telemetry = Telemetry.from_config(TelemetryConfig())
    with telemetry.diagnosis(name="a", namespace="b", traceparent=None) as span:
        assert not span.is_recording()
        assert not span.get_span_context().is_valid
    telemetry.shutdown()  # nothing to flush, must not fail


def test_diagnosis_span_is_a_new_trace_linked_to_the_webhook() -> None:
    exporter = InMemorySpanExporter()
    telemetry = Telemetry.from_config(TelemetryConfig(), span_exporter=exporter)
    with (
        telemetry.stage("outer"),
        telemetry.diagnosis(
            name="inc", namespace="ns", traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01"
        ),
    ):
        pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = spans["diagnose incident"]
    assert root.parent is None  # not nested under whatever span was current
    assert root.context.trace_id != spans["outer"].context.trace_id
    [link] = root.links
    assert link.context.trace_id == int(TRACE_ID, 16)
    assert link.context.span_id == 0x00F067AA0BA902B7


@pytest.mark.parametrize("value", [None, "", "garbage", f"00-{'0' * 32}-00f067aa0ba902b7-01"])
def test_missing_or_bad_traceparent_gives_no_link(value: str | None) -> None:
    assert trace_links(value) == []


def test_server_attributes_from_base_urls() -> None:
    assert server_attributes("https://api.openai.com/v1") == {
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    assert server_attributes("http://127.0.0.1:8080/v1") == {
        "server.address": "127.0.0.1",
        "server.port": 8080,
    }
    assert server_attributes(None) == {}


def test_bucket_boundaries_are_the_specs() -> None:
    assert list(TOKEN_USAGE_BUCKETS) == [
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
        67108864,
    ]  # fmt: skip
    assert list(OPERATION_DURATION_BUCKETS) == pytest.approx(
        [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
    )
