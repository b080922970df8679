"""The collector against the emulated API server over real HTTP, with train cases' objects:
a probe alert's URL leads a cluster-scope Incident to the Ingress serving its host (and so to
the Certificates of that namespace), while an Incident confined to its namespace stays there;
and a followed dependency carries the Certificate writing the Secret its pods mount."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.tenancy import Tenancy
from tests.support.built import case_alert
from tests.support.cases import TRAIN

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
PROBED = load_case(TRAIN / "certificate-expiry-acme-dns01-cloudflare-token-rejected")
CALLER = load_case(TRAIN / "certificate-expiry-postgres-ca-issuer-keypair-missing")


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


async def _collect(
    api: client.ApiClient, case: Case, target: ObjectRef, namespace: str, cluster_scope: str
) -> Evidence:
    return await KubeEvidenceCollector(api, limits=EvidenceLimits()).collect(
        target=target,
        alerts=[case_alert(case)],
        title="t",
        description=None,
        now=NOW,
        scope=Tenancy(frozenset({cluster_scope})).scope(namespace),
    )


async def test_a_probed_url_leads_a_cluster_scope_incident_to_its_ingress(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    emulator.emulator.load(PROBED.cluster)
    monitoring = ObjectRef(kind="Namespace", name="monitoring")
    evidence = await _collect(api, PROBED, monitoring, "monitoring", "monitoring")
    assert evidence.target is not None
    assert (evidence.target.kind, evidence.target.namespace, evidence.target.name) == (
        "Ingress",
        "api-gw",
        "public-api",
    )
    assert ("Certificate", "api-example-com") in {
        (o.ref.kind, o.ref.name) for o in evidence.other_objects
    }
    confined = await _collect(api, PROBED, monitoring, "monitoring", "ops")
    assert confined.target is not None
    assert confined.target.kind == "Namespace"
    assert all(o.ref.namespace != "api-gw" for o in confined.other_objects)


async def test_a_followed_dependency_carries_the_certificate_of_its_mounted_secret(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    emulator.emulator.load(CALLER.cluster)
    caller = ObjectRef(kind="Deployment", namespace="accounts", name="profile-api")
    evidence = await _collect(api, CALLER, caller, "accounts", "accounts")
    certificates = [c.ref.name for d in evidence.dependencies for c in d.certificates]
    assert certificates == ["accounts-pg"]
