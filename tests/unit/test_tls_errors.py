"""Checks the one classifier of TLS certificate failures (``kubetriage.tls_errors``): each
phrase of its tables is exercised by a text its library really prints (Go crypto/x509 and
crypto/tls, OpenSSL/BoringSSL as Python, curl, nginx and Envoy print it, Node.js, Java
JSSE/PKIX and its HTTP clients, .NET, rustls and webpki, libpq) and classified as expired,
not yet valid, unknown authority or wrong host; Go's "has expired or is not yet valid" is
read by its clock ("is before" / "is after"); a validity phrase wins over the other kinds;
texts that are not certificate failures (timeouts, refused connections, JWT signatures,
a self-signed certificate being generated) are not classified. Its readers agree with it:
the certificate analyzers grep logs and events with it, the certificate precondition
accepts any failure it recognises, the webhook classifier defers to it (tests/unit/
test_webhooks.py).

Real: the pure classifier, the log grep of ``analyzers.support`` on LogTail models, and the
certificate precondition on Evidence models (tests/support/evidence.py factories).
"""

from __future__ import annotations

import re

import pytest

from kubetriage.analyzers.support import grep_tls_failures
from kubetriage.models.vocabulary import Category
from kubetriage.preconditions import category_supported
from kubetriage.tls_errors import (
    _PHRASES,
    TLS_FAILURES,
    VALIDITY_FAILURES,
    TlsFailure,
    classify_tls_failure,
    tls_failure_match,
)
from tests.support.evidence import event, evidence, log

_GO = "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "

