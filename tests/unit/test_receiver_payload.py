"""Webhook payload validation: a real Alertmanager v4 body parses; each kind of bad body
(malformed JSON, not UTF-8, wrong version, wrong types, missing fields) is a PayloadError
with a 4xx status naming the field. Pure: the real parser, no server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubetriage.receiver.payload import PayloadError, parse_payload
from tests.integration.alertmanager_fixtures import crashloop_labels, webhook_alert, webhook_payload


def _good() -> dict[str, Any]:
    return webhook_payload(
        [
            webhook_alert(crashloop_labels(), annotations={"summary": "Pod is crash looping."}),
            webhook_alert(crashloop_labels(pod="csv-exporter-2"), status="resolved"),
        ],
        group_labels={"alertname": "KubePodCrashLooping", "namespace": "exports"},
    )


def _error(body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse_payload(body)
    return caught.value


def test_a_real_payload_parses() -> None:
    payload = parse_payload(json.dumps(_good()).encode())
    assert payload.group_key == '{}:{alertname="KubePodCrashLooping", namespace="exports"}'
    assert payload.status == "firing"
    assert [a.status for a in payload.alerts] == ["firing", "resolved"]
    assert payload.alerts[0].annotations["summary"] == "Pod is crash looping."
    assert payload.alerts[0].starts_at is not None
    assert payload.alerts[0].starts_at.year == 2026
    # Alertmanager's zero time for "not ended" parses; the mapping treats it as unset.
    assert payload.alerts[0].ends_at is not None
    assert payload.alerts[0].ends_at.year == 1


def test_unknown_fields_are_ignored() -> None:
    body = _good()
    body["somethingNew"] = {"x": 1}
    body["alerts"][0]["silencedBy"] = []
    assert parse_payload(json.dumps(body).encode()).receiver == "kubetriage"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "malformed JSON: Expecting property name"),
        (b"\xff\xfe{}", 400, "malformed JSON"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "malformed JSON"),
        (b"[1, 2]", 422, "(body): expected object"),
        (b'"text"', 422, "(body): expected object"),
    ],
)
def test_undecodable_bodies(body: bytes, status: int, message: str) -> None:
    error = _error(body)
    assert error.status == status
    assert message in error.message


def _mutated(path: tuple[Any, ...], value: Any) -> bytes:
    body = _good()
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(body).encode()


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), "3", "version: unsupported webhook payload version '3'"),
        (("version",), _DELETE, "version: required field is missing"),
        (("groupKey",), _DELETE, "groupKey: required field is missing"),
        (("groupKey",), "", "groupKey: must not be empty"),
        (("groupKey",), 7, "groupKey: expected string"),
        (("status",), "pending", "status: expected 'firing' or 'resolved'"),
        (("alerts",), [], "alerts: must not be empty"),
        (("alerts",), {"a": 1}, "alerts: expected array"),
        (("alerts", 1, "labels"), ["x"], "alerts[1].labels: expected object"),
        (("alerts", 1, "labels"), _DELETE, "alerts[1].labels: required field is missing"),
        (("alerts", 0, "labels", "pod"), 5, "alerts[0].labels.pod: expected string"),
        (("alerts", 0, "annotations"), "x", "alerts[0].annotations: expected object"),
        (("alerts", 0, "startsAt"), "yesterday", "alerts[0].startsAt: expected an RFC 3339"),
        (("alerts", 0, "status"), None, "alerts[0].status: expected 'firing' or 'resolved'"),
        (("truncatedAlerts",), -1, "truncatedAlerts: must not be negative"),
        (("groupLabels",), "x", "groupLabels: expected object"),
    ],
)
def test_schema_errors_name_the_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    error = _error(_mutated(path, value))
    assert error.status == 422
    assert message in error.message, error.message


def test_many_problems_are_summarised() -> None:
    body = _good()
    body["alerts"] = [{"labels": 1}] * 20
    error = _error(json.dumps(body).encode())
    assert error.message.startswith("alerts[0].status: required field is missing")
    assert "more" in error.message
