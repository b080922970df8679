"""Certificate analyzers (certificate-expiry to renew, or to escalate when the certificate is
someone else's):

- certificate-expiry: a Certificate that expired or expires within three days, or is not
  Ready (of the incident's namespace, or writing a Secret a followed dependency mounts);
  without one, x509 errors in logs and events and expiry metrics of probes, aimed at the Secret
  that holds the certificate (or the Service that presents it); an x509 line judged by a wrong
  clock (``kubetriage.analyzers.tls_clients.clock_skew``) is not counted;
A Certificate whose issuer is down (``kubetriage.analyzers.reconcilers.issuer_down``) is
left to the reconciler rule, which blames the issuer.

- certificate-renewal: a cert-manager Certificate that is not Ready or will expire soon,
  whose renewal is failing (a CertificateRequest that failed or was denied, an Issuer that is
  not Ready), renewed at the Certificate with the reason the renewal fails as evidence.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import probe_instance
from kubetriage.analyzers.cert_targets import (
    certificate_target,
    own_tls_secret,
    series_certificate,
)
from kubetriage.analyzers.reconcilers import issuer_down
from kubetriage.analyzers.support import (
    event_fact,
    grep_tls_failures,
    item,
    metrics_named,
    object_source,
    timestamp,
)
from kubetriage.analyzers.tls_clients import clock_skew
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import GenericObjectEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tls_errors import VALIDITY_FAILURES, classify_tls_failure


@dataclass(frozen=True, slots=True)
class _ExpiryConfidence:
    """How sure a certificate-expiry finding is, by the evidence that earns it."""

    expired: float = 0.95  # a Certificate's notAfter has passed (or it says it expired)
    expiring: float = 0.75  # ... it expires within SOON_DAYS
    not_ready: float = 0.8  # the Certificate is not Ready (at least this sure)
    not_ready_bonus: float = 0.03  # ... on top of its expiry
    cap: float = 0.97  # the most a Certificate's finding claims
    seen_expired: float = 0.85  # no Certificate; an expiry metric says it has expired
    seen: float = 0.8  # TLS errors in logs or Events, or an expiry metric within SOON_DAYS
    foreign_penalty: float = 0.1  # someone else's certificate: it can only be handed over
    # A followed dependency's Certificate (the Secret it mounts): second-hand, below an
    # analyzer that explains the failing calls to it (an admission webhook's, say).
    dependency: float = 0.9
    own_rejected: float = 0.86  # the peer rejects the workload's own certificate as expired,
    # and the Secret the workload reads it from is known


@dataclass(frozen=True, slots=True)
class _RenewalConfidence:
    """How sure a certificate-renewal finding is, by the evidence that earns it (always with
    a failed CertificateRequest or an Issuer that is not Ready)."""

    expired: float = 0.95  # the Certificate's notAfter has passed
    urgent: float = 0.85  # it expires within URGENT_DAYS
    failing: float = 0.75  # it expires within RENEWAL_WINDOW_DAYS, or is not Ready
    not_ready: float = 0.85  # it is not Ready, and the evidence says why (at least this sure)


EXPIRY_CONFIDENCE: Final = _ExpiryConfidence()
RENEWAL_CONFIDENCE: Final = _RenewalConfidence()

# The peer's TLS alert about the certificate this side presented (a client certificate, or a
# server's to its client): "remote error: tls: expired certificate" (Go), "sslv3 alert
# certificate expired" (OpenSSL), "Received fatal alert: certificate_expired" (Java).
_PEER_REJECTS_OURS = re.compile(
    r"(?i)(remote error: tls: expired certificate|alert certificate expired"
    r"|fatal alert: certificate_expired)"
)
# cert-manager renews at two thirds of a certificate's life (30 days of 90 by default); a
# certificate this close to expiry whose renewal fails is an incident in the making.
RENEWAL_WINDOW_DAYS = 30
# A failing renewal this close to expiry is urgent.
URGENT_DAYS = 14
# A certificate that expires this soon is already the incident.
SOON_DAYS = 3
_FAILED_REASONS = frozenset({"Failed", "Denied", "InvalidRequest"})


def peer_rejects_own(line: str) -> bool:
    """Whether ``line`` is the peer's TLS alert about the certificate this side presented."""
    return _PEER_REJECTS_OURS.search(line) is not None


def _ready(obj: GenericObjectEvidence) -> PodCondition | None:
    return next((c for c in obj.conditions if c.type == "Ready"), None)


