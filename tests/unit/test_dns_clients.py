"""Checks the cluster DNS server's clients whose releases changed their DNS settings, and the
dns-client-rollout rule.

Evidence side (``kubetriage.evidence.dns_clients`` through the real builder): when the
incident's workload runs the cluster's DNS (the kube-dns label, or a CoreDNS image), the
Deployments whose last rollout changed ``dnsConfig`` are kept with their rollouts; one whose
release changed only its image is not, and nothing is read for another workload. Analyzer
side (``kubetriage.analyzers.dns_clients``): the one client whose release changed its DNS
settings within the onset window is rolled back, above the server's own throttling; near
misses: the server itself rolled out, the client changed long before, two clients changed.

Real: raw Deployment and ReplicaSet manifests, the pure builder, Evidence models from
``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.dns_clients import CONFIDENCE, NAME
from kubetriage.evidence.dns_clients import serves_cluster_dns
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import DnsClientEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW, ago, analyze, assert_leads

COREDNS = ObjectRef(kind="Deployment", namespace="kube-system", name="coredns")
BIDDER = ObjectRef(kind="Deployment", namespace="ads", name="bidder")
CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _server(labels: dict[str, str] | None = None, image: str = "coredns:1.11") -> dict[str, Any]:
    return deployment_manifest(
        "coredns", "kube-system", ("coredns", image), labels=labels or {"k8s-app": "kube-dns"}
    )


def _client(ref: ObjectRef, old_spec: dict[str, Any], new_image: str) -> list[dict[str, Any]]:
    """``ref``'s Deployment and its two ReplicaSets: the old one with ``old_spec`` added to
    its pod spec, the new one (80 minutes ago) running ``new_image`` without it."""
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": ref.name, "controller": True}

    def template(image: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "metadata": {"labels": {"app": ref.name}},
            "spec": {"containers": [{"name": "app", "image": image}], **extra},
        }

    def replica_set(
        suffix: str, revision: int, image: str, extra: dict[str, Any], created: float
    ) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{ref.name}-{suffix}",
                "namespace": ref.namespace,
                "labels": {"app": ref.name},
                "creationTimestamp": _at(created),
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [owner],
            },
            "spec": {
                "selector": {"matchLabels": {"app": ref.name}},
                "template": template(image, extra),
            },
        }

    deployment = deployment_manifest(ref.name, ref.namespace, ("app", new_image))
    return [
        deployment,
        replica_set("old", 14, "app:1", old_spec, 60 * 24 * 14),
        replica_set("new", 15, new_image, {}, 80),
    ]


def test_the_servers_clients_that_changed_their_dns_settings_are_kept() -> None:
    ndots = {"dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}
    objects = [
        _server(),
        *_client(BIDDER, ndots, "app:2"),
        *_client(CHECKOUT, {}, "app:2"),
    ]
    evidence = built(objects, COREDNS)
    [client] = evidence.dns_clients
    assert client.ref == BIDDER
    assert client.changes[0].aspects == ["image", "dns"]
    assert built(objects, BIDDER).dns_clients == []


def test_the_dns_server_is_known_by_its_label_or_its_image() -> None:
    assert serves_cluster_dns(_server())
    assert serves_cluster_dns(_server({"app": "dns"}, "registry.k8s.io/coredns/coredns:v1.11.3"))
    assert not serves_cluster_dns(_server({"app": "dns"}, "dnsmasq:2.90"))
    assert not serves_cluster_dns(None)


# --- the rule ----------------------------------------------------------------------------


def _changed(ref: ObjectRef, minutes_ago: float = 40, *aspects: str) -> DnsClientEvidence:
    change = make.rollout_change(ref, 14, *(aspects or ("image", "dns")), minutes_ago=minutes_ago)
    change.aspect_details["dns"] = ["dnsConfig.options.ndots 1 -> unset"]
    return DnsClientEvidence(ref=ref, changes=[change])


def _evidence(
    clients: list[DnsClientEvidence], own: list[ChangeEvidence] | None = None
) -> Evidence:
    return make.evidence(
        target=COREDNS,
        workload=make.deployment("coredns", "kube-system"),
        alerts=[
            AlertEvidence(
                labels={"alertname": "CPUThrottlingHigh", "namespace": "kube-system"},
                starts_at=ago(31),
                status="firing",
            )
        ],
        dns_clients=clients,
        changes=own or [],
    )


def _fired(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == NAME]


def test_the_one_client_that_changed_its_dns_settings_is_rolled_back() -> None:
    result = analyze(_evidence([_changed(BIDDER)]))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, BIDDER)
    assert (first.analyzer, first.confidence) == (NAME, CONFIDENCE.rollout)
    assert "ndots" in first.summary + (first.narrative.because[0].text if first.narrative else "")


def test_silent_when_the_release_cannot_explain_the_servers_trouble() -> None:
    assert _fired(_evidence([_changed(BIDDER, 60 * 30)])) == []
    assert _fired(_evidence([_changed(BIDDER), _changed(CHECKOUT)])) == []
    assert _fired(_evidence([_changed(BIDDER, 40, "image")])) == []
    own = [make.rollout_change(COREDNS, 3, "image", minutes_ago=35)]
    assert _fired(_evidence([_changed(BIDDER)], own)) == []
