"""Checks that the snapshot evidence source (kubetriage.replay.snapshot, which the golden
diagnoses and memory seeding use) reads a case as the collector reads it from a cluster: for
cases where a followed dependency's own log tails, or a failing admission webhook's backend's,
decide the diagnosis, the Evidence it builds marks its log tails as KubeEvidenceCollector does
on the emulator loaded with the case: the same tails are the incident's own, each followed
dependency has the same tails and claims of its own (once each, though the webhook walk reads
its backend again), and each failing webhook the same backend lines. (Other parts may differ:
a snapshot holds objects the walk does not read.) And that the snapshot lists objects in the
order an API server does (by namespace, then name), whatever order the case writes them in:
which pods' tails are read must not depend on how a case is written.

Real: the official ``kubernetes`` client talking HTTP to the in-process API emulator loaded
the way a replay loads a case (``load_case_into``), the collector and its dependency and
webhook walks, the replay's tenancy rule (``one_tenant``) and the pure builder on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.evidence.targets import target_namespace
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import LogTail, ServiceEvidence
from kubetriage.models.relations import DependencyVolume
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import case_alert, load_case_into, one_tenant
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.settings import Settings
from kubetriage.tenancy import Scope, Tenancy, allowed_candidates
from tests.support.cases import TRAIN

# A dependency's own words decide these (database, cache, broker, search cluster, storage).
CASE_NAMES = [
    "dependency-mongo-geo-user-removed-crashloop",
    "dependency-redis-shared-maxmemory-noeviction",
    "dependency-rabbitmq-memory-alarm-blocks-publishers",
    "dependency-failure-elasticsearch-no-master",
    "storage-postgres-data-volume-full-ledger-writes-fail",
    # ... and webhook backends that are also followed dependencies (their logs name the
    # Secret they cannot renew; say only that TLS handshakes fail).
    "certificate-expiry-kyverno-webhook-cert-not-renewed",
    "certificate-expiry-gatekeeper-webhook-cert-manager-scaled-to-zero",
]
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
LIMITS = EvidenceLimits()


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


def _query(case: Case, scope: Scope) -> EvidenceQuery:
    """The query the pipeline hands an evidence source for the case's alert."""
    alert = case_alert(case, NOW)
    candidates, _ = allowed_candidates(scope, None, [alert])
    return EvidenceQuery(
        target=candidates[0] if candidates else None,
        alerts=[alert],
        title=case.title,
        description=None,
        now=NOW,
    )


async def _collected(
    emulator: EmulatorThread, api: client.ApiClient, case: Case
) -> tuple[Scope, Evidence]:
    """The case loaded into the emulator as a replay loads it, and what the collector reads
    there for its alert under the replay's tenancy rule (with that rule's scope)."""
    load_case_into(emulator.emulator, case)
    settings = one_tenant(case, Settings())
    namespace = target_namespace(dict(case.alert.labels)) or settings.incident_namespace
    scope = Tenancy.from_settings(settings).scope(namespace)
    collector = KubeEvidenceCollector(api, limits=LIMITS, request_timeout=10.0)
    return scope, await collector.collect(scope=scope, **_query(case, scope))


def _own_words(
    evidence: Evidence,
) -> list[tuple[ServiceEvidence | None, list[LogTail], list[DependencyVolume]]]:
    """Each followed dependency's Service with its own log tails and mounted claims."""
    return [(d.service, d.logs, d.volumes) for d in evidence.dependencies]


def _backend_words(evidence: Evidence) -> list[tuple[str, list[str], list[str]]]:
    """Each failing webhook with its backend's certificate lines and the Secrets they name."""
    return [(w.name, w.log_lines, w.secrets_named) for w in evidence.webhooks]


@pytest.mark.parametrize("name", CASE_NAMES)
async def test_snapshot_evidence_equals_what_the_collector_reads(
    emulator: EmulatorThread, api: client.ApiClient, name: str
) -> None:
    case = load_case(TRAIN / name / "case.yaml")
    scope, collected = await _collected(emulator, api, case)
    snapshot = await SnapshotEvidenceSource(case, limits=LIMITS).collect(
        scope=scope, **_query(case, scope)
    )

    # The same tails are the incident's own, and each followed dependency says the same.
    assert snapshot.logs == collected.logs
    assert _own_words(snapshot) == _own_words(collected)
    assert _backend_words(snapshot) == _backend_words(collected)
    # Not vacuous: a followed dependency speaks in both, and its words are not the caller's.
    spoken = [d for d in collected.dependencies if d.logs]
    assert spoken
    own = {(t.namespace, t.pod) for t in collected.logs}
    assert all((t.namespace, t.pod) not in own for d in spoken for t in d.logs)
    assert all(w.log_lines for w in collected.webhooks)


async def test_the_snapshot_reads_a_case_in_the_api_servers_order_whatever_its_written_order(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # A stable and a canary Deployment behind one Service: the pods whose tails are read
    # decide whether the older pods are seen serving cleanly.
    case = load_case(TRAIN / "bad-rollout-canary-deployment-only-canary-fails" / "case.yaml")
    reordered = case.model_copy(update={"cluster": list(reversed(case.cluster))})
    scope, collected = await _collected(emulator, api, case)
    as_written = await SnapshotEvidenceSource(case, limits=LIMITS).collect(
        scope=scope, **_query(case, scope)
    )
    as_reversed = await SnapshotEvidenceSource(reordered, limits=LIMITS).collect(
        scope=scope, **_query(reordered, scope)
    )

    pods = [p.name for p in collected.pods]
    assert len(pods) > 2
    assert [p.name for p in as_written.pods] == pods
    assert [p.name for p in as_reversed.pods] == pods
    assert as_reversed.logs == as_written.logs == collected.logs
