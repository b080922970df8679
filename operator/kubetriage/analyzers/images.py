"""The image-pull rule: a container whose image cannot be pulled (waiting in ErrImagePull or
ImagePullBackOff, failed-pull Events), with what the registry said (no such tag, refused
credentials, malformed reference, unreachable registry); when the previous revision ran
another image, a rollback to it as the second finding.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import caller_fails_on
from kubetriage.analyzers.platform_split import CONFIDENCE as PLATFORM_CONFIDENCE
from kubetriage.analyzers.platform_split import pin_dropped_for
from kubetriage.analyzers.pods import pod_events
from kubetriage.analyzers.registry_service import expired_registry_certificate, failing_registry
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import (
    event_fact,
    item,
    iter_containers,
    pod_source,
    timestamp,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding, Narrative
from kubetriage.models.object_evidence import ContainerEvidence, EventEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an image-pull finding is, by the evidence that earns it."""

    waiting: float = 0.9  # the container waits in ErrImagePull, ImagePullBackOff...
    events: float = 0.8  # only Events report the failed pull
    cause_bonus: float = 0.05  # the registry's words say why (no such tag, credentials...)
    rollback: float = 0.65  # the rollback alternative: the previous image ran healthy
    rollback_unproven: float = 0.55  # ... the previous revision's health is not in evidence
    callee: float = 0.9  # a followed dependency is down: its own pods wait on their image
    # ... it still serves from a minority of its replicas, the rest wait on their image, and
    # the caller's calls to it fail: the pull cost it most of its capacity (above escalating
    # at the callee for failing pods, 0.8).
    callee_short: float = 0.85
    # The pull fails writing the layers to the node's own disk ("no space left on device"):
    # the reference and the registry are fine, the node is not; below the node-failure
    # finding that the same words earn the node (``pulls_out_of_disk``, 0.85).
    node_disk: float = 0.6
    # The pull fails with a server failure inside a registry a Service of the cluster serves
    # (a pull-through cache, a mirror): its owner restores it (``registry_service``, 0.9+);
    # or verifying the expired certificate an Ingress serves that registry with: renewed there.
    registry_down: float = 0.6


CONFIDENCE: Final = _Confidence()

PULL_WAITING = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
PULL_EVENT = re.compile(
    r"(?i)(failed to pull image|back-off pulling image|error: (errimagepull|imagepullbackoff)|"
    r"invalidimagename|couldn't parse image reference)"
)
IMAGE_IN_TEXT = re.compile(r"(?i)image \"(?P<image>[^\"]+)\"")
# The kubelet's warning (reason FailedToRetrieveImagePullSecret) that a pull secret the pod
# names does not exist; it tries the pull anyway, so alone it is no failure.
_MISSING_PULL_SECRET = re.compile(r"(?i)unable to retrieve some image pull secrets \([^)]*\)")
# The runtime's words when unpacking a pulled layer fails because the node's filesystem is
# full (ENOSPC): the registry served the image, the node could not store it.
_NODE_DISK_FULL = re.compile(r"(?i)no space left on device")
# (what the registry said, the fix in a few words, how it says it)
_PULL_CAUSES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "the node's disk is full, so the pulled layers cannot be unpacked",
        "free disk space on the node or move the pod off it",
        _NODE_DISK_FULL,
    ),
    (
        "a pull secret the pod names does not exist",
        "create the pull secret or correct its name in imagePullSecrets",
        _MISSING_PULL_SECRET,
    ),
    (
        "the tag or image does not exist",
        "correct the image tag",
        # containerd answers a missing tag with the gRPC code "NotFound".
        re.compile(
            r"(?i)(manifest unknown|not found|manifest for \S+ not found|no such image"
            r"|code = NotFound)"
        ),
    ),
    (
        "the registry refused the credentials",
        "renew or fix the pull secret",
        re.compile(
            r"(?i)(unauthorized|pull access denied|authentication required|"
            r"insufficient_scope|403 forbidden|denied: |failed to authorize)"
        ),
    ),
    (
        "the image reference is malformed",
        "correct the image reference",
        re.compile(r"(?i)(invalidimagename|invalid reference format|couldn't parse image)"),
    ),
    (
        "the registry is unreachable or limits pulls",
        "restore registry access or use a mirror",
        re.compile(
            r"(?i)(i/o timeout|no such host|connection refused|tls handshake|"
            r"service unavailable|context deadline exceeded|toomanyrequests|rate limit)"
        ),
    ),
)


