"""``kubetriage run``'s ``serve``: the operator and the receiver in ONE asyncio loop. A
webhook posted to the configured port becomes an Incident that the same process diagnoses;
stopping the operator stops the receiver. Real: Kopf, the pipeline (no LLM), aiohttp, the
kubernetes client, the emulator over HTTP with the example-oom-csv-exporter case."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from kubetriage.app import build_stages
from kubetriage.assembly import assemble_operator
from kubetriage.commands.run import serve
from kubetriage.handlers import RunOptions
from kubetriage.kubeclient import api_client
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.ports import free_port
from tests.integration import alertmanager_fixtures as am
from tests.integration.alertmanager_fixtures import TOKEN
from tests.support.cases import EXAMPLES
from tests.support.polling import wait_for_async

CASE = EXAMPLES / "example-oom-csv-exporter"


async def test_serve_runs_operator_and_receiver_in_one_loop(emulator: EmulatorThread) -> None:
    case = load_case(CASE)
    am.prepare_cluster(emulator)
    emulator.emulator.load(case.cluster)
    port = free_port()
    settings = am.receiver_settings(webhook_port=port)
    client = api_client(emulator.kubeconfig_path)
    operator = assemble_operator(settings, client, stages=build_stages(settings, client))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(operator, RunOptions(stop_flag=stop), webhook=True))
    payload = am.webhook_payload(
        [am.webhook_alert(dict(case.alert.labels), annotations=dict(case.alert.annotations))],
        group_labels={"alertname": "KubePodCrashLooping", "namespace": "exports"},
    )
    try:
        async with aiohttp.ClientSession() as session:
            await am.wait_ready(session, f"http://127.0.0.1:{port}", within=10)
            async with session.post(
                f"http://127.0.0.1:{port}/alerts",
                json=payload,
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response:
                assert response.status == 200

        async def diagnosed() -> list[dict[str, Any]]:
            return am.incidents(emulator, "exports")

        await wait_for_async(
            diagnosed,
            until=lambda found: (
                found and (found[0].get("status") or {}).get("phase") == "Diagnosed"
            ),
            what="the alert's Incident diagnosed",
        )
        [incident] = am.incidents(emulator, "exports")
        assert incident["status"]["phase"] == "Diagnosed"
        assert case.expect is not None
        assert incident["status"]["diagnosis"]["category"] == case.expect.category.value
        assert incident["status"]["alertGroup"]["notifications"] == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        client.close()  # type: ignore[no-untyped-call]
    assert task.done()
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                raise AssertionError(f"receiver still serving: {response.status}")
        except aiohttp.ClientConnectionError:
            pass
