"""The shared incident case format, version 1 (tests/cases/FORMAT.md), as strict models.

Loaded by ``kubetriage.replay.cases`` for ``diagnose``, ``eval``, ``demo`` and memory import.
Unknown keys are an error at every level we own, so a typo cannot silently drop data; the
Kubernetes objects under ``cluster`` are kept as raw dicts, as ``kubectl get -o yaml`` shows.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kubetriage.models.vocabulary import Action, Category

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go duration such as ``5m``, ``1h30m`` or ``90s``."""
    text = text.strip()
    if text in {"0", ""}:
        return timedelta(0)
    pos = 0
    seconds = 0.0
    for match in _GO_DURATION.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"invalid Go duration {text!r} (expected e.g. 5m, 1h30m, 90s)")
    return timedelta(seconds=seconds)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseAlert(_Strict):
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_ago: str = Field(default="0s", alias="startsAgo")

    @field_validator("starts_ago")
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        parse_go_duration(value)
        return value

    @field_validator("labels")
    @classmethod
    def _has_alertname(cls, value: dict[str, str]) -> dict[str, str]:
        if "alertname" not in value:
            raise ValueError("alert.labels must contain 'alertname'")
        return value


class CaseSeries(_Strict):
    series: str
    values: str


class CaseMetrics(_Strict):
    interval: str = "1m"
    series: list[CaseSeries] = Field(default_factory=list)

    @field_validator("interval")
    @classmethod
    def _valid_interval(cls, value: str) -> str:
        if parse_go_duration(value).total_seconds() <= 0:
            raise ValueError("metrics.interval must be positive")
        return value


class CaseTarget(_Strict):
    kind: str
    name: str
    namespace: str | None = None


class CaseExpect(_Strict):
    category: Category
    actions: list[Action] = Field(min_length=1)
    target: CaseTarget


class Case(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = ""
    source: str = ""
    alert: CaseAlert
    cluster: list[dict[str, Any]] = Field(default_factory=list)
    logs: dict[str, str] = Field(default_factory=dict)
    metrics: CaseMetrics | None = None
    expect: CaseExpect | None = None

    @field_validator("cluster")
    @classmethod
    def _objects_have_identity(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, obj in enumerate(value):
            for key in ("apiVersion", "kind"):
                if not isinstance(obj.get(key), str):
                    raise ValueError(f"cluster[{index}] has no {key}")
            metadata = obj.get("metadata")
            if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
                raise ValueError(f"cluster[{index}] ({obj['kind']}) has no metadata.name")
        return value

    @field_validator("logs")
    @classmethod
    def _log_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if len(key.split("/")) != 3:
                raise ValueError(f"logs key {key!r} must be '<namespace>/<pod>/<container>'")
        return value