# For each kind, (library, a text it prints): every phrase of the tables has one at least.
TEXTS: dict[TlsFailure, list[tuple[str, str]]] = {
    "not-yet-valid": [
        ("go", _GO + "current time 2026-11-17T09:58:02Z is before 2026-11-19T06:12:40Z"),
        (
            "python-openssl",
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
            "verify failed: certificate is not yet valid (_ssl.c:1006)",
        ),
        (
            "nodejs",
            '{"level":50,"msg":"payment call '
            'failed","err":{"type":"Error","code":"CERT_NOT_YET_VALID"}}',
        ),
        (
            "java",
            "Caused by: java.security.cert.CertificateNotYetValidException: NotBefore: Fri "
            "Dec 04 10:00:00 UTC 2026",
        ),
        ("rustls-0.21", "error trying to connect: invalid peer certificate: NotValidYet"),
        ("webpki", "invalid peer certificate contents: invalid peer certificate: CertNotValidYet"),
        (
            "rustls-0.23",
            "invalid peer certificate: certificate not valid yet: verification time "
            "1795000000 (UNIX), but certificate is not valid before 1795100000 (100000 "
            "seconds in future)",
        ),
    ],
    "expired": [
        ("go", _GO + "current time 2026-11-20T09:31:04Z is after 2026-11-20T09:12:44Z"),
        (
            "python-openssl",
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has "
            "expired (_ssl.c:1129)",
        ),
        ("curl", "curl: (60) SSL certificate problem: certificate has expired"),
        (
            "nginx",
            "upstream SSL certificate verify error: (10:certificate has expired) while SSL "
            'handshaking to upstream, upstream: "https://10.0.3.7:8443/"',
        ),
        ("nodejs", "FetchError: request failed, reason: certificate has expired"),
        ("nodejs", "Error: connect failed { code: 'CERT_HAS_EXPIRED' }"),
        ("go-alert", "remote error: tls: expired certificate"),
        (
            "python-alert",
            "[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired (_ssl.c:2580)",
        ),
        (
            "envoy-boringssl",
            "upstream connect error or disconnect/reset before headers. reset reason: "
            "connection failure, transport failure reason: TLS_error:|268436502:SSL "
            "routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_EXPIRED:TLS_error_end",
        ),
        (
            "java-alert",
            "javax.net.ssl.SSLHandshakeException: Received fatal alert: certificate_expired",
        ),
        (
            "java",
            "Caused by: java.security.cert.CertificateExpiredException: NotAfter: Sat Nov 28 "
            "23:59:59 UTC 2026",
        ),
        (
            "java-pkix",
            "sun.security.validator.ValidatorException: PKIX path validation failed: "
            "java.security.cert.CertPathValidatorException: validity check failed",
        ),
        (
            "dotnet",
            "System.Security.Authentication.AuthenticationException: The remote certificate "
            "is invalid because of errors in the certificate chain: NotTimeValid",
        ),
        ("rustls-0.21", "invalid peer certificate: Expired"),
        ("webpki", "invalid peer certificate contents: invalid peer certificate: CertExpired"),
        (
            "rustls-0.23",
            "invalid peer certificate: certificate expired: verification time 1795000000 "
            "(UNIX), but certificate is not valid after 1794900000 (100000 seconds ago)",
        ),
    ],
    "unknown-authority": [
        (
            "go",
            'x509: certificate signed by unknown authority (possibly because of "crypto/rsa: '
            'verification error" while trying to verify candidate authority certificate "ca")',
        ),
        ("go-alert", "remote error: tls: unknown certificate authority"),
        ("oc", "The server uses a certificate signed by an unknown authority."),
        (
            "python-openssl",
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
            "issuer certificate (_ssl.c:1006)",
        ),
        (
            "envoy",
            "verify cert failed: X509_verify_cert: certificate verification error at depth 1: "
            "unable to get issuer certificate",
        ),
        ("nodejs", "Error: unable to verify the first certificate"),
        (
            "curl",
            "curl: (60) SSL certificate problem: self-signed certificate in certificate chain",
        ),
        (
            "nginx",
            "upstream SSL certificate verify error: (18:self signed certificate) while SSL "
            "handshaking to upstream",
        ),
        ("python-alert", "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)"),
        (
            "envoy-boringssl",
            "TLS_error:|268436504:SSL "
            "routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA:TLS_error_end",
        ),
        ("java-alert", "javax.net.ssl.SSLHandshakeException: Received fatal alert: unknown_ca"),
        ("nodejs", '{"err":{"code":"UNABLE_TO_GET_ISSUER_CERT_LOCALLY"}}'),
        ("nodejs", '{"err":{"code":"UNABLE_TO_VERIFY_LEAF_SIGNATURE"}}'),
        ("nodejs", '{"err":{"code":"SELF_SIGNED_CERT_IN_CHAIN"}}'),
        ("nodejs", '{"err":{"code":"DEPTH_ZERO_SELF_SIGNED_CERT"}}'),
        (
            "java-pkix",
            "javax.net.ssl.SSLHandshakeException: PKIX path building failed: "
            "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid "
            "certification path to requested target",
        ),
        (
            "dotnet",
            "The remote certificate is invalid because of errors in the certificate chain: "
            "UntrustedRoot",
        ),
        (
            "dotnet",
            "The remote certificate is invalid because of errors in the certificate chain: "
            "PartialChain",
        ),
        ("rustls", "invalid peer certificate: UnknownIssuer"),
    ],
    "hostname": [
        ("go", "x509: certificate is valid for redis-master.cache.svc, not redis.cache.svc"),
        ("go", "x509: certificate is not valid for any names, but wanted to match db.data.svc"),
        (
            "go",
            "x509: cannot validate certificate for 10.96.0.12 because it doesn't contain any "
            "IP SANs",
        ),
        ("go", "x509: certificate relies on legacy Common Name field, use SANs instead"),
        (
            "python-openssl",
            "certificate verify failed: Hostname mismatch, certificate is not valid for "
            "'search.data.svc'. (_ssl.c:1006)",
        ),
        (
            "python-openssl",
            "certificate verify failed: IP address mismatch, certificate is not valid for "
            "'10.0.4.9'. (_ssl.c:1006)",
        ),
        (
            "python-ssl",
            "ssl.CertificateError: hostname 'db.data.svc' doesn't match 'db-primary.data.svc'",
        ),
        (
            "python-ssl",
            "ssl.CertificateError: hostname 'db' doesn't match either of 'db-0', 'db-1'",
        ),
        (
            "nodejs",
            "Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's "
            "altnames: Host: redis.cache.svc. is not in the cert's altnames: DNS:redis-master",
        ),
        ("nodejs", '{"err":{"code":"ERR_TLS_CERT_ALTNAME_INVALID"}}'),
        (
            "java",
            "java.security.cert.CertificateException: No subject alternative DNS name "
            "matching kafka.data.svc found.",
        ),
        (
            "pgjdbc",
            "org.postgresql.util.PSQLException: The hostname pg-main.db.svc could not be "
            "verified by hostnameverifier PgjdbcHostnameVerifier.",
        ),
        (
            "java",
            "java.security.cert.CertificateException: No subject alternative names matching "
            "IP address 10.0.4.9 found",
        ),
        ("java", "java.security.cert.CertificateException: No subject alternative names present"),
        ("java", "java.security.cert.CertificateException: No name matching db found"),
        (
            "apache-httpclient",
            "javax.net.ssl.SSLPeerUnverifiedException: Certificate for <api.data.svc> doesn't "
            "match any of the subject alternative names: [api-v2.data.svc]",
        ),
        ("okhttp", "javax.net.ssl.SSLPeerUnverifiedException: Hostname api.data.svc not verified:"),
        (
            "curl",
            "curl: (60) SSL: no alternative certificate subject name matches target host name "
            "'api.data.svc'",
        ),
        (
            "curl",
            "curl: (51) SSL: certificate subject name 'api-v2' does not match target host "
            "name 'api.data.svc'",
        ),
        (
            "dotnet",
            "The remote certificate is invalid according to the validation procedure: "
            "RemoteCertificateNameMismatch",
        ),
        ("rustls-0.21", "invalid peer certificate: NotValidForName"),
        (
            "webpki",
            "invalid peer certificate contents: invalid peer certificate: CertNotValidForName",
        ),
        (
            "rustls-0.23",
            'invalid peer certificate: certificate not valid for name "db.data.svc"; '
            "certificate is only valid for db-primary.data.svc",
        ),
        (
            "libpq",
            'psql: error: server certificate for "db-primary.data.svc" does not match host '
            'name "db.data.svc"',
        ),
        (
            "libpq",
            'server certificate for "db-0.data.svc" (and 2 other names) does not match host '
            'name "db.data.svc"',
        ),
        (
            "nginx",
            'upstream SSL certificate does not match "api.data.svc" while SSL handshaking to '
            "upstream",
        ),
        ("envoy", "verify cert failed: verify SAN list"),
        ("envoy", "verify cert failed: SAN matcher"),
    ],
}
CASES = [(library, text, kind) for kind, texts in TEXTS.items() for library, text in texts]

