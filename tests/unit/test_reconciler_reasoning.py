"""Checks "who should have renewed this Certificate, who should have published this host?":
a Certificate past its renewal time waits on cert-manager's controller, and a host the
cluster declares that does not resolve waits on external-dns; when that controller is down
(OOM-killed, say) it is the target, and when the DNS controller's newest revision stopped
watching what declares the host, or marks its records with another owner id, that rollout is
rolled back. A healthy controller, one
scaled to zero, a change that still covers the host, or nothing owed change nothing.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, and the analyzer
registry; the two train cases written for this, replayed through the builder; the live walk
(``follow_reconcilers``) over ``tests.support.listing``'s stand-in for the reader's lists.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.summaries.reconciler_debts import unresolved_hosts
from kubetriage.evidence.summaries.reconcilers import covers, flag_values
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.tenancy import Scope
from tests.support.built import built, case_evidence, deployment_manifest
from tests.support.cases import TRAIN
from tests.support.evidence import NOW, analyze, assert_leads, by_category
from tests.support.listing import reconciler_reads

WEB = ObjectRef(kind="Deployment", namespace="web", name="shopfront")
CERT = ObjectRef(kind="Certificate", namespace="web", name="shopfront-tls")
ISSUER = ObjectRef(kind="Deployment", namespace="pki", name="issuer")
DNS = ObjectRef(kind="Deployment", namespace="net", name="dns-sync")
CERT_LABELS = {
    "app.kubernetes.io/name": "cert-manager",
    "app.kubernetes.io/instance": "pki",
    "app.kubernetes.io/component": "controller",
}
DNS_LABELS = {"app.kubernetes.io/name": "external-dns", "app.kubernetes.io/instance": "dns"}


def _owned(kind: str, name: str, namespace: str, owner: str, **fields: Any) -> dict[str, Any]:
    api = "v1" if kind == "Pod" else "apps/v1"
    owner_kind = "ReplicaSet" if kind == "Pod" else "Deployment"
    body: dict[str, Any] = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [{"kind": owner_kind, "name": owner, "controller": True}],
            **fields.pop("metadata", {}),
        },
    }
    body.update(fields)
    return body


def _web() -> list[dict[str, Any]]:
    """The healthy workload the alert is about."""
    return [
        deployment_manifest(
            "shopfront",
            "web",
            ("app", "shopfront:1"),
            replicas=1,
            status={"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        ),
        _owned(
            "Pod",
            "shopfront-6c9d-abcde",
            "web",
            "shopfront-6c9d",
            metadata={"labels": {"app": "shopfront"}},
            spec={"containers": [{"name": "app", "image": "shopfront:1"}]},
            status={
                "phase": "Running",
                "containerStatuses": [
                    {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
                ],
            },
        ),
    ]


def _certificate(*, renewal: str, not_after: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "shopfront-tls", "namespace": "web"},
        "spec": {"secretName": "shopfront-tls", "dnsNames": ["shop.example.org"]},
        "status": {
            "notAfter": not_after,
            "renewalTime": renewal,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
        },
    }


def _issuer(*, replicas: int = 1, oom: bool = False, labels: bool = True) -> list[dict[str, Any]]:
    """cert-manager's controller, named unlike the chart's default, in its own namespace."""
    image = "quay.io/jetstack/cert-manager-controller:v1.15.0"
    pod_labels = CERT_LABELS if labels else {"run": "issuer"}
    ready = 0 if oom else replicas
    workload = deployment_manifest(
        "issuer",
        "pki",
        ("controller", image),
        labels=pod_labels,
        metadata={"labels": pod_labels},
        replicas=replicas,
        status={"replicas": replicas, "readyReplicas": ready},
    )
    if not replicas:
        return [workload]
    state: dict[str, Any] = {"running": {}}
    last: dict[str, Any] = {}
    if oom:
        state = {"waiting": {"reason": "CrashLoopBackOff"}}
        last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    pod = _owned(
        "Pod",
        "issuer-7d9c-x7vbq",
        "pki",
        "issuer-7d9c",
        metadata={"labels": pod_labels},
        spec={"containers": [{"name": "controller", "image": image}]},
        status={
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "controller",
                    "ready": not oom,
                    "restartCount": 40 if oom else 0,
                    "state": state,
                    "lastState": last,
                }
            ],
        },
    )
    return [workload, pod]


def _cert_objects(**issuer: Any) -> list[dict[str, Any]]:
    overdue = _certificate(renewal="2026-10-22T06:00:00Z", not_after="2026-11-21T06:00:00Z")
    return [*_web(), overdue, *_issuer(**issuer)]


def test_an_oom_killed_issuer_is_the_cause_of_an_overdue_certificate() -> None:
    ev = built(_cert_objects(oom=True), WEB)
    (reconciler,) = ev.reconcilers
    assert reconciler.workload == ISSUER
    assert reconciler.subjects == [CERT]
    assert "renewalTime 2026-10-22T06:00:00Z has passed" in reconciler.owed[0]
    result = analyze(ev)
    assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, ISSUER)
    assert not by_category(result, Category.CERTIFICATE_EXPIRY)


def test_an_issuer_is_recognised_by_its_image_without_the_chart_labels() -> None:
    ev = built(_cert_objects(oom=True, labels=False), WEB)
    assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, ISSUER)


@pytest.mark.parametrize("replicas", [1, 0], ids=["healthy", "scaled-to-zero"])
def test_a_healthy_or_idle_issuer_leaves_the_certificate_the_target(replicas: int) -> None:
    ev = built(_cert_objects(replicas=replicas), WEB)
    assert [r.workload for r in ev.reconcilers] == [ISSUER]
    result = analyze(ev)
    assert not [f for f in result.findings if f.target == ISSUER]
    assert_leads(result, Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, CERT)


def test_a_certificate_not_yet_due_owes_nothing_to_its_issuer() -> None:
    fresh = _certificate(renewal="2026-12-22T06:00:00Z", not_after="2027-01-21T06:00:00Z")
    ev = built([*_web(), fresh, *_issuer(oom=True)], WEB)
    assert ev.reconcilers == []


# --- a DNS controller and the hosts it publishes ----------------------------------------------


def _ingress(host: str = "checkout.example.org") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shopfront", "namespace": "web"},
        "spec": {
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "backend": {"service": {"name": "web"}}}]},
                }
            ]
        },
    }


def _dns_template(args: list[str]) -> dict[str, Any]:
    image = "registry.k8s.io/external-dns/external-dns:v0.15.0"
    return {
        "metadata": {"labels": DNS_LABELS},
        "spec": {"containers": [{"name": "external-dns", "image": image, "args": args}]},
    }


def _dns(current: list[str], previous: list[str]) -> list[dict[str, Any]]:
    """external-dns at revision 5 running ``current`` args, revision 4 having run
    ``previous``, rolled out two hours before ``NOW``."""
    workload = deployment_manifest(
        "dns-sync",
        "net",
        labels=DNS_LABELS,
        metadata={"labels": DNS_LABELS, "annotations": {"deployment.kubernetes.io/revision": "5"}},
        replicas=1,
        status={"replicas": 1, "readyReplicas": 1},
    )
    workload["spec"]["template"] = _dns_template(current)
    sets = []
    for revision, args, when in ((4, previous, "2026-08-01T00:00:00Z"), (5, current, None)):
        sets.append(
            _owned(
                "ReplicaSet",
                f"dns-sync-{revision}",
                "net",
                "dns-sync",
                metadata={
                    "labels": DNS_LABELS,
                    "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                    "creationTimestamp": when or "2026-11-20T08:00:00Z",
                },
                spec={"template": _dns_template(args)},
            )
        )
    return [workload, *sets]


NXDOMAIN = Alert(
    status="firing",
    labels={"alertname": "ProbeFailed", "instance": "https://checkout.example.org/healthz"},
    annotations={"description": "lookup checkout.example.org on 10.0.0.2:53: no such host"},
    starts_at=NOW,
)
BOTH = ["--source=service", "--source=ingress", "--domain-filter=example.org"]


def test_a_dns_controller_revision_that_stopped_watching_ingresses_is_rolled_back() -> None:
    current = ["--source=service", "--domain-filter=example.org"]
    ev = built([*_web(), _ingress(), *_dns(current, BOTH)], WEB, alerts=[NXDOMAIN])
    (reconciler,) = ev.reconcilers
    assert reconciler.hosts == ["checkout.example.org"]
    assert (reconciler.sources, reconciler.previous_sources) == (
        ["service"],
        ["service", "ingress"],
    )
    finding = assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, DNS)
    assert finding.params == {"revision": "4"}


def test_a_dns_controller_revision_that_narrowed_its_domains_is_rolled_back() -> None:
    current = ["--source=service", "--source=ingress", "--domain-filter=internal.example.org"]
    ev = built([*_web(), _ingress(), *_dns(current, BOTH)], WEB, alerts=[NXDOMAIN])
    assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, DNS)


def test_a_dns_controller_change_that_still_covers_the_host_is_not_blamed() -> None:
    current = [*BOTH, "--log-level=debug"]
    ev = built([*_web(), _ingress(), *_dns(current, BOTH)], WEB, alerts=[NXDOMAIN])
    assert len(ev.reconcilers) == 1
    assert not [f for f in analyze(ev).findings if f.target == DNS]


def test_a_dns_controller_revision_that_changed_its_owner_id_is_rolled_back() -> None:
    # The chart upgrade dropped --txt-owner-id: the records it published are marked with
    # the old owner, so it no longer updates them.
    ev = built(
        [*_web(), _ingress(), *_dns(BOTH, [*BOTH, "--txt-owner-id=prod-use1"])],
        WEB,
        alerts=[NXDOMAIN],
    )
    (reconciler,) = ev.reconcilers
    assert (reconciler.owner_id, reconciler.previous_owner_id) == ("default", "prod-use1")
    finding = assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, DNS)
    assert "no longer owns the record of checkout.example.org" in finding.summary
    assert finding.params == {"revision": "4"}


@pytest.mark.parametrize(
    ("current", "previous"),
    [
        # The same owner, other flags changed.
        ([*BOTH, "--txt-owner-id=prod", "--interval=2m"], [*BOTH, "--txt-owner-id=prod"]),
        # The default spelled out is the owner it had without the flag.
        ([*BOTH, "--txt-owner-id=default"], BOTH),
    ],
)
def test_a_dns_controller_keeping_its_owner_id_is_not_blamed(
    current: list[str], previous: list[str]
) -> None:
    ev = built([*_web(), _ingress(), *_dns(current, previous)], WEB, alerts=[NXDOMAIN])
    assert len(ev.reconcilers) == 1
    assert not [f for f in analyze(ev).findings if f.target == DNS]


def test_a_dns_controller_that_never_watched_the_source_is_not_blamed_for_a_rollout() -> None:
    only_services = ["--source=service"]
    ev = built(
        [*_web(), _ingress(), *_dns([*only_services, "--v=2"], only_services)],
        WEB,
        alerts=[NXDOMAIN],
    )
    assert not [f for f in analyze(ev).findings if f.target == DNS]


def test_a_host_nobody_says_is_unresolved_reads_no_dns_controller() -> None:
    quiet = NXDOMAIN.model_copy(update={"annotations": {"description": "probe failed: 503"}})
    ev = built([*_web(), _ingress(), *_dns(["--source=service"], BOTH)], WEB, alerts=[quiet])
    assert ev.reconcilers == []


def test_unresolved_hosts_are_declared_hosts_a_resolver_error_names() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "api",
            "namespace": "web",
            "annotations": {"external-dns.alpha.kubernetes.io/hostname": "api.example.org."},
        },
    }
    texts = [
        "getaddrinfo ENOTFOUND api.example.org",
        "lookup checkout.example.org.internal: no such host",  # another name
    ]
    found = unresolved_hosts([service, _ingress()], texts)
    assert [(host, obj["kind"]) for host, obj, _ in found] == [("api.example.org", "Service")]


def test_sources_and_filters_come_from_args_or_the_environment() -> None:
    template = {
        "spec": {
            "containers": [
                {
                    "name": "external-dns",
                    "args": ["--source", "ingress", "--provider=aws"],
                    "env": [{"name": "EXTERNAL_DNS_DOMAIN_FILTER", "value": "a.org b.org"}],
                }
            ]
        }
    }
    assert flag_values(template, "source") == ["ingress"]
    assert flag_values(template, "domain-filter") == ["a.org", "b.org"]
    assert covers(["ingress"], ["b.org"], "Ingress", "www.b.org")
    assert not covers(["ingress"], ["b.org"], "Service", "www.b.org")
    assert not covers(["ingress"], ["b.org"], "Ingress", "www.c.org")


@pytest.mark.parametrize(
    ("case_id", "category", "action", "target"),
    [
        (
            "oom-killed-cert-manager-controller-caches-all-secrets-storefront-certificate-not-renewed",
            Category.OOM_KILLED,
            Action.INCREASE_MEMORY,
            ObjectRef(kind="Deployment", namespace="cert-manager", name="cert-manager"),
        ),
        (
            "bad-rollout-external-dns-chart-upgrade-drops-ingress-source-new-checkout-host-nxdomain",
            Category.BAD_ROLLOUT,
            Action.ROLLBACK,
            ObjectRef(kind="Deployment", namespace="external-dns", name="external-dns"),
        ),
        (
            "certificate-expiry-gatekeeper-webhook-cert-manager-scaled-to-zero",
            Category.CERTIFICATE_EXPIRY,
            Action.RENEW_CERTIFICATE,
            ObjectRef(
                kind="Certificate",
                namespace="gatekeeper-system",
                name="gatekeeper-webhook-server-cert",
            ),
        ),
    ],
    ids=["issuer-oom", "dns-rollout", "issuer-scaled-to-zero"],
)
def test_train_cases_about_reconcilers(
    case_id: str, category: Category, action: Action, target: ObjectRef
) -> None:
    first = analyze(case_evidence(load_case(TRAIN / case_id))).findings[0]
    assert (first.category, first.action) == (category, action), first
    assert first.target.same_object(target), first


# --- the live walk reads what the builder recognises ------------------------------------------


def _walked(read: list[dict[str, Any]], cluster: list[dict[str, Any]], scope: Scope) -> set[str]:
    return reconciler_reads(read, cluster, scope, [NXDOMAIN])


def test_the_live_walk_reads_the_issuer_of_an_overdue_certificate_in_any_namespace() -> None:
    overdue = _certificate(renewal="2026-10-22T06:00:00Z", not_after="2026-11-21T06:00:00Z")
    read = [*_web(), overdue]
    issuer = _issuer(oom=True)
    issuer[1]["metadata"]["labels"] = CERT_LABELS
    assert _walked(read, issuer, Scope.unrestricted()) == {
        "Deployment/pki/issuer",
        "Pod/pki/issuer-7d9c-x7vbq",
    }
    assert _walked(read, issuer, Scope("web", cluster_wide=False)) == set()
    fresh = _certificate(renewal="2026-12-22T06:00:00Z", not_after="2027-01-21T06:00:00Z")
    assert _walked([*_web(), fresh], issuer, Scope.unrestricted()) == set()


def test_the_live_walk_reads_the_dns_controller_and_its_revisions_for_an_unresolved_host() -> None:
    dns = _dns(["--source=service"], BOTH)
    assert _walked([*_web(), _ingress()], dns, Scope.unrestricted()) == {
        "Deployment/net/dns-sync",
        "ReplicaSet/net/dns-sync-4",
        "ReplicaSet/net/dns-sync-5",
    }
    assert _walked([*_web(), _ingress("www.example.org")], dns, Scope.unrestricted()) == set()
