"""The Alertmanager webhook payload (version 4) and its validation into readable errors.

Pure; called by ``kubetriage.receiver.server`` on every request body. A bad payload becomes
a ``PayloadError`` naming the field (``alerts[3].labels: expected object``), which the
server turns into a 4xx, so no input shape can reach the workers or cause a 500.

Unknown fields are ignored, so newer Alertmanager versions that add fields still work.

Normalised rather than refused (each was a silent drop after a 2xx before): a lone UTF-16
surrogate (``\ud800``, valid JSON, not encodable) becomes U+FFFD; a date-time without a
timezone is read as UTC (Alertmanager always sends one). ``keep_newest`` bounds the alerts
of one notification, counting the rest in ``truncatedAlerts``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

WEBHOOK_VERSION = "4"

# pydantic error types -> what a person sending JSON understands.
_EXPECTED = {
    "dict_type": "expected object",
    "model_type": "expected object",
    "model_attributes_type": "expected object",
    "list_type": "expected array",
    "string_type": "expected string",
    "int_type": "expected integer",
    "int_parsing": "expected integer",
    "int_from_float": "expected integer",
    "missing": "required field is missing",
    "literal_error": "unexpected value",
    "datetime_type": "expected an RFC 3339 date-time string",
    "datetime_parsing": "expected an RFC 3339 date-time string",
    "datetime_from_date_parsing": "expected an RFC 3339 date-time string",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_too_long": "too long",
    "greater_than_equal": "must not be negative",
}


class PayloadError(ValueError):
    """The request body is not a valid webhook payload; ``status`` is the HTTP code and
    ``reason`` the label of ``kubetriage_receiver_rejected_total``."""

    def __init__(self, message: str, *, status: int = 400, reason: str = "malformed_json") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in keys and strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def as_utc(value: datetime | None) -> datetime | None:
    """A date-time without a timezone is taken as UTC; others are kept as they are."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class WebhookAlert(_Wire):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)


class WebhookPayload(_Wire):
    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1, max_length=4096)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[WebhookAlert] = Field(min_length=1)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(body)"


def describe_validation_error(error: ValidationError) -> str:
    """The first few problems, each as ``path: what was expected``."""
    problems = []
    for item in error.errors(include_url=False)[:5]:
        expected = _EXPECTED.get(item["type"], item["msg"])
        if item["type"] == "literal_error":
            expected = item["msg"].lower().replace("input should be", "expected")
        problems.append(f"{_location(tuple(item['loc']))}: {expected}")
    more = error.error_count() - len(problems)
    if more > 0:
        problems.append(f"and {more} more")
    return "; ".join(problems)


def parse_payload(body: bytes, *, max_alerts: int | None = None) -> WebhookPayload:
    """Decode and validate one request body, or raise ``PayloadError``; with ``max_alerts``,
    only the newest that many alerts are kept (``keep_newest``)."""
    try:
        raw: Any = json.loads(body)
    except UnicodeDecodeError as error:
        raise PayloadError(f"malformed JSON: not UTF-8 ({error.reason})") from error
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    except RecursionError as error:
        raise PayloadError("malformed JSON: nested too deeply") from error
    if not isinstance(raw, dict):
        raise PayloadError("(body): expected object", status=422, reason="invalid_payload")
    if "version" in raw and raw["version"] != WEBHOOK_VERSION:
        raise PayloadError(
            f"version: unsupported webhook payload version {str(raw['version'])[:20]!r}, "
            f"expected {WEBHOOK_VERSION!r}",
            status=422,
            reason="unsupported_version",
        )
    if _SURROGATE_ESCAPE.search(body):
        raw = _without_surrogates(raw)
    try:
        payload = WebhookPayload.model_validate(raw)
    except ValidationError as error:
        raise PayloadError(
            describe_validation_error(error), status=422, reason="invalid_payload"
        ) from error
    return keep_newest(payload, max_alerts) if max_alerts is not None else payload


def _newest_first(alert: WebhookAlert) -> tuple[int, float]:
    started = alert.starts_at.timestamp() if alert.starts_at is not None else 0.0
    return (0 if alert.status == "firing" else 1, -started)


def keep_newest(payload: WebhookPayload, max_alerts: int) -> WebhookPayload:
    """At most ``max_alerts`` alerts: firing before resolved, newest first; the others are
    added to ``truncated_alerts``, as Alertmanager's own ``max_alerts`` does."""
    if len(payload.alerts) <= max_alerts:
        return payload
    kept = sorted(payload.alerts, key=_newest_first)[:max_alerts]
    return payload.model_copy(
        update={
            "alerts": kept,
            "truncated_alerts": payload.truncated_alerts + len(payload.alerts) - len(kept),
        }
    )
