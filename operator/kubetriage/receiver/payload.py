"""The Alertmanager webhook payload (version 4) and its validation into readable errors.

Pure; called by ``kubetriage.receiver.server`` on every request body. A bad payload becomes
a ``PayloadError`` naming the field (``alerts[3].labels: expected object``), which the
server turns into a 4xx, so no input shape can reach the workers or cause a 500.

Unknown fields are ignored, so newer Alertmanager versions that add fields still work.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    """The request body is not a valid webhook payload; ``status`` is the HTTP code."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


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


def parse_payload(body: bytes) -> WebhookPayload:
    """Decode and validate one request body, or raise ``PayloadError``."""
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
        raise PayloadError("(body): expected object", status=422)
    if "version" in raw and raw["version"] != WEBHOOK_VERSION:
        raise PayloadError(
            f"version: unsupported webhook payload version {str(raw['version'])[:20]!r}, "
            f"expected {WEBHOOK_VERSION!r}",
            status=422,
        )
    try:
        return WebhookPayload.model_validate(raw)
    except ValidationError as error:
        raise PayloadError(describe_validation_error(error), status=422) from error
