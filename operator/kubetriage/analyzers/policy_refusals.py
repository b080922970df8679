"""The unschedulable rule's pods that never exist: the API server refuses to create the pods
a workload's controller asks for (FailedCreate) over a namespace policy, a ResourceQuota that
is used up or a LimitRange whose minimum, maximum or limit/request ratio the containers fall
outside. The pods created before keep running; the new ones (a scale-out, a replacement) are
never there to be scheduled. A workflow engine's steps and an Argo Rollout's ReplicaSets
refused over a quota are ``step_quotas``' case; a LimitRange on claims, the storage rule's.

Called by ``kubetriage.analyzers.scheduling``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.step_quotas import (
    logged_quota_findings,
    quota_usage,
    rollout_quota_findings,
    step_quota_findings,
)
from kubetriage.analyzers.support import (
    event_fact,
    events_for,
    involved_workload,
    item,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import EventEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a refused-pods finding is, by the evidence that earns it."""

    quota: float = 0.85  # the API server refuses to create the pods over a ResourceQuota
    quota_callee: float = 0.8  # ... the pods of a workload the incident's workload calls
    limit_range: float = 0.85  # the API server refuses the pods: a LimitRange's min, max or ratio


CONFIDENCE: Final = _Confidence()

# The API server's refusal of a pod over a namespace's ResourceQuota (FailedCreate), or over a
# quota a webhook keeps across namespaces ("exceeded hierarchical quota", HNC's
# HierarchicalResourceQuota on a parent namespace).
QUOTA_REFUSAL = re.compile(
    r"(?i)exceeded (?:[\w-]+ )?quota|forbidden: .*quota|must specify (limits|requests)"
)
# The LimitRanger admission plugin's refusals of a pod or container (min, max, limit/request
# ratio); a LimitRange on claims is the storage rule's case.
LIMIT_RANGE_REFUSAL = re.compile(
    r"(?i)(minimum|maximum) [\w./-]+ usage per (Container|Pod) is|"
    r"max limit to request ratio per (Container|Pod) is"
)


def refusal_findings(evidence: Evidence) -> list[Finding]:
    """The unschedulable findings for the pods the API server refuses to create over a
    LimitRange or a ResourceQuota, a workflow engine's steps and a Rollout's included."""
    failed_creates = events_for(evidence, "FailedCreate")
    quota_events = [e for e in failed_creates if QUOTA_REFUSAL.search(e.message)]
    limit_events = [e for e in failed_creates if LIMIT_RANGE_REFUSAL.search(e.message)]

    findings: list[Finding] = []
    findings.extend(_limit_range_findings(evidence, limit_events))
    findings.extend(step_quota_findings(evidence))
    findings.extend(logged_quota_findings(evidence))
    # An Argo Rollout's ReplicaSet is named like a Deployment's; its refusals free the quota.
    rollout_findings, handled = rollout_quota_findings(evidence, quota_events)
    findings.extend(rollout_findings)
    quota_events = [e for e in quota_events if e not in handled]
    findings.extend(_quota_findings(evidence, quota_events))
    return findings


