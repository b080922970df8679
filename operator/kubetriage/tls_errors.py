"""Why a TLS client refused a certificate, from the words its library prints. Pure.

One classifier for every reader of TLS failures: the API server's message for a webhook it
could not call (``evidence.summaries.webhooks``), application logs and events read by the
certificate analyzers, and the certificate precondition of a model's answer. The phrase
tables are the texts the libraries really print: Go's crypto/x509 and crypto/tls, OpenSSL
(and BoringSSL) as Python's ssl, curl, Node.js, nginx, Envoy and libpq pass them on, Java's
JSSE/PKIX and its HTTP clients, .NET's SslStream, rustls (and webpki before it).

The kinds are checked in order and the first one found wins: Go reports both validity
errors as "certificate has expired or is not yet valid: current time T is before/after N",
so "is before" must be read before "has expired"; and a validity phrase wins over the other
kinds, so that every line saying a certificate expired counts as such.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

TlsFailure = Literal[
    "not-yet-valid",  # the verifier's clock is before the certificate's notBefore
    "expired",  # ... after its notAfter
    "unknown-authority",  # the chain ends at a CA the verifier does not trust
    "hostname",  # the certificate does not name the host that was called
]
TLS_FAILURES: Final[tuple[TlsFailure, ...]] = get_args(TlsFailure)
# A certificate outside its validity period (the clock, or the certificate, is wrong).
VALIDITY_FAILURES: Final[frozenset[TlsFailure]] = frozenset({"not-yet-valid", "expired"})

_PHRASES: Final[tuple[tuple[TlsFailure, re.Pattern[str]], ...]] = (
    (
        "not-yet-valid",
        re.compile(
            r"(?i)"
            r"not yet valid: current time \S+ is before"  # Go crypto/x509
            r"|certificate is not yet valid"  # OpenSSL (Python, curl, nginx, Envoy), Node.js
            r"|\bCERT_NOT_YET_VALID\b"  # Node.js error code
            r"|CertificateNotYetValidException"  # Java
            r"|invalid peer certificate: (Cert)?NotValidYet|certificate not valid yet"  # rustls
        ),
    ),
    (
        "expired",
        re.compile(
            r"(?i)"
            r"certificate has expired"  # Go, OpenSSL (Python, curl, nginx, Envoy), Node.js
            r"|\bCERT_HAS_EXPIRED\b"  # Node.js error code
            r"|expired certificate"  # Go crypto/tls alert: "remote error: tls: expired ..."
            # OpenSSL/BoringSSL alerts ("sslv3 alert certificate expired",
            # SSLV3_ALERT_CERTIFICATE_EXPIRED), Java's ("Received fatal alert:
            # certificate_expired"), rustls ("certificate expired: verification time ...").
            r"|certificate[ _]expired"
            r"|CertificateExpiredException"  # Java
            # Java PKIX, for either bound (the exception it wraps says which)
            r"|CertPathValidatorException: validity check failed"
            r"|\bNotTimeValid\b"  # .NET X509ChainStatusFlags
            r"|invalid peer certificate: (Cert)?Expired(?!RevocationList)"  # rustls, webpki
        ),
    ),
    (
        "unknown-authority",
        re.compile(
            r"(?i)"
            r"signed by unknown authority"  # Go crypto/x509
            r"|unknown certificate authority"  # Go crypto/tls alert
            r"|certificate signed by an unknown authority"  # oc login (OpenShift)
            # OpenSSL (Python, curl, nginx, Envoy, Node.js messages)
            r"|unable to get (local )?issuer certificate|unable to verify the first certificate"
            r"|(failed|error|problem)\W.{0,40}?self[- ]signed certificate"
            r"|alert[ _]unknown[ _]ca\b|\bunknown_ca\b"  # OpenSSL/BoringSSL and Java alerts
            # Node.js error codes
            r"|\bUNABLE_TO_GET_ISSUER_CERT_LOCALLY\b|\bUNABLE_TO_VERIFY_LEAF_SIGNATURE\b"
            r"|\bSELF_SIGNED_CERT_IN_CHAIN\b|\bDEPTH_ZERO_SELF_SIGNED_CERT\b"
            r"|PKIX path building failed|unable to find valid certification path"  # Java
            r"|\bUntrustedRoot\b|\bPartialChain\b"  # .NET X509ChainStatusFlags
            r"|invalid peer certificate: UnknownIssuer"  # rustls
        ),
    ),
    (
        "hostname",
        re.compile(
            r"(?i)"
            # Go crypto/x509
            r"certificate is valid for .+, not |certificate is not valid for any names"
            r"|doesn't contain any IP SANs|certificate relies on legacy Common Name"
            # OpenSSL as Python prints it ("Hostname mismatch, certificate is not valid for")
            r"|hostname mismatch|IP address mismatch"
            r"|hostname '[^']+' doesn't match|doesn't match either of"  # Python ssl (< 3.7)
            r"|Hostname/IP does not match certificate's altnames"  # Node.js
            r"|ERR_TLS_CERT_ALTNAME_INVALID"
            # Java: JSSE, Apache HttpClient, OkHttp
            r"|No subject alternative (DNS )?names? (matching|present)|No name matching \S+ found"
            r"|doesn't match any of the subject alternative names|Hostname \S+ not verified"
            r"|could not be verified by hostnameverifier"  # PgJDBC (sslmode=verify-full)
            # curl
            r"|no alternative certificate subject name matches"
            r"|certificate subject name .+ does not match target host name"
            r"|RemoteCertificateNameMismatch"  # .NET
            r"|invalid peer certificate: (Cert)?NotValidForName|certificate not valid for name"
            r"|server certificate for \S+ (\(and \d+ other names?\) )?does not match host name"
            r"|upstream SSL certificate does not match"  # nginx
            r"|verify cert failed: verify SAN list|verify cert failed: SAN matcher"  # Envoy
        ),
    ),
)


def tls_failure_match(text: str) -> tuple[TlsFailure, re.Match[str]] | None:
    """The kind of TLS certificate failure ``text`` reports and the phrase that says it."""
    for kind, pattern in _PHRASES:
        match = pattern.search(text)
        if match is not None:
            return kind, match
    return None


def classify_tls_failure(text: str) -> TlsFailure | None:
    """Why a TLS client refused a certificate, by ``text``; None when it reports no such
    failure (a timeout, a refused connection, or no TLS at all)."""
    found = tls_failure_match(text)
    return found[0] if found is not None else None
