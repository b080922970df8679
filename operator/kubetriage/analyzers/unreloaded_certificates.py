"""The unreloaded-certificate rule: a peer rejects the certificate the workload presents as
expired, yet the cert-manager Certificate that writes the Secret its pods mount is Ready and
valid, reissued after every running container of those pods started. cert-manager rewrites
the Secret but restarts nobody; a process that read its certificate once at start (a keystore
built by an init container, a TLS context loaded at boot) still presents the previous one,
which has now expired. Renewing again changes nothing: restarting the workload makes its
pods load the certificate already in the Secret.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.certificates import cert_field, cert_time, peer_rejects_own
from kubetriage.analyzers.support import (
    grep_tls_failures,
    item,
    object_source,
    pod_source,
    timestamp,
    workload_ref,
)
from kubetriage.analyzers.tls_clients import clock_skew
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import GenericObjectEvidence, PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category
from kubetriage.tls_errors import VALIDITY_FAILURES


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an unreloaded-certificate finding is, by the evidence that earns it."""

    # The peer rejects the workload's certificate as expired while the Secret's is valid and
    # newer than every running container: above renewing the workload's own Secret
    # (``certificates`` ``own_rejected``, 0.86), which would change nothing.
    stale: float = 0.9


CONFIDENCE: Final = _Confidence()


def _valid_certificates(evidence: Evidence) -> list[tuple[GenericObjectEvidence, datetime]]:
    """The incident's Certificates that are Ready and not expired, each with when it was
    issued (``notBefore``)."""
    now = timestamp(evidence.collected_at)
    found = []
    for cert in evidence.other_objects:
        if cert.ref.kind != "Certificate":
            continue
        ready = next((c for c in cert.conditions if c.type == "Ready"), None)
        not_after = cert_time(cert_field(cert, "notAfter"))
        issued = cert_time(cert_field(cert, "notBefore"))
        if ready is None or ready.status != "True" or not_after is None or issued is None:
            continue
        if timestamp(not_after) > now and cert_field(cert, "secretName"):
            found.append((cert, issued))
    return found


def _started_before(pods: list[PodEvidence], issued: datetime) -> list[PodEvidence]:
    """``pods`` whose running app containers all started before ``issued``; empty unless
    every one of ``pods`` runs and did."""
    running = []
    for pod in pods:
        if pod.deleting:
            continue
        starts = [c.state.started_at for c in pod.containers if not c.init]
        if not starts or any(s is None or s >= issued for s in starts):
            return []
        running.append(pod)
    return running


def check_unreloaded_certificate(evidence: Evidence) -> list[Finding]:
    """Restart the workload whose pods still present a certificate replaced in its Secret
    (see the module's docstring)."""
    now = timestamp(evidence.collected_at)
    rejected = [
        h
        for h in grep_tls_failures(evidence.logs, VALIDITY_FAILURES, limit=20)
        if peer_rejects_own(h.line) and clock_skew(h.line, now) is None
    ]
    if not rejected:
        return []
    findings: list[Finding] = []
    for cert, issued in _valid_certificates(evidence):
        secret = cert_field(cert, "secretName")
        mounting = [
            p
            for p in evidence.pods
            if any(r.kind == "Secret" and r.name == secret for r in p.config_refs)
        ]
        stale = _started_before(mounting, issued)
        target = workload_ref(evidence, stale[0]) if stale else None
        if target is None or target.kind not in ACTION_TARGET_KINDS[Action.RESTART]:
            continue
        source = object_source(cert.ref)
        not_after = cert_field(cert, "notAfter")
        valid = item(
            source,
            f"Ready, issued {issued.isoformat()}, valid until {not_after}; writes Secret {secret}",
        )
        oldest = min(
            (
                c.state.started_at
                for p in stale
                for c in p.containers
                if not c.init and c.state.started_at
            ),
            default=None,
        )
        started = item(
            pod_source(stale[0]),
            f"{prose.count(len(stale), 'pod')} mounting Secret {secret} running since "
            f"{oldest.isoformat() if oldest else 'before the reissue'}",
        )
        quoted = [item(h.source, h.line) for h in rejected[:2]]
        because = [
            prose.claim(
                "The peer rejects the certificate the workload presents as expired", *quoted
            ),
            prose.claim(
                f"{prose.obj(cert.ref)} is valid: it was reissued into Secret {secret} after "
                "the pods started",
                valid,
                started,
            ),
            prose.claim(
                "The pods still present the certificate they loaded at start; a restart loads "
                "the renewed one, renewing again changes nothing"
            ),
        ]
        findings.append(
            make_finding(
                "unreloaded-certificate",
                Category.CERTIFICATE_EXPIRY,
                CONFIDENCE.stale,
                prose.narrative(
                    f"{prose.obj(target)} presents an expired certificate its Secret no "
                    "longer holds",
                    "restart it to load the renewed certificate",
                    because=because,
                ),
                [*quoted, valid, started],
                Action.RESTART,
                target,
                {"certificate": cert.ref.name, "secret": secret or ""},
            )
        )
    return findings


UNRELOADED_CERTIFICATE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "unreloaded-certificate", (Category.CERTIFICATE_EXPIRY,), check_unreloaded_certificate
    ),
)
