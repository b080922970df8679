"""The controller the incident waits on (``Evidence.reconcilers``): "who should have renewed
this Certificate, who should have published this host, who should have injected this
webhook's caBundle, who should have promoted a replica to the primary its Service selects,
who should have added a node for pods no node has room for, who should have signed the
certificates of sidecars that cannot reach their control plane, and why didn't they?".

Two conclusions:
- the controller is down (its containers OOM-killed, crash-looping, unable to pull their
  image, or its pods Pending while it is short of ready replicas): the controller's workload
  is the target, in the category of its own failure; the Certificate it did not renew is then
  no finding of its own (``issuer_down``), since renewing it waits on the controller. A
  controller crash-looping in exactly the pods of its newest rollout has crashed since that
  rollout (its previous revision ran until replaced): bad-rollout, roll it back;
- a DNS controller no longer publishes the host: its current revision's sources or domain
  filters leave out the object declaring the host while its previous revision's covered it;
  that rollout is rolled back. When some DNS controller covers the host today, or none ever
  did, nothing is concluded here.
A controller that is healthy, or scaled to zero on purpose (no failing pod), changes nothing:
the Certificate stays the target of the certificate rules.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item
from kubetriage.evidence.summaries.mesh_control_plane import CONTROL_PLANE_UNREACHABLE
from kubetriage.evidence.summaries.reconcilers import (
    CA_INJECTOR,
    CERTIFICATE_ISSUER,
    DNS_PUBLISHER,
    FAILOVER_OPERATOR,
    MESH_CONTROL_PLANE,
    NODE_AUTOSCALER,
    RESOURCE_CONTROLLER,
    TARGET_REGISTRAR,
    covers,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ReconcilerEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a reconciler finding is, by the evidence that earns it."""

    oom_down: float = 0.9  # the controller is short of ready replicas, its container OOM-killed
    image_down: float = 0.88  # ... its pods cannot pull their image
    pending_down: float = 0.85  # ... its pods stay Pending
    crash_down: float = 0.85  # ... its container keeps exiting (crash loop)
    # ... in exactly the pods of its newest rollout: it has crashed since that rollout (above
    # the certificate or webhook finding the controller's failure explains)
    rollout_down: float = 0.87
    dropped: float = 0.86  # the DNS controller's newest revision, rolled out within
    # RECENT before now, stopped covering the unresolved host its previous revision covered
    dropped_old: float = 0.72  # ... rolled out earlier than that
    # The DNS controller's newest revision, rolled out within RECENT, still covers the
    # unresolved host but marks its records with another owner id: the record published
    # under the old one is no longer its own, so it is left as it was (just below a dropped
    # source, which says outright that the host is not published).
    reowned: float = 0.84
    reowned_old: float = 0.7  # ... rolled out earlier than that
    # Less for a mesh control plane down when no sidecar of the incident says it cannot reach
    # it (its pods only run the sidecar): below a workload's own crash or probe failure.
    mesh_unsaid_penalty: float = 0.05
    # Less for the controller of custom resources known only by their group: below a rule
    # that read why that controller fails (the KEDA operator's own scaler-operator rule).
    by_group_penalty: float = 0.05


CONFIDENCE: Final = _Confidence()
# A controller rollout this recent is a change an SRE lines up with the symptom.
RECENT = timedelta(hours=24)
_IMAGE_WAITS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
_ROLES = {
    CERTIFICATE_ISSUER: "certificate issuer",
    DNS_PUBLISHER: "DNS controller",
    CA_INJECTOR: "CA injector",
    FAILOVER_OPERATOR: "failover operator",
    NODE_AUTOSCALER: "node autoscaler",
    MESH_CONTROL_PLANE: "mesh control plane",
    TARGET_REGISTRAR: "load-balancer controller",
    RESOURCE_CONTROLLER: "custom-resource controller",
}
# What is left undone when the controller is down, by its role.
_UNDONE = {
    CERTIFICATE_ISSUER: "is not renewed",
    DNS_PUBLISHER: "is not published",
    CA_INJECTOR: "is left with a stale caBundle",
    FAILOVER_OPERATOR: "is left without a promoted member",
    NODE_AUTOSCALER: "given no new node",
    MESH_CONTROL_PLANE: "left without certificates and configuration",
    TARGET_REGISTRAR: "not registered as targets of its load balancer",
    RESOURCE_CONTROLLER: "not reconciled",
}


