"""What pods' injectors and sidecars read, against the emulated API server over real HTTP (its
audit log shows what was read), with train cases' objects, compared with the offline builder
over the whole snapshot: a replica the fail-open Vault injector skipped leads the webhook walk
to that injector's configuration, Service and Certificates; pods running the Dapr sidecar get
their namespace's Dapr Components listed (with the Secret keys they read), and pods without it
do not; an alert about a custom resource, whose objects run no pod, leads to the conversion
webhook of the kind it names and the failed conversions its backend logged, and an alert with
pods lists no CRDs.

Real: the official ``kubernetes`` client talking HTTP to the in-process API emulator loaded
with a train case, the collector, and the pure builder over the case's objects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import load_case_into
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.tenancy import Scope
from tests.support.built import case_alert, case_evidence
from tests.support.cases import TRAIN
from tests.support.evidence import NOW

SKIPPED = "certificate-expiry-vault-injector-cert-expired-fail-open-pods-start-without-secrets"
DAPR = "config-missing-dapr-statestore-secret-key-renamed-new-pods-daprd-fatal-after-release"
CONVERSION = (
    "certificate-expiry-rke2-pipeline-operator-conversion-webhook-helm-generated-cert-expires-"
    "crd-list-fails-operator-restarts-jobs-never-start"
)


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


async def _live(emulator: EmulatorThread, api: client.ApiClient, case: Case) -> Evidence:
    """The case loaded alone and collected for its alert (every namespace readable)."""
    load_case_into(emulator.emulator, case)
    emulator.emulator.clear_audit()
    return await KubeEvidenceCollector(api, limits=EvidenceLimits()).collect(
        target=None,
        alerts=[case_alert(case)],
        title=case.title,
        description=None,
        now=NOW,
        scope=Scope.unrestricted(),
    )


def _snapshot(case: Case) -> Evidence:
    """The case's evidence as the replay's offline source builds it (its tails marked by why
    the collector reads them)."""
    return SnapshotEvidenceSource(case).build(
        target=None, alerts=[case_alert(case)], title=case.title, description=None, now=NOW
    )


def _injectors(evidence: Evidence) -> list[tuple[str, list[str], list[str]]]:
    return [
        (w.name, [b.name for b in w.blocked], [c.ref.name for c in w.certificates])
        for w in evidence.webhooks
        if not w.observed
    ]


async def test_the_skipped_replica_leads_to_its_fail_open_injector_and_certificates(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = load_case(TRAIN / SKIPPED / "case.yaml")
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert _injectors(offline) == [
        ("vault.hashicorp.com", ["fulfillment-api-58f7c9d6b4-kd2wv"], ["vault-injector-tls"])
    ]
    assert _injectors(live) == _injectors(offline)


def _components(evidence: Evidence) -> list[tuple[str, dict[str, str]]]:
    return [
        (o.ref.name, {k: v for k, v in o.fields.items() if k.startswith("secretKeyRef.")})
        for o in evidence.other_objects
        if o.ref.kind == "Component"
    ]


async def test_pods_running_dapr_get_their_namespaces_components_listed(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = load_case(TRAIN / DAPR / "case.yaml")
    live = await _live(emulator, api, case)
    statestore = (
        "statestore",
        {
            "secretKeyRef.redisPassword.name": "orders-redis-auth",
            "secretKeyRef.redisPassword.key": "redis-password",
        },
    )
    assert statestore in _components(case_evidence(case))
    assert sorted(_components(live)) == sorted(_components(case_evidence(case)))
    assert [r for r in emulator.emulator.audit if r.resource == "components"]


async def test_pods_without_dapr_get_no_components_listed(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The Vault case's pods ask for Vault's agent, not for Dapr's sidecar.
    await _live(emulator, api, load_case(TRAIN / SKIPPED / "case.yaml"))
    assert not [r for r in emulator.emulator.audit if r.resource == "components"]


def _conversions(evidence: Evidence) -> list[tuple[str, str, int, str | None]]:
    return [
        (w.name, w.failure, w.count, w.service.name if w.service else None)
        for w in evidence.webhooks
        if w.configuration is not None and w.configuration.kind == "CustomResourceDefinition"
    ]


async def test_a_podless_alert_naming_a_kind_leads_to_its_conversion_webhook(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = load_case(TRAIN / CONVERSION / "case.yaml")
    live = await _live(emulator, api, case)
    offline = _snapshot(case)
    assert _conversions(offline) == [
        ("datapipelines.batch.lab.corp", "expired", 2, "pipeline-operator-webhook")
    ]
    assert _conversions(live) == _conversions(offline)


async def test_an_alert_with_pods_lists_no_crds(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    await _live(emulator, api, load_case(TRAIN / DAPR / "case.yaml"))
    assert not [r for r in emulator.emulator.audit if r.resource == "customresourcedefinitions"]
