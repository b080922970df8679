"""Checks that a Secret the workload's pods read enters the change timeline from the events of
what writes it (the Secret's own, an ExternalSecret's sync) although Secrets are never read:
the collector lists those events (``event_subjects``) and the builder keeps them in scope; a
Secret the pods do not read stays out.

Real: ``kubetriage.evidence.index.secret_writers``, ``event_subjects`` over a real
``CollectionRun`` and the pure builder (``tests.support.built``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.event_subjects import event_subjects
from kubetriage.evidence.index import secret_writers
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from tests.support.built import built, deployment_manifest

WORKER = {
    "name": "app",
    "image": "ledger-worker:4.2.7",
    "env": [
        {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "worker-db", "key": "pw"}}}
    ],
    "envFrom": [{"secretRef": {"name": "worker-env"}}],
}


def _written(kind: str, name: str, at: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.1", "namespace": "ledger"},
        "involvedObject": {"kind": kind, "name": name, "namespace": "ledger"},
        "reason": "Updated",
        "message": "Updated Secret",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": at,
        "lastTimestamp": at,
    }


def test_the_secrets_the_pods_read_are_listed_with_their_writers() -> None:
    workload = deployment_manifest("ledger-worker", "ledger", WORKER)
    found = secret_writers(workload, [], limit=10)
    assert ("ExternalSecret", "ledger", "worker-db") in found
    assert ("SealedSecret", "ledger", "worker-env") in found
    assert ("Secret", "ledger", "worker-db") in found
    assert len(secret_writers(workload, [], limit=1)) == 3  # one Secret, its three writers
    assert secret_writers(None, [], limit=10) == []


def test_the_collector_lists_the_events_of_those_writers() -> None:
    workload = deployment_manifest("ledger-worker", "ledger", WORKER)
    run = CollectionRun(asyncio.Semaphore(1))
    subjects = event_subjects(run, None, workload, [], EvidenceLimits())
    assert ("ExternalSecret", "ledger", "worker-db") in subjects


def test_an_external_secret_sync_dates_the_change_of_the_secret_the_pods_read() -> None:
    workload = deployment_manifest("ledger-worker", "ledger", WORKER)
    events = [
        _written("ExternalSecret", "worker-db", "2026-11-20T09:05:12Z"),
        _written("ExternalSecret", "someone-elses-db", "2026-11-20T09:06:00Z"),
    ]
    ev = built(
        [workload, *events], ObjectRef(kind="Deployment", namespace="ledger", name="ledger-worker")
    )
    secrets = [c for c in ev.changes if c.object.kind == "Secret"]
    assert [c.object.name for c in secrets] == ["worker-db"]
    assert secrets[0].at is not None
    assert f"{secrets[0].at:%H:%M}" == "09:05"