def _source(ref: ObjectRef) -> str:
    return f"{ref.kind.lower()}/{ref.namespace + '/' if ref.namespace else ''}{ref.name}"


def _failure(
    reconciler: ReconcilerEvidence,
) -> tuple[Category, Action, float, str, str] | None:
    """What is wrong with a controller short of ready replicas, from its failing pods: the
    category, action, confidence, what it suffers and the fix; None when it is not down."""
    troubles = reconciler.failing_pods
    desired = reconciler.desired_replicas
    if not troubles or not desired or (reconciler.ready_replicas or 0) >= desired:
        return None
    if any(t.last_terminated == "OOMKilled" for t in troubles):
        return (
            Category.OOM_KILLED,
            Action.INCREASE_MEMORY,
            CONFIDENCE.oom_down,
            "is OOM-killed again and again",
            "raise its memory limit",
        )
    if any(t.waiting in _IMAGE_WAITS for t in troubles):
        return (
            Category.IMAGE_PULL,
            Action.FIX_IMAGE,
            CONFIDENCE.image_down,
            "cannot pull its image",
            "correct its image reference",
        )
    if any(t.phase == "Pending" and t.waiting is None for t in troubles):
        return (
            Category.UNSCHEDULABLE,
            Action.FREE_CAPACITY,
            CONFIDENCE.pending_down,
            "has pods that stay Pending",
            "let its pods schedule",
        )
    crashing = any(t.waiting == "CrashLoopBackOff" for t in troubles)
    change = reconciler.change
    if crashing and change is not None and reconciler.change_failing:
        return (
            Category.BAD_ROLLOUT,
            Action.ROLLBACK,
            CONFIDENCE.rollout_down,
            f"has crashed since its rollout of revision {change.to_revision}",
            f"roll it back to revision {change.from_revision}",
        )
    if crashing:
        return (
            Category.CRASH_LOOP,
            Action.RESTART,
            CONFIDENCE.crash_down,
            "keeps crashing",
            "fix what it exits on and restart it",
        )
    return None


def _owed(reconciler: ReconcilerEvidence) -> str:
    """What the controller owes, for a person: the hosts, the pending pods, else the
    Certificates."""
    if reconciler.role == DNS_PUBLISHER:
        return ", ".join(reconciler.hosts[:3]) or "the hosts"
    if reconciler.role == NODE_AUTOSCALER:
        return f"{prose.count(len(reconciler.subjects), 'pod')} Pending for want of room"
    if reconciler.role == MESH_CONTROL_PLANE:
        return f"{prose.count(len(reconciler.subjects), 'pod')} in the mesh"
    if reconciler.role == TARGET_REGISTRAR:
        served = ", ".join(prose.obj(s) for s in reconciler.subjects[:3])
        return f"the backend pods of {served}"
    return ", ".join(prose.obj(s) for s in reconciler.subjects[:3])


def _owed_facts(reconciler: ReconcilerEvidence) -> list[EvidenceItem]:
    return [
        item(_source(subject), said)
        for subject, said in zip(reconciler.subjects[:3], reconciler.owed[:3], strict=False)
    ]


def _trouble_facts(reconciler: ReconcilerEvidence) -> list[EvidenceItem]:
    source = _source(reconciler.workload)
    facts = [
        item(
            source,
            f"{reconciler.ready_replicas or 0} of {reconciler.desired_replicas} replicas ready",
        )
    ]
    facts += [item(source, prose.pod_trouble(t)) for t in reconciler.failing_pods[:3]]
    return facts


