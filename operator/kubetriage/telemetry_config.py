"""What kubetriage exports and where, read once at startup from the standard OpenTelemetry
variables (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_<SIGNAL>_EXPORTER``,
``OTEL_EXPORTER_OTLP_*``, ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_SDK_DISABLED`` and the GenAI
content-capture switch). Pure; ``kubetriage.telemetry`` builds the providers from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_SERVICE_NAME = "kubetriage"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"


class TelemetryConfigError(ValueError):
    """An ``OTEL_*`` variable kubetriage cannot honour."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _parse_resource_attributes(value: str | None) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for item in (value or "").split(","):
        key, sep, raw = item.partition("=")
        if sep and key.strip():
            attributes[key.strip()] = raw.strip()
    return attributes


def _signal_endpoint(environ: Mapping[str, str], signal: str) -> str | None:
    """Where one signal (``traces`` / ``metrics``) is exported, or None when it is off.

    Off when ``OTEL_<SIGNAL>_EXPORTER`` is ``none``, or when it is unset and no OTLP
    endpoint is configured either: an operator nobody asked to export must not try to reach
    localhost:4318 every few seconds."""
    upper = signal.upper()
    exporters = {
        name.strip().lower()
        for name in environ.get(f"OTEL_{upper}_EXPORTER", "").split(",")
        if name.strip()
    }
    specific = environ.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT", "").strip()
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if "none" in exporters:
        return None
    unsupported = exporters - {"otlp"}
    if unsupported:
        raise TelemetryConfigError(
            f"OTEL_{upper}_EXPORTER={','.join(sorted(exporters))}: kubetriage exports only "
            "'otlp' (OTLP/HTTP) or 'none'"
        )
    if not exporters and not specific and not base:
        return None
    protocol = (
        environ.get(f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol != "http/protobuf":
        raise TelemetryConfigError(
            f"OTLP protocol {protocol!r} is not supported; kubetriage exports OTLP/HTTP "
            "(http/protobuf, usually port 4318)"
        )
    if specific:
        return specific
    return f"{(base or DEFAULT_OTLP_ENDPOINT).rstrip('/')}/v1/{signal}"


@dataclass(frozen=True)
class TelemetryConfig:
    """What to export and where; ``None`` endpoints switch that signal off."""

    service_name: str = DEFAULT_SERVICE_NAME
    traces_endpoint: str | None = None
    metrics_endpoint: str | None = None
    capture_content: bool = False
    metric_export_interval_ms: int = 60_000
    resource_attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TelemetryConfig:
        """Read the standard variables once (startup); raises ``TelemetryConfigError``."""
        resource = _parse_resource_attributes(environ.get("OTEL_RESOURCE_ATTRIBUTES"))
        service = (
            environ.get("OTEL_SERVICE_NAME", "").strip()
            or resource.get("service.name")
            or DEFAULT_SERVICE_NAME
        )
        capture = _truthy(environ.get(CAPTURE_CONTENT_ENV))
        if _truthy(environ.get("OTEL_SDK_DISABLED")):
            return cls(service_name=service, capture_content=capture)
        interval = environ.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
        try:
            interval_ms = int(interval) if interval else 60_000
        except ValueError as error:
            raise TelemetryConfigError(f"OTEL_METRIC_EXPORT_INTERVAL={interval!r}") from error
        return cls(
            service_name=service,
            traces_endpoint=_signal_endpoint(environ, "traces"),
            metrics_endpoint=_signal_endpoint(environ, "metrics"),
            capture_content=capture,
            metric_export_interval_ms=max(interval_ms, 1),
            resource_attributes=resource,
        )