def cert_time(text: str | None) -> datetime | None:
    """A Certificate's date field (``notAfter``, ``notBefore``) as a datetime, or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _source(obj: GenericObjectEvidence) -> str:
    return f"{obj.ref.kind.lower()}/{obj.ref.namespace}/{obj.ref.name}"


def cert_field(obj: GenericObjectEvidence, name: str) -> str | None:
    """A summarised field of a cert-manager object by its last name, in any case."""
    name = name.lower()
    return next((v for k, v in obj.fields.items() if k.lower().split(".")[-1] == name), None)


# --- certificate-expiry -------------------------------------------------------------------


def peer_certificate_invalid(evidence: Evidence) -> bool:
    """The workload's TLS clients reject the certificate a peer presents as expired or not yet
    valid (judged by a sound clock), and no peer rejects the workload's own certificate: the
    certificate is the server's, so it fails every new connection whatever revision makes it.
    A rollout that surfaced it (its new pods connect afresh, old ones keep their sessions) is
    not its cause, and rolling back would start pods that fail alike."""
    now = timestamp(evidence.collected_at)
    hits = [
        h
        for h in grep_tls_failures(evidence.logs, VALIDITY_FAILURES, limit=20)
        if clock_skew(h.line, now) is None
    ]
    return bool(hits) and not any(_PEER_REJECTS_OURS.search(h.line) for h in hits)


def _certificates(evidence: Evidence) -> list[GenericObjectEvidence]:
    """The Certificates of the incident's namespace, then those that write the Secrets a
    followed dependency's pods mount (the certificate its clients verify), each once."""
    found = [o for o in evidence.other_objects if o.ref.kind == "Certificate"]
    found += [c for d in evidence.dependencies for c in d.certificates]
    unique: dict[tuple[str | None, str], GenericObjectEvidence] = {}
    for cert in found:
        unique.setdefault((cert.ref.namespace, cert.ref.name), cert)
    return list(unique.values())


