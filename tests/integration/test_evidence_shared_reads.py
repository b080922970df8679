"""Diagnoses running at once share their evidence reads (``KubeEvidenceCollector`` with a
``ReadCache``): five concurrent collections about one workload send the requests of one,
and gather the same evidence as a collector that shares nothing; with sharing off (0 s)
every collection sends its own; after the time to live a collection reads again and sees
what changed, within it the answer is at most that old (the documented staleness).

Real: the official ``kubernetes`` client over HTTP to the in-process API emulator loaded
with the OOM example case, its audit log counting the requests, and the pure builder; the
cache's clock is driven by hand (nothing sleeps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.readcache import ReadCache
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.tenancy import Scope
from tests.support.built import case_alert
from tests.support.cases import EXAMPLES
from tests.support.clocks import HandClock
from tests.support.evidence import NOW

CASE = EXAMPLES / "example-oom-csv-exporter" / "case.yaml"


@pytest.fixture
def case(emulator: EmulatorThread) -> Case:
    loaded = Case.model_validate(yaml.safe_load(Path(CASE).read_text(encoding="utf-8")))
    emulator.emulator.load(loaded.cluster)
    for key, text in loaded.logs.items():
        namespace, pod, container = key.split("/")
        emulator.emulator.set_logs(namespace, pod, container, text)
    emulator.emulator.clear_audit()
    return loaded


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


async def _collect(collector: KubeEvidenceCollector, case: Case) -> Evidence:
    return await collector.collect(
        target=None,
        alerts=[case_alert(case)],
        title=case.title,
        description=None,
        now=NOW,
        scope=Scope.unrestricted(),
    )


def _collector(api: client.ApiClient, shared: ReadCache | None) -> KubeEvidenceCollector:
    return KubeEvidenceCollector(api, limits=EvidenceLimits(), shared=shared)


def _requests(emulator: EmulatorThread) -> int:
    count = len(emulator.emulator.audit)
    emulator.emulator.clear_audit()
    return count


async def test_concurrent_diagnoses_send_the_requests_of_one_and_see_the_same_evidence(
    emulator: EmulatorThread, api: client.ApiClient, case: Case
) -> None:
    alone = await _collect(_collector(api, None), case)
    one = _requests(emulator)
    assert one > 10  # the walk: target, owners, pods, namespace lists, events, logs

    shared = _collector(api, ReadCache(60.0, clock=HandClock()))
    together = await asyncio.gather(*(_collect(shared, case) for _ in range(5)))
    assert _requests(emulator) == one
    for evidence in together:
        assert evidence.model_dump() == alone.model_dump()


async def test_zero_seconds_shares_nothing(
    emulator: EmulatorThread, api: client.ApiClient, case: Case
) -> None:
    await _collect(_collector(api, None), case)
    one = _requests(emulator)
    unshared = _collector(api, ReadCache(0.0))
    await asyncio.gather(*(_collect(unshared, case) for _ in range(3)))
    assert _requests(emulator) == 3 * one


async def test_answers_are_at_most_the_time_to_live_old(
    emulator: EmulatorThread, api: client.ApiClient, case: Case
) -> None:
    clock = HandClock()
    collector = _collector(api, ReadCache(2.0, clock=clock))
    first = await _collect(collector, case)
    one = _requests(emulator)
    [pod] = [p for p in case.cluster if p["kind"] == "Pod"]
    restarted = yaml.safe_load(yaml.safe_dump(pod))
    restarted["status"]["containerStatuses"][0]["restartCount"] = 99
    emulator.emulator.load([restarted])

    clock.now += 2.0  # within the time to live: the shared answers, unchanged
    again = await _collect(collector, case)
    assert _requests(emulator) == 0
    assert again.pods[0].containers[0].restart_count == first.pods[0].containers[0].restart_count

    clock.now += 0.1  # past it: read again, and the change is seen
    fresh = await _collect(collector, case)
    assert _requests(emulator) == one
    assert fresh.pods[0].containers[0].restart_count == 99
