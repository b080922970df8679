"""The unschedulable rule for pods a controller outside the workload kinds creates: a
workflow or pipeline engine's steps (Argo Workflows, Tekton), and the ReplicaSets of an Argo
Rollout. When the API server refuses such a pod over a ResourceQuota, the remediation
vocabulary has no workload to act on (the engine's run is replaced, the Rollout is its
controller's to drive), so the quota the refusal names is what to free.

A workflow engine says so in its run's status (no ReplicaSet carries a FailedCreate event, no
pod is Pending). A Rollout's ReplicaSet carries the FailedCreate like a Deployment's, and is
told apart by the hash label Argo Rollouts puts on its pods instead of the Deployment
controller's.

A controller with no status to report in (a virtual cluster's syncer copying its pods to the
host namespace, a Spark driver asking for executors) says it in its log: the API server's
refusal of the pod it asked for, quoted with the quota's name.

Called by ``kubetriage.analyzers.policy_refusals``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.support import event_fact, grep_logs, item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import EventEvidence, QuotaEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a step-quota finding is, by the evidence that earns it."""

    # The engine's run reports the API server's refusal of a step's pod over a quota, and that
    # quota is in scope in the run's namespace (as sure as a ReplicaSet's FailedCreate).
    named_quota: float = 0.85
    # A Rollout's ReplicaSet carries the API server's refusal over a quota that is in scope in
    # its namespace: the FailedCreate of a Deployment's ReplicaSet (0.85), the same fact.
    rollout_quota: float = 0.85
    # A pod's log quotes the API server refusing a pod it asked for over a quota in scope in
    # its namespace (a controller without a status to report it in): the refusal in the
    # requester's words, below a FailedCreate event of the workload's own ReplicaSet.
    logged_quota: float = 0.8


CONFIDENCE: Final = _Confidence()

# The ResourceQuota the API server names in its refusal ("exceeded quota: compute-quota, ...").
_QUOTA_NAME = re.compile(r"(?i)exceeded quota: ([a-z0-9][a-z0-9.-]*)")

# The API server's refusal of a pod over a quota, as a client that asked for it logs it
# ('pods "x" is forbidden: exceeded quota: vc-data, requested: ...').
_LOGGED_POD_REFUSAL = re.compile(r'(?i)pods \\?"[^"\\]+\\?" is forbidden: exceeded quota: ')

# The label Argo Rollouts puts on the pods (and ReplicaSets) of a Rollout, holding the hash
# that ends the ReplicaSet's name; the Deployment controller's is ``pod-template-hash``.
ROLLOUT_HASH_LABEL: Final = "rollouts-pod-template-hash"


def _named_quota(evidence: Evidence, text: str, namespace: str | None) -> QuotaEvidence | None:
    """The ResourceQuota in scope that a refusal names, in the refused object's namespace."""
    named = _QUOTA_NAME.search(text)
    if named is None:
        return None
    return next(
        (q for q in evidence.quotas if q.name == named.group(1) and q.namespace == namespace),
        None,
    )


def quota_usage(quota: QuotaEvidence) -> EvidenceItem:
    """A ResourceQuota's hard limits and usage, as one fact."""
    return item(
        f"quota/{quota.namespace}/{quota.name}",
        f"hard {prose.selector(quota.hard, empty='none')}; "
        f"used {prose.selector(quota.used, empty='none')}",
    )


def _quota_finding(
    confidence: float,
    problems: list[str],
    fix: str,
    refused: Claim,
    refusal: EvidenceItem,
    quota: QuotaEvidence,
    retries: str,
) -> Finding:
    """Free the quota a refusal names: the remediation acts on the ResourceQuota itself."""
    target = ObjectRef(kind="ResourceQuota", namespace=quota.namespace, name=quota.name)
    usage = quota_usage(quota)
    because = [
        refused,
        prose.claim("The quota's usage leaves no room for the pod's requests", usage),
        prose.claim(retries),
    ]
    return make_finding(
        "unschedulable",
        Category.UNSCHEDULABLE,
        confidence,
        prose.narrative(prose.fitting_problem(problems, fix), fix, because=because),
        [refusal, usage],
        Action.FREE_CAPACITY,
        target,
        {"reason": "exceeded quota"},
    )


