"""What TLS clients' certificate errors say beyond "expired" (x509 reasoning):

- clock-skew: an x509 validity error whose verifier clock ("current time T is before/after
  N") is far from the collection time, and whose verdict the real time would reverse: the
  certificate is fine, the clock of the node the failing pod runs on is not (node-failure,
  drain the node); ``certificate-expiry`` does not count such lines;
- certificate-hostname: TLS clients reject a certificate that does not name the host they
  called (a "hostname" failure of ``kubetriage.tls_errors``, in any library's words), and a
  ConfigMap the pods use was written shortly before: the edit named a host the certificate
  does not cover (config-missing, fix the ConfigMap), not a certificate to renew;
- client-trust-bundle: TLS clients reject the server's chain as signed by an unknown
  authority, and the CA file they trust (``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS``,
  ``REQUESTS_CA_BUNDLE``, an app's ``*_CA_FILE``, Java's ``-Djavax.net.ssl.trustStore``) lies
  in a ConfigMap the container mounts: that bundle lacks the CA that now signs the server
  (a CA rotated, a server re-issued by another CA). The client's bundle is the configuration
  to correct (config-missing, fix the ConfigMap); the server's certificate is valid, so
  renewing it would not help.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.mounts import mount_for
from kubetriage.analyzers.support import (
    grep_tls_failures,
    item,
    logs_of,
    node_source,
    object_source,
    pod_source,
    timestamp,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ConfigMount, ContainerEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tls_errors import VALIDITY_FAILURES


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# Go crypto/x509's validity error carries the verifier's own clock.
_VALIDITY = re.compile(
    r"current time (?P<now>\d{4}-\d\d-\d\dT[\d:.]+Z) is (?P<side>after|before) "
    r"(?P<bound>\d{4}-\d\d-\d\dT[\d:.]+Z)"
)
# A verifier clock further than this from the collection time is a wrong clock.
CLOCK_SKEW_SECONDS = 600
# Node conditions a time-sync monitor sets (node-problem-detector's NTP plugin and the like).
_CLOCK_CONDITION = re.compile(r"(?i)ntp|clock|time ?sync|chrony")
CLOCK_SKEW_CONFIDENCE: Final = 0.9
# A ConfigMap written this long before the collection still explains a new mismatch.
CONFIG_EDIT_WINDOW_SECONDS = 3 * 3600
HOSTNAME_CONFIDENCE: Final = 0.9
# Clients reject the chain as of an unknown authority, and the CA file they trust is in a
# ConfigMap they mount: below a rollout of the called server or of the client itself, which
# explains a new chain (or a new trust path) better than a bundle left behind.
TRUST_BUNDLE_CONFIDENCE: Final = 0.84

# Env vars naming the CA file (or directory) a TLS client trusts: Go and OpenSSL
# (SSL_CERT_FILE, SSL_CERT_DIR), Python requests and curl (REQUESTS_CA_BUNDLE,
# CURL_CA_BUNDLE), Node.js (NODE_EXTRA_CA_CERTS), libpq (PGSSLROOTCERT), gRPC
# (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), AWS SDKs (AWS_CA_BUNDLE) and applications' own
# ``*_CA_FILE``/``*_CA_CERT``/``*_CA_BUNDLE``/``*_TRUSTSTORE``.
_TRUST_ENV = re.compile(
    r"(?i)(^|_)(SSL_CERT_(FILE|DIR)|CA_?(FILE|CERTS?|BUNDLE|PATH)|SSLROOTCERT"
    r"|ROOTS_FILE_PATH|TRUST_?STORE(_PATH|_FILE)?)$"
)
# Java's trust store, set on the command line or in JAVA_TOOL_OPTIONS / JAVA_OPTS.
_JAVA_TRUSTSTORE = re.compile(r"-Djavax\.net\.ssl\.trustStore=(?P<path>/\S+)")


def clock_skew(line: str, now: float) -> float | None:
    """How far (seconds, negative: behind) the clock that judged a certificate in ``line``
    is from ``now``, when that is the cause: the real time would have reversed the verdict
    ("is before" a bound already past, "is after" a bound still ahead). None otherwise."""
    match = _VALIDITY.search(line)
    if match is None:
        return None
    seen, bound = _time(match["now"]), _time(match["bound"])
    if seen is None or bound is None:
        return None
    offset = timestamp(seen) - now
    if abs(offset) < CLOCK_SKEW_SECONDS:
        return None
    reversed_by_now = (
        timestamp(bound) <= now if match["side"] == "before" else timestamp(bound) >= now
    )
    return offset if reversed_by_now else None


# --- clock-skew ---------------------------------------------------------------------------


def check_clock_skew(evidence: Evidence) -> list[Finding]:
    now = timestamp(evidence.collected_at)
    by_node: dict[str, list[tuple[float, EvidenceItem]]] = {}
    for hit in grep_tls_failures(evidence.logs, VALIDITY_FAILURES, limit=20):
        offset = clock_skew(hit.line, now)
        pod = next(
            (p for p in evidence.pods if (p.namespace, p.name) == (hit.log.namespace, hit.log.pod)),
            None,
        )
        if offset is None or pod is None or not pod.node:
            continue
        by_node.setdefault(pod.node, []).append((offset, item(hit.source, hit.line)))
    findings: list[Finding] = []
    for node_name, seen in by_node.items():
        offset = seen[0][0]
        facts = [fact for _, fact in seen[:2]]
        node = next((n for n in evidence.nodes if n.name == node_name), None)
        for condition in node.conditions if node is not None else []:
            if _CLOCK_CONDITION.search(condition.type) and condition.status == "True":
                facts.append(
                    item(
                        node_source(node_name),
                        f"{condition.type}={condition.status} {condition.reason}: "
                        f"{condition.message or ''}",
                    )
                )
        direction = "behind" if offset < 0 else "ahead"
        ref = ObjectRef(kind="Node", name=node_name)
        findings.append(
            make_finding(
                "clock-skew",
                Category.NODE_FAILURE,
                CLOCK_SKEW_CONFIDENCE,
                prose.narrative(
                    f"The clock of {prose.obj(ref)} is {prose.duration(offset)} {direction}",
                    "drain it and fix its time sync",
                    because=[
                        prose.claim(
                            f"TLS verification on {prose.obj(ref)} judges certificates by a "
                            f"clock {prose.duration(offset)} {direction}",
                            facts[0],
                        ),
                        prose.claim(
                            "At the real time the certificate is valid: the node's clock is "
                            "at fault, not the certificate",
                            *facts[1:3],
                        ),
                    ],
                ),
                facts,
                Action.DRAIN_NODE,
                ref,
                {"offsetSeconds": str(int(offset))},
            )
        )
    return findings


# --- certificate-hostname -----------------------------------------------------------------


def check_certificate_hostname(evidence: Evidence) -> list[Finding]:
    hits = grep_tls_failures(evidence.logs, {"hostname"}, limit=5)
    if not hits:
        return []
    now = timestamp(evidence.collected_at)
    used = {ref.name for pod in evidence.pods for ref in pod.config_refs if ref.kind == "ConfigMap"}
    edits = [
        c
        for c in evidence.changes
        if c.kind == "config"
        and c.object.kind == "ConfigMap"
        and c.object.name in used
        and c.at is not None
        and 0 <= now - timestamp(c.at) <= CONFIG_EDIT_WINDOW_SECONDS
    ]
    if not edits:
        return []
    edit = max(edits, key=lambda c: timestamp(c.at) if c.at is not None else 0.0)
    target = edit.object
    ago = prose.duration(now - timestamp(edit.at)) if edit.at is not None else "recently"
    facts = [item(h.source, h.line) for h in hits[:2]]
    facts.append(item(object_source(target), f"data written {ago} ago"))
    return [
        make_finding(
            "certificate-hostname",
            Category.CONFIG_MISSING,
            HOSTNAME_CONFIDENCE,
            prose.narrative(
                f"{prose.obj(target)} names a host the server's certificate does not cover",
                "correct the host in it",
                because=[
                    prose.claim(
                        "TLS clients reject the certificate: it does not name the host called",
                        *facts[:2],
                    ),
                    prose.claim(
                        f"{prose.obj(target)}, which the pods read, was edited {ago} ago",
                        facts[-1],
                    ),
                    prose.claim(
                        "The certificate is not expired; the configured host is wrong, so "
                        "renewing it would not help"
                    ),
                ],
            ),
            facts,
            Action.FIX_CONFIG,
            target,
            {},
        )
    ]


# --- client-trust-bundle ------------------------------------------------------------------


def _trust_paths(container: ContainerEvidence) -> list[str]:
    """The CA files or directories the container's TLS clients are told to trust."""
    paths = [v.strip() for k, v in container.env.items() if _TRUST_ENV.search(k)]
    for text in (*container.env.values(), *container.args):
        paths.extend(m["path"] for m in _JAVA_TRUSTSTORE.finditer(text))
    return [p for p in paths if p.startswith("/")]


