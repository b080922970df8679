"""A fail-open injector whose serving certificate expired: pods start without what it injects.
A mutating webhook on pod CREATE (Vault's agent injector, Dapr's sidecar injector, a mesh's
proxy injector) adds containers as a pod is admitted. When its serving certificate expires,
the API server's TLS handshake with it fails; a webhook with ``failurePolicy: Ignore`` then
lets the pod through unchanged, and nothing records the skipped call. The new pod runs without
the agent that renders its secrets or the proxy that carries its traffic, and fails on that
(a missing secrets file, a refused call), while older replicas admitted before the expiry keep
theirs. The release that created the new pod only surfaced it: any restart fails alike, so an
SRE renews the injector's certificate (then recreates the bare pods), not roll back.

Evidence: ``Evidence.webhooks`` entries not observed, fail-open, whose ``blocked`` pods are
replicas that run nothing beyond their template while another replica asking the same of the
injector runs injected containers (``kubetriage.evidence.skipped_injections``); the webhook's
serving certificate is picked as the admission-webhook analyzer picks it
(``serving_certificate``), and it fires only when that Certificate's notAfter has passed or it
says it expired.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.certificates import cert_time
from kubetriage.analyzers.support import item, object_source, owner_workload, pod_source, timestamp
from kubetriage.analyzers.webhooks import serving_certificate
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import GenericObjectEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a skipped-injection finding is."""

    # Replicas asking the same of a fail-open injector differ in what it injected, and that
    # injector's serving certificate has expired: above the release that surfaced it.
    expired_injector: float = 0.92


CONFIDENCE: Final = _Confidence()


def _expired(cert: GenericObjectEvidence, evidence: Evidence) -> bool:
    """Whether a Certificate's notAfter has passed, or its Ready condition says it expired."""
    not_after = cert_time(cert.fields.get("notAfter"))
    if not_after is not None and timestamp(not_after) <= timestamp(evidence.collected_at):
        return True
    return any(c.type == "Ready" and c.reason == "Expired" for c in cert.conditions)


def _ours(evidence: Evidence) -> list[PodEvidence]:
    """The pods of the incident's workload."""
    if evidence.workload is None:
        return []
    ours = evidence.workload.ref
    return [p for p in evidence.pods if (o := owner_workload(p)) and o.same_object(ours)]


def _finding(
    evidence: Evidence, hook: WebhookEvidence, bare: PodEvidence, injected: PodEvidence
) -> Finding | None:
    cert = serving_certificate(hook, hook.backend)
    if not isinstance(cert, GenericObjectEvidence) or not _expired(cert, evidence):
        return None
    added = sorted({c.name for c in injected.containers} - {c.name for c in bare.containers})
    if not added or evidence.workload is None:
        return None
    source = (
        f"{hook.configuration.kind.lower()}/{hook.configuration.name}"
        if hook.configuration is not None
        else object_source(cert.ref)
    )
    with_agent = item(pod_source(injected), "runs injected " + prose.listing(added))
    without = item(pod_source(bare), "same injection annotations and labels, runs none of them")
    policy = item(source, f"webhook {hook.name} injects pods with failurePolicy=Ignore")
    expired = item(
        object_source(cert.ref),
        f"serves {hook.service.name if hook.service else hook.name}; "
        f"notAfter {cert.fields.get('notAfter', '?')}: expired",
    )
    return make_finding(
        "skipped-injection",
        Category.CERTIFICATE_EXPIRY,
        CONFIDENCE.expired_injector,
        prose.narrative(
            f"{prose.obj(cert.ref)} of a fail-open pod injector has expired",
            "renew it, then recreate the pods it skipped",
            because=[
                prose.claim(
                    "Replicas whose templates ask the same of the injector differ: the new one "
                    "lacks the containers it adds at admission",
                    without,
                    with_agent,
                ),
                prose.claim(
                    "The injector fails open, so the API server admitted the pod unchanged "
                    "when its TLS handshake failed",
                    policy,
                ),
                prose.claim("Its serving certificate has expired", expired),
            ],
        ),
        [expired, without, with_agent, policy],
        Action.RENEW_CERTIFICATE,
        cert.ref,
        {"webhook": hook.name},
    )


def check_skipped_injection(evidence: Evidence) -> list[Finding]:
    pods = _ours(evidence)
    findings: list[Finding] = []
    for hook in evidence.webhooks:
        if hook.failure_policy != "Ignore" or hook.observed:
            continue
        skipped = {(b.namespace, b.name) for b in hook.blocked if b.kind == "Pod"}
        bare = [p for p in pods if (p.namespace, p.name) in skipped]
        others = [p for p in pods if (p.namespace, p.name) not in skipped]
        if not bare or not others:
            continue
        injected = max(others, key=lambda p: len(p.containers))
        finding = _finding(evidence, hook, bare[0], injected)
        if finding is not None:
            findings.append(finding)
    return findings


SKIPPED_INJECTION_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("skipped-injection", (Category.CERTIFICATE_EXPIRY,), check_skipped_injection),
)
