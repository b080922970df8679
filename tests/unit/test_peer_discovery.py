"""Checks the unpublished-peers rule: StatefulSet members that log "no such host" for their
own or their peers' per-pod names under a headless Service without publishNotReadyAddresses
and with no ready endpoint are a Service to correct (fix-network), which supersedes escalating
to the store; with the flag set, with a ready endpoint, or with lookups of another name, or
from a client rather than a member, the rule stays silent.

Real: the analyzer registry and the combiner's supersession over Evidence models from
``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.votes import superseded
from tests.support.evidence import analyze, evidence, log, naming

SELECTOR = {"app": "zk"}
LOOKUP = (
    "java.net.UnknownHostException: zk-1.zk-hs.data.svc.cluster.local: Name or service not known"
)


def _headless(**changes: object) -> ServiceEvidence:
    fields: dict[str, object] = {
        "name": "zk-hs",
        "namespace": "data",
        "selector": SELECTOR,
        "headless": True,
        "ready_endpoints": 0,
        "not_ready_endpoints": 3,
    }
    fields.update(changes)
    return ServiceEvidence.model_validate(fields)


def _evidence(service: ServiceEvidence, line: str = LOOKUP, pod: str = "zk-0") -> Evidence:
    client = ServiceEvidence(
        name="zk", namespace="data", selector=SELECTOR, ready_endpoints=0, not_ready_endpoints=3
    )
    return evidence(
        logs=[log(pod, "zookeeper", line, namespace="data")],
        dependencies=[
            DependencyEvidence(service=client, named_by=naming("pod kafka-0 env ZK"), pods=3),
            DependencyEvidence(service=service, named_by=naming("log data/zk-0/zookeeper"), pods=3),
        ],
    )


def _peer_findings(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "unpublished-peers"]


def test_members_that_cannot_resolve_each_other_name_the_headless_service() -> None:
    findings = _peer_findings(_evidence(_headless()))
    assert [(f.category, f.action, f.target) for f in findings] == [
        (
            Category.NETWORK,
            Action.FIX_NETWORK,
            ObjectRef(kind="Service", namespace="data", name="zk-hs"),
        )
    ]
    assert "publishNotReadyAddresses" in findings[0].summary


def test_it_supersedes_escalating_to_the_stores_services() -> None:
    ev = _evidence(_headless())
    found = list(analyze(ev).findings)
    escalations = [
        f
        for f in found
        if f.category is Category.DEPENDENCY_FAILURE and f.action is Action.ESCALATE
    ]
    assert escalations
    assert all(superseded(f, found) for f in escalations)


def test_silent_when_the_names_are_published_or_a_member_is_ready() -> None:
    assert not _peer_findings(_evidence(_headless(publish_not_ready=True)))
    assert not _peer_findings(_evidence(_headless(ready_endpoints=1, not_ready_endpoints=2)))
    assert not _peer_findings(_evidence(_headless(headless=False)))


def test_silent_for_other_names_and_for_clients() -> None:
    other = "java.net.UnknownHostException: kafka-1.kafka-hs.data.svc.cluster.local"
    assert not _peer_findings(_evidence(_headless(), line=other))
    # A client (no ordinal of the set) failing to resolve a member is not a member bootstrapping.
    assert not _peer_findings(_evidence(_headless(), pod="kafka-client-7d9f6c8b5-a"))
