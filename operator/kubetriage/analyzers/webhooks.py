"""Admission-webhook analyzer: the API server could not call a webhook while creating or
changing the incident's objects (``failed calling webhook``), so the cause is the webhook's,
not the blocked workload's:

- the webhook's serving certificate expired, is signed by a CA its caBundle does not hold, or
  does not name its Service: certificate-expiry, renew the cert-manager Certificate behind it
  (the cainjector's ``inject-ca-from``, or the Certificate whose Secret its pods mount or
  whose DNS names are its Service's), else the Secret its pods mount or its logs name;
- the call is refused, times out or finds no endpoint: why its backend does not answer is
  ``webhook_backends``' (a Service selecting no pod, a failing new revision, pods that cannot
  be scheduled, OOM-killed or crashing, a NetworkPolicy keeping the API server out, a CPU
  limit throttling it), else dependency-failure, escalate at the Service.

A webhook whose ``failurePolicy`` is ``Ignore`` blocks nothing and is passed over. A webhook
no failed call names (``observed`` False: a custom resource of a group it intercepts is not
Ready while its Service has no ready endpoint) is decided the same way, a little less sure.
Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cert_targets import TLS_NAME, dependency_tls_secrets
from kubetriage.analyzers.cfs import workload_throttle_shares
from kubetriage.analyzers.support import item, object_source
from kubetriage.analyzers.webhook_backends import backend_cause
from kubetriage.evidence.conversion_webhooks import CRD
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import GenericObjectEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _WebhookConfidence:
    """How sure a webhook finding is, by the evidence that earns it."""

    certificate: float = 0.93  # an x509 failure, and the Certificate or Secret behind it
    certificate_service: float = 0.8  # ... but only its Service is known (escalate)
    untrusted: float = 0.8  # unknown authority or wrong host: replace, not merely renew
    # a webhook backend's causes are ``webhook_backends.CONFIDENCE``'s
    minor: float = 0.1  # less when few calls failed (fewer than MANY_CALLS)
    inferred: float = 0.05  # less when no failed call is seen, only a stuck object it admits


CONFIDENCE: Final = _WebhookConfidence()
# Fewer failed calls than this and the webhook is not yet the incident.
MANY_CALLS = 3
_CERTIFICATE_FAILURES = frozenset({"expired", "not-yet-valid", "unknown-authority", "hostname"})
_UNREACHABLE_FAILURES = frozenset({"no-endpoints", "refused", "timeout"})


def _dependency(evidence: Evidence, service: ObjectRef | None) -> DependencyEvidence | None:
    if service is None:
        return None
    for dependency in evidence.dependencies:
        found = dependency.service
        if found is not None and (found.namespace, found.name) == (service.namespace, service.name):
            return dependency
    return None


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def serving_certificate(
    hook: WebhookEvidence, dependency: DependencyEvidence | None
) -> GenericObjectEvidence | ObjectRef | None:
    """The cert-manager Certificate the webhook serves: the one cainjector copies its CA
    from, else the one whose Secret its pods mount, else the one naming its Service."""
    certificates = hook.certificates
    if hook.ca_injected_from is not None:
        injected = hook.ca_injected_from
        for cert in certificates:
            if (cert.ref.namespace, cert.ref.name) == (injected.namespace, injected.name):
                return cert
        return injected
    mounted = set(dependency.mounted_secrets) if dependency is not None else set()
    for cert in certificates:
        if cert.fields.get("secretName") in mounted:
            return cert
    if hook.service is not None:
        host = f"{hook.service.name}.{hook.service.namespace}.svc"
        for cert in certificates:
            names = _listed(cert.fields.get("dnsNames")) + _listed(cert.fields.get("commonName"))
            if any(n == host or n.startswith(host + ".") for n in names):
                return cert
    return None


def _serving_secret(hook: WebhookEvidence, dependency: DependencyEvidence | None) -> str | None:
    """The Secret holding the webhook's certificate: a TLS-looking Secret its pods mount,
    else one its logs name (a webhook that rotates its own certificate says so there)."""
    if dependency is not None and (mounted := dependency_tls_secrets(dependency)):
        return mounted[0]
    return next((name for name in hook.secrets_named if TLS_NAME.search(name)), None)


def _converts(hook: WebhookEvidence) -> bool:
    """Whether the webhook is a CRD's conversion webhook (its failures are read from the log
    of the client whose list failed, ``kubetriage.evidence.conversion_webhooks``)."""
    return hook.configuration is not None and hook.configuration.kind == CRD


def _blocked_fact(hook: WebhookEvidence) -> EvidenceItem:
    blocked = ", ".join(prose.obj(r) for r in hook.blocked[:2]) or "the incident's objects"
    if _converts(hook) and hook.service is not None:
        return item(f"log {hook.service.namespace}", f"{hook.count}x: {hook.message}")
    if not hook.observed:
        return item(blocked, f"not Ready; webhook {hook.name} admits its writes: {hook.message}")
    return item(f"events of {blocked}", f"{hook.count}x: {hook.message}")


def _blocked_claim(hook: WebhookEvidence) -> str:
    if _converts(hook):
        return "The API server cannot convert the objects of the kind, so listing them fails"
    if not hook.observed:
        return "An object whose writes the webhook admits stays not Ready while it has no endpoint"
    return "The API server rejects the requests the webhook must admit"


def _penalty(hook: WebhookEvidence) -> float:
    """How much less sure: no failed call seen, or fewer than MANY_CALLS."""
    if not hook.observed:
        return CONFIDENCE.inferred
    return CONFIDENCE.minor if hook.count < MANY_CALLS else 0.0


def _configuration_fact(hook: WebhookEvidence) -> EvidenceItem | None:
    if hook.configuration is None:
        return None
    where = f" calls {prose.obj(hook.service)}" if hook.service is not None else ""
    source = f"{hook.configuration.kind.lower()}/{hook.configuration.name}"
    if _converts(hook):
        return item(source, f"converts its objects between versions: conversion webhook{where}")
    return item(source, f"webhook {hook.name} failurePolicy={hook.failure_policy or 'Fail'}{where}")


def _certificate_finding(
    hook: WebhookEvidence, dependency: DependencyEvidence | None, facts: list[EvidenceItem]
) -> Finding | None:
    cert = serving_certificate(hook, dependency)
    what = {
        "expired": "has expired",
        "not-yet-valid": "is not yet valid",
        "unknown-authority": "is signed by a CA the webhook's caBundle does not hold",
        "hostname": "does not name the webhook's Service",
    }[hook.failure]
    confidence = (
        CONFIDENCE.certificate
        if hook.failure in ("expired", "not-yet-valid")
        else CONFIDENCE.untrusted
    )
    target: ObjectRef
    action = Action.RENEW_CERTIFICATE
    if isinstance(cert, GenericObjectEvidence):
        target = cert.ref
        source = object_source(cert.ref)
        state = cert.fields.get("notAfter")
        facts.append(
            item(
                source,
                f"serves {hook.service.name if hook.service else hook.name}"
                + (f"; notAfter {state}" if state else ""),
            )
        )
    elif isinstance(cert, ObjectRef):
        target = cert
    elif (secret := _serving_secret(hook, dependency)) is not None and hook.service is not None:
        target = ObjectRef(kind="Secret", namespace=hook.service.namespace, name=secret)
        facts += [item(f"log {hook.service.namespace}", line) for line in hook.log_lines[-2:]]
    elif hook.service is not None:
        target, action = hook.service, Action.ESCALATE
        confidence = CONFIDENCE.certificate_service
    else:
        return None
    holder = "served by" if target.kind == "Service" else "in"
    role = "conversion" if _converts(hook) else "admission"
    problem = f"The {role} webhook certificate {holder} {prose.obj(target)} {what}"
    return make_finding(
        "admission-webhook",
        Category.CERTIFICATE_EXPIRY,
        confidence - _penalty(hook),
        prose.narrative(
            problem,
            "renew it" if action is Action.RENEW_CERTIFICATE else "escalate to its owner",
            because=[
                prose.claim(_blocked_claim(hook), facts[0]),
                prose.claim(f"The webhook's TLS handshake fails: its certificate {what}"),
                prose.claim(
                    f"{prose.obj(target)} {'serves' if target.kind == 'Service' else 'holds'} "
                    "that certificate",
                    *facts[1:3],
                ),
            ],
        ),
        facts,
        action,
        target,
        {"webhook": hook.name},
    )


def _unreachable_finding(
    hook: WebhookEvidence,
    dependency: DependencyEvidence | None,
    facts: list[EvidenceItem],
    shares: dict[str, float],
) -> Finding | None:
    cause = backend_cause(hook, dependency, facts, shares)
    if cause is None:
        return None
    return make_finding(
        "admission-webhook",
        cause.category,
        cause.confidence - _penalty(hook),
        prose.narrative(
            f"Admission webhook {cause.state}: {cause.cause}",
            cause.fix,
            because=[
                prose.claim(_blocked_claim(hook), facts[0]),
                prose.claim(
                    f"The webhook's backend is {cause.backend_state}: {cause.cause}", *facts[1:4]
                ),
            ],
        ),
        facts,
        cause.action,
        cause.target,
        {"webhook": hook.name},
    )


def check_webhooks(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for hook in evidence.webhooks:
        if hook.failure_policy == "Ignore":
            continue
        dependency = _dependency(evidence, hook.service) or hook.backend
        facts = [_blocked_fact(hook)]
        if (configured := _configuration_fact(hook)) is not None:
            facts.append(configured)
        finding: Finding | None = None
        if hook.failure in _CERTIFICATE_FAILURES:
            finding = _certificate_finding(hook, dependency, facts)
        elif hook.failure in _UNREACHABLE_FAILURES:
            backend = dependency.workload if dependency is not None else None
            shares = workload_throttle_shares(evidence, backend) if backend is not None else {}
            finding = _unreachable_finding(hook, dependency, facts, shares)
        if finding is not None:
            findings.append(finding)
    return findings


WEBHOOK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "admission-webhook",
        (
            Category.CERTIFICATE_EXPIRY,
            Category.NETWORK,
            Category.BAD_ROLLOUT,
            Category.UNSCHEDULABLE,
            Category.OOM_KILLED,
            Category.CPU_THROTTLING,
            Category.CONFIG_MISSING,
            Category.CRASH_LOOP,
            Category.DEPENDENCY_FAILURE,
        ),
        check_webhooks,
    ),
)