def check_certificate(evidence: Evidence) -> list[Finding]:
    now = timestamp(evidence.collected_at)
    findings: list[Finding] = []
    in_scope = {(o.ref.namespace, o.ref.name) for o in evidence.other_objects}
    waiting = [c for c in _certificates(evidence) if issuer_down(evidence, c.ref)]
    if waiting:
        return []  # its issuer is down: the reconciler rule blames the issuer
    for cert in _certificates(evidence):
        facts: list[EvidenceItem] = []
        confidence = 0.0
        source = object_source(cert.ref)
        not_after = cert_time(cert_field(cert, "notAfter"))
        state = "is not Ready"
        if not_after is not None:
            seconds = timestamp(not_after) - now
            hours = seconds / 3600
            if hours <= 0:
                confidence = EXPIRY_CONFIDENCE.expired
                state = f"expired {prose.duration(seconds)} ago"
                facts.append(item(source, f"notAfter {not_after.isoformat()}: {state}"))
            elif hours <= SOON_DAYS * 24:
                confidence = EXPIRY_CONFIDENCE.expiring
                state = f"expires in {prose.duration(seconds)}"
                facts.append(item(source, f"notAfter {not_after.isoformat()}: {state}"))
        elif cert_field(cert, "expired") == "true":
            confidence = EXPIRY_CONFIDENCE.expired
            state = "has expired"
            facts.append(item(source, "certificate expired"))
        ready = _ready(cert)
        renewal: EvidenceItem | None = None
        if ready is not None and ready.status != "True":
            confidence = max(confidence, EXPIRY_CONFIDENCE.not_ready) + (
                EXPIRY_CONFIDENCE.not_ready_bonus if confidence else 0.0
            )
            renewal = item(source, f"Ready={ready.status} {ready.reason}: {ready.message}")
            facts.append(renewal)
        if not confidence:
            continue
        secret = cert_field(cert, "secretName")
        ref = ObjectRef(kind="Certificate", namespace=cert.ref.namespace, name=cert.ref.name)
        because = [prose.claim(f"{prose.obj(ref)} {state}", facts[0])]
        if renewal is not None and ready is not None:
            because.append(
                prose.claim(
                    f"Its renewal is failing: Ready={ready.status} ({ready.reason})", renewal
                )
            )
        because.append(
            prose.claim(
                "Clients reject the certificate once it has expired"
                + (f"; renewing it rewrites Secret {secret}" if secret else "")
            )
        )
        findings.append(
            make_finding(
                "certificate-expiry",
                Category.CERTIFICATE_EXPIRY,
                min(
                    confidence,
                    EXPIRY_CONFIDENCE.cap
                    if (cert.ref.namespace, cert.ref.name) in in_scope
                    else EXPIRY_CONFIDENCE.dependency,
                ),
                prose.narrative(
                    f"{prose.obj(ref)} {state}",
                    "renew it" if renewal is None else "fix its issuer and renew it",
                    aside=f"Secret {secret}" if secret else "",
                    because=because,
                ),
                facts,
                Action.RENEW_CERTIFICATE,
                ObjectRef(kind="Certificate", namespace=cert.ref.namespace, name=cert.ref.name),
                {
                    "certificate": cert.ref.name,
                    **({"secret": s} if (s := cert_field(cert, "secretName")) else {}),
                },
            )
        )
    if findings:
        return findings
    hits = [
        h
        for h in grep_tls_failures(evidence.logs, VALIDITY_FAILURES, limit=20)
        if clock_skew(h.line, now) is None
    ][:5]
    expiring: list[tuple[str, float]] = []
    series_named: list[ObjectRef] = []
    for metric in metrics_named(
        evidence, "probe_ssl_earliest_cert_expiry", "certmanager_certificate_expiration"
    ):
        if metric.last is None:
            continue
        # Templates subtract time() already; a raw series is an absolute timestamp.
        remaining = metric.last if "time()" in metric.query else metric.last - now
        days = remaining / 86400
        if days <= SOON_DAYS:
            expiring.append((probe_instance(metric) or metric.query, days))
            if (named := series_certificate(evidence, metric.labels)) is not None:
                series_named.append(named)
    # The API server reports a webhook whose serving certificate expired in the events of
    # the object it could not create (FailedCreate on a ReplicaSet, for instance).
    event_hits = [
        e
        for e in evidence.events
        if classify_tls_failure(e.message) in VALIDITY_FAILURES
        and clock_skew(e.message, now) is None
    ]
    if not hits and not expiring and not event_hits:
        return []
    facts = [item(h.source, h.line) for h in hits[:3]]
    facts += [item("events", event_fact(e)) for e in event_hits[:2]]
    quoted = list(facts)
    facts += [
        item(
            "metrics",
            f"certificate of {i} "
            + (
                f"expires in {prose.duration(d * 86400)}"
                if d > 0
                else f"expired {prose.duration(d * 86400)} ago"
            ),
        )
        for i, d in expiring
    ]
    measured_expired = any(d <= 0 for _, d in expiring)
    confidence = EXPIRY_CONFIDENCE.seen_expired if measured_expired else EXPIRY_CONFIDENCE.seen
    lines = [h.line for h in hits] + [e.message for e in event_hits]
    target, action = certificate_target(evidence, lines, [i for i, _ in expiring])
    own = own_tls_secret(evidence)
    rejected = own is not None and any(_PEER_REJECTS_OURS.search(line) for line in lines)
    if own is not None and rejected:
        # The peer says the certificate this workload presented has expired: its own.
        target, action = own, Action.RENEW_CERTIFICATE
        confidence = max(confidence, EXPIRY_CONFIDENCE.own_rejected)
    # Nothing holding it is in view but the workload: the expiry series names the
    # cert-manager Certificate itself when the evidence shows one by that name.
    if (
        action is Action.ESCALATE
        and (target is None or target.kind != "Service")
        and len({(r.namespace, r.name) for r in series_named}) == 1
    ):
        target, action = series_named[0], Action.RENEW_CERTIFICATE
    if target is None:
        return []
    if action is Action.ESCALATE:
        confidence -= EXPIRY_CONFIDENCE.foreign_penalty
    expired = bool(hits or event_hits) or any(d <= 0 for _, d in expiring)
    state = "has expired" if expired else "is about to expire"
    if target.kind == "Secret":
        problem = f"The certificate in {prose.obj(target)} {state}"
    elif target.kind == "Service":
        problem = f"The certificate served by {prose.obj(target)} {state}"
    elif target.kind == "Certificate":
        problem = f"{prose.obj(target)} {state}"
    else:
        problem = f"A certificate {prose.obj(target)} relies on {state}"
    because = []
    if quoted:
        because.append(prose.claim("TLS handshakes fail on an expired certificate", *quoted[:3]))
    if expiring:
        because.append(
            prose.claim("The certificate's expiry metric confirms it", *facts[len(quoted) :][:2])
        )
    if target.kind == "Secret" and rejected:
        because.append(
            prose.claim(
                f"The peer rejects the certificate the workload presents, which it reads from "
                f"{prose.obj(target)}"
            )
        )
    elif target.kind == "Secret":
        because.append(prose.claim(f"{prose.obj(target)} holds the certificate that failed"))
    elif target.kind == "Service":
        because.append(
            prose.claim(
                f"The failing calls go to {prose.obj(target)}, whose certificate this cluster "
                "cannot renew"
            )
        )
    elif target.kind == "Certificate":
        because.append(prose.claim(f"The expiry series names {prose.obj(target)}"))
    else:
        because.append(prose.claim("No Service or Secret in the evidence holds the certificate"))
    return [
        make_finding(
            "certificate-expiry",
            Category.CERTIFICATE_EXPIRY,
            confidence,
            prose.narrative(
                problem,
                "renew it" if action is Action.RENEW_CERTIFICATE else "escalate to its owner",
                because=because,
            ),
            facts,
            action,
            target,
            {},
        )
    ]


