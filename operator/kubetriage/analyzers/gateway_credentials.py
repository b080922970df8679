"""A mesh gateway's TLS credential that is not where the gateway looks for it: an Istio
Gateway serves a host with ``tls.credentialName: <secret>``, which the gateway resolves in
the namespace its workload (the ingress gateway's pods) runs in, not in the Gateway's or the
application's; when no such Secret is there, the gateway's Envoy gets no certificate for that
server and builds no TLS filter chain for the host, so every handshake with that SNI is
closed and Envoy's access log says ``NR filter_chain_not_found`` with the host. The proxy runs
and the other hosts it serves answer: nothing is down and no certificate expired. The usual
cause is a Certificate issued (or a Secret copied) into the application's namespace. An SRE
creates the Secret under that name in the gateway's namespace (fix-config on it).

A Certificate that writes that Secret in the gateway's namespace is the certificate rules'
case (its renewal failed), not this one.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import grep_logs, item
from kubetriage.evidence.summaries.ingress import host_matches
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import GenericObjectEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a misplaced gateway credential finding is."""

    # Envoy logs that it has no TLS filter chain for a host an Istio Gateway serves with a
    # named credential, and no Certificate writes that Secret in the gateway's namespace.
    no_chain_for_credential: float = 0.82


CONFIDENCE: Final = _Confidence()

# Envoy's response detail for a connection no listener filter chain matches (by SNI).
_NO_FILTER_CHAIN: Final = re.compile(r"\bfilter_chain_not_found\b")


def _credentials(gateway: GenericObjectEvidence) -> list[tuple[str, str]]:
    """(host, Secret) pairs of the Gateway's summary (``tlsSecretNames``: ``host=secret``)."""
    pairs = (p.rpartition("=") for p in gateway.fields.get("tlsSecretNames", "").split())
    return [(host, secret) for host, _, secret in pairs if host and secret]


def _rank(pattern: str, host: str) -> int | None:
    """How specifically a Gateway host serves ``host``: 0 exactly, 1 by a wildcard, 2 as
    ``*``; None not at all (Envoy picks the most specific server's filter chain)."""
    if pattern.lower() == host.lower().rstrip("."):
        return 0
    if pattern == "*":
        return 2
    return 1 if host_matches(pattern, host) else None


def _served_by(
    line: str, gateways: list[GenericObjectEvidence]
) -> tuple[str, GenericObjectEvidence, str] | None:
    """(host, Gateway, Secret) of the most specific Gateway server for a host the access-log
    line names as a whole token (Envoy logs the requested server name); None if none."""
    best: tuple[int, str, GenericObjectEvidence, str] | None = None
    for token in (t.strip("\"'") for t in line.split()):
        for gateway in gateways:
            for pattern, secret in _credentials(gateway):
                rank = _rank(pattern, token)
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, token, gateway, secret)
    return best[1:] if best is not None else None


def _written_there(evidence: Evidence, namespace: str, secret: str) -> bool:
    """Whether a cert-manager Certificate writes ``secret`` in ``namespace``."""
    return any(
        o.ref.kind == "Certificate"
        and o.ref.namespace == namespace
        and o.fields.get("secretName") == secret
        for o in evidence.other_objects
    )


def check_gateway_credentials(evidence: Evidence) -> list[Finding]:
    gateways = [o for o in evidence.other_objects if o.ref.kind == "Gateway" and _credentials(o)]
    if not gateways:
        return []
    refusals = grep_logs(evidence.logs, _NO_FILTER_CHAIN, limit=50)
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for hit in refusals:
        match = _served_by(hit.line, gateways)
        if match is None:
            continue
        host, gateway, secret = match
        # credentialName is resolved where the gateway workload runs.
        namespace = hit.log.namespace
        if (namespace, secret) in seen or _written_there(evidence, namespace, secret):
            continue
        seen.add((namespace, secret))
        target = ObjectRef(kind="Secret", namespace=namespace, name=secret, api_version="v1")
        named = item(
            f"{gateway.ref.kind.lower()}/{gateway.ref.namespace}/{gateway.ref.name}",
            f"serves {host} with TLS credential {secret}",
        )
        refused = item(hit.source, hit.line)
        unwritten = item(
            f"secret/{namespace}/{secret}",
            f"no Certificate writes {secret} in namespace {namespace}",
        )
        findings.append(
            make_finding(
                "gateway-credential",
                Category.CONFIG_MISSING,
                CONFIDENCE.no_chain_for_credential,
                prose.narrative(
                    f"The gateway has no certificate for {host}: {prose.obj(target)} is missing",
                    "create it in the gateway's namespace",
                    aside=f"{prose.obj(gateway.ref)} names credential {secret}, which the "
                    "gateway looks up in its own namespace only",
                    because=[
                        prose.claim(
                            f"{prose.obj(gateway.ref)} serves {host} with credential {secret}",
                            named,
                        ),
                        prose.claim(
                            f"The gateway's proxy finds no TLS filter chain for {host}, "
                            "so it closes those handshakes",
                            refused,
                        ),
                        prose.claim(f"Nothing issues {secret} in namespace {namespace}", unwritten),
                    ],
                ),
                [refused, named, unwritten],
                Action.FIX_CONFIG,
                target,
            )
        )
    return findings


GATEWAY_CREDENTIAL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("gateway-credential", (Category.CONFIG_MISSING,), check_gateway_credentials),
)