NOT_CERTIFICATE_FAILURES = [
    "dial tcp 10.96.4.2:443: connect: connection refused",
    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
    "net/http: TLS handshake timeout",
    # A JWT whose signature does not verify: Go's words, but no certificate of a connection.
    "invalid bearer token, [crypto/rsa: verification error]",
    "INFO generated a self-signed certificate for localhost, valid 365 days",
    "cert-manager: certificate is up to date and has no issues",
    "invalid peer certificate: ExpiredRevocationList",
]


@pytest.mark.parametrize(
    ("text", "kind"), [(text, kind) for _, text, kind in CASES], ids=[c[0] for c in CASES]
)
def test_each_librarys_words_are_classified(text: str, kind: TlsFailure) -> None:
    assert classify_tls_failure(text) == kind


@pytest.mark.parametrize("text", NOT_CERTIFICATE_FAILURES)
def test_texts_that_are_no_certificate_failure_are_not_classified(text: str) -> None:
    assert classify_tls_failure(text) is None


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression (its phrases)."""
    parts: list[str] = []
    depth, current, escaped = 0, "", False
    for char in pattern.removeprefix("(?i)"):
        if escaped or char == "\\":
            escaped = not escaped and char == "\\"
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


@pytest.mark.parametrize(("kind", "pattern"), _PHRASES, ids=[kind for kind, _ in _PHRASES])
def test_every_phrase_has_a_real_text_above(kind: TlsFailure, pattern: re.Pattern[str]) -> None:
    texts = [text for _, text in TEXTS[kind]]
    phrases = _alternatives(pattern.pattern)
    assert len(phrases) > 3
    uncovered = [p for p in phrases if not any(re.search(p, t, re.I) for t in texts)]
    assert not uncovered


def test_a_validity_phrase_wins_over_another_kind_in_the_same_text() -> None:
    text = (
        "x509: certificate is valid for a.svc, not b.svc; retry: x509: certificate has expired "
        "or is not yet valid: current time 2026-11-20T09:31:04Z is after 2026-11-20T09:12:44Z"
    )
    assert classify_tls_failure(text) == "expired"


def test_the_match_is_the_phrase_that_says_it() -> None:
    found = tls_failure_match("ERROR sync: remote error: tls: unknown certificate authority")
    assert found is not None
    kind, match = found
    assert (kind, match[0]) == ("unknown-authority", "unknown certificate authority")


def test_the_log_grep_keeps_the_lines_of_the_kinds_asked_for() -> None:
    expired = "ERROR payment call: certificate verify failed: certificate has expired"
    wrong_host = "ERROR ledger call: x509: certificate is valid for a.svc, not b.svc"
    tail = log("checkout-7d9f6c8b5-abcde", "app", "\n".join(["ok", expired, wrong_host]))
    assert [h.line for h in grep_tls_failures([tail], VALIDITY_FAILURES)] == [expired]
    assert [h.line for h in grep_tls_failures([tail], {"hostname"})] == [wrong_host]
    assert [h.line for h in grep_tls_failures([tail], TLS_FAILURES, limit=1)] == [expired]


@pytest.mark.parametrize(
    "line",
    [
        "javax.net.ssl.SSLHandshakeException: PKIX path building failed: unable to find valid "
        "certification path to requested target",
        "invalid peer certificate: NotValidForName",
        "invalid peer certificate: Expired",
    ],
)
def test_any_certificate_failure_in_logs_or_events_supports_certificate_expiry(line: str) -> None:
    from_logs = evidence(logs=[log("checkout-7d9f6c8b5-abcde", "app", line)])
    from_events = evidence(
        events=[event("FailedCreate", line, name="checkout-7d9f6c8b5", kind="ReplicaSet")]
    )
    assert category_supported(Category.CERTIFICATE_EXPIRY, from_logs)
    assert category_supported(Category.CERTIFICATE_EXPIRY, from_events)
    assert not category_supported(
        Category.CERTIFICATE_EXPIRY,
        evidence(logs=[log("checkout-7d9f6c8b5-abcde", "app", NOT_CERTIFICATE_FAILURES[0])]),
    )