# --- certificate-renewal ------------------------------------------------------------------


def _renewal_failures(evidence: Evidence, cert: GenericObjectEvidence) -> list[EvidenceItem]:
    facts: list[EvidenceItem] = []
    for request in evidence.other_objects:
        if request.ref.kind != "CertificateRequest" or request.ref.namespace != cert.ref.namespace:
            continue
        if request.fields.get("certificate") != cert.ref.name:
            continue
        failed = [
            c
            for c in request.conditions
            if (c.type == "Ready" and c.status == "False" and c.reason in _FAILED_REASONS)
            or (c.type in ("Denied", "InvalidRequest") and c.status == "True")
        ]
        facts += [
            item(_source(request), f"{c.type}={c.status} {c.reason}: {c.message or ''}")
            for c in failed[:1]
        ]
    issuer_ref = cert.fields.get("issuer", "")
    kind, _, name = issuer_ref.partition("/")
    for issuer in evidence.other_objects:
        if issuer.ref.kind != kind or issuer.ref.name != name:
            continue
        if issuer.ref.namespace not in (None, cert.ref.namespace):
            continue
        ready = _ready(issuer)
        if ready is not None and ready.status != "True":
            facts.append(
                item(_source(issuer), f"Ready={ready.status} {ready.reason}: {ready.message or ''}")
            )
    return facts


def check_certificate_renewal(evidence: Evidence) -> list[Finding]:
    now = timestamp(evidence.collected_at)
    findings: list[Finding] = []
    for cert in evidence.other_objects:
        if cert.ref.kind != "Certificate" or issuer_down(evidence, cert.ref):
            continue
        not_after = cert_time(cert.fields.get("notAfter"))
        days = (timestamp(not_after) - now) / 86400 if not_after is not None else None
        ready = _ready(cert)
        troubled = (ready is not None and ready.status != "True") or (
            days is not None and days <= RENEWAL_WINDOW_DAYS
        )
        if not troubled:
            continue
        failures = _renewal_failures(evidence, cert)
        if not failures:
            continue
        facts = list(failures)
        if days is not None:
            facts.insert(
                0,
                item(
                    _source(cert),
                    f"notAfter {cert.fields.get('notAfter')}: "
                    + (
                        f"expired {-days:.1f} days ago"
                        if days <= 0
                        else f"expires in {days:.1f} days"
                    ),
                ),
            )
        if ready is not None and ready.status != "True":
            facts.append(
                item(_source(cert), f"Ready={ready.status} {ready.reason}: {ready.message or ''}")
            )
        if days is not None and days <= 0:
            confidence = RENEWAL_CONFIDENCE.expired
        elif days is not None and days <= URGENT_DAYS:
            confidence = RENEWAL_CONFIDENCE.urgent
        else:
            confidence = RENEWAL_CONFIDENCE.failing
        if ready is not None and ready.status != "True":
            confidence = max(confidence, RENEWAL_CONFIDENCE.not_ready)
        target = ObjectRef(kind="Certificate", namespace=cert.ref.namespace, name=cert.ref.name)
        secret = cert.fields.get("secretName")
        findings.append(
            make_finding(
                "certificate-renewal",
                Category.CERTIFICATE_EXPIRY,
                confidence,
                prose.narrative(
                    f"{prose.obj(target)} is not being renewed",
                    "fix the issuer or request and renew it",
                    because=[
                        prose.claim("The certificate is expiring or not Ready", facts[0]),
                        prose.claim("Its renewal fails", failures[0]),
                    ],
                ),
                facts,
                Action.RENEW_CERTIFICATE,
                target,
                {"certificate": cert.ref.name, **({"secret": secret} if secret else {})},
            )
        )
    return findings


CERTIFICATE_EXPIRY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("certificate-expiry", (Category.CERTIFICATE_EXPIRY,), check_certificate),
)
CERTIFICATE_RENEWAL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("certificate-renewal", (Category.CERTIFICATE_EXPIRY,), check_certificate_renewal),
)
