"""The unschedulable rule for pods a workflow or pipeline engine creates step by step (Argo
Workflows, Tekton): when the API server refuses a step's pod over a ResourceQuota, there is no
ReplicaSet to carry a FailedCreate event and no Pending pod; the engine says so in its run's
status, and the quota it names is what to free.

Called by ``kubetriage.analyzers.scheduling``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a step-quota finding is, by the evidence that earns it."""

    # The engine's run reports the API server's refusal of a step's pod over a quota, and that
    # quota is in scope in the run's namespace (as sure as a ReplicaSet's FailedCreate).
    named_quota: float = 0.85


CONFIDENCE: Final = _Confidence()

# The ResourceQuota the API server names in its refusal ("exceeded quota: compute-quota, ...").
_QUOTA_NAME = re.compile(r"(?i)exceeded quota: ([a-z0-9][a-z0-9.-]*)")


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
            named = _QUOTA_NAME.search(text)
            quota = next(
                (
                    q
                    for q in evidence.quotas
                    if named is not None
                    and q.name == named.group(1)
                    and q.namespace == obj.ref.namespace
                ),
                None,
            )
            if quota is None or quota.name in seen:
                continue
            seen.add(quota.name)
            target = ObjectRef(kind="ResourceQuota", namespace=quota.namespace, name=quota.name)
            fix = "raise the quota or wait for the pods that use it"
            refusal = item(f"{obj.ref.kind.lower()}/{obj.ref.namespace}/{obj.ref.name}", text)
            usage = item(
                f"quota/{quota.namespace}/{quota.name}",
                f"hard {prose.selector(quota.hard, empty='none')}; "
                f"used {prose.selector(quota.used, empty='none')}",
            )
            because = [
                prose.claim(
                    f"{prose.obj(obj.ref)} reports that the API server refused its pod over "
                    f"{prose.obj(target)}",
                    refusal,
                ),
                prose.claim("The quota's usage leaves no room for the pod's requests", usage),
                prose.claim(
                    "Its controller retries; the step waits until usage drops or the quota "
                    "is raised"
                ),
            ]
            findings.append(
                make_finding(
                    "unschedulable",
                    Category.UNSCHEDULABLE,
                    CONFIDENCE.named_quota,
                    prose.narrative(
                        prose.fitting_problem(
                            [
                                f"{prose.obj(target)} is used up: a step of {prose.obj(obj.ref)} "
                                "has no pod",
                                f"{prose.obj(target)} is used up: a step of "
                                f"{obj.ref.kind} {obj.ref.name} has no pod",
                                f"{prose.obj(target)} is used up and refuses a step's pod",
                            ],
                            fix,
                        ),
                        fix,
                        because=because,
                    ),
                    [refusal, usage],
                    Action.FREE_CAPACITY,
                    target,
                    {"reason": "exceeded quota"},
                )
            )
    return findings
