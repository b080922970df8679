"""Checks certificate reasoning beyond an expired date: a cert-manager Certificate close to
expiry (or not Ready) whose renewal fails (a failed or denied CertificateRequest, an Issuer
not Ready) is renewed at the Certificate; a healthy renewal or a distant expiry stays quiet;
a CertificateRequest is summarised with its Certificate; and an expired certificate served by
a dependency in another namespace (or the workload behind a `<workload>-headless` Service)
is renewed at the TLS or issuer Secret its pods mount, or at the cert-manager Certificate
that writes that Secret when it is known.

Real: ``build_evidence`` on API-shaped dicts and the analyzer registry on Evidence models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubetriage.analyzers.cert_targets import pod_tls_secret
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import (
    ConfigMount,
    GenericObjectEvidence,
    PodCondition,
    ServiceEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import (
    analyze,
    container,
    crash_looping,
    evidence,
    log,
    naming,
    pod,
    top,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CERT = ObjectRef(kind="Certificate", namespace="web", name="www")


def _certificate(not_after: str, ready: str = "True") -> GenericObjectEvidence:
    return GenericObjectEvidence(
        ref=CERT,
        conditions=[PodCondition(type="Ready", status=ready, reason="Ready")],
        fields={"notAfter": not_after, "issuer": "Issuer/letsencrypt", "secretName": "www-tls"},
    )


def _request(reason: str = "Failed", status: str = "False") -> GenericObjectEvidence:
    return GenericObjectEvidence(
        ref=ObjectRef(kind="CertificateRequest", namespace="web", name="www-1"),
        conditions=[
            PodCondition(type="Ready", status=status, reason=reason, message="ACME order failed")
        ],
        fields={"certificate": "www", "issuer": "Issuer/letsencrypt"},
    )


def _issuer(ready: str) -> GenericObjectEvidence:
    return GenericObjectEvidence(
        ref=ObjectRef(kind="Issuer", namespace="web", name="letsencrypt"),
        conditions=[PodCondition(type="Ready", status=ready, reason="ErrRegisterACMEAccount")],
    )


def _renewal(ev: Any) -> list[Any]:
    return [f for f in analyze(ev).findings if f.analyzer == "certificate-renewal"]


def test_a_failed_request_for_a_certificate_expiring_soon_is_renewed_at_the_certificate() -> None:
    ev = evidence(other_objects=[_certificate("2026-11-27T10:00:00Z"), _request()])
    finding = top(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.CERTIFICATE_EXPIRY,
        Action.RENEW_CERTIFICATE,
        CERT,
    )
    assert finding.params == {"certificate": "www", "secret": "www-tls"}
    assert any("ACME order failed" in e.fact for e in finding.evidence)


def test_an_issuer_not_ready_explains_a_certificate_not_ready() -> None:
    ev = evidence(
        other_objects=[_certificate("2027-02-01T00:00:00Z", ready="False"), _issuer("False")]
    )
    [finding] = _renewal(ev)
    assert finding.target == CERT
    assert any("ErrRegisterACMEAccount" in e.fact for e in finding.evidence)


def test_a_distant_expiry_with_a_ready_certificate_is_quiet() -> None:
    ev = evidence(other_objects=[_certificate("2027-02-01T00:00:00Z"), _request()])
    assert _renewal(ev) == []


def test_a_certificate_close_to_expiry_with_no_failing_renewal_is_left_alone() -> None:
    ev = evidence(
        other_objects=[
            _certificate("2026-11-27T10:00:00Z"),
            _request(reason="Issued", status="True"),
        ]
    )
    assert _renewal(ev) == []


def test_a_certificate_request_is_summarised_with_its_certificate() -> None:
    request: dict[str, Any] = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {
            "name": "www-1",
            "namespace": "web",
            "annotations": {"cert-manager.io/certificate-name": "www"},
        },
        "spec": {"issuerRef": {"kind": "Issuer", "name": "letsencrypt"}},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Failed"}]},
    }
    ev = built([request], ObjectRef(kind="Namespace", name="web"))
    [summary] = [o for o in ev.other_objects if o.ref.kind == "CertificateRequest"]
    assert summary.fields["certificate"] == "www"
    assert summary.fields["issuer"] == "Issuer/letsencrypt"


def _caller_failing_tls(
    dependency: DependencyEvidence, line: str, *, pod: str, namespace: str
) -> Any:
    """Evidence of a caller's ``pod`` (container ``app``) logging ``line`` about
    ``dependency``."""
    return evidence(dependencies=[dependency], logs=[log(pod, "app", line, namespace=namespace)])


def _renews(ev: Any, secret: ObjectRef) -> None:
    finding = top(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.CERTIFICATE_EXPIRY,
        Action.RENEW_CERTIFICATE,
        secret,
    )


def test_an_expired_certificate_of_a_dependency_is_renewed_at_its_mounted_secret() -> None:
    dependency = DependencyEvidence(
        service=ServiceEvidence(name="ledger-api", namespace="ledger", selector={"app": "ledger"}),
        named_by=naming("log payouts/payouts-1/app"),
        pods=2,
        mounted_secrets=["ledger-api-config", "ledger-api-server-tls"],
    )
    line = (
        "ERROR Post https://ledger-api.ledger.svc:8443/entries: x509: certificate has "
        "expired or is not yet valid"
    )
    ev = _caller_failing_tls(dependency, line, pod="payouts-1", namespace="payouts")
    _renews(ev, ObjectRef(kind="Secret", namespace="ledger", name="ledger-api-server-tls"))


def test_a_dependencys_certificate_secret_is_known_by_where_its_pods_mount_it() -> None:
    """A callee's Secrets whose names say nothing: the one its containers mount at a
    TLS-looking path holds the certificate that expired; none at such a path, no Secret."""
    dependency = DependencyEvidence(
        service=ServiceEvidence(name="ledger-api", namespace="ledger", selector={"app": "ledger"}),
        named_by=naming("log payouts/payouts-1/app"),
        pods=2,
        mounted_secrets=["ledger-api-config", "ledger-keys"],
        secret_mounts=[
            ConfigMount(path="/etc/ledger", kind="Secret", name="ledger-api-config"),
            ConfigMount(path="/etc/ledger/tls", kind="Secret", name="ledger-keys"),
        ],
    )
    line = (
        "ERROR Post https://ledger-api.ledger.svc:8443/entries: x509: certificate has "
        "expired or is not yet valid"
    )
    ev = _caller_failing_tls(dependency, line, pod="payouts-1", namespace="payouts")
    _renews(ev, ObjectRef(kind="Secret", namespace="ledger", name="ledger-keys"))
    elsewhere = dependency.model_copy(
        update={
            "secret_mounts": [
                ConfigMount(path="/etc/ledger/keys", kind="Secret", name="ledger-keys")
            ]
        }
    )
    other = top(ev.model_copy(update={"dependencies": [elsewhere]}))
    assert (other.action, other.target.kind) == (Action.ESCALATE, "Service")


def test_an_expired_issuer_behind_a_headless_service_is_renewed_at_its_mounted_secret() -> None:
    """A proxy that cannot get a certificate from ``<workload>-headless``: the certificate
    at fault is the CA / issuer keypair the workload behind it mounts, not the caller's."""
    identity = ObjectRef(kind="Deployment", namespace="mesh", name="identity")
    dependency = DependencyEvidence(
        ref=identity,
        workload=identity,
        named_by=naming("log orders/orders-1/app"),
        pods=1,
        mounted_secrets=["identity-config", "identity-issuer"],
    )
    line = (
        "WARN controller{addr=identity-headless.mesh.svc.cluster.local:8080}: Service "
        'failed error=status: Unknown, message: "issuer certificate expired"'
    )
    ev = _caller_failing_tls(dependency, line, pod="orders-1", namespace="orders")
    _renews(ev, ObjectRef(kind="Secret", namespace="mesh", name="identity-issuer"))
    unrelated = dependency.model_copy(
        update={"workload": ObjectRef(kind="Deployment", namespace="mesh", name="policy")}
    )
    other = top(ev.model_copy(update={"dependencies": [unrelated]}))
    assert (other.action, other.target.kind) == (Action.ESCALATE, "Service")


