"""The node-resolver rule: a release put the workload's pods on the node's resolver, and
they can no longer resolve cluster names.

A pod on the host network whose ``dnsPolicy`` is ``ClusterFirst`` (the default) silently gets
the node's /etc/resolv.conf (``Default``), as does one that sets ``dnsPolicy: Default``
(``kubetriage.pod_dns``). The node's resolver (the VPC resolver, the cloud's metadata server,
the data centre's DNS) knows nothing of ``<service>.<namespace>.svc.cluster.local``: every
lookup of a cluster Service name fails with "no such host" / ENOTFOUND, while the Service
itself has ready endpoints and other pods reach it. The "failing dependency" is the pods' own
DNS settings; an SRE rolls back the release that brought them (the fix is
``ClusterFirstWithHostNet``), instead of escalating to the Service's owner.

When: the pods must have got these settings right before the trouble began: the rollout that
made the current revision changed the DNS settings (the "dns" aspect of the change timeline),
or, when the evidence has no revision history (a namespace-scoped incident), the pods were
created right before the onset. Settings the pods have had long before the onset did not
start this; a pod on the host network with ``ClusterFirstWithHostNet`` uses the cluster DNS
and is not this rule's.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import hosts_in, service_for_host
from kubetriage.analyzers.onset import earliest_onset, follows_within
from kubetriage.analyzers.pods import pod_failing, pod_problem
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
    logs_of,
    pod_source,
    timestamp,
    workload_ref,
)
from kubetriage.dns_errors import DNS_LOG
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence, PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category
from kubetriage.pod_dns import CLUSTER_FIRST, WITH_HOST_NET, resolves_via_node


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-resolver finding is, by the evidence that earns it; above the
    dependency-failure rule's escalation to the Service whose name does not resolve."""

    # The pods fail, and their lookups of cluster names fail: above the bare correlation
    # with the same rollout (change-correlation's ``rollout``, 0.88), whose remedy it shares
    # and whose mechanism it names.
    failing: float = 0.89
    serving: float = 0.72  # ... while the pods still run ready (a call path, not their start)


CONFIDENCE: Final = _Confidence()

# A cluster Service's DNS name: ``<service>.<namespace>.svc`` and the cluster domain after it.
_CLUSTER_NAME: Final = re.compile(
    r"(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+\.svc(?:\.[a-z0-9-]+)*\b"
)


def _cluster_names(evidence: Evidence, line: str) -> list[str]:
    """The cluster names a failed lookup line names: ``*.svc[.<domain>]`` names, and hosts
    that name a Service in the evidence."""
    found = [m.group(0).lower() for m in _CLUSTER_NAME.finditer(line)]
    found += [h for h in hosts_in(line) if service_for_host(h, evidence.services) is not None]
    return list(dict.fromkeys(found))


def _latest_rollout(evidence: Evidence, target: ObjectRef) -> ChangeEvidence | None:
    rollouts = [c for c in evidence.changes if c.kind == "rollout" and c.object.same_object(target)]
    return max(rollouts, key=lambda c: c.to_revision or 0, default=None)


def _settings_since(
    evidence: Evidence, target: ObjectRef, pods: list[PodEvidence]
) -> tuple[datetime | None, ChangeEvidence | None]:
    """Since when the pods have had their DNS settings, and the rollout that brought them:
    the latest rollout when it changed them (None when it did not), else, with no revision
    history in evidence, the pods' creation."""
    latest = _latest_rollout(evidence, target)
    if latest is not None:
        return (latest.at, latest) if "dns" in latest.aspects else (None, None)
    created = [p.created_at for p in pods if p.created_at is not None]
    return min(created, key=timestamp, default=None), None


def _describe(pod: PodEvidence) -> str:
    host = "on the host network, " if pod.host_network else ""
    return f"{host}dnsPolicy {pod.dns_policy}: the node's resolver, not the cluster DNS"


def check_node_resolver(evidence: Evidence) -> list[Finding]:
    onset = earliest_onset(evidence)
    if onset is None:
        return []
    by_workload: dict[str, tuple[ObjectRef, list[PodEvidence]]] = {}
    for pod in evidence.pods:
        ref = workload_ref(evidence, pod)
        if ref is None or ref.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
            continue
        if resolves_via_node(pod.dns_policy, pod.host_network):
            by_workload.setdefault(ref.key(), (ref, []))[1].append(pod)
    findings: list[Finding] = []
    for ref, pods in by_workload.values():
        hits: list[tuple[LogHit, list[str]]] = [
            (hit, names)
            for pod in pods
            for hit in grep_logs(logs_of(evidence, pod), DNS_LOG, limit=5)
            if (names := _cluster_names(evidence, hit.line))
        ]
        if not hits:
            continue
        since, rollout = _settings_since(evidence, ref, pods)
        if since is None or follows_within(since, onset) is None:
            continue
        failing = [p for p in pods if pod_failing(p)]
        names = list(dict.fromkeys(n for _, found in hits for n in found))
        facts: list[EvidenceItem] = [item(pod_source(pods[0]), _describe(pods[0]))]
        if rollout is not None:
            changed = rollout.aspect_details.get("dns", [])
            facts.append(item("revision", "; ".join([rollout.details[0], *changed])))
        quoted = [item(hit.source, hit.line) for hit, _ in hits[:2]]
        facts += quoted
        facts += [item(pod_source(p), pod_problem(p)) for p in failing[:2]]
        released = (
            f"The rollout {prose.duration(timestamp(onset) - timestamp(since))} before the "
            "trouble changed the pods' DNS settings"
            if rollout is not None
            else "The pods with these settings started right before the trouble began"
        )
        because = [
            prose.claim(
                f"{prose.obj(ref)}'s pods run {_describe(pods[0])}; to resolve cluster names "
                f"they need dnsPolicy {WITH_HOST_NET if pods[0].host_network else CLUSTER_FIRST}",
                *facts[: 2 if rollout is not None else 1],
            ),
            prose.claim(
                f"Their lookups of cluster names ({prose.listing(names[:3])}) fail", *quoted
            ),
            prose.claim(released),
        ]
        findings.append(
            make_finding(
                "node-resolver",
                Category.BAD_ROLLOUT,
                CONFIDENCE.failing if failing else CONFIDENCE.serving,
                prose.narrative(
                    f"{prose.obj(ref)} cannot resolve cluster names: its pods use the node's "
                    "resolver",
                    "roll back to the revision that used the cluster DNS",
                    because=because,
                ),
                facts,
                Action.ROLLBACK,
                ref,
                {},
            )
        )
    return findings


NODE_RESOLVER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("node-resolver", (Category.BAD_ROLLOUT,), check_node_resolver),
)
