"""Checks the traffic analyzers: dependency-failure (host in logs/env matched to a Service, cluster
DNS, databases refusing work), network (selector typo, deny-all NetworkPolicy, refusals from
ready endpoints) and certificate-expiry (incl. webhooks and called Services), with look-alikes
that must not fire (own access log, allow-only policies, far-off expiry, timeouts, NXDOMAIN).

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kubetriage.analyzers.network import labels_alike
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import (
    ConfigReference,
    GenericObjectEvidence,
    PodCondition,
    ServiceEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, NOW, analyze, assert_leads, by_category, top

MAILER_POD = "mailer-84c9b7d6f5-7rjvz"
EMAIL_API = ObjectRef(kind="Service", namespace="newsletter", name="email-api")


def _mailer(**extra: object) -> Evidence:
    mailer = make.container(
        "mailer",
        "ghcr.io/example-org/mailer:0.9.1",
        env={"EMAIL_API_URL": "https://email-api.newsletter.svc.cluster.local/v3/send"},
        limits={"cpu": "200m", "memory": "128Mi"},
    )
    email_api = make.external_service(
        "email-api",
        "api.mailprovider.example.com",
        "newsletter",
        annotations={"example.org/owner": "third-party email provider"},
    )
    return make.app_evidence(
        MAILER_POD,
        mailer,
        namespace="newsletter",
        workload=make.deployment("mailer", "newsletter", replicas=1, revision=2),
        services=[email_api],
        logs='level=WARN msg="send failed" batch=118 status=503 body="upstream maintenance"\n'
        'level=WARN msg="send failed" batch=118 status=503 body="upstream maintenance"\n'
        'level=ERROR msg="batch abandoned after 5 attempts" batch=117',
        **extra,
    )


def test_upstream_503_with_url_env_escalates_to_the_externalname_service() -> None:
    finding = top(_mailer())
    assert (finding.category, finding.action, finding.target) == (
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        EMAIL_API,
    )
    assert 0.7 <= finding.confidence <= 0.9
    assert any("EMAIL_API_URL" in e.fact for e in finding.evidence)
    assert "api.mailprovider.example.com" in finding.summary


def test_blackbox_probe_down_for_the_external_host_raises_confidence() -> None:
    probe = make.metric(
        'probe_success{job="blackbox-http",instance="https://api.mailprovider.example.com/health"}',
        first=1.0,
        last=0.0,
        labels={"instance": "https://api.mailprovider.example.com/health"},
    )
    plain = top(_mailer())
    probed = top(_mailer(metrics=[probe]))
    assert probed.target == EMAIL_API
    assert probed.confidence > plain.confidence
    assert any("probe_success" in e.fact for e in probed.evidence)


def test_connection_refused_to_a_named_service_outranks_the_crash_loop() -> None:
    ev = make.checkout_evidence(
        make.crash_looping("app", restarts=5, exit_code=1),
        workload=make.deployment(ready=0),
        services=[make.service("checkout"), make.service("redis", ready=0, matching=1)],
        logs=[make.checkout_log("Error: connect ECONNREFUSED redis:6379\nexiting")],
    )
    result = analyze(ev)
    first = result.findings[0]
    assert (first.category, first.target) == (
        Category.DEPENDENCY_FAILURE,
        ObjectRef(kind="Service", namespace="shop", name="redis"),
    )
    assert by_category(result, Category.CRASH_LOOP)[0].confidence < first.confidence


def test_connection_refused_alone_is_a_weak_signal_handed_to_the_workload() -> None:
    # No Service named: no dependency to blame, only failing calls to hand over (unknown).
    ev = make.checkout_evidence(
        logs=[make.checkout_log("warn: call failed: connection refused")],
    )
    finding = top(ev)
    assert finding.category is Category.UNKNOWN
    assert finding.target == ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    assert finding.confidence <= 0.5


def test_own_access_log_with_503s_is_not_a_dependency_failure() -> None:
    ev = make.checkout_evidence(
        services=[make.service("checkout", ready=2)],
        logs=[
            make.checkout_log(
                '10.0.0.1 - - "GET /cart HTTP/1.1" 503 12\n10.0.0.2 - - "GET / HTTP/1.1" 200'
            )
        ],
    )
    assert by_category(analyze(ev), Category.DEPENDENCY_FAILURE) == []


def test_service_selector_typo_is_network_on_the_service() -> None:
    ev = make.evidence(
        workload=make.deployment("web-frontend", replicas=2),
        pods=[
            make.app_pod(f"web-frontend-7d9f6c8b5-p{i}", make.container("web")) for i in range(2)
        ],
        services=[
            make.service("web-frontend", selector={"app": "web-frontnd"}, ready=0, matching=0)
        ],
    )
    finding = assert_leads(
        analyze(ev),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="web-frontend"),
    )
    assert "app=web-frontend" in finding.summary


@pytest.mark.parametrize("suffix", ["", "-q7", "-prod"])
def test_a_service_selecting_no_pod_is_not_a_typo_of_another_apps_label(suffix: str) -> None:
    # The cart Service has no pod (its Deployment cannot create any); the valkey-cart pods
    # next to it are another app, whatever suffix both names share.
    ev = make.evidence(
        workload=make.deployment(f"frontend{suffix}", replicas=2),
        pods=[
            make.app_pod(f"valkey-cart{suffix}-7d9f6c8b5-p{i}", make.container("valkey"))
            for i in range(2)
        ],
        services=[
            make.service(f"cart{suffix}", selector={"app": f"cart{suffix}"}, ready=0, matching=0)
        ],
    )
    assert not by_category(analyze(ev), Category.NETWORK)


def test_deny_all_ingress_policy_with_timeouts_is_network_on_the_policy() -> None:
    ev = make.checkout_evidence(
        network_policies=[make.network_policy("default-deny", "ingress: deny all")],
        logs=[
            make.checkout_log(
                "GET http://inventory.shop:8080/items failed: context deadline exceeded"
            )
        ],
    )
    finding = top(ev)
    assert (finding.category, finding.target) == (
        Category.NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="shop", name="default-deny"),
    )


def test_allow_policy_without_symptoms_fires_nothing() -> None:
    ev = make.checkout_evidence(
        network_policies=[make.network_policy("allow-frontend", "ingress from pods(app=frontend)")],
        services=[make.service("checkout", ready=1, matching=1)],
    )
    assert analyze(ev).findings == ()


def _certificate(not_after_hours: float, ready: bool) -> GenericObjectEvidence:
    not_after = NOW + timedelta(hours=not_after_hours)
    return GenericObjectEvidence(
        ref=ObjectRef(
            kind="Certificate",
            namespace="shop",
            name="checkout-tls",
            api_version="cert-manager.io/v1",
        ),
        conditions=[
            PodCondition(
                type="Ready",
                status="True" if ready else "False",
                reason="Ready" if ready else "Expired",
            )
        ],
        fields={"notAfter": not_after.isoformat(), "secretName": "checkout-tls"},
    )


def test_expired_certificate_is_renewed_on_the_certificate() -> None:
    ev = make.checkout_evidence(
        other_objects=[_certificate(-5, ready=False)],
    )
    finding = top(ev)
    assert (finding.category, finding.action, finding.target.kind, finding.target.name) == (
        Category.CERTIFICATE_EXPIRY,
        Action.RENEW_CERTIFICATE,
        "Certificate",
        "checkout-tls",
    )
    assert finding.params == {"certificate": "checkout-tls", "secret": "checkout-tls"}
    assert finding.confidence >= 0.9


def test_certificate_valid_for_months_fires_nothing() -> None:
    ev = make.checkout_evidence(
        other_objects=[_certificate(24 * 60, ready=True)],
    )
    assert analyze(ev).findings == ()


def test_x509_expired_in_logs_renews_the_mounted_tls_secret() -> None:
    refs = [ConfigReference(kind="Secret", name="checkout-tls", via="volume tls", exists=None)]
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), config_refs=refs)],
        logs=[
            make.checkout_log(
                "http: TLS handshake error from 10.0.0.5:51234: remote error: tls: expired "
                "certificate\nx509: certificate has expired or is not yet valid"
            )
        ],
    )
    result = analyze(ev)
    assert_leads(
        result,
        Category.CERTIFICATE_EXPIRY,
        Action.RENEW_CERTIFICATE,
        ObjectRef(kind="Secret", namespace="shop", name="checkout-tls"),
    )


def _frontend(
    logs: str,
    *,
    services: list[ServiceEvidence],
    network_policies: list[NetworkPolicyEvidence] | None = None,
) -> Evidence:
    """The calling side of the service tests: the frontend Deployment and its one pod,
    logging ``logs``, with ``services`` and ``network_policies`` in its namespace."""
    return make.app_evidence(
        "frontend-7d9f6c8b5-abcde",
        make.container("web"),
        logs=logs,
        services=services,
        network_policies=network_policies or [],
    )


def test_called_service_with_no_pods_behind_it_is_network_not_dependency() -> None:
    ev = _frontend(
        "error calling cart: dial tcp cart.shop.svc:8080: connect: connection refused",
        services=[make.service("cart", selector={"app": "cart-v2"}, ready=0, matching=0)],
    )
    result = analyze(ev)
    first = assert_leads(
        result,
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="cart"),
    )
    assert by_category(result, Category.DEPENDENCY_FAILURE)[0].confidence < first.confidence


def test_timeouts_into_a_service_fenced_by_a_policy_rank_network_above_dependency() -> None:
    fence = make.network_policy(
        "payments-ingress",
        "ingress from pods(app=checkout) :8443/TCP",
        pod_selector={"app": "payments"},
        selects_target=False,
    )
    ev = _frontend(
        "payment failed: POST http://payments.shop:8443/charge: context deadline exceeded",
        services=[make.service("payments", ready=2, matching=2)],
        network_policies=[fence],
    )
    result = analyze(ev)
    first = result.findings[0]
    assert (first.category, first.target) == (
        Category.NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="shop", name="payments-ingress"),
    )


def test_alerting_service_without_any_pod_behind_it_is_network() -> None:
    ev = make.evidence(
        target=ObjectRef(kind="Service", namespace="shop", name="web"),
        services=[
            make.service(
                "web",
                selector={"app": "web-v2"},
                ports=[make.service_port(80, 8080, "http")],
                ready=0,
                matching=0,
            )
        ],
    )
    assert_leads(
        analyze(ev),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="web"),
    )


def test_named_target_port_no_pod_declares_leaves_the_service_without_endpoints() -> None:
    """Pods ready, Service selecting them, no endpoint: its targetPort names a port ("http")
    the pods do not declare (they call it "web"), so the Service is what to fix. The same
    Service whose pods do declare that name is not blamed for the empty endpoints."""
    pods = [
        make.app_pod(
            f"profile-7d9f6c8b5-p{i}", make.container("app", ports=[make.port(8080, "web")])
        )
        for i in range(2)
    ]
    svc = make.service(
        "profile", ports=[make.service_port(80, "http", "http")], ready=0, matching=2
    )
    ev = make.evidence(
        target=ObjectRef(kind="Service", namespace="shop", name="profile"),
        workload=make.deployment("profile", replicas=2),
        pods=pods,
        services=[svc],
    )
    finding = assert_leads(
        analyze(ev),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="profile"),
    )
    assert "port http" in finding.summary
    declared = [
        p.model_copy(
            update={"containers": [make.container("app", ports=[make.port(8080, "http")])]}
        )
        for p in pods
    ]
    quiet = ev.model_copy(update={"pods": declared})
    assert not [f for f in analyze(quiet).findings if "targetPort" in f.summary]


def test_expired_certificate_of_an_external_api_is_escalated_to_its_service() -> None:
    refs = [ConfigReference(kind="Secret", name="checkout-tls", via="volume tls", exists=None)]
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), config_refs=refs)],
        services=[make.external_service("payments-api", "api.payments.example.com")],
        logs=[
            make.checkout_log(
                'charge failed: Post "https://api.payments.example.com/v1/charge": '
                "x509: certificate has expired or is not yet valid"
            )
        ],
    )
    assert_leads(
        analyze(ev),
        Category.CERTIFICATE_EXPIRY,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="shop", name="payments-api"),
    )


# --- cluster DNS and services named by their cluster DNS name ---------------------------------


def _resolver_evidence(lines: str) -> Evidence:
    return make.app_evidence(
        "invoicer-5d6f7a8b9c-zz1x2", make.container("invoicer"), namespace="ledger", logs=lines
    )


def test_resolver_timeouts_for_several_hosts_escalate_to_cluster_dns() -> None:
    ev = _resolver_evidence(
        "error: dial tcp: lookup hooks.partner.example.org on 10.96.0.10:53: read udp "
        "10.1.4.7:40211->10.96.0.10:53: i/o timeout\n"
        "warn: retry failed: lookup s3.eu-west-1.amazonaws.com on 10.96.0.10:53: i/o timeout"
    )
    found = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert found[0].action is Action.ESCALATE
    assert found[0].target == ObjectRef(kind="Service", namespace="kube-system", name="kube-dns")


def test_unanswered_lookups_of_a_ready_service_blame_the_resolver_not_that_service() -> None:
    # The lookup of the callee's name timed out at the resolver: the call never reached it.
    caller = make.container("invoicer", env={"CACHE_ADDR": "cache.ledger.svc.cluster.local:6379"})
    ev = make.app_evidence(
        "invoicer-5d6f7a8b9c-zz1x2",
        caller,
        namespace="ledger",
        logs=(
            "error: get failed: dial tcp: lookup cache.ledger.svc.cluster.local on "
            "10.96.0.10:53: read udp 10.1.4.7:40211->10.96.0.10:53: i/o timeout\n"
            "error: set failed: dial tcp: lookup cache.ledger.svc.cluster.local on "
            "10.96.0.10:53: read udp 10.1.4.7:40388->10.96.0.10:53: i/o timeout"
        ),
        services=[make.service("cache", "ledger", ready=1, matching=1)],
    )
    found = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert found[0].target == ObjectRef(kind="Service", namespace="kube-system", name="kube-dns")


def test_collected_coredns_service_is_preferred_as_the_dns_target() -> None:
    ev = _resolver_evidence("ERROR sync failed: getaddrinfo EAI_AGAIN api.vendor.example.net")
    dns = ServiceEvidence(name="coredns", namespace="dns-system", selector={"k8s-app": "dns"})
    ev = ev.model_copy(update={"services": [dns]})
    found = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert found[0].target == ObjectRef(kind="Service", namespace="dns-system", name="coredns")


def test_one_name_that_does_not_exist_is_not_blamed_on_cluster_dns() -> None:
    # Near miss: the resolver answered (NXDOMAIN) for a single name: the caller's config.
    ev = _resolver_evidence(
        "error: failed to connect: dial tcp: lookup paymnts-gw.example.org: no such host"
    )
    found = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert all(f.target.name not in ("kube-dns", "coredns") for f in found)


def _storefront(log_text: str) -> Evidence:
    """The not-ready storefront in namespace web, logging ``log_text``."""
    return make.app_evidence(
        "storefront-7b8c9d0e1f-kk2l3",
        make.container("web", ready=False),
        namespace="web",
        workload=make.deployment("storefront", "web", ready=0),
        logs=log_text,
    )


def test_failing_calls_to_a_service_in_another_namespace_escalate_to_it() -> None:
    ev = _storefront(
        'level=warn msg="health dependency failed" dep=sessions '
        'err="GET http://session-store.cache-tier.svc.cluster.local:6380/ping: '
        'connection refused"',
    )
    found = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert found[0].target == ObjectRef(
        kind="Service", namespace="cache-tier", name="session-store"
    )
    assert found[0].confidence >= 0.75


def test_absent_service_in_the_workloads_own_namespace_is_not_invented() -> None:
    # Near miss: the own namespace's Services were collected; one that is not there does not
    # exist, so the finding must not target it.
    ev = _storefront(
        "error: GET http://pricing.web.svc.cluster.local/quote: connection refused",
    )
    found = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert all(f.target.name != "pricing" for f in found)


# --- refused by ready endpoints; certificates presented by a called Service ----------------


def _caller_of(svc: ServiceEvidence, line: str) -> Evidence:
    return make.app_evidence(
        "timeline-4c5d6e7f8a-rt5yu",
        make.container("timeline"),
        namespace="feeds",
        services=[svc],
        logs=line,
    )


def _graph_store() -> ServiceEvidence:
    """A Service with two ready endpoints, mapping port 7000 to 7100."""
    return make.service(
        "graph-store", "feeds", ports=[make.service_port(7000, 7100, "grpc")], ready=2, matching=2
    )


def test_refusals_from_a_service_with_ready_endpoints_point_at_its_target_port() -> None:
    ev = _caller_of(
        _graph_store(), "ERROR dial graph-store:7000 failed: connect: connection refused"
    )
    finding = top(ev)
    assert finding.category is Category.NETWORK
    assert finding.action is Action.FIX_NETWORK
    assert finding.target == ObjectRef(kind="Service", namespace="feeds", name="graph-store")


def test_timeouts_to_a_service_with_ready_endpoints_stay_a_dependency_failure() -> None:
    # Near miss: a timeout says the backend is slow, not that the port is wrong.
    ev = _caller_of(_graph_store(), "ERROR call graph-store:7000 failed: context deadline exceeded")
    result = analyze(ev)
    assert not by_category(result, Category.NETWORK)
    assert result.findings[0].category is Category.DEPENDENCY_FAILURE


def test_expired_certificate_of_a_called_service_renews_the_secret_its_pods_mount() -> None:
    vault = make.service("keyvault", "feeds", ready=1)
    server = make.pod(
        "keyvault-0",
        make.container("keyvault"),
        namespace="feeds",
        replica_set=None,
        labels={"app": "keyvault"},
        config_refs=[ConfigReference(kind="Secret", name="keyvault-serving-cert", via="volume")],
    )
    ev = _caller_of(
        vault,
        'ERROR Get "https://keyvault.feeds.svc:8443/v1/keys": x509: certificate has expired',
    )
    ev = ev.model_copy(update={"pods": [*ev.pods, server]})
    finding = by_category(analyze(ev), Category.CERTIFICATE_EXPIRY)[0]
    assert finding.action is Action.RENEW_CERTIFICATE
    assert finding.target == ObjectRef(
        kind="Secret", namespace="feeds", name="keyvault-serving-cert"
    )


def _webhook_failing(error: str, *, count: int = 1) -> Evidence:
    """The timeline ReplicaSet cannot create pods: its admission webhook call fails with
    ``error``, ``count`` times."""
    return make.evidence(
        workload=make.deployment("timeline", "feeds", ready=1, replicas=3),
        pods=[
            make.pod(
                "timeline-4c5d6e7f8a-rt5yu", namespace="feeds", replica_set="timeline-4c5d6e7f8a"
            )
        ],
        events=[
            make.event(
                "FailedCreate",
                "Error creating: Internal error occurred: failed calling webhook "
                '"policy.example.dev": Post '
                f'"https://policy-gate.gatekeeping.svc:443/validate?timeout=5s": {error}',
                name="timeline-4c5d6e7f8a",
                kind="ReplicaSet",
                namespace="feeds",
                count=count,
            )
        ],
    )


def test_webhook_with_an_expired_certificate_in_failedcreate_events_is_certificate_expiry() -> None:
    ev = _webhook_failing(
        "tls: failed to verify certificate: x509: certificate has expired or is not yet valid",
        count=7,
    )
    finding = by_category(analyze(ev), Category.CERTIFICATE_EXPIRY)[0]
    # The serving Secret is in a namespace the evidence did not collect: hand it to its owner.
    assert finding.action is Action.ESCALATE
    assert finding.target == ObjectRef(kind="Service", namespace="gatekeeping", name="policy-gate")


def test_failedcreate_for_a_webhook_that_times_out_is_not_certificate_expiry() -> None:
    # Near miss: same event shape, but the webhook is unreachable, not expired.
    ev = _webhook_failing("context deadline exceeded")
    assert not by_category(analyze(ev), Category.CERTIFICATE_EXPIRY)


# --- a database that is up but refuses the work ---------------------------------------------


def _orders_writer(line: str) -> Evidence:
    warehouse = make.external_service(
        "orders-warehouse", "orders.abc123.us-east-1.rds.amazonaws.com", "sales"
    )
    return make.app_evidence(
        "order-writer-1f2e3d4c5b-vw6xy",
        make.container("writer", env={"PGHOST": "orders-warehouse.sales.svc"}),
        namespace="sales",
        services=[warehouse],
        logs=line,
    )


def test_database_refusing_writes_escalates_to_its_service() -> None:
    ev = _orders_writer(
        "ERROR flush of 500 rows failed: ERROR: cannot execute INSERT in a read-only transaction"
    )
    finding = top(ev)
    assert finding.category is Category.DEPENDENCY_FAILURE
    assert finding.action is Action.ESCALATE
    assert finding.target == ObjectRef(kind="Service", namespace="sales", name="orders-warehouse")


def test_a_log_merely_mentioning_read_only_transactions_fires_nothing() -> None:
    ev = _orders_writer("INFO routing reporting queries as read-only transaction to the replica")
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_a_500_the_workload_served_itself_is_not_a_failing_dependency() -> None:
    served = make.log(
        "checkout-7d9f6c8b5-a",
        "app",
        "I, [2026-11-20T09:58:11.118 #1]  INFO -- : [b1f0] Completed 500 Internal Server Error "
        "in 12ms (ActiveRecord: 3.1ms)\n"
        '10.0.0.1 - - "GET /cart HTTP/1.1" 500 512',
    )
    ev = make.evidence(
        pods=[make.pod("checkout-7d9f6c8b5-a", make.container("app"))], logs=[served]
    )
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


@pytest.mark.parametrize(
    ("value", "other", "alike"),
    [
        ("checkout", "checkuot", True),  # misspelt
        ("payment-service", "paymentservice", True),  # a dash dropped
        ("web-v1", "web-v2", True),  # another version of the same app
        ("cart", "valkey-cart", False),  # another app built on the word
        # A suffix both names share (an environment, an instance) makes them no more alike.
        ("cart-q7", "valkey-cart-q7", False),
        ("cart-prod", "cart-prod-canary", False),
        ("cart", "ledger", False),
    ],
)
def test_label_values_are_alike_when_misspelt_not_when_whole_words_differ(
    value: str, other: str, alike: bool
) -> None:
    assert labels_alike(value, other) is alike
    assert labels_alike(other, value) is alike