def check_image_pull(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence):
        waiting = container.state.state == "waiting" and container.state.reason in PULL_WAITING
        events = [
            e
            for e in pod_events(evidence, pod)
            if PULL_EVENT.search(e.message) or e.reason in PULL_WAITING
        ]
        events = [
            e
            for e in events
            if (m := IMAGE_IN_TEXT.search(e.message)) is None or m["image"] == container.image
        ]
        if not waiting and (not events or pull_recovered(container, events)):
            continue
        target = workload_ref(evidence, pod)
        if target is None or f"{target.key()}/{container.name}" in seen:
            continue
        seen.add(f"{target.key()}/{container.name}")
        facts: list[EvidenceItem] = []
        if waiting:
            facts.append(
                item(
                    pod_source(pod),
                    f"container {container.name} waiting: {container.state.reason}"
                    + (f": {container.state.message}" if container.state.message else "")
                    + f" (image {container.image})",
                )
            )
        # A missing pull secret is why the registry refuses: its warning leads the events.
        missing = [e for e in pod_events(evidence, pod) if _MISSING_PULL_SECRET.search(e.message)]
        events = missing[:1] + events
        facts.extend(item("events", event_fact(e)) for e in events[:3])
        texts = " ".join([container.state.message or "", *(e.message for e in events)])
        cause, fix = pull_cause(texts)
        pulled = facts[:2]
        confidence = CONFIDENCE.waiting if waiting else CONFIDENCE.events
        if _NODE_DISK_FULL.search(texts):
            confidence = CONFIDENCE.node_disk
        elif pin_dropped_for(evidence, pod):
            confidence = PLATFORM_CONFIDENCE.pin_yield
        elif (
            failing_registry(evidence, texts) is not None
            or expired_registry_certificate(evidence, texts, timestamp(evidence.collected_at))
            is not None
        ):
            confidence = CONFIDENCE.registry_down
        elif cause:
            confidence += CONFIDENCE.cause_bonus
        params = {"container": container.name, "image": container.image}
        current, previous = current_and_previous_revision(evidence)
        revision = pod_revision(pod, evidence)
        previous_image = previous.images.get(container.name) if previous else None
        because = [
            prose.claim(
                f"The kubelet cannot pull {container.image} for container {container.name}"
                + (f": {cause}" if cause else ""),
                *pulled,
            )
        ]
        if previous_image and previous_image != container.image:
            params["previousImage"] = previous_image
            changed = item(
                "revision",
                f"revision {previous.revision if previous else '?'} ran {previous_image}; "
                f"revision {current.revision if current else '?'} uses {container.image}",
            )
            facts.append(changed)
            because.append(
                prose.claim(
                    f"The previous revision ran {prose.image(previous_image)}, so the change "
                    "of image reference is what broke the pull",
                    changed,
                )
            )
        because.append(
            prose.claim(
                "Until the image can be pulled no new container of it starts; pods already "
                "running an older image keep serving"
            )
        )
        pull_text = _pull_narrative(target, container.image, fix, cause, because)
        findings.append(
            make_finding(
                "image-pull",
                Category.IMAGE_PULL,
                confidence,
                pull_text,
                facts,
                Action.FIX_IMAGE,
                target,
                params,
            )
        )
        healthy_before = previous is not None and (
            previous.ready_replicas > 0
            or any(
                pod_revision(p, evidence) == previous
                and all(c.ready for c in p.containers if not c.init)
                for p in evidence.pods
            )
        )
        new_revision_fails = revision is None or revision == current
        if (
            previous is not None
            and previous_image
            and previous_image != container.image
            and new_revision_fails
            and target.kind in ACTION_TARGET_KINDS[Action.ROLLBACK]
        ):
            findings.append(
                make_finding(
                    "image-pull",
                    Category.IMAGE_PULL,
                    # Not above the pull's own finding: a full node disk or a failing
                    # in-cluster registry fails the previous image's pulls just the same.
                    min(
                        CONFIDENCE.rollback if healthy_before else CONFIDENCE.rollback_unproven,
                        confidence,
                    ),
                    _pull_narrative(
                        target,
                        container.image,
                        f"roll back to revision {previous.revision} while it is fixed",
                        cause,
                        because,
                    ),
                    facts,
                    Action.ROLLBACK,
                    target,
                    {"revision": str(previous.revision), "container": container.name},
                )
            )
    return findings


def pull_recovered(container: ContainerEvidence, events: list[EventEvidence]) -> bool:
    """Whether the container's failed pulls are over: it runs now, started after the last of
    the failed-pull ``events``, so a later attempt pulled its image. What failed is history
    (a registry blip the kubelet's back-off rode out), not what the incident is about."""
    started = container.state.started_at
    if container.state.state != "running" or started is None:
        return False
    seen = [e.last_seen or e.first_seen for e in events]
    return all(s is not None and s <= started for s in seen)


