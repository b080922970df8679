"""The node-clock rule: credentials judged by time (signed tokens, signed requests, Kerberos
tickets, certificates) are refused as "not yet valid" or "too skewed" only by the workload's
pods on one node, while its pods on other nodes, with the same image and the same callers,
accept them. A token issued a moment ago is only "from the future" to a clock that runs
behind; a request is only "too skewed" when the signer's clock is off. What the pods on that
node share is the node's clock (node-failure, drain the node and fix its time sync), not an
identity provider, a key rotation or a certificate.

``tls_clients.check_clock_skew`` reads the clock from Go's x509 message itself; this rule
needs no clock in the line, so it asks for the contrast between nodes instead.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import grep_logs, grep_tls_failures, item, logs_of, pod_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-clock finding is, by the evidence that earns it."""

    # Time-validation refusals come only from the pods on one node, and a pod of the same
    # workload on another node was read and refuses nothing: the node's clock is the
    # difference (below the x509 rule's 0.9, which reads the wrong clock in the line itself).
    one_node_refuses: float = 0.86


CONFIDENCE: Final = _Confidence()

# Refusals that only a wrong clock (the verifier's or the signer's) explains when they come
# from one node: a credential "not yet valid" or "used before issued", a request "too
# skewed". Plain expiry is left out: an expired token is usually just expired.
TIME_VALIDATION_LOG: Final = re.compile(
    r"(?i)"
    r"not yet valid \((?:iat|nbf)\)"  # PyJWT ImmatureSignatureError
    r"|ImmatureSignatureError|PrematureJwtException"  # PyJWT, jjwt
    r"|token is not valid yet|token used before issued"  # golang-jwt
    r"|jwt not active"  # jsonwebtoken (Node.js) NotBeforeError
    r"|JWT must not be accepted before"  # jjwt
    r"|JWT before use time"  # Nimbus JOSE (Java)
    r"|IDX10222"  # .NET: lifetime validation failed, token not yet valid
    r"|issued (?:at )?in the future"
    r"|RequestTimeTooSkewed"  # AWS SigV4
    r"|difference between the request time and the current time is too large"
    r"|Signature not yet current"  # AWS SigV4
    r"|clock skew too great"  # Kerberos
)


def _refusing_pods(evidence: Evidence) -> dict[str, tuple[PodEvidence, str, str]]:
    """Pod name -> (pod, its log source, the refusal line), for the incident's own pods."""
    found: dict[str, tuple[PodEvidence, str, str]] = {}
    hits = [
        *grep_logs(evidence.logs, TIME_VALIDATION_LOG, limit=20),
        *grep_tls_failures(evidence.logs, {"not-yet-valid"}, limit=20),
    ]
    for hit in hits:
        if hit.log.source != "scope":
            continue
        pod = next(
            (p for p in evidence.pods if (p.namespace, p.name) == (hit.log.namespace, hit.log.pod)),
            None,
        )
        if pod is not None and pod.node:
            found.setdefault(pod.name, (pod, hit.source, hit.line))
    return found


def check_node_clock(evidence: Evidence) -> list[Finding]:
    refusing = _refusing_pods(evidence)
    nodes = {pod.node for pod, _, _ in refusing.values()}
    if len(nodes) != 1:
        return []
    node_name = next(iter(nodes))
    owners = [pod.owner for pod, _, _ in refusing.values() if pod.owner is not None]
    # A replica of the same workload on another node whose log was read and refuses nothing.
    clean = next(
        (
            p
            for p in evidence.pods
            if p.owner in owners
            and p.node
            and p.node != node_name
            and p.name not in refusing
            and logs_of(evidence, p)
        ),
        None,
    )
    if node_name is None or clean is None:
        return []
    _, source, line = next(iter(refusing.values()))
    ref = ObjectRef(kind="Node", name=node_name)
    refusal = item(source, line)
    contrast = item(pod_source(clean), f"same workload on node {clean.node}: no such refusal")
    return [
        make_finding(
            "node-clock",
            Category.NODE_FAILURE,
            CONFIDENCE.one_node_refuses,
            prose.narrative(
                f"The clock of {prose.obj(ref)} is wrong",
                "drain it and fix its time sync",
                because=[
                    prose.claim(
                        f"The pods on {prose.obj(ref)} refuse credentials as not yet valid or "
                        "too skewed in time",
                        refusal,
                    ),
                    prose.claim(
                        "The same workload on other nodes accepts them, so the tokens and "
                        "their issuer are fine and the node's clock is the difference",
                        contrast,
                    ),
                ],
            ),
            [refusal, contrast],
            Action.DRAIN_NODE,
            ref,
            {"node": node_name},
        )
    ]


CLOCK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("node-clock", (Category.NODE_FAILURE,), check_node_clock),
)