def step_quota_findings(evidence: Evidence) -> list[Finding]:
    """A controller that creates pods for its own custom resource (a workflow engine's step, a
    pipeline's task) reports in that resource's status that the API server refused the pod
    over a ResourceQuota: no ReplicaSet event and no Pending pod exist, and the resource is no
    workload to free capacity for, so the remediation acts on the quota it names."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for obj in evidence.other_objects:
        texts = [v for k, v in obj.fields.items() if k.endswith(("message", "messages"))]
        texts += [c.message for c in obj.conditions if c.message]
        for text in texts:
            quota = _named_quota(evidence, text, obj.ref.namespace)
            if quota is None or quota.name in seen:
                continue
            seen.add(quota.name)
            target = prose.obj(
                ObjectRef(kind="ResourceQuota", namespace=quota.namespace, name=quota.name)
            )
            refusal = item(f"{obj.ref.kind.lower()}/{obj.ref.namespace}/{obj.ref.name}", text)
            findings.append(
                _quota_finding(
                    CONFIDENCE.named_quota,
                    [
                        f"{target} is used up: a step of {prose.obj(obj.ref)} has no pod",
                        f"{target} is used up: a step of {obj.ref.kind} {obj.ref.name} has no pod",
                        f"{target} is used up and refuses a step's pod",
                    ],
                    "raise the quota or wait for the pods that use it",
                    prose.claim(
                        f"{prose.obj(obj.ref)} reports that the API server refused its pod "
                        f"over {target}",
                        refusal,
                    ),
                    refusal,
                    quota,
                    "Its controller retries; the step waits until usage drops or the quota "
                    "is raised",
                )
            )
    return findings


def rollout_of(evidence: Evidence, replica_set: ObjectRef) -> ObjectRef | None:
    """The Argo Rollout a ReplicaSet belongs to, when it is one's: a ReplicaSet is named
    ``<owner>-<hash>`` by Deployments and Rollouts alike, and the Rollout's pods (of this
    ReplicaSet or of a sibling revision, ``<owner>-<their hash>``) carry Argo Rollouts' hash
    label. None for a Deployment's, or when no pod of the owner is in evidence."""
    if replica_set.kind != "ReplicaSet" or "-" not in replica_set.name:
        return None
    base = replica_set.name.rsplit("-", 1)[0]
    for pod in evidence.pods:
        hashed = pod.labels.get(ROLLOUT_HASH_LABEL)
        if (
            hashed
            and pod.namespace == replica_set.namespace
            and pod.owner is not None
            and pod.owner.kind == "ReplicaSet"
            and pod.owner.name == f"{base}-{hashed}"
        ):
            return ObjectRef(kind="Rollout", namespace=replica_set.namespace, name=base)
    return None


def rollout_quota_findings(
    evidence: Evidence, refusals: list[EventEvidence]
) -> tuple[list[Finding], list[EventEvidence]]:
    """The API server refuses the pods of an Argo Rollout's ReplicaSet over a ResourceQuota
    (FailedCreate): a blue-green preview or a canary needs pods next to the stable ones, and
    the quota has no room for them. A Rollout is no workload the remediations act on, so the
    finding frees the quota the refusal names. Returns the findings and the refusals they
    account for (the others are a Deployment's, or name no quota in scope)."""
    findings: list[Finding] = []
    handled: list[EventEvidence] = []
    seen: set[str] = set()
    for event in refusals:
        rollout = rollout_of(evidence, event.involved)
        quota = _named_quota(evidence, event.message, event.involved.namespace)
        if rollout is None or quota is None:
            continue
        handled.append(event)
        if quota.name in seen:
            continue
        seen.add(quota.name)
        target = prose.obj(
            ObjectRef(kind="ResourceQuota", namespace=quota.namespace, name=quota.name)
        )
        refusal = item("events", event_fact(event))
        findings.append(
            _quota_finding(
                CONFIDENCE.rollout_quota,
                [
                    f"{target} is used up: {prose.obj(rollout)} cannot create its new pods",
                    f"{target} is used up and refuses the pods of {prose.obj(rollout)}",
                    f"{target} is used up and refuses a Rollout's pods",
                ],
                "raise the quota or lower the pods' requests",
                prose.claim(
                    f"The API server refuses to create pods of {prose.obj(rollout)} over {target}",
                    refusal,
                ),
                refusal,
                quota,
                "The Rollout waits for those pods: it cannot progress until usage drops or the "
                "quota is raised",
            )
        )
    return findings, handled


def logged_quota_findings(evidence: Evidence) -> list[Finding]:
    """A pod's log quotes the API server refusing a pod it asked for over a ResourceQuota that
    is in scope in that pod's namespace: the requester (a syncer, a driver, an operator)
    creates pods no workload owns, so the remediation acts on the quota it names."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for hit in grep_logs(evidence.logs, _LOGGED_POD_REFUSAL, limit=20):
        quota = _named_quota(evidence, hit.line, hit.log.namespace)
        if quota is None or quota.name in seen:
            continue
        seen.add(quota.name)
        target = prose.obj(
            ObjectRef(kind="ResourceQuota", namespace=quota.namespace, name=quota.name)
        )
        refusal = item(hit.source, hit.line)
        findings.append(
            _quota_finding(
                CONFIDENCE.logged_quota,
                [
                    f"{target} is used up and refuses the pods {hit.log.pod} asks for",
                    f"{target} is used up and refuses the pods a controller asks for",
                ],
                "raise the quota or free what uses it",
                prose.claim(
                    f"Pod {hit.log.pod} logs that the API server refused a pod it asked for "
                    f"over {target}",
                    refusal,
                ),
                refusal,
                quota,
                "The requester retries; the pods it needs never exist until usage drops or "
                "the quota is raised",
            )
        )
    return findings