def _client_rejected(mount_path: str, env: dict[str, str]) -> Any:
    """A crash-looping client whose database rejects the certificate it presents, with one
    Secret volume mounted at ``mount_path``."""
    client = crash_looping(
        "writer",
        env=env,
        config_mounts=[ConfigMount(path=mount_path, kind="Secret", name="writer-db-client")],
    )
    line = 'level=ERROR msg="db ping failed" error="remote error: tls: expired certificate"'
    return evidence(
        pods=[pod("writer-1", client, namespace="ledger")],
        logs=[log("writer-1", "writer", line, namespace="ledger")],
    )


def test_a_peer_rejecting_the_workloads_own_expired_certificate_renews_its_secret() -> None:
    """The peer's TLS alert says the certificate this side presented expired: the Secret the
    workload reads it from (a TLS-looking mount, or one its env points a key file into) is
    renewed, ahead of the crash loop it causes."""
    secret = ObjectRef(kind="Secret", namespace="ledger", name="writer-db-client")
    _renews(_client_rejected("/etc/mysql-client-tls", {}), secret)
    _renews(_client_rejected("/var/run/creds", {"DB_CERT": "/var/run/creds/client.pem"}), secret)


def test_a_rejected_certificate_without_a_secret_it_is_read_from_is_not_renewed() -> None:
    finding = next(
        f
        for f in analyze(_client_rejected("/var/run/creds", {})).findings
        if f.category is Category.CERTIFICATE_EXPIRY
    )
    assert (finding.action, finding.target.kind) == (Action.ESCALATE, "Deployment")


