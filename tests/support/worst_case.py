"""The largest Incident the CRD allows: every string at its ``maxLength`` (in 3-byte
characters, since the API server counts characters, not bytes), every list at its
``maxItems``, every map at its ``maxProperties``; and the spec the receiver writes for a
group of many alerts carrying the largest labels and annotations it accepts. Built from
the CRD and the receiver's own planning function, so it follows both when they change."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from kubetriage.crd import build_incident_crd
from kubetriage.receiver.payload import WebhookPayload
from kubetriage.receiver.state import Notification, new_incident, plan_write

WIDE = "€"  # 3 bytes in UTF-8
TIME = "2026-11-20T10:00:00Z"


def incident_schema() -> dict[str, Any]:
    version = build_incident_crd()["spec"]["versions"][0]
    return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def fill(schema: dict[str, Any], salt: str = "", char: str = WIDE) -> Any:
    """The largest value ``schema`` accepts, strings made of ``char`` (``salt`` keeps map
    keys and list items apart)."""
    kind = schema.get("type")
    if "enum" in schema:
        return max(schema["enum"], key=len)
    if kind == "string":
        if schema.get("format") == "date-time":
            return TIME
        size = int(schema.get("maxLength", 64))
        if "pattern" in schema:  # the longest of a few ASCII shapes the pattern accepts
            shapes = (("K" + "a" * size)[:size], "a" * size, "9" * size)
            return next(v for v in shapes if re.fullmatch(schema["pattern"], v))
        return (salt + char * size)[:size]
    if kind == "integer":
        return int(schema.get("maximum", 2**53))
    if kind == "number":
        return 0.123456789
    if kind == "boolean":
        return True
    if kind == "array":
        items = range(schema.get("maxItems", 8))
        return [fill(schema["items"], f"{salt}{i}.", char) for i in items]
    if kind == "object":
        props = schema.get("properties") or {}
        body = {key: fill(sub, salt, char) for key, sub in props.items()}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for i in range(schema.get("maxProperties", 8)):
                body[f"{salt}k{i}"] = fill(extra, f"{salt}{i}.", char)
        return body
    raise AssertionError(f"no filler for {schema}")


def worst_status(char: str = WIDE) -> dict[str, Any]:
    status = fill(incident_schema()["properties"]["status"], char=char)
    # Conditions are a map keyed by type: make the types distinct.
    for i, item in enumerate(status["conditions"]):
        item["type"] = f"Condition{i}"
    return status  # type: ignore[no-any-return]


def _alert(i: int) -> dict[str, Any]:
    labels = {"alertname": "KubePodCrashLooping", "namespace": "exports", "pod": f"p-{i}"}
    labels |= {f"{'l' * 1000}{j}": WIDE * 1024 for j in range(70)}  # names clipped to 128
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {f"a{j}": WIDE * 8192 for j in range(10)},
        "startsAt": TIME,
        "fingerprint": f"{i:016x}",
        "generatorURL": "http://prometheus/" + "g" * 8000,
    }


def worst_spec_incident(name: str, namespace: str, alerts: int = 120) -> dict[str, Any]:
    """The Incident body the receiver would create for one group of ``alerts`` alerts,
    each with more and larger labels and annotations than it keeps."""
    payload = WebhookPayload.model_validate(
        {
            "version": "4",
            "groupKey": '{}:{alertname="KubePodCrashLooping"}' + "x" * 4000,
            "status": "firing",
            "receiver": "kubetriage",
            "groupLabels": {"alertname": "KubePodCrashLooping", "namespace": namespace},
            "alerts": [_alert(i) for i in range(alerts)],
        }
    )
    notification = Notification(payload=payload, received_at=datetime(2026, 11, 20, tzinfo=UTC))
    write = plan_write(None, [notification], batch_id="worst", max_alerts=100)
    return new_incident(name, namespace, write)
