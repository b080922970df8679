"""Aggregated-API analyzer: an autoscaler of the incident cannot read its metrics because
the API server cannot call the aggregated API serving them (an ``APIService`` reported
``Available=False``), and the call fails on the backend's serving certificate: the
certificate the API server refused is the cause, not the workload nor its load.

- the serving certificate expired or is not yet valid: certificate-expiry, renew the Secret
  the backend's pods mount it from (a TLS-looking Secret, ``cert_targets``);
- it is signed by a CA the APIService's caBundle does not hold, or does not name the
  Service: certificate-expiry (replace it), a little less sure;
- no such Secret is in view: escalate to the owner of the Service the APIService calls.

A timeout, a refused call or a Service with no endpoint says the metrics pipeline is down
for a reason outside the certificate. When what stands behind the APIService's Service says
why, as for an admission webhook (``webhook_backends``: its pods OOM-killed, failing since a
new revision, unschedulable, a Service selecting no pod, a NetworkPolicy of its namespace
admitting no call from the API server, its containers throttled by their CPU limit), that
cause is the finding, on the backend (every autoscaler reading that API is blind until it is
repaired). Otherwise (nothing in view explains it, or only a crash to escalate) the capacity
rule's blind-autoscaler finding (scale out by hand while it is repaired) stays the answer.
Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cert_targets import dependency_tls_secrets
from kubetriage.analyzers.cfs import workload_throttle_shares
from kubetriage.analyzers.support import item, object_source
from kubetriage.analyzers.webhook_backends import backend_cause
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import AggregatedApiEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _AggregatedApiConfidence:
    """How sure an aggregated-API finding is, by the evidence that earns it."""

    # The APIService's call fails on an expired (or not yet valid) certificate, the HPA
    # cannot read its metrics, and the backend's pods mount the Secret holding it.
    certificate: float = 0.88
    untrusted: float = 0.8  # ... the certificate is untrusted or names another host
    service_only: float = 0.75  # ... but no certificate Secret is in view (escalate)
    # The call times out, is refused or finds no endpoint and the backend says why: the
    # cause's own confidence (``webhook_backends.CONFIDENCE``) less this, for an autoscaler
    # that is blind rather than a write that is refused.
    backend_penalty: float = 0.02


CONFIDENCE: Final = _AggregatedApiConfidence()
_UNREACHABLE = frozenset({"no-endpoints", "refused", "timeout"})
# Backend causes too vague to outrank scaling the blind workload out by hand.
_VAGUE = frozenset({Category.DEPENDENCY_FAILURE, Category.CRASH_LOOP})
_WHAT = {
    "expired": "has expired",
    "not-yet-valid": "is not yet valid",
    "unknown-authority": "is signed by a CA the APIService's caBundle does not hold",
    "hostname": "does not name the APIService's Service",
}


def _certificate_finding(api: AggregatedApiEvidence) -> Finding | None:
    what = _WHAT.get(api.failure)
    if what is None or api.service is None:
        return None
    confidence = (
        CONFIDENCE.certificate
        if api.failure in ("expired", "not-yet-valid")
        else CONFIDENCE.untrusted
    )
    secrets = dependency_tls_secrets(api.backend) if api.backend is not None else []
    target: ObjectRef
    action = Action.RENEW_CERTIFICATE
    if secrets:
        target = ObjectRef(kind="Secret", namespace=api.service.namespace, name=secrets[0])
    else:
        target, action, confidence = api.service, Action.ESCALATE, CONFIDENCE.service_only
    unavailable = item(
        f"apiservice/{api.name}", f"Available=False {api.reason or ''}: {api.message}"
    )
    blind = [
        item(f"hpa/{hpa.namespace}/{hpa.name}", f"ScalingActive=False: cannot get {api.group}")
        for hpa in api.autoscalers[:2]
    ]
    holder = item(
        object_source(api.service),
        f"serves APIService {api.name}"
        + (f"; its pods mount Secret {target.name}" if target.kind == "Secret" else ""),
    )
    facts = [unavailable, *blind, holder]
    renew = action is Action.RENEW_CERTIFICATE
    return make_finding(
        "aggregated-api",
        Category.CERTIFICATE_EXPIRY,
        confidence,
        prose.narrative(
            f"The serving certificate of APIService {api.name} "
            f"{'in' if renew else 'served by'} {prose.obj(target)} {what}",
            "renew it" if renew else "escalate to its owner",
            because=[
                prose.claim(
                    "The autoscaler cannot read its metrics, so it cannot add replicas", *blind
                ),
                prose.claim(
                    f"The API server's call to the aggregated API fails: its certificate {what}",
                    unavailable,
                ),
                prose.claim(
                    f"{prose.obj(target)} {'holds' if renew else 'serves'} that certificate",
                    holder,
                ),
            ],
        ),
        facts,
        action,
        target,
        {},
    )


def _unreachable_finding(evidence: Evidence, api: AggregatedApiEvidence) -> Finding | None:
    """The backend's own cause when the API server cannot reach the APIService's Service and
    what stands behind it says why (``webhook_backends.backend_cause``)."""
    if api.failure not in _UNREACHABLE or api.service is None:
        return None
    workload = api.backend.workload if api.backend is not None else None
    shares = workload_throttle_shares(evidence, workload) if workload is not None else {}
    unavailable = item(
        f"apiservice/{api.name}", f"Available=False {api.reason or ''}: {api.message}"
    )
    blind = [
        item(f"hpa/{hpa.namespace}/{hpa.name}", f"ScalingActive=False: cannot get {api.group}")
        for hpa in api.autoscalers[:2]
    ]
    facts = [unavailable, *blind]
    cause = backend_cause(api, api.backend, facts, shares, what="aggregated API")
    if cause is None or cause.category in _VAGUE:
        return None
    return make_finding(
        "aggregated-api",
        cause.category,
        cause.confidence - CONFIDENCE.backend_penalty,
        prose.narrative(
            f"Metrics API {cause.state}: {cause.cause}",
            cause.fix,
            because=[
                prose.claim(
                    "The autoscaler cannot read its metrics, so it cannot add replicas", *blind
                ),
                prose.claim("The API server cannot reach the aggregated API", unavailable),
                prose.claim(
                    f"The aggregated API's backend is {cause.backend_state}: {cause.cause}",
                    *facts[len(blind) + 1 :][:3],
                ),
            ],
        ),
        facts,
        cause.action,
        cause.target,
        {},
    )


def check_aggregated_apis(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for api in evidence.aggregated_apis:
        if not api.autoscalers:
            continue
        finding = _certificate_finding(api) or _unreachable_finding(evidence, api)
        if finding is not None:
            findings.append(finding)
    return findings


AGGREGATED_API_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "aggregated-api",
        (
            Category.CERTIFICATE_EXPIRY,
            Category.NETWORK,
            Category.BAD_ROLLOUT,
            Category.UNSCHEDULABLE,
            Category.OOM_KILLED,
            Category.CPU_THROTTLING,
            Category.CONFIG_MISSING,
        ),
        check_aggregated_apis,
    ),
)