def test_an_expired_certificate_writing_a_dependencys_mounted_secret_is_renewed_there() -> None:
    """Clients fail verifying a callee's certificate; the cert-manager Certificate that writes
    the Secret the callee mounts (another namespace) has expired: renew that Certificate, not
    the Secret it rewrites."""
    expired = GenericObjectEvidence(
        ref=ObjectRef(kind="Certificate", namespace="ledger", name="ledger-api"),
        conditions=[PodCondition(type="Ready", status="False", reason="Expired")],
        fields={"notAfter": "2026-11-20T09:00:00Z", "secretName": "ledger-api-server-tls"},
    )
    dependency = DependencyEvidence(
        service=ServiceEvidence(name="ledger-api", namespace="ledger", selector={"app": "ledger"}),
        named_by=naming("log payouts/payouts-1/app"),
        pods=1,
        mounted_secrets=["ledger-api-server-tls"],
        certificates=[expired],
    )
    line = "ERROR connect ledger-api.ledger.svc:5432: SSL error: certificate verify failed"
    ev = _caller_failing_tls(dependency, line, pod="payouts-1", namespace="payouts")
    _renews(ev, ObjectRef(kind="Certificate", namespace="ledger", name="ledger-api"))


def test_a_pods_certificate_secret_is_known_by_its_name_its_mount_path_or_its_env() -> None:
    """Which Secret holds a pod's certificate when its name does not say so: the one mounted
    at a TLS-looking path, or the one its env points a key or certificate file into; a
    Secret mounted elsewhere and never pointed at is not taken for one."""

    def holder(path: str, env: dict[str, str], name: str = "ledger-keys") -> str | None:
        container = crash_looping(
            "api",
            env=env,
            config_mounts=[ConfigMount(path=path, kind="Secret", name=name)],
        )
        return pod_tls_secret(pod("api-1", container, namespace="ledger"))

    assert holder("/etc/tls", {}) == "ledger-keys"
    assert holder("/var/run/server-certs/", {}) == "ledger-keys"
    assert holder("/var/run/keys", {"TLS_CERT_FILE": "/var/run/keys/server.crt"}) == "ledger-keys"
    assert holder("/var/run/keys", {"LOG_LEVEL": "info"}) is None