def _quota_findings(evidence: Evidence, quota_events: list[EventEvidence]) -> list[Finding]:
    """A ResourceQuota used up refuses the pods a workload's controller creates (the incident's
    workload, or a callee of it whose controller reports the refusal)."""
    findings: list[Finding] = []
    for target, refused in _refusals(evidence, quota_events, QUOTA_REFUSAL):
        if target.kind not in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
            continue
        own = evidence.workload is None or target.same_object(evidence.workload.ref)
        # A quota at its limit says the namespace's own quota refused; none at it (the
        # refused pod's requests alone would pass, or a webhook keeps the quota, HNC's
        # hierarchical one) and the namespace's quotas are only shown, not blamed.
        full = [q for q in evidence.quotas if q.at_limit()]
        quotas = [quota_usage(q) for q in (full or evidence.quotas)[:2]]
        because = [
            prose.claim("The API server refuses to create its pods over quota", *refused[:2])
        ]
        if evidence.workload is not None and not own:
            because.append(
                prose.claim(
                    f"{prose.obj(evidence.workload.ref)} calls {prose.obj(target)}, which has "
                    "no pod to answer"
                )
            )
        if full:
            because.append(prose.claim("The namespace's ResourceQuota is used up", *quotas))
        elif quotas:
            because.append(
                prose.claim(
                    "The namespace's ResourceQuota has not reached its limits: the new pods' "
                    "requests would pass one, or a quota kept elsewhere refuses them",
                    *quotas,
                )
            )
        because.append(prose.claim("No new pod starts until usage drops or the quota is raised"))
        findings.append(
            make_finding(
                "unschedulable",
                Category.UNSCHEDULABLE,
                CONFIDENCE.quota if own else CONFIDENCE.quota_callee,
                prose.narrative(
                    f"{prose.obj(target)} cannot create pods: a ResourceQuota is exhausted",
                    "raise the quota or lower the pods' requests",
                    because=because,
                ),
                refused + quotas,
                Action.FREE_CAPACITY,
                target,
                {"reason": "exceeded quota"},
            )
        )
    return findings


def _limit_range_findings(evidence: Evidence, events: list[EventEvidence]) -> list[Finding]:
    """A LimitRange refuses the pods a workload's controller creates (a container's limit above
    the range's maximum, a request under its minimum, a limit/request ratio over its bound):
    the running pods predate the range, the new ones (a scale-out, a replacement) never
    exist until the workload's resources or the range change."""
    findings: list[Finding] = []
    for target, refused in _refusals(evidence, events, LIMIT_RANGE_REFUSAL):
        if target.kind not in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
            continue
        own = evidence.workload is None or target.same_object(evidence.workload.ref)
        because = [
            prose.claim(
                "The API server refuses to create its pods: a LimitRange in the namespace "
                "bounds each container's resources and these pods fall outside it",
                *refused[:2],
            ),
            prose.claim(
                "Pods created before the range keep running; no new pod starts, so the workload "
                "cannot scale out or replace a pod until its resources or the range change"
            ),
        ]
        if evidence.workload is not None and not own:
            because.insert(
                1,
                prose.claim(
                    f"{prose.obj(evidence.workload.ref)} calls {prose.obj(target)}, which "
                    "cannot create the pods it needs"
                ),
            )
        findings.append(
            make_finding(
                "unschedulable",
                Category.UNSCHEDULABLE,
                CONFIDENCE.limit_range if own else CONFIDENCE.quota_callee,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{prose.obj(target)} cannot create pods: a LimitRange refuses them",
                            f"{prose.obj(target)} cannot create pods",
                        ],
                        fix := "bring requests and limits within the LimitRange, or relax it",
                    ),
                    fix,
                    because=because,
                ),
                refused,
                Action.FREE_CAPACITY,
                target,
                {"reason": "limit range"},
            )
        )
    return findings


def _refusals(
    evidence: Evidence, events: list[EventEvidence], policy: re.Pattern[str]
) -> list[tuple[ObjectRef, list[EvidenceItem]]]:
    """The workloads the API server refuses pods over a namespace policy (a ResourceQuota, a
    LimitRange: ``policy`` matches its refusal), with the facts: the owner of each refused
    ReplicaSet (the incident's workload when unresolved), and the followed callees whose
    controller reports the refusal."""
    refusals: dict[str, tuple[ObjectRef, list[EvidenceItem]]] = {}
    own = workload_ref(evidence)
    for event in events:
        owner = involved_workload(evidence, event.involved) or own
        if owner is not None:
            refusals.setdefault(owner.key(), (owner, []))[1].append(
                item("events", event_fact(event))
            )
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or (dependency.ready_replicas or 0) > 0:
            continue
        warnings = [w for w in dependency.warnings if policy.search(w)]
        if warnings:
            source = f"{workload.kind.lower()}/{workload.namespace}/{workload.name}"
            refusals.setdefault(workload.key(), (workload, []))[1].extend(
                item(source, w) for w in warnings[:2]
            )
    return [(target, facts[:3]) for target, facts in refusals.values()]
