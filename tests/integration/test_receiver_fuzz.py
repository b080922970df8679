"""Fuzzing the receiver over HTTP with hypothesis: random bytes, random JSON and mutated
real payloads get a 4xx (never a 5xx), the server keeps serving, and every valid
notification sent alongside ends up as exactly one Incident per group. Real: aiohttp
server, receiver workers, kubernetes client, the emulator's API over HTTP."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetriage.replay.emulator import EmulatorThread
from tests.integration.alertmanager_fixtures import (
    ReceiverThread,
    crashloop_labels,
    incidents,
    post,
    prepare_cluster,
    receiver_settings,
    webhook_alert,
    webhook_payload,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _valid(group: str, pods: int = 2) -> dict[str, Any]:
    labels = {"alertname": "Fuzz", "namespace": "exports"}
    return webhook_payload(
        [webhook_alert(crashloop_labels(pod=f"{group}-{i}")) for i in range(pods)],
        group_labels=labels,
        group_key=f"{{}}:{{group={group!r}}}",
    )


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, group: str) -> dict[str, Any]:
    body = copy.deepcopy(_valid(group))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = body
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return body


def test_fuzzed_payloads_are_4xx_and_valid_ones_are_never_lost(emulator: EmulatorThread) -> None:
    prepare_cluster(emulator, "exports")
    counter = itertools.count()
    expected_groups: set[str] = set()
    statuses: list[int] = []
    with ReceiverThread(
        receiver_settings(webhook_queue_size=10_000), emulator.kubeconfig_path
    ) as receiver:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(
            kind=st.sampled_from(["bytes", "json", "mutated"]),
            raw=st.binary(max_size=300),
            value=JSON_VALUES,
            data=st.data(),
        )
        def check(kind: str, raw: bytes, value: Any, data: st.DataObject) -> None:
            n = next(counter)
            if kind == "bytes":
                body: bytes = raw
            elif kind == "json":
                body = json.dumps(value).encode()
            else:
                payload = data.draw(mutated(f"m{n}"))
                body = json.dumps(payload).encode()
            status, _, answer = post(receiver.url, body)
            statuses.append(status)
            assert status < 500, answer
            assert "error" in answer or status == 200
            if status == 200:
                parsed = json.loads(body)
                if parsed["status"] == "firing":
                    expected_groups.add(parsed["groupKey"])
            # A valid notification alongside every fuzzed one.
            valid = _valid(f"v{n}")
            assert post(receiver.url, valid)[0] == 200
            expected_groups.add(valid["groupKey"])

        check()
        receiver.drain(timeout=120)
        assert receiver.stats.failed == 0
        assert any(400 <= s < 500 for s in statuses)
    found = [i["status"]["alertGroup"]["groupKey"] for i in incidents(emulator)]
    assert sorted(found) == sorted(expected_groups)