def _caller_with_own_tls(line: str) -> Any:
    """A caller that mounts its own mesh certificate and logs ``line`` (no host named) while
    calling a dependency whose pods mount one TLS Secret."""
    dependency = DependencyEvidence(
        service=ServiceEvidence(name="rates", namespace="pricing", selector={"app": "rates"}),
        named_by=naming("pod checkout-1 env RATES_ADDR"),
        pods=2,
        mounted_secrets=["rates-grpc-tls"],
    )
    caller = container(
        "app",
        config_mounts=[ConfigMount(path="/etc/checkout/mtls", kind="Secret", name="checkout-mtls")],
    )
    return evidence(
        pods=[pod("checkout-1", caller, namespace="checkout")],
        dependencies=[dependency],
        logs=[log("checkout-1", "app", line, namespace="checkout")],
    )


def test_a_peer_certificate_the_workload_failed_to_verify_is_the_dependencys_not_its_own() -> None:
    """The workload says it verified the certificate its peer presented (Go's client, OpenSSL,
    Java's PKIX): the one TLS dependency's Secret is renewed, not the workload's own mesh
    certificate; a line that does not say who verified keeps the workload's own."""
    for line in (
        "rpc error: code = Unavailable desc = connection error: transport: authentication "
        "handshake failed: tls: failed to verify certificate: x509: certificate has expired "
        "or is not yet valid",
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: certificate has expired",
        "javax.net.ssl.SSLHandshakeException: PKIX path validation failed: "
        "java.security.cert.CertPathValidatorException: validity check failed",
    ):
        _renews(
            _caller_with_own_tls(line),
            ObjectRef(kind="Secret", namespace="pricing", name="rates-grpc-tls"),
        )
    _renews(
        _caller_with_own_tls("handshake error: x509: certificate has expired or is not yet valid"),
        ObjectRef(kind="Secret", namespace="checkout", name="checkout-mtls"),
    )


def _client_of_a_mirrored_ca(line: str, own: str = "events-cluster-ca-cert") -> Any:
    """A client that mounts a CA Secret named ``own`` and logs ``line`` (no host named) while
    calling a broker whose pods mount their cluster CA and their server certificates."""
    dependency = DependencyEvidence(
        service=ServiceEvidence(name="events-kafka", namespace="kafka", selector={"app": "kafka"}),
        named_by=naming("pod gateway-1 env KAFKA_BROKERS"),
        pods=3,
        mounted_secrets=["events-cluster-ca-cert", "events-kafka-brokers"],
        secret_mounts=[
            ConfigMount(path="/opt/kafka/cluster-ca", kind="Secret", name="events-cluster-ca-cert"),
            ConfigMount(path="/opt/kafka/broker-certs", kind="Secret", name="events-kafka-brokers"),
        ],
    )
    client = container(
        "app", config_mounts=[ConfigMount(path="/etc/kafka-ca", kind="Secret", name=own)]
    )
    return evidence(
        pods=[pod("gateway-1", client, namespace="iot")],
        dependencies=[dependency],
        logs=[log("gateway-1", "app", line, namespace="iot")],
    )


def test_a_verified_peer_certificate_read_through_a_copy_is_renewed_at_the_servers_secret() -> None:
    """A client that failed to verify its server's certificate reads a Secret named like one
    the server's pods mount in their own namespace (a CA mirrored into client namespaces):
    the server's Secret is renewed, not the copy. Near misses keep the client's own: a line
    that does not say the client verified its peer, and a Secret named like none of the
    server's."""
    verified = (
        "unable to dial: tls: failed to verify certificate: x509: certificate has expired or "
        "is not yet valid"
    )
    _renews(
        _client_of_a_mirrored_ca(verified),
        ObjectRef(kind="Secret", namespace="kafka", name="events-cluster-ca-cert"),
    )
    _renews(
        _client_of_a_mirrored_ca("handshake error: x509: certificate has expired"),
        ObjectRef(kind="Secret", namespace="iot", name="events-cluster-ca-cert"),
    )
    _renews(
        _client_of_a_mirrored_ca(verified, own="gateway-kafka-ca-cert"),
        ObjectRef(kind="Secret", namespace="iot", name="gateway-kafka-ca-cert"),
    )
