"""The Slack interactivity endpoint: signed button presses write feedback and approvals to
the Incident; anything not signed by Slack, too old, replayed, or an approval by a user the
policy does not list, is refused and changes nothing.

Real: the endpoint served by aiohttp on 127.0.0.1, slack-sdk's ``SignatureVerifier``, the
Kubernetes API emulator over HTTP with the generated CRD, a remediation policy file. The
requests are signed exactly as Slack signs them (v0 HMAC-SHA256 of ``v0:ts:body``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from kubetriage.crd import build_incident_crd
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.notify.content import build_notice
from kubetriage.notify.interactions import PATH, SlackInteractions
from kubetriage.notify.slack import ACTION_APPROVE, ACTION_CATEGORY, ACTION_HELPFUL, action_value
from kubetriage.replay.emulator import EmulatorThread
from tests.support.incidents import checkout_restarting, slack_memory_policy

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NAME, NAMESPACE = "checkout-oom", "shop"
POLICY = slack_memory_policy("shop")


def _incident() -> dict[str, Any]:
    return checkout_restarting()


def sign(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


class Endpoint:
    def __init__(self, url: str, emulator: EmulatorThread) -> None:
        self.url = url
        self.emulator = emulator

    def spec(self) -> dict[str, Any]:
        body = self.emulator.emulator.get("incidents", NAME, NAMESPACE) or {}
        return dict(body["spec"])

    def press(self, action_id: str, value: str, user: str = "U0PERSON") -> bytes:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": "someone"},
            "actions": [
                {"action_id": action_id, "value": value}
                if action_id != ACTION_CATEGORY
                else {"action_id": action_id, "selected_option": {"value": value}}
            ],
        }
        return urlencode({"payload": json.dumps(payload)}).encode()

    def value(self, **extra: str) -> str:
        body = self.emulator.emulator.get("incidents", NAME, NAMESPACE) or {}
        return action_value(build_notice(body), **extra)

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + PATH, data=body, headers=headers) as response,
        ):
            return response.status, await response.json()


@pytest.fixture
async def endpoint(emulator: EmulatorThread, tmp_path: Path) -> AsyncIterator[Endpoint]:
    emulator.emulator.load([build_incident_crd(), _incident()])
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    client = api_client(emulator.kubeconfig_path)
    app = web.Application()
    SlackInteractions(SECRET, IncidentStore(client), policy_file=policy).install(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Endpoint(f"http://{host}:{port}", emulator)
    finally:
        await runner.cleanup()
        client.close()  # type: ignore[no-untyped-call]


async def test_helpful_writes_feedback_like_kubectl_patch(endpoint: Endpoint) -> None:
    body = endpoint.press(ACTION_HELPFUL, endpoint.value())
    status, answer = await endpoint.post(body, sign(body, int(time.time())))
    assert status == 200, answer
    assert endpoint.spec()["feedback"] == {"helpful": True, "by": "slack:U0PERSON"}


async def test_wrong_category_records_the_correct_one(endpoint: Endpoint) -> None:
    body = endpoint.press(ACTION_CATEGORY, endpoint.value(category="config-missing"))
    status, _ = await endpoint.post(body, sign(body, int(time.time())))
    assert status == 200
    feedback = endpoint.spec()["feedback"]
    assert feedback == {
        "helpful": False,
        "correctCategory": "config-missing",
        "by": "slack:U0PERSON",
    }


async def test_listed_user_approves_with_slack_identity(endpoint: Endpoint) -> None:
    value = endpoint.value(remediation="r1")
    body = endpoint.press(f"{ACTION_APPROVE}.r1", value, user="U0APPROVER")
    status, _ = await endpoint.post(body, sign(body, int(time.time())))
    assert status == 200
    spec = endpoint.spec()
    assert (spec["approve"], spec["approvedBy"]) == ("r1", "slack:U0APPROVER")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong-signature", 401),
        ("old-timestamp", 401),
        ("no-signature", 401),
        ("unlisted-approver", 403),
        ("deleted-and-recreated", 410),
        ("malformed-payload", 400),
        ("unknown-category", 400),
    ],
)
async def test_refused_requests_change_nothing(
    endpoint: Endpoint, case: str, expected: int
) -> None:
    before = endpoint.spec()
    now = int(time.time())
    if case == "unlisted-approver":
        body = endpoint.press(f"{ACTION_APPROVE}.r1", endpoint.value(remediation="r1"))
    elif case == "deleted-and-recreated":
        body = endpoint.press(
            ACTION_HELPFUL,
            json.dumps({"namespace": NAMESPACE, "name": NAME, "uid": "another-uid"}),
        )
    elif case == "malformed-payload":
        body = urlencode({"payload": "{not json"}).encode()
    elif case == "unknown-category":
        body = endpoint.press(ACTION_CATEGORY, endpoint.value(category="gremlins"))
    else:
        body = endpoint.press(ACTION_HELPFUL, endpoint.value())
    headers = {
        "wrong-signature": sign(body, now, secret="not-the-signing-secret"),
        "old-timestamp": sign(body, now - 6 * 60),
        "no-signature": {"Content-Type": "application/x-www-form-urlencoded"},
    }.get(case) or sign(body, now)
    status, _ = await endpoint.post(body, headers)
    assert status == expected
    assert endpoint.spec() == before


async def test_a_replayed_request_is_refused(endpoint: Endpoint) -> None:
    body = endpoint.press(ACTION_CATEGORY, endpoint.value(category="storage"))
    headers = sign(body, int(time.time()))
    first, _ = await endpoint.post(body, headers)
    assert first == 200
    # Someone changes the feedback afterwards; replaying the captured request must not undo it.
    client = api_client(endpoint.emulator.kubeconfig_path)
    try:
        await IncidentStore(client).patch(
            NAMESPACE, NAME, {"spec": {"feedback": {"correctCategory": "network"}}}
        )
    finally:
        client.close()  # type: ignore[no-untyped-call]
    replay, answer = await endpoint.post(body, headers)
    assert replay == 401
    assert answer["text"] == "replayed request"
    assert endpoint.spec()["feedback"]["correctCategory"] == "network"
