"""Certificate renewal: a cert-manager Certificate that is not Ready or will expire soon,
whose renewal is failing (a CertificateRequest that failed or was denied, an Issuer that is
not Ready), is a certificate-expiry to renew at the Certificate, with the reason the
renewal fails as evidence.

Complements ``network.check_certificate`` (expired certificates, x509 errors in logs and
events, probe metrics). Registered in ``kubetriage.analyzers.ANALYZERS``; pure.
"""

from __future__ import annotations

from datetime import datetime

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence, GenericObjectEvidence, PodCondition
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import Action, Category

# cert-manager renews at two thirds of a certificate's life (30 days of 90 by default); a
# certificate this close to expiry whose renewal fails is an incident in the making.
RENEWAL_WINDOW_DAYS = 30
_FAILED_REASONS = frozenset({"Failed", "Denied", "InvalidRequest"})


def _ready(obj: GenericObjectEvidence) -> PodCondition | None:
    return next((c for c in obj.conditions if c.type == "Ready"), None)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _source(obj: GenericObjectEvidence) -> str:
    return f"{obj.ref.kind.lower()}/{obj.ref.namespace}/{obj.ref.name}"


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
        if cert.ref.kind != "Certificate":
            continue
        not_after = _time(cert.fields.get("notAfter"))
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
            confidence = 0.95
        elif days is not None and days <= 14:
            confidence = 0.85
        else:
            confidence = 0.75
        if ready is not None and ready.status != "True":
            confidence = max(confidence, 0.85)  # not Ready, and the evidence says why
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


CERTIFICATE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("certificate-renewal", (Category.CERTIFICATE_EXPIRY,), check_certificate_renewal),
)
