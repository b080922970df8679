"""Admission-policy analyzer: the API server refuses to create a workload's pods because
their spec violates a policy it enforces, in the words of the admission layer that refused:
Pod Security Admission (``violates PodSecurity "restricted:latest": ...``), a policy engine's
validating webhook (``admission webhook "<name>" denied the request: ...``: Kyverno,
Gatekeeper, OPA) or a ValidatingAdmissionPolicy (``... denied request: ...``). Nothing is
down (a webhook that cannot be called is ``kubetriage.analyzers.webhooks``' case, a
ResourceQuota ``kubetriage.analyzers.policy_refusals``'): the policy works as configured and
the pod template does not comply.

- the refused ReplicaSet is the workload's new revision while an older one still serves:
  the change broke admission (bad-rollout: roll the workload back);
- otherwise the same template was admitted before and the policy or the namespace's enforced
  level changed under it: the workload's pod spec must comply (config-missing: correct the
  workload's spec, fix-config on the workload); when the refusal quotes one of the pods'
  images for the registry or repository it comes from, the image reference is what must
  change (image-pull: fix-image on the workload). A new revision refused by Pod Security is
  this case too when its rollout changed nothing Pod Security judges (``PSA_COUNTED``: an
  image or env bump): the previous template violates the same level, which was raised
  after its pods were admitted, so a rollback's pods would be refused alike.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.policy_refusals import QUOTA_REFUSAL
from kubetriage.analyzers.revisions import current_and_previous_revision
from kubetriage.analyzers.support import (
    event_fact,
    events_for,
    involved_workload,
    item,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, Finding
from kubetriage.models.object_evidence import ChangeEvidence, EventEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _AdmissionConfidence:
    """How sure an admission-policy finding is, by the evidence that earns it."""

    refused: float = 0.9  # the API server's own words: the pod spec violates an enforced policy
    new_revision: float = 0.89  # ... only the new revision is refused while the old one serves


CONFIDENCE: Final = _AdmissionConfidence()

# Pod Security Admission's refusal, in the API server's words.
PSA_REFUSAL: Final = re.compile(r'violates PodSecurity "[^"]+"')
# The parts of a pod template (``ChangeEvidence.aspects``) Pod Security Admission judges a pod
# by: the security settings of the pod and its containers, which containers there are (an
# added one brings its own settings), volumes (hostPath), host namespaces (noted with the DNS
# settings), the mesh and other injectors' settings that inject containers, and a change the
# diff could not name.
PSA_COUNTED: Final = frozenset(
    {"security", "containers", "volumes", "dns", "mesh", "injection", "template"}
)

# The admission layer's words for a pod it refuses by policy (apiserver admission, PSA,
# ValidatingAdmissionPolicy); a webhook it could not call says "failed calling webhook".
_POLICY_REFUSAL = re.compile(
    r"violates PodSecurity \"(?P<psa>[^\"]+)\""
    r"|admission webhook \\?\"(?P<webhook>[^\"\\]+)\\?\" denied the request"
    r"|ValidatingAdmissionPolicy '(?P<vap>[^']+)'(?: with binding '[^']+')? denied request",
)


def _policy_of(message: str) -> str | None:
    """What refused the pod, as a person names it; None when no policy did, or when a webhook
    refused it over a quota (a used-up budget, ``kubetriage.analyzers.policy_refusals``' case,
    not a spec to correct)."""
    match = _POLICY_REFUSAL.search(message)
    if match is None or QUOTA_REFUSAL.search(message):
        return None
    if match["psa"]:
        return f'Pod Security "{match["psa"]}"'
    if match["webhook"]:
        return f"admission webhook {match['webhook']}"
    return f"ValidatingAdmissionPolicy {match['vap']}"


# The words a policy engine uses when it refuses an image for where it comes from: Capsule's
# "Container image <image> registry is forbidden for the current Tenant", Gatekeeper
# K8sAllowedRepos' "has an invalid image repo <image>, allowed repos are [...]".
_IMAGE_SOURCE: Final = re.compile(r"(?i)\b(?:registry|registries|repos?|repositor(?:y|ies))\b")


def _refused_image(evidence: Evidence, refused: list[EventEvidence]) -> str | None:
    """The image of the refused pods that a refusal quotes for the registry or repository it
    comes from: the image reference is what does not comply. None when no refusal quotes one."""
    names = {e.involved.name for e in refused if e.involved.kind == "ReplicaSet"}
    images = {i for r in evidence.revisions if r.name in names for i in r.images.values()}
    if not images and evidence.workload is not None:
        images = {c.image for c in evidence.workload.containers}
    for event in refused:
        if _IMAGE_SOURCE.search(event.message):
            quoted = sorted(i for i in images if i and i in event.message)
            if quoted:
                return quoted[0]
    return None


def _new_revision_refused(evidence: Evidence, refused: list[EventEvidence]) -> bool:
    """Whether the refused ReplicaSet is the workload's newest revision while an older one
    still has ready pods."""
    current, previous = current_and_previous_revision(evidence)
    if current is None or previous is None or previous.ready_replicas == 0:
        return False
    return any(e.involved.kind == "ReplicaSet" and e.involved.name == current.name for e in refused)


def _unjudged_rollout(evidence: Evidence, refused: list[EventEvidence]) -> ChangeEvidence | None:
    """The rollout to the current revision when Pod Security refused its pods and it changed
    nothing Pod Security judges (``PSA_COUNTED``); None otherwise."""
    current, _ = current_and_previous_revision(evidence)
    if current is None or not any(PSA_REFUSAL.search(e.message) for e in refused):
        return None
    rollout = next(
        (
            c
            for c in evidence.changes
            if c.kind == "rollout" and c.to_revision == current.revision and c.aspects
        ),
        None,
    )
    return None if rollout is None or set(rollout.aspects) & PSA_COUNTED else rollout


def check_admission_policies(evidence: Evidence) -> list[Finding]:
    by_workload: dict[str, tuple[ObjectRef, list[EventEvidence], str]] = {}
    own = workload_ref(evidence)
    for event in events_for(evidence, "FailedCreate"):
        policy = _policy_of(event.message)
        if policy is None:
            continue
        owner = involved_workload(evidence, event.involved) or own
        if owner is not None:
            by_workload.setdefault(owner.key(), (owner, [], policy))[1].append(event)
    findings: list[Finding] = []
    for target, refused, policy in by_workload.values():
        ours = evidence.workload is not None and target.same_object(evidence.workload.ref)
        facts = [item("events", event_fact(e)) for e in refused[:2]]
        refusal = prose.claim(
            f"The API server refuses to create the pods of {prose.obj(target)}: "
            f"their spec violates {policy}",
            *facts,
        )
        unjudged = _unjudged_rollout(evidence, refused) if ours else None
        if ours and unjudged is None and _new_revision_refused(evidence, refused):
            if target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
                continue
            findings.append(
                make_finding(
                    "admission-policy",
                    Category.BAD_ROLLOUT,
                    CONFIDENCE.new_revision,
                    prose.narrative(
                        f"The new revision of {prose.obj(target)} violates {policy}",
                        "roll it back",
                        because=[
                            refusal,
                            prose.claim("The previous revision was admitted and still serves"),
                        ],
                    ),
                    facts,
                    Action.ROLLBACK,
                    target,
                    {"policy": policy},
                )
            )
            continue
        unchanged = _unchanged_claim(unjudged)
        image = _refused_image(evidence, refused) if ours else None
        if image is not None:
            findings.append(
                make_finding(
                    "admission-policy",
                    Category.IMAGE_PULL,
                    CONFIDENCE.refused,
                    prose.narrative(
                        prose.fitting_problem(
                            [
                                f"The pods of {prose.obj(target)} use an image from a registry "
                                f"{policy} does not admit",
                                f"{prose.obj(target)} uses an image from a registry the "
                                "policy does not admit",
                                "The pods' image comes from a registry the policy does not admit",
                            ],
                            fix := "point the image at a registry the policy admits",
                        ),
                        fix,
                        because=[refusal, unchanged],
                    ),
                    [*facts, *unchanged.evidence],
                    Action.FIX_IMAGE,
                    target,
                    {"policy": policy, "image": image},
                )
            )
            continue
        findings.append(
            make_finding(
                "admission-policy",
                Category.CONFIG_MISSING,
                CONFIDENCE.refused,
                prose.narrative(
                    f"The pods of {prose.obj(target)} violate {policy}",
                    "make its pod spec comply",
                    because=[refusal, unchanged],
                ),
                [*facts, *unchanged.evidence],
                Action.FIX_CONFIG,
                target,
                {"policy": policy},
            )
        )
    return findings


def _unchanged_claim(rollout: ChangeEvidence | None) -> Claim:
    """Why the pods' own revision is not what the policy refuses."""
    if rollout is None:
        return prose.claim(
            "No revision changed it: the policy enforced on it changed, so running pods stay "
            "and every replacement is refused"
        )
    changed = prose.listing(rollout.aspects)
    return prose.claim(
        f"The latest rollout changed only {changed}, which Pod Security does not judge: the "
        "previous revision violates the same level, enforced since its pods were admitted, so "
        "a rollback's pods would be refused too",
        item(
            f"{rollout.object.kind.lower()}/{rollout.object.namespace}/{rollout.object.name}",
            "; ".join(rollout.details[:3]),
        ),
    )


ADMISSION_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "admission-policy",
        (Category.CONFIG_MISSING, Category.BAD_ROLLOUT, Category.IMAGE_PULL),
        check_admission_policies,
    ),
)
