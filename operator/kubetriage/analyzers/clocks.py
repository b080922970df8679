"""The node-clock rule: credentials judged by time (signed tokens, signed requests, Kerberos
tickets, certificates) are refused as "not yet valid" or "too skewed" only by the workload's
pods on one node, while its pods on other nodes, with the same image and the same callers,
accept them. A token issued a moment ago is only "from the future" to a clock that runs
behind; a request is only "too skewed" when the signer's clock is off. What the pods on that
node share is the node's clock (node-failure, drain the node and fix its time sync), not an
identity provider, a key rotation or a certificate.

``tls_clients.check_clock_skew`` reads the clock from Go's x509 message itself; this rule
needs no clock in the line, so it asks for the contrast between nodes instead.

The clock-shutdown rule reads software that measures its clock against its peers and stops
itself when its own is the outlier (CockroachDB's "clock synchronization error: this node is
more than 500ms away from at least half of the known nodes", YugabyteDB's "Too big clock skew
is detected"): the process crash-loops, but what it reports is its node's clock. When only the
pods on one node stop so, and a replica of the same workload on another node runs Ready, the
node's clock is the fault (node-failure, drain it and fix its time sync), not the database.

The measured-clock rule asks the nodes themselves: the same refusals, with one node whose
clock node_exporter reports off by more than a second (``node_clock_offset_seconds``), where
the incident's refusing pods or the pods of a dependency it calls (the token's issuer, the
signer) run. The refusing verifiers may then sit on every node: a token is "used before
issued" everywhere when the issuer's clock runs ahead.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.node_metrics import metric_node
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    grep_tls_failures,
    item,
    logs_of,
    metrics_named,
    pod_source,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-clock finding is, by the evidence that earns it."""

    # Time-validation refusals come only from the pods on one node, and a pod of the same
    # workload on another node was read and refuses nothing: the node's clock is the
    # difference (below the x509 rule's 0.9, which reads the wrong clock in the line itself).
    one_node_refuses: float = 0.86
    # The refusals, and the only node whose measured clock is off hosts a refusing pod or a
    # pod of a dependency the workload calls (a measurement, not an inference; below the
    # contrast rule, which sees the refusal split by node).
    measured_clock_off: float = 0.84
    # A process stops itself because its clock is the outlier among its peers, only on one
    # node, and a replica on another node runs Ready: the software measured the clock itself,
    # above the crash-loop rule (0.8) that sees only the exits.
    peers_measured_outlier: float = 0.86


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


# Software that compares its clock with its peers' and shuts itself down when its own is the
# outlier (the majority agrees with each other, not with it).
CLOCK_SHUTDOWN_LOG: Final = re.compile(
    r"(?i)"
    r"clock synchronization error: this node is more than \S+ away from at least half of the "
    r"known nodes"  # CockroachDB
    r"|fewer than half the known nodes are within the maximum offset"  # CockroachDB 1.x
    r"|too big clock skew is detected"  # YugabyteDB
)


def _refusing_pods(evidence: Evidence) -> dict[str, tuple[PodEvidence, str, str]]:
    """Pod name -> (pod, its log source, the refusal line), for the incident's own pods."""
    return _pods_logging(
        evidence,
        [
            *grep_logs(evidence.logs, TIME_VALIDATION_LOG, limit=20),
            *grep_tls_failures(evidence.logs, {"not-yet-valid"}, limit=20),
        ],
    )


def _pods_logging(
    evidence: Evidence, hits: list[LogHit]
) -> dict[str, tuple[PodEvidence, str, str]]:
    """Pod name -> (pod, its log source, the line), for the incident's own pods among hits."""
    found: dict[str, tuple[PodEvidence, str, str]] = {}
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


def _one_node_and_peer(
    evidence: Evidence,
    found: dict[str, tuple[PodEvidence, str, str]],
    fine: Callable[[PodEvidence], bool],
) -> tuple[str | None, PodEvidence | None]:
    """The one node the ``found`` pods run on, and a replica of the same workload on another
    node, not among them, that ``fine`` accepts; (None, None) when they run on several."""
    nodes = {pod.node for pod, _, _ in found.values()}
    if len(nodes) != 1:
        return None, None
    node_name = next(iter(nodes))
    owners = [pod.owner for pod, _, _ in found.values() if pod.owner is not None]
    peer = next(
        (
            p
            for p in evidence.pods
            if p.owner in owners
            and p.node
            and p.node != node_name
            and p.name not in found
            and fine(p)
        ),
        None,
    )
    return node_name, peer


def check_node_clock(evidence: Evidence) -> list[Finding]:
    refusing = _refusing_pods(evidence)
    # A replica of the same workload on another node whose log was read and refuses nothing.
    node_name, clean = _one_node_and_peer(evidence, refusing, lambda p: bool(logs_of(evidence, p)))
    if node_name is None or clean is None:
        return []
    _, source, line = next(iter(refusing.values()))
    contrast = f"same workload on node {clean.node}: no such refusal"
    return _drain_for_clock(
        "node-clock",
        CONFIDENCE.one_node_refuses,
        node_name,
        "is wrong",
        (
            "The pods on {node} refuse credentials as not yet valid or too skewed in time",
            item(source, line),
        ),
        (
            "The same workload on other nodes accepts them, so the tokens and their issuer are "
            "fine and the node's clock is the difference",
            item(pod_source(clean), contrast),
        ),
    )


