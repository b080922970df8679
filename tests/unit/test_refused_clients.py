"""Checks the clients a server out of connection slots names by address, and the
refused-client rule.

Evidence side (``kubetriage.evidence.refused_clients`` through the real builder): the
addresses on a pooler's refusal lines ("no more connections allowed", PgBouncer's
``db/user@ip:port``) are mapped to pods, their ReplicaSets' Deployments and those
Deployments' rollouts; lines that are no refusal name no client. Analyzer side
(``kubetriage.analyzers.client_slots``): exactly one refused client rolled out a change of
how it calls within the onset window while the server did not change: that client is rolled
back; and the near misses: the client rolled out long before, its change touched nothing that
decides its calls, two refused clients changed, the server itself changed.

Real: raw Pod, ReplicaSet and Deployment manifests as the API returns them, the pure builder,
Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.client_slots import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.object_evidence import ChangeEvidence, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import NOW, ago, analyze, assert_leads

POOLER = ObjectRef(kind="Deployment", namespace="db", name="pgbouncer")
WORKER = ObjectRef(kind="Deployment", namespace="pay", name="settler")
API = ObjectRef(kind="Deployment", namespace="pay", name="pay-api")


def _refusal(address: str) -> str:
    return (
        f"2026-11-20 09:56:44.911 UTC [1] WARNING C-0x55d1: (nodb)/(nouser)@{address}:52218 "
        "pooler error: no more connections allowed (max_client_conn)"
    )


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _template(image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": WORKER.name}},
        "spec": {"containers": [{"name": "worker", "image": image}]},
    }


def _client_objects() -> list[dict[str, Any]]:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": WORKER.name, "namespace": WORKER.namespace},
        "spec": {"selector": {"matchLabels": {"app": WORKER.name}}, "template": _template("w:2")},
    }

    def replica_set(suffix: str, revision: int, image: str, created: float) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{WORKER.name}-{suffix}",
                "namespace": WORKER.namespace,
                "labels": {"app": WORKER.name},
                "creationTimestamp": _at(created),
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": WORKER.name,
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "selector": {"matchLabels": {"app": WORKER.name}},
                "template": _template(image),
            },
        }

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{WORKER.name}-new-x1",
            "namespace": WORKER.namespace,
            "labels": {"app": WORKER.name},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{WORKER.name}-new",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "worker", "image": "w:2"}]},
        "status": {"phase": "Running", "podIP": "10.12.3.101"},
    }
    return [
        deployment,
        replica_set("old", 14, "w:1", 60 * 24 * 17),
        replica_set("new", 15, "w:2", 80),
        pod,
    ]


def test_the_refused_addresses_are_mapped_to_their_deployments_and_rollouts() -> None:
    logs = [make.log("pgbouncer-1", "pgbouncer", _refusal("10.12.3.101"), namespace="db")]
    evidence = built(_client_objects(), POOLER, logs=logs)
    [client] = evidence.refused_clients
    assert (client.ref, client.address, client.pod) == (WORKER, "10.12.3.101", "settler-new-x1")
    assert [c.aspects for c in client.changes] == [["image"]]


def test_lines_that_refuse_nobody_name_no_client() -> None:
    line = "2026-11-20 09:55:06 UTC [1] LOG stats: 61 xacts/s from 10.12.3.101"
    logs = [make.log("pgbouncer-1", "pgbouncer", line, namespace="db")]
    assert built(_client_objects(), POOLER, logs=logs).refused_clients == []


# --- the rule ----------------------------------------------------------------------------


def _client(ref: ObjectRef, *aspects: str, minutes_ago: float = 76) -> RefusedClientEvidence:
    changes = [make.rollout_change(ref, 14, *aspects, minutes_ago=minutes_ago)] if aspects else []
    return RefusedClientEvidence(
        ref=ref,
        address="10.12.3.101",
        pod=f"{ref.name}-x1",
        line=_refusal("10.12.3.101"),
        changes=changes,
    )


def _evidence(
    *,
    clients: list[RefusedClientEvidence] | None = None,
    own_changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    return make.evidence(
        target=POOLER,
        workload=WorkloadEvidence(ref=POOLER, desired_replicas=1, ready_replicas=1),
        alerts=[
            AlertEvidence(
                labels={"alertname": "PgbouncerClientConnectionsNearLimit", "namespace": "db"},
                starts_at=ago(9),
                status="firing",
            )
        ],
        logs=[make.log("pgbouncer-1", "pgbouncer", _refusal("10.12.3.101"), namespace="db")],
        changes=own_changes or [],
        refused_clients=clients
        if clients is not None
        else [_client(WORKER, "image"), _client(API)],
    )


def _refused(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "refused-client"]


def test_the_one_refused_client_that_rolled_out_is_rolled_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, WORKER)
    assert finding.analyzer == "refused-client"
    assert finding.confidence == CONFIDENCE
    assert any("max_client_conn" in e.fact for e in finding.evidence)
    assert "pay-api did not change" in finding.summary or "pay-api" in str(finding.narrative)


def test_silent_when_the_client_rolled_out_long_before_the_onset() -> None:
    assert not _refused(_evidence(clients=[_client(WORKER, "image", minutes_ago=60 * 6)]))


def test_silent_when_the_clients_change_touched_nothing_that_decides_its_calls() -> None:
    assert not _refused(_evidence(clients=[_client(WORKER, "labels", "probes")]))


def test_silent_when_two_refused_clients_rolled_out() -> None:
    clients = [_client(WORKER, "image"), _client(API, "env", minutes_ago=30)]
    assert not _refused(_evidence(clients=clients))


def test_silent_when_the_server_itself_rolled_out() -> None:
    own = make.rollout_change(POOLER, 3, "env", minutes_ago=20)
    assert not _refused(_evidence(own_changes=[own]))


def test_silent_when_no_refused_client_changed() -> None:
    assert not _refused(_evidence(clients=[_client(WORKER), _client(API)]))