def issuer_down(evidence: Evidence, certificate: ObjectRef) -> bool:
    """Whether ``certificate`` waits on a certificate issuer that is down."""
    return any(
        r.role == CERTIFICATE_ISSUER
        and any(s.same_object(certificate) for s in r.subjects)
        and _failure(r) is not None
        for r in evidence.reconcilers
    )


def node_autoscaler_down(evidence: Evidence) -> bool:
    """Whether pods in evidence wait for a node from a node autoscaler that is down: their
    scheduling failure is its failure's symptom (``kubetriage.analyzers.scheduling``)."""
    return any(
        r.role == NODE_AUTOSCALER and r.subjects and _failure(r) is not None
        for r in evidence.reconcilers
    )


def check_reconciler_down(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for reconciler in evidence.reconcilers:
        failure = _failure(reconciler)
        if failure is None or not reconciler.subjects:
            continue
        category, action, confidence, suffers, fix = failure
        if reconciler.role == MESH_CONTROL_PLANE and not any(
            CONTROL_PLANE_UNREACHABLE.search(said) for said in reconciler.owed
        ):
            confidence -= CONFIDENCE.mesh_unsaid_penalty
        if reconciler.role == RESOURCE_CONTROLLER:
            confidence -= CONFIDENCE.by_group_penalty
        workload, role = reconciler.workload, _ROLES[reconciler.role]
        owed, troubles = _owed_facts(reconciler), _trouble_facts(reconciler)
        verb = _UNDONE[reconciler.role]
        if reconciler.role in (NODE_AUTOSCALER, MESH_CONTROL_PLANE):
            verb = f"{prose.be(len(reconciler.subjects))} {verb}"
        elif reconciler.role == TARGET_REGISTRAR:
            verb = f"are {verb}"
        elif reconciler.role == RESOURCE_CONTROLLER:
            verb = f"{prose.be(min(len(reconciler.subjects), 3))} {verb}"
        findings.append(
            make_finding(
                "reconciler-down",
                category,
                confidence,
                prose.narrative(
                    f"{prose.obj(workload)}, the {role}, {suffers}",
                    fix,
                    aside=f"{_owed(reconciler)} {verb}",
                    because=[
                        prose.claim(f"{_owed(reconciler)} {verb} by the {role}", *owed),
                        prose.claim(f"{prose.obj(workload)} {suffers}", *troubles),
                    ],
                ),
                [*owed, *troubles],
                action,
                workload,
                _revision_parameter(reconciler) if action is Action.ROLLBACK else None,
            )
        )
    return findings


def _revision_parameter(reconciler: ReconcilerEvidence) -> dict[str, str] | None:
    change = reconciler.change
    if change is None or change.from_revision is None:
        return None
    return {"revision": str(change.from_revision)}


def _covered_now(evidence: Evidence, host: str, kinds: list[str]) -> bool:
    return any(
        r.role == DNS_PUBLISHER and covers(r.sources, r.domain_filters, kind, host)
        for r in evidence.reconcilers
        for kind in kinds
    )


def check_dns_publisher_change(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for reconciler in evidence.reconcilers:
        change = reconciler.change
        if reconciler.role != DNS_PUBLISHER or change is None or _failure(reconciler):
            continue
        kinds = list(dict.fromkeys(s.kind for s in reconciler.subjects))
        dropped = [
            host
            for host in reconciler.hosts
            if not _covered_now(evidence, host, kinds)
            and any(
                covers(reconciler.previous_sources, reconciler.previous_domain_filters, k, host)
                for k in kinds
            )
        ]
        if not dropped:
            findings.extend(_reowned(evidence, reconciler, kinds))
            continue
        workload = reconciler.workload
        source = _source(workload)
        recent = change.at is not None and evidence.collected_at - change.at <= RECENT
        when = (
            f" {prose.duration((evidence.collected_at - change.at).total_seconds())} ago"
            if (change.at is not None)
            else ""
        )
        watched = item(
            source,
            f"watches sources {', '.join(reconciler.sources) or 'none'}"
            + (f" for {', '.join(reconciler.domain_filters)}" if reconciler.domain_filters else "")
            + f"; revision {change.from_revision} watched "
            + (", ".join(reconciler.previous_sources) or "none")
            + (
                f" for {', '.join(reconciler.previous_domain_filters)}"
                if reconciler.previous_domain_filters
                else ""
            ),
        )
        rolled = item(source, f"{'; '.join(change.details[:3])}{when}")
        owed = _owed_facts(reconciler)
        findings.append(
            make_finding(
                "dns-publisher-change",
                Category.BAD_ROLLOUT,
                CONFIDENCE.dropped if recent else CONFIDENCE.dropped_old,
                prose.narrative(
                    f"{prose.obj(workload)}'s new revision no longer publishes "
                    f"{', '.join(dropped[:3])}",
                    "roll it back",
                    aside=f"the host {', '.join(dropped[:3])} does not resolve",
                    because=[
                        prose.claim(f"the host {', '.join(dropped[:3])} does not resolve", *owed),
                        prose.claim(
                            f"{prose.obj(workload)} rolled out a revision{when} whose sources "
                            f"or domain filters leave out {', '.join(dropped[:3])}",
                            rolled,
                            watched,
                        ),
                    ],
                ),
                [*owed, rolled, watched],
                Action.ROLLBACK,
                workload,
                {"revision": str(change.from_revision)} if change.from_revision else None,
            )
        )
    return findings


def _reowned(evidence: Evidence, reconciler: ReconcilerEvidence, kinds: list[str]) -> list[Finding]:
    """The DNS controller's newest revision covers the unresolved hosts as its previous one
    did, but marks its records with another owner id: the records published under the old
    id are not its own any more, so when a host's target changes it leaves the old record."""
    change = reconciler.change
    owner, before = reconciler.owner_id, reconciler.previous_owner_id
    if change is None or owner is None or before is None or owner == before:
        return []
    hosts = [
        host
        for host in reconciler.hosts
        if any(
            covers(reconciler.sources, reconciler.domain_filters, k, host)
            and covers(reconciler.previous_sources, reconciler.previous_domain_filters, k, host)
            for k in kinds
        )
    ]
    if not hosts:
        return []
    workload, named = reconciler.workload, ", ".join(hosts[:3])
    ago = (evidence.collected_at - change.at).total_seconds() if change.at is not None else None
    when = f" {prose.duration(ago)} ago" if ago is not None else ""
    source = _source(workload)
    rolled = item(source, f"{'; '.join(change.details[:3])}{when}")
    owned = item(
        source, f"marks its records with owner id {owner}; revision {change.from_revision} {before}"
    )
    owed = _owed_facts(reconciler)
    recent = ago is not None and ago <= RECENT.total_seconds()
    return [
        make_finding(
            "dns-publisher-change",
            Category.BAD_ROLLOUT,
            CONFIDENCE.reowned if recent else CONFIDENCE.reowned_old,
            prose.narrative(
                f"{prose.obj(workload)}'s new revision no longer owns the record of {named}",
                "roll it back",
                aside=f"the host {named} does not resolve",
                because=[
                    prose.claim(f"the host {named} does not resolve", *owed),
                    prose.claim(
                        f"{prose.obj(workload)} rolled out a revision{when} that marks its "
                        f"records with owner id {owner} instead of {before}",
                        rolled,
                        owned,
                    ),
                    prose.claim(
                        "A record marked with another owner is not its own: it neither "
                        "updates nor deletes it, so the record stays as it was"
                    ),
                ],
            ),
            [*owed, rolled, owned],
            Action.ROLLBACK,
            workload,
            {"revision": str(change.from_revision)} if change.from_revision else None,
        )
    ]


RECONCILER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "reconciler-down",
        (
            Category.OOM_KILLED,
            Category.IMAGE_PULL,
            Category.UNSCHEDULABLE,
            Category.CRASH_LOOP,
            Category.BAD_ROLLOUT,
        ),
        check_reconciler_down,
    ),
    Analyzer("dns-publisher-change", (Category.BAD_ROLLOUT,), check_dns_publisher_change),
)