def _drain_for_clock(
    name: str,
    confidence: float,
    node_name: str,
    problem: str,
    seen: tuple[str, EvidenceItem],
    contrast: tuple[str, EvidenceItem],
) -> list[Finding]:
    """Drain ``node_name`` for its clock: ``seen`` (a sentence, where ``{node}`` names the
    node, and its fact) shows the fault, ``contrast`` why the node is the difference."""
    ref = ObjectRef(kind="Node", name=node_name)
    return [
        make_finding(
            name,
            Category.NODE_FAILURE,
            confidence,
            prose.narrative(
                f"The clock of {prose.obj(ref)} {problem}",
                "drain it and fix its time sync",
                because=[
                    prose.claim(seen[0].format(node=prose.obj(ref)), seen[1]),
                    prose.claim(contrast[0], contrast[1]),
                ],
            ),
            [seen[1], contrast[1]],
            Action.DRAIN_NODE,
            ref,
            {"node": node_name},
        )
    ]


def check_clock_shutdown(evidence: Evidence) -> list[Finding]:
    stopping = _pods_logging(evidence, grep_logs(evidence.logs, CLOCK_SHUTDOWN_LOG, limit=20))
    # A replica of the same workload on another node that runs Ready: its clock agrees with
    # the majority, so the cluster's time is fine and the one node's is not.
    node_name, peer = _one_node_and_peer(
        evidence,
        stopping,
        lambda p: any(c.type == "Ready" and c.status == "True" for c in p.conditions),
    )
    if node_name is None or peer is None:
        return []
    _, source, line = next(iter(stopping.values()))
    return _drain_for_clock(
        "clock-shutdown",
        CONFIDENCE.peers_measured_outlier,
        node_name,
        "is off from its peers'",
        (
            "The pods on {node} stop themselves because their clock is too far from their peers'",
            item(source, line),
        ),
        (
            "A replica on another node runs Ready, so the peers agree with each other and the "
            "node's clock is the outlier",
            item(pod_source(peer), f"same workload on node {peer.node}: Ready"),
        ),
    )


CLOCK_OFFSET: Final = "node_clock_offset_seconds"
RAW_OFFSET: Final = "node_timex_offset_seconds"
# A clock off by more than this breaks credentials checked without leeway (PyJWT's default).
OFF_SECONDS: Final = 1.0
_NODE_LABELS: Final = ("node", "nodename", "kubernetes_node", "instance")


def _offset_node(labels: dict[str, str], evidence: Evidence, hosts: set[str]) -> str | None:
    """The node a clock-offset series is about: one of the evidence's nodes by its labels,
    else a node that runs a dependency's pod named by a node label (or the instance's host,
    short host names compared when only one fits)."""
    node = metric_node(labels, evidence.nodes)
    if node is not None:
        return node.name
    for key in _NODE_LABELS:
        value = labels.get(key, "")
        host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
        if host in hosts:
            return host
        short = [h for h in hosts if h.split(".", 1)[0] == host.split(".", 1)[0]]
        if host and len(short) == 1:
            return short[0]
    return None


def _offsets(evidence: Evidence, hosts: set[str]) -> dict[str, float]:
    """Node name -> seconds its clock is off, for the nodes the offset template answered."""
    found: dict[str, float] = {}
    # The template's answers, or node_exporter's raw offset series where a metrics source
    # hands those over (the template's threshold applied here too).
    for m in metrics_named(evidence, CLOCK_OFFSET, RAW_OFFSET):
        if m.last is None or abs(m.last) <= OFF_SECONDS:
            continue
        name = _offset_node(m.labels, evidence, hosts)
        if name is not None:
            found[name] = max(found.get(name, 0.0), abs(m.last))
    return found


def check_measured_clock(evidence: Evidence) -> list[Finding]:
    refusing = _refusing_pods(evidence)
    if not refusing:
        return []
    # Where the verifiers (the incident's refusing pods) and the signers (the pods of the
    # dependencies it calls) run.
    verifier_nodes = {pod.node for pod, _, _ in refusing.values() if pod.node}
    signer_nodes: dict[str, ObjectRef] = {}
    for dep in evidence.dependencies:
        callee = dep.workload or dep.ref
        for node in dep.pod_nodes.values():
            if callee is not None:
                signer_nodes.setdefault(node, callee)
    off = _offsets(evidence, verifier_nodes | set(signer_nodes))
    if len(off) != 1:
        return []
    node_name, seconds = next(iter(off.items()))
    if node_name not in verifier_nodes and node_name not in signer_nodes:
        return []
    _, source, line = next(iter(refusing.values()))
    ref = ObjectRef(kind="Node", name=node_name)
    refusal = item(source, line)
    offset = item("metrics", f"{CLOCK_OFFSET} on {node_name}: {prose.number(seconds)}s")
    runs = (
        "the refusing pods run there"
        if node_name in verifier_nodes
        else f"{prose.obj(signer_nodes[node_name])}, which the workload calls, has a pod there"
    )
    return [
        make_finding(
            "node-clock-measured",
            Category.NODE_FAILURE,
            CONFIDENCE.measured_clock_off,
            prose.narrative(
                f"The clock of {prose.obj(ref)} is off by {prose.number(seconds)}s",
                "drain it and fix its time sync",
                because=[
                    prose.claim(
                        "The workload refuses credentials as not yet valid or too skewed in "
                        "time, which only a wrong clock explains",
                        refusal,
                    ),
                    prose.claim(
                        f"{prose.obj(ref)} is the only node whose clock is off, and {runs}",
                        offset,
                    ),
                ],
            ),
            [refusal, offset],
            Action.DRAIN_NODE,
            ref,
            {"node": node_name},
        )
    ]


CLOCK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("node-clock", (Category.NODE_FAILURE,), check_node_clock),
    Analyzer("node-clock-measured", (Category.NODE_FAILURE,), check_measured_clock),
    Analyzer("clock-shutdown", (Category.NODE_FAILURE,), check_clock_shutdown),
)
