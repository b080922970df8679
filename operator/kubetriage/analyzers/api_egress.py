"""Pods cut off from the Kubernetes API server by an egress NetworkPolicy: a pod that keeps
state in the API (Patroni's leader lock, an operator's leases and watches, a controller's
informers) logs its requests to the API timing out, and an egress policy isolating it has
no rule admitting a destination outside the pod network. Whatever depends on it then fails
the way its software fails without the API (a database leader that cannot renew its lock
demotes itself), far from the policy that caused it.

The API server is recognised by the request the line names (a path of the Kubernetes REST
API, ``/api/v1/...`` or ``/apis/<group>/<version>/...``), not by its address: the
``kubernetes`` Service's clusterIP differs from cluster to cluster, and policies see the
address kube-proxy rewrote it to (the control plane's), which no pod or namespace selector
matches. The pod may be the workload's or a followed dependency's; when its labels are not
known, only policies that select every pod of its namespace can decide.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage.analyzers.base import Analyzer
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG, addresses_in
from kubetriage.analyzers.policies import DROPPED_TIMEOUT
from kubetriage.analyzers.policy_verdicts import blocked, policy_finding
from kubetriage.analyzers.support import LogHit, grep_logs, item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Category
from kubetriage.networkpolicy import Endpoint, Flow


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure the finding is, by what the evidence shows of the cut-off pod."""

    # Requests to the Kubernetes API time out and no rule of the egress policies isolating
    # the pod that logged them admits a destination outside the pod network.
    api_blocked: float = 0.86


CONFIDENCE: Final = _Confidence()

# A request to the Kubernetes REST API: the core group or a named group and version.
_API_PATH = re.compile(r"/api/v1/|/apis/[a-z0-9.-]+\.[a-z0-9.-]+/v\d\w*/")


def _known_labels(evidence: Evidence, namespace: str, pod: str) -> dict[str, str] | None:
    """The labels of the pod that logged the line, when the evidence holds the pod; else
    None."""
    for candidate in evidence.pods:
        if (candidate.namespace, candidate.name) == (namespace, pod):
            return dict(candidate.labels)
    return None


def _decidable_without_labels(evidence: Evidence, namespace: str) -> bool:
    """Whether the egress policies of ``namespace`` all select every pod in it, so that a
    pod of unknown labels is isolated by exactly them (and allowed by no other)."""
    egress = [
        p
        for p in evidence.network_policies
        if p.namespace == namespace and "Egress" in p.policy_types
    ]
    return bool(egress) and all(
        not p.selector.match_labels and not p.selector.match_expressions for p in egress
    )


def _api_requests(evidence: Evidence) -> list[tuple[LogHit, str, int]]:
    """Lines where a request to the Kubernetes API timed out, with the address and port
    dialled, in the workload's logs and its followed dependencies'; one per pod, the first."""
    found: list[tuple[LogHit, str, int]] = []
    seen: set[tuple[str, str]] = set()
    tails = [*evidence.logs, *(t for d in evidence.dependencies for t in d.logs)]
    for hit in grep_logs(tails, DEPENDENCY_LOG, limit=50):
        key = (hit.log.namespace, hit.log.pod)
        if key in seen or not DROPPED_TIMEOUT.search(hit.line) or not _API_PATH.search(hit.line):
            continue
        for address, port in addresses_in(hit.line):
            found.append((hit, address, port))
            seen.add(key)
            break
    return found


def check_api_egress(evidence: Evidence) -> list[Finding]:
    if not evidence.network_policies:
        return []
    for hit, address, port in _api_requests(evidence):
        namespace = hit.log.namespace
        labels = _known_labels(evidence, namespace, hit.log.pod)
        if labels is None:
            if not _decidable_without_labels(evidence, namespace):
                continue
            labels = {}
        source = Endpoint(
            namespace=namespace,
            labels=labels,
            namespace_labels=evidence.namespace_labels.get(namespace, {}),
        )
        # The API server is no pod: only an ipBlock or a rule open to every destination
        # admits it, and on which port it listens behind its Service is not known here.
        api_server = Endpoint(namespace="", labels=None, address_only=True)
        verdict = blocked(evidence, Flow(source=source, destination=api_server))
        if verdict is None or verdict.direction != "egress" or verdict.ip_block_caveat:
            # An ipBlock may hold the control plane's address: it cannot be told here.
            continue
        return [
            policy_finding(
                evidence,
                verdict,
                "egress to the Kubernetes API server",
                [
                    item(hit.source, hit.line),
                    item(hit.source, f"pod {hit.log.pod} dials the API server at {address}:{port}"),
                ],
                CONFIDENCE.api_blocked,
                symptom=(
                    f"Pod {hit.log.pod}'s requests to the Kubernetes API time out, and what "
                    "it keeps there (leases, leader locks, watches) goes stale"
                ),
            )
        ]
    return []


API_EGRESS_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("api-egress-policy", (Category.NETWORK,), check_api_egress),
)
