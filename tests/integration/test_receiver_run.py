"""``kubetriage run``'s ``serve``: the operator and the receiver in ONE asyncio loop. A
webhook posted to the configured port becomes an Incident that the same process diagnoses;
stopping the operator stops the receiver. Real: Kopf, the pipeline (no LLM), aiohttp, the
kubernetes client, the emulator over HTTP with the example-oom-csv-exporter case."""

from __future__ import annotations

import asyncio

import aiohttp

from kubetriage.app import build_stages
from kubetriage.commands.run import serve
from kubetriage.handlers import OperatorContext
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from tests.integration.alertmanager_fixtures import (
    TOKEN,
    free_port,
    incidents,
    prepare_cluster,
    receiver_settings,
    webhook_alert,
    webhook_payload,
)
from tests.support.cases import EXAMPLES

CASE = EXAMPLES / "example-oom-csv-exporter"


async def test_serve_runs_operator_and_receiver_in_one_loop(emulator: EmulatorThread) -> None:
    case = load_case(CASE)
    prepare_cluster(emulator)
    emulator.emulator.load(case.cluster)
    port = free_port()
    settings = receiver_settings(webhook_port=port)
    client = api_client(emulator.kubeconfig_path)
    ctx = OperatorContext(
        settings=settings,
        stages=build_stages(settings, client),
        incidents=IncidentStore(client),
        api_client=client,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(ctx, namespaces=[], standalone=True, webhook=True, stop_flag=stop)
    )
    payload = webhook_payload(
        [webhook_alert(dict(case.alert.labels), annotations=dict(case.alert.annotations))],
        group_labels={"alertname": "KubePodCrashLooping", "namespace": "exports"},
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # the receiver is up once the port answers
                try:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            async with session.post(
                f"http://127.0.0.1:{port}/alerts",
                json=payload,
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response:
                assert response.status == 200
        for _ in range(600):
            found = incidents(emulator, "exports")
            if found and (found[0].get("status") or {}).get("phase") == "Diagnosed":
                break
            await asyncio.sleep(0.1)
        [incident] = incidents(emulator, "exports")
        assert incident["status"]["phase"] == "Diagnosed"
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