def trust_bundle(container: ContainerEvidence) -> tuple[ConfigMount, str] | None:
    """The ConfigMap mount holding the CA file the container trusts, and that path."""
    for path in _trust_paths(container):
        located = mount_for(path, container.config_mounts)
        if located is not None and located[0].kind == "ConfigMap":
            return located[0], path
    return None


def check_client_trust_bundle(evidence: Evidence) -> list[Finding]:
    for pod in evidence.pods:
        for container in pod.containers:
            bundle = trust_bundle(container)
            if bundle is None:
                continue
            logs = logs_of(evidence, pod, container.name)
            hits = grep_tls_failures(logs, {"unknown-authority"}, limit=2)
            if not hits:
                continue
            mount, path = bundle
            target = ObjectRef(kind="ConfigMap", namespace=pod.namespace, name=mount.name)
            facts = [item(h.source, h.line) for h in hits]
            facts.append(
                item(
                    pod_source(pod),
                    f"container {container.name} trusts {path}, mounted from {prose.obj(target)}",
                )
            )
            return [
                make_finding(
                    "client-trust-bundle",
                    Category.CONFIG_MISSING,
                    TRUST_BUNDLE_CONFIDENCE,
                    prose.narrative(
                        f"{prose.obj(target)}, the CA bundle the clients trust, lacks the CA "
                        "that signs the server's certificate",
                        "add that CA to it",
                        because=[
                            prose.claim(
                                "TLS clients reject the server's chain: it ends at a CA they "
                                "do not trust",
                                *facts[:-1],
                            ),
                            prose.claim(
                                f"They trust only the CAs in {prose.obj(target)}", facts[-1]
                            ),
                            prose.claim(
                                "Nothing says the certificate expired; renewing it from the "
                                "same CA would not help"
                            ),
                        ],
                    ),
                    facts,
                    Action.FIX_CONFIG,
                    target,
                    {},
                )
            ]
    return []


TLS_CLIENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("clock-skew", (Category.NODE_FAILURE,), check_clock_skew),
    Analyzer("certificate-hostname", (Category.CONFIG_MISSING,), check_certificate_hostname),
    Analyzer("client-trust-bundle", (Category.CONFIG_MISSING,), check_client_trust_bundle),
)
