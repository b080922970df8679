"""The whole loop in ``kubetriage run``'s ``serve``: an Alertmanager alert becomes an
Incident, its diagnosis becomes one Slack message with an Approve button, a signed press of
that very button (its value taken from the message Slack received) approves the remediation
as the Slack user, the operator executes it under the policy and records that user as the
approver, and the resolved alert edits the same message.

Real: Kopf, the pipeline (no LLM), the receiver and the Slack interactivity endpoint in one
aiohttp app, slack-sdk against the scripted Slack Web API, the remediation policy file, the
kubernetes client and the emulator over HTTP with the example-oom-csv-exporter case.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from kubetriage.app import build_interactions, build_stages
from kubetriage.assembly import assemble_operator
from kubetriage.commands.run import serve
from kubetriage.handlers import RunOptions
from kubetriage.kubeclient import api_client
from kubetriage.notify.interactions import PATH
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.ports import free_port
from tests.integration import alertmanager_fixtures as am
from tests.integration.alertmanager_fixtures import TOKEN
from tests.support.cases import EXAMPLES
from tests.support.chat_servers import ScriptedSlackServer
from tests.support.incidents import slack_memory_policy
from tests.support.polling import wait_for_async

CASE = EXAMPLES / "example-oom-csv-exporter"
SIGNING_SECRET = "e0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
POLICY = slack_memory_policy("exports")


async def _until(check: Any, what: str) -> Any:
    """``wait_for_async`` for a synchronous check, polled without blocking the loop the
    operator runs in."""

    async def probe() -> Any:
        return check()

    return await wait_for_async(probe, what=what)


def _signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()))
    mac = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return body, {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={mac.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def test_alert_to_slack_to_approval_to_resolution(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    case = load_case(CASE)
    am.prepare_cluster(emulator)
    emulator.emulator.load(case.cluster)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    port = free_port()
    labels = dict(case.alert.labels)
    group = {"alertname": "KubePodCrashLooping", "namespace": "exports"}
    with ScriptedSlackServer() as slack:
        settings = am.receiver_settings(
            webhook_port=port,
            slack_bot_token=slack.token,
            slack_channel="C0OPS",
            slack_api_url=slack.api_url,
            slack_signing_secret=SIGNING_SECRET,
            policy_file=policy,
            retry_delay_seconds=0.2,
        )
        client = api_client(emulator.kubeconfig_path)
        operator = assemble_operator(
            settings, client, stages=build_stages(settings, client), notify=True
        )
        store = operator.context.incidents
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve(
                operator,
                RunOptions(stop_flag=stop),
                webhook=True,
                interactions=build_interactions(settings, store),
            )
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await am.wait_ready(session, base)

                async def alert(status: str) -> None:
                    payload = am.webhook_payload(
                        [am.webhook_alert(labels, status=status)], group_labels=group
                    )
                    async with session.post(
                        f"{base}/alerts", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
                    ) as response:
                        assert response.status == 200

                await alert("firing")
                (message,) = await _until(lambda: slack.messages, "the Slack message")
                approve = next(
                    element
                    for block in message.blocks
                    if block["type"] == "actions"
                    for element in block["elements"]
                    if element["action_id"].startswith("kubetriage.approve")
                )
                body, headers = _signed(
                    {
                        "type": "block_actions",
                        "user": {"id": "U0APPROVER"},
                        "actions": [{"action_id": approve["action_id"], "value": approve["value"]}],
                    }
                )
                async with session.post(f"{base}{PATH}", data=body, headers=headers) as response:
                    assert response.status == 200, await response.text()

                def remediation() -> dict[str, Any] | None:
                    found = am.incidents(emulator, "exports")
                    record = (found[0].get("status") or {}).get("remediation") if found else None
                    return record if record and record.get("result") != "Applying" else None

                record = await _until(remediation, "the approved remediation")
                assert record["approvedBy"] == "slack:U0APPROVER"
                assert record["approvedBySource"] == "spec.approvedBy"
                assert record["result"] == "Applied", record

                await alert("resolved")
                await _until(
                    lambda: slack.messages[0].blocks[0]["text"]["text"].startswith("[RESOLVED]"),
                    "the resolved edit",
                )
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=60)
            client.close()  # type: ignore[no-untyped-call]
        assert len(slack.messages) == 1
        notified = {
            c["type"]: c for c in am.incidents(emulator, "exports")[0]["status"]["conditions"]
        }["Notified"]
        assert notified["status"] == "True"
