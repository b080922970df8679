"""The mesh-ca-expiry rule: the service mesh's CA signs every workload certificate, so when
its signing chain expires, mutual TLS fails between every pair of workloads at once, whatever
rolled out meanwhile. Istio's CA (istiod) exports when its chain and its root expire
(``citadel_server_cert_chain_expiry_timestamp``, ``citadel_server_root_cert_expiry_timestamp``);
a chain that expires before its root is an intermediate CA plugged in by the operator, kept in
the Secret ``cacerts`` of istiod's namespace, else the CA istiod generated itself, kept in
``istio-ca-secret``. With the workload's handshakes failing certificate verification, the
fix is renewing that Secret: ``certificate-expiry``, renew-certificate. Seen from a workload
whose handshakes fail verification, or, once the chain has expired, from any workload whose
pods run the mesh's sidecar.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.certificates import SOON_DAYS
from kubetriage.analyzers.support import item, log_source, metrics_named, pod_source, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tls_errors import tls_failure_match


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a mesh-CA finding is, by the evidence that earns it (always with the
    workload's handshakes failing verification)."""

    # The CA's chain has expired: every certificate it signed fails, which outweighs any
    # change that happened meanwhile (a rollout correlated with the errors is 0.88 at most).
    expired: float = 0.93
    expiring: float = 0.8  # ... it expires within SOON_DAYS
    # It has expired and the workload's pods run the mesh's sidecar, with no handshake
    # failure in the logs read: still above a rollout correlated with the errors.
    expired_meshed: float = 0.9


CONFIDENCE: Final = _Confidence()

CHAIN_EXPIRY = "citadel_server_cert_chain_expiry_timestamp"
ROOT_EXPIRY = "citadel_server_root_cert_expiry_timestamp"
# Where Istio keeps its CA: a plugged-in intermediate, or the root it generated itself.
PLUGGED_CA_SECRET = "cacerts"
SELF_SIGNED_CA_SECRET = "istio-ca-secret"
SIDECAR = "istio-proxy"  # the container Istio injects into every meshed pod
MESH_NAMESPACE = "istio-system"  # Istio's default, when the series carries no namespace
# A handshake that failed certificate verification, whatever the reason (BoringSSL in
# Envoy prints only CERTIFICATE_VERIFY_FAILED; Go says "failed to verify certificate").
_VERIFY_FAILED = re.compile(
    r"(?i)(CERTIFICATE_VERIFY_FAILED|certificate verify failed|failed to verify certificate)"
)


def _remaining(metric: MetricSummary, now: float) -> float | None:
    """Seconds until the expiry a series reports: templates subtract time() already, a raw
    series is an absolute timestamp."""
    if metric.last is None:
        return None
    return metric.last if "time()" in metric.query else metric.last - now


def check_mesh_ca(evidence: Evidence) -> list[Finding]:
    now = timestamp(evidence.collected_at)
    chains = [
        (metric, left)
        for metric in metrics_named(evidence, CHAIN_EXPIRY)
        if (left := _remaining(metric, now)) is not None and left <= SOON_DAYS * 86400
    ]
    if not chains:
        return []
    failing = [
        (log, line)
        for log in evidence.logs
        for line in log.lines
        if _VERIFY_FAILED.search(line) or tls_failure_match(line) is not None
    ]
    chain, left = min(chains, key=lambda c: c[1])
    meshed = [p for p in evidence.pods if any(c.name == SIDECAR for c in p.containers)]
    # An expired chain fails every meshed pod's handshakes, seen or not; one that only
    # expires soon is the incident only where handshakes already fail.
    if not failing and not (left <= 0 and meshed):
        return []
    namespace = chain.labels.get("namespace") or MESH_NAMESPACE
    roots = [
        r
        for metric in metrics_named(evidence, ROOT_EXPIRY)
        if metric.labels.get("namespace", namespace) == namespace
        and (r := _remaining(metric, now)) is not None
    ]
    # The chain ends before its root: an intermediate signed elsewhere and plugged in.
    plugged = any(r - left > 86400 for r in roots)
    secret = ObjectRef(
        kind="Secret",
        namespace=namespace,
        name=PLUGGED_CA_SECRET if plugged else SELF_SIGNED_CA_SECRET,
    )
    state = (
        f"expired {prose.duration(-left)} ago"
        if left <= 0
        else f"expires in {prose.duration(left)}"
    )
    facts = [
        item("metrics", f"{CHAIN_EXPIRY}: the mesh CA's signing chain {state}"),
        *(item(log_source(log), line) for log, line in failing[:2]),
    ]
    if failing:
        seen = prose.claim("The workload's handshakes fail certificate verification", *facts[1:])
        confidence = CONFIDENCE.expired if left <= 0 else CONFIDENCE.expiring
    else:
        facts.append(item(pod_source(meshed[0]), f"runs {SIDECAR}"))
        seen = prose.claim("The workload's pods talk mutual TLS through the mesh", facts[-1])
        confidence = CONFIDENCE.expired_meshed
    what = "intermediate CA plugged into the mesh" if plugged else "mesh's CA"
    return [
        make_finding(
            "mesh-ca-expiry",
            Category.CERTIFICATE_EXPIRY,
            confidence,
            prose.narrative(
                f"The {what} {state}, so mutual TLS between workloads fails",
                f"renew it in {prose.obj(secret)}",
                because=[
                    prose.claim(f"The {what} {state}", facts[0]),
                    seen,
                    prose.claim(
                        f"Every workload certificate is signed by it; {prose.obj(secret)} holds it"
                    ),
                ],
            ),
            facts,
            Action.RENEW_CERTIFICATE,
            secret,
        )
    ]


MESH_CA_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("mesh-ca-expiry", (Category.CERTIFICATE_EXPIRY,), check_mesh_ca),
)
