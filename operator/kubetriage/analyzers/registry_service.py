"""The in-cluster registry rule: the workload's pulls fail while the runtime talks to a
registry served from inside the cluster (a pull-through cache or mirror the nodes use, the
walk follows it: ``DependencyEvidence.serves_pulls``), and that registry answers with a
server failure (5xx, refused or reset connections, timeouts). The image reference and the
pull secret are not at fault, so correcting them fixes nothing: the registry's owner must
restore it, with the failed pulls as evidence. A 404 or 401 from the same registry is still
the image's or its credentials' problem (``images``).

The registry certificate rule: the pulls fail because the runtime finds the registry's
certificate expired (or not yet valid, judged by a clock that is right), and the registry's
host is served by an Ingress of the cluster with a TLS Secret for it (the walk names it:
``DependencyEvidence.registry_tls_secret``): every pull through that host fails, whatever
the image, tag or pull secret, until the certificate in that Secret is renewed.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.pods import pod_events
from kubetriage.analyzers.support import event_fact, item, timestamp
from kubetriage.analyzers.tls_clients import clock_skew
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tls_errors import VALIDITY_FAILURES, classify_tls_failure


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an in-cluster registry finding is, by the evidence that earns it."""

    # The pulls fail with a server failure from a registry a Service of the cluster serves:
    # above the image-pull finding, which drops to ``images`` ``registry_down`` then.
    failing: float = 0.9
    # ... and pulls of more than one image fail through it: the registry, not one image.
    several_images: float = 0.93

    # The pulls fail verifying the certificate of a registry an Ingress of the cluster serves
    # with a known TLS Secret: above the image-pull finding (``images`` ``registry_down``).
    certificate: float = 0.92
    # ... and pulls of more than one image fail the same way.
    certificate_several: float = 0.95


CONFIDENCE: Final = _Confidence()

# A registry's (or the connection's) failure rather than an answer about the image: a 5xx
# status, or a connection refused, reset or timing out.
_SERVER_FAILURE = re.compile(
    r"(?i)(\b50[0-4]\b|bad gateway|service unavailable|gateway timeout|internal server error"
    r"|connection refused|connection reset|i/o timeout|no route to host"
    r"|context deadline exceeded)"
)
_FAILED_PULL = re.compile(r"(?i)failed to pull image \"(?P<image>[^\"]+)\"")


def _registry_host(dependency: DependencyEvidence) -> str | None:
    """The (first) registry host a dependency was followed for."""
    return next(iter(dependency.registry_hosts()), None)


def failing_registry(evidence: Evidence, text: str) -> DependencyEvidence | None:
    """The followed in-cluster registry that a failed pull's words (``text``) name with a
    server failure; None when the pull failed for another reason or elsewhere."""
    if not _SERVER_FAILURE.search(text):
        return None
    for dependency in evidence.dependencies:
        host = _registry_host(dependency) if dependency.serves_pulls() else None
        if host and re.search(rf"(?i)//{re.escape(host)}[:/]", text):
            return dependency
    return None


def expired_registry_certificate(
    evidence: Evidence, text: str, now: float
) -> DependencyEvidence | None:
    """The followed registry, served through an Ingress with a TLS Secret, whose certificate
    a failed pull's words (``text``) find expired or not yet valid (a skewed clock's verdict
    is not counted: ``tls_clients.clock_skew``); None otherwise."""
    if classify_tls_failure(text) not in VALIDITY_FAILURES or clock_skew(text, now) is not None:
        return None
    for dependency in evidence.dependencies:
        host = _registry_host(dependency) if dependency.registry_tls_secret() else None
        if host and re.search(rf"(?i)//{re.escape(host)}[:/]", text):
            return dependency
    return None


_FailedPulls = dict[str, tuple[DependencyEvidence, list[EvidenceItem], set[str]]]