def pulls_out_of_disk(evidence: Evidence) -> dict[str, EvidenceItem]:
    """The nodes where a pod's pull fails because the node's disk is full (the runtime cannot
    write the pulled layers: "no space left on device"), each with its first such Event or
    waiting message: a failure of the node, whatever the image."""
    found: dict[str, EvidenceItem] = {}
    for pod, container in iter_containers(evidence):
        if pod.node is None or pod.node in found:
            continue
        message = container.state.message or ""
        if container.state.reason in PULL_WAITING and _NODE_DISK_FULL.search(message):
            found[pod.node] = item(pod_source(pod), f"{container.state.reason}: {message}")
            continue
        event = next(
            (
                e
                for e in pod_events(evidence, pod)
                if PULL_EVENT.search(e.message) and _NODE_DISK_FULL.search(e.message)
            ),
            None,
        )
        if event is not None:
            found[pod.node] = item("events", event_fact(event))
    return found


def pull_cause(texts: str) -> tuple[str, str]:
    """What the registry's words in ``texts`` say went wrong ("" when they say nothing known)
    and the fix in a few words."""
    for cause, fix, pattern in _PULL_CAUSES:
        if pattern.search(texts):
            return cause, fix
    return "", "correct the image reference or its pull secret"


def _pull_narrative(
    target: ObjectRef, image: str, fix: str, cause: str, because: list[Claim]
) -> Narrative:
    """The image-pull finding's text; a long object name costs the image's name, not the fix."""
    problem = prose.fitting_problem(
        [
            f"{prose.obj(target)} cannot pull image {prose.image(image)}",
            f"{prose.obj(target)} cannot pull its image",
        ],
        fix,
    )
    return prose.narrative(problem, fix, aside=cause, because=because)


def _pull_cost_most_replicas(
    evidence: Evidence, dependency: DependencyEvidence, pulling: int
) -> bool:
    """Whether pods waiting on their image leave a callee fewer than half of its desired
    replicas ready while the caller's calls fail (the replicas left cannot carry the load)."""
    desired, ready = dependency.desired_replicas, dependency.ready_replicas
    if desired is None or ready is None or not dependency.short_of_ready():
        return False
    return (
        2 * ready < desired
        and pulling >= desired - ready - pulling
        and (caller_fails_on(evidence, dependency))
    )


def check_callee_image_pull(evidence: Evidence) -> list[Finding]:
    """A dependency the workload calls is down (no ready endpoint, or none of its replicas
    ready) because its own pods wait on an image they cannot pull: the callee's image is the
    cause, so the fix is that workload's image, not an escalation at its Service. The
    registry's words in its warnings say why when they can."""
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        pulls = [p for p in dependency.failing_pods if p.waiting in PULL_WAITING]
        if not pulls or workload is None:
            continue
        if workload.kind not in ACTION_TARGET_KINDS[Action.FIX_IMAGE]:
            continue
        service = dependency.service
        down = dependency.ready_replicas == 0 or (
            service is not None and service.ready_endpoints == 0
        )
        if not down and not _pull_cost_most_replicas(evidence, dependency, len(pulls)):
            continue  # other replicas still serve: the failed pull is not the outage
        source = f"dependency {prose.obj(dependency.ref or workload)}"
        facts = [item(source, f"pod {prose.pod_trouble(p)}") for p in pulls[:2]]
        pulled = [w for w in dependency.warnings if PULL_EVENT.search(w)]
        facts += [item(source, w) for w in pulled[:2]]
        texts = " ".join(pulled)
        cause, fix = pull_cause(texts)
        images = [m["image"] for w in pulled if (m := IMAGE_IN_TEXT.search(w))]
        because = [
            prose.claim(
                f"{prose.obj(workload)}, which the workload calls, "
                + (
                    "has no ready pod: its pods cannot pull their image"
                    if down
                    else f"has {dependency.ready_replicas} of {dependency.desired_replicas} "
                    "replicas ready: the others cannot pull their image, and calls to it fail"
                )
                + (f" ({cause})" if cause else ""),
                *facts,
            ),
            prose.claim("The caller's failures follow from it; escalating would not fix it"),
        ]
        image = images[0] if images else ""
        narrative = (
            _pull_narrative(workload, image, fix, cause, because)
            if image
            else prose.narrative(
                f"{prose.obj(workload)} cannot pull its image", fix, aside=cause, because=because
            )
        )
        confidence = (CONFIDENCE.callee if down else CONFIDENCE.callee_short) + (
            CONFIDENCE.cause_bonus if cause else 0.0
        )
        params = {"container": pulls[0].container} if pulls[0].container else {}
        if image:
            params["image"] = image
        findings.append(
            make_finding(
                "image-pull",
                Category.IMAGE_PULL,
                confidence,
                narrative,
                facts,
                Action.FIX_IMAGE,
                workload,
                params,
            )
        )
    return findings


IMAGE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("image-pull", (Category.IMAGE_PULL,), check_image_pull),
    Analyzer("callee-image-pull", (Category.IMAGE_PULL,), check_callee_image_pull),
)