def _failed_pulls(
    evidence: Evidence, registry_of: Callable[[str], DependencyEvidence | None]
) -> _FailedPulls:
    """Registry host -> (the registry ``registry_of`` an event's message blames, the failed
    pulls' facts, one per image, and those images): the incident's pods' events first, then
    any other pod's read with them (counted only once the incident's own pods failed)."""
    failed: _FailedPulls = {}
    ours = [e for p in evidence.pods for e in pod_events(evidence, p)]
    others = [e for e in evidence.events if e.involved.kind == "Pod" and e not in ours]
    for event in [*ours, *others]:
        match = _FAILED_PULL.search(event.message)
        dependency = registry_of(event.message) if match else None
        if match is None or dependency is None:
            continue
        host = _registry_host(dependency) or ""
        _, facts, images = failed.setdefault(host, (dependency, [], set()))
        if match["image"] not in images and (facts or event in ours):
            images.add(match["image"])
            facts.append(item("events", event_fact(event)))
    return failed


def check_registry_service(evidence: Evidence) -> list[Finding]:
    """Escalate to an in-cluster registry that fails the workload's pulls with server
    failures (see the module's docstring)."""
    failed = _failed_pulls(evidence, lambda text: failing_registry(evidence, text))
    findings: list[Finding] = []
    for host, (dependency, facts, images) in failed.items():
        target = dependency.service_ref()
        if target is None:
            continue
        serves = item(
            f"dependency {prose.obj(target)}",
            f"serves registry {host}, which the failed pulls talked to",
        )
        several = len(images) > 1
        because = [
            prose.claim(
                f"The pulls fail inside the registry at {host}, which {prose.obj(target)} serves "
                "in the cluster: it answers with a server failure, not about the image",
                *facts[:2],
                serves,
            ),
            prose.claim(
                "Pulls of other images fail through it the same way"
                if several
                else "The image reference and pull secret are not what fails, so correcting "
                "them fixes nothing; the registry's owner must restore it",
                *facts[1:3],
            ),
        ]
        findings.append(
            make_finding(
                "registry-service",
                Category.DEPENDENCY_FAILURE,
                CONFIDENCE.several_images if several else CONFIDENCE.failing,
                prose.narrative(
                    f"The in-cluster registry {prose.obj(target)} fails the pulls",
                    "escalate to its owner with the failed pulls",
                    because=because,
                ),
                [*facts[:3], serves],
                Action.ESCALATE,
                target,
                {"registry": host},
            )
        )
    return findings


def check_registry_certificate(evidence: Evidence) -> list[Finding]:
    """Renew the certificate of an Ingress-served registry that the workload's pulls find
    expired (see the module's docstring)."""
    now = timestamp(evidence.collected_at)
    failed = _failed_pulls(evidence, lambda text: expired_registry_certificate(evidence, text, now))
    findings: list[Finding] = []
    for host, (dependency, facts, images) in failed.items():
        secret = dependency.registry_tls_secret()
        if secret is None or not facts:
            continue
        serves = item(
            f"dependency {prose.obj(secret)}",
            f"holds the certificate the Ingress serves registry {host} with",
        )
        several = len(images) > 1
        because = [
            prose.claim(
                f"The pulls fail verifying the certificate of the registry at {host}: it has "
                "expired, so no image, tag or pull secret can help",
                *facts[:2],
            ),
            prose.claim(
                f"An Ingress of the cluster serves {host} with the certificate in "
                f"{prose.obj(secret)}",
                serves,
            ),
        ]
        if several:
            because.append(
                prose.claim("Pulls of other images fail through it the same way", *facts[1:3])
            )
        findings.append(
            make_finding(
                "registry-certificate",
                Category.CERTIFICATE_EXPIRY,
                CONFIDENCE.certificate_several if several else CONFIDENCE.certificate,
                prose.narrative(
                    f"The certificate of the registry at {host} has expired",
                    f"renew the certificate in {prose.obj(secret)}",
                    because=because,
                ),
                [*facts[:3], serves],
                Action.RENEW_CERTIFICATE,
                secret,
                {"registry": host},
            )
        )
    return findings


REGISTRY_SERVICE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("registry-service", (Category.DEPENDENCY_FAILURE,), check_registry_service),
    Analyzer("registry-certificate", (Category.CERTIFICATE_EXPIRY,), check_registry_certificate),
)
