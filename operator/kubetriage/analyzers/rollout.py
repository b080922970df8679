"""The bad-rollout rule: a new revision that broke a working workload. Its new pods fail
while the previous revision's serve, it missed its progress deadline, only its pods log
server errors while the previous revision's pods serve beside them cleanly (a paused or
partial rollout), or errors, latency or CPU stepped up right after it rolled out (with
traffic unchanged); the fix is to roll back
to the previous revision. Lowered when the failing pods' own analyzers name the precise
cause (an image that cannot be pulled, a missing ConfigMap), and when they only wait on a
dependency that is down for everyone (its own pods fail): the dependency's outage is the
cause, not the revision; and when the new pods only time out on their readiness probe as the
previous revision's pods did in the same hour (``shared_timeouts``): load, not the revision.
What stepped up after the rollout is read by ``rollout_steps``; two workloads behind one
Service, when no single workload is in scope, are ``new_workload``'s rule.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.carried_configs import only_carried_config, only_restarted
from kubetriage.analyzers.certificates import peer_certificate_invalid
from kubetriage.analyzers.changes import calls_down_dependency, down_dependencies
from kubetriage.analyzers.demand import traffic_rose
from kubetriage.analyzers.dependencies import pods_held_by_down_dependency
from kubetriage.analyzers.listen_ports import serves_elsewhere
from kubetriage.analyzers.pods import admitted_memory_limit, node_split, pod_failing, pod_problem
from kubetriage.analyzers.recency import is_recent, revision_age, served_until
from kubetriage.analyzers.revisions import (
    pod_revision,
    rollback_subject,
)
from kubetriage.analyzers.rollout_steps import (
    errors_only_in_new_pods,
    errors_rose_after,
    load_rose_after,
)
from kubetriage.analyzers.shared_timeouts import previous_times_out_too
from kubetriage.analyzers.support import (
    item,
    pod_source,
    seconds_before,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a bad-rollout finding is, by the evidence that earns it."""

    failing_after_serving: float = 0.8  # the new revision's pods fail; the previous one served
    failing_recent: float = 0.7  # ... its service not in evidence, the rollout recent
    failing: float = 0.45  # ... and the rollout is not recent
    errors_recent: float = 0.7  # errors stepped up after a recent rollout, or only its pods
    # log server errors while the previous revision's pods serve beside them without any
    load_recent: float = 0.6  # latency or CPU stepped up after a recent rollout
    stalled: float = 0.6  # the rollout missed its progress deadline, or errors rose after it
    weak: float = 0.45  # nothing stronger than the above
    deadline_bonus: float = 0.05  # the rollout missed its progress deadline
    overload_bonus: float = 0.05  # new pods fail and load rose, with the same traffic as before
    image_bonus: float = 0.03  # the rollout changed an image
    # The new pods' servers say they listen on one port while their probes, unchanged by the
    # rollout and passing on the previous revision, are refused on another: what the rollout
    # changed (env, args, command, image) moved the server, the probe is not at fault.
    serves_elsewhere: float = 0.9
    specific_cap: float = 0.5  # every failing pod shows a cause with its own rule (image...)
    dependency_down_cap: float = 0.6  # every failing pod waits on a dependency that is down
    # The new revision differs from the previous one only by the hash of an edited ConfigMap
    # or Secret (Reloader, a checksum annotation): rolling the template back mounts the same
    # edited object again; the change-correlation finding names the object to correct.
    carried_config_cap: float = 0.5
    # The new revision's failing pods all run on one node while its other pods serve on other
    # nodes (``pods.failing_node``), or they never got a sandbox from a node that reports a
    # problem of its own while a pod of the revision serves elsewhere (``pods.sandbox_held``):
    # the same template works, so the split follows the node.
    node_split_cap: float = 0.6
    # The new pods are OOM-killed at a memory limit their template does not set while the
    # previous revision's pods run without it (``pods.admitted_memory_limit``): admission gave
    # it to them, so a rollback's pods would meet it too; the oom-killed finding sets a limit.
    admitted_limit_cap: float = 0.5
    # A peer's certificate expired (``certificates.peer_certificate_invalid``): rollback's too.
    peer_certificate_cap: float = 0.6
    # The new revision is a bare ``kubectl rollout restart`` (``carried_configs.only_restarted``):
    # its pods run what the previous revision's ran, so a rollback recreates the same pods; the
    # failure is latent in both and showed on a fresh start (the old pods have not restarted).
    restart_only_cap: float = 0.5
    # The new pods only fail readiness on a probe that times out, and the previous revision's
    # pods timed out on theirs within the hour (``shared_timeouts.previous_times_out_too``):
    # the pods are too busy to answer, which a rollback's pods would be too.
    shared_timeouts_cap: float = 0.6
    cap: float = 0.9  # the most a bad-rollout finding claims


CONFIDENCE: Final = _Confidence()


def check_bad_rollout(evidence: Evidence) -> list[Finding]:
    release = rollback_subject(evidence)
    if release is None:
        return []
    target, current, previous = release
    new_pods = [p for p in evidence.pods if pod_revision(p, evidence) == current]
    old_pods = [
        p
        for p in evidence.pods
        if (r := pod_revision(p, evidence)) is not None and r.revision < current.revision
    ]
    new_failing = [p for p in new_pods if pod_failing(p)]
    old_healthy = [p for p in old_pods if not pod_failing(p)]
    old_failing = [p for p in old_pods if pod_failing(p)]
    conditions = evidence.workload.conditions if evidence.workload else []
    deadline = next(
        (
            c
            for c in conditions
            if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded"
        ),
        None,
    )
    errors_after = errors_rose_after(evidence, current.created_at) or errors_only_in_new_pods(
        evidence, new_pods, old_healthy
    )
    recent = is_recent(revision_age(evidence, current))
    # Load that rose days after a revision went out says nothing about that revision.
    # Latency and CPU that rose with traffic are demand, not the new code's cost.
    load_after = (
        load_rose_after(evidence, current.created_at)
        if recent and not traffic_rose(evidence)
        else []
    )
    if not new_failing and deadline is None and not errors_after and not load_after:
        return []
    if old_failing and not old_healthy:
        return []  # the old revision fails too: the change is not what broke it
    previous_was_serving = (
        bool(old_healthy) or previous.ready_replicas > 0 or served_until(evidence, current)
    )
    if new_failing and previous_was_serving:
        confidence = CONFIDENCE.failing_after_serving
    elif new_failing and recent:
        confidence = CONFIDENCE.failing_recent
    elif new_failing:
        confidence = CONFIDENCE.failing
    elif errors_after and recent:
        confidence = CONFIDENCE.errors_recent
    elif load_after and recent:
        confidence = CONFIDENCE.load_recent
    else:
        stalled = deadline is not None or errors_after
        confidence = CONFIDENCE.stalled if stalled else CONFIDENCE.weak
    if deadline is not None:
        confidence += CONFIDENCE.deadline_bonus
    if new_failing and load_after and not traffic_rose(evidence):
        confidence += CONFIDENCE.overload_bonus
    changed = {
        name: (previous.images.get(name), image)
        for name, image in current.images.items()
        if previous.images.get(name) not in (None, image)
    }
    if changed:
        confidence += CONFIDENCE.image_bonus
    moved = (
        serves_elsewhere(evidence, new_failing)
        if old_healthy and not _rollout_changed(evidence, current.revision, "probes")
        else None
    )
    if moved is not None:
        confidence = max(confidence, CONFIDENCE.serves_elsewhere)
    specific = [p for p in new_failing if _specific_cause(p)]
    if specific and len(specific) == len(new_failing):
        # The image-pull or config-missing finding names what the new revision got wrong
        # (and proposes the rollback itself); this stays a low-weight alternative.
        confidence = min(confidence, CONFIDENCE.specific_cap)
    if node_split(evidence, new_pods):
        confidence = min(confidence, CONFIDENCE.node_split_cap)
    if new_failing and admitted_memory_limit(evidence) is not None:
        confidence = min(confidence, CONFIDENCE.admitted_limit_cap)
    if only_carried_config(evidence, current.revision):
        confidence = min(confidence, CONFIDENCE.carried_config_cap)
    if only_restarted(evidence, current.revision):
        confidence = min(confidence, CONFIDENCE.restart_only_cap)
    if previous_times_out_too(evidence, new_failing, old_pods) is not None:
        confidence = min(confidence, CONFIDENCE.shared_timeouts_cap)
    if new_failing and peer_certificate_invalid(evidence):
        confidence = min(confidence, CONFIDENCE.peer_certificate_cap)
    down = down_dependencies(evidence)
    held = pods_held_by_down_dependency(evidence)
    if new_failing and all(p.name in held for p in new_failing):
        # The kubelet cannot start them for a dependency that is down (its own revision is
        # not what stops them): the dependency-change or dependency-down finding leads.
        confidence = min(confidence, CONFIDENCE.dependency_down_cap)
    if new_failing and all(calls_down_dependency(evidence, p, down) for p in new_failing):
        # The new pods block on a callee that is down for everyone (its own pods fail): the
        # revision only started after the callee broke, and rolling back would not serve.
        confidence = min(confidence, CONFIDENCE.dependency_down_cap)
    replaced = item(
        "revision",
        f"revision {current.revision} ({current.name}) replaced revision "
        f"{previous.revision} ({previous.name})"
        + "".join(f"; {c}: {old} -> {new}" for c, (old, new) in changed.items()),
    )
    facts: list[EvidenceItem] = [replaced]
    if deadline is not None:
        facts.append(
            item(
                f"{target.kind.lower()}/{target.namespace}/{target.name}",
                f"Progressing=False ProgressDeadlineExceeded: {deadline.message or ''}",
            )
        )
    failing = [item(pod_source(p), pod_problem(p)) for p in new_failing[:3]]
    facts.extend(failing)
    if moved is not None:
        facts.append(moved)
    facts.extend(errors_after[:2])
    facts.extend(load_after[:2])
    still: EvidenceItem | None = None
    if old_healthy:
        still = item(
            "revision",
            f"{prose.count(len(old_healthy), 'pod')} of revision {previous.revision} still ready",
        )
        facts.append(still)
    images = [
        f"{c} {prose.image(old or '')} to {prose.image(new)}" for c, (old, new) in changed.items()
    ]
    rolled = seconds_before(evidence, current.created_at)
    because = [
        prose.claim(
            f"Revision {current.revision} replaced revision {previous.revision}"
            + (f" {prose.duration(rolled)} ago" if rolled is not None else "")
            + (f", changing {prose.listing(images)}" if images else ""),
            replaced,
        )
    ]
    if new_failing:
        because.append(
            prose.claim(
                f"{len(new_failing)} of its {prose.count(len(new_pods), 'new pod')} "
                f"{prose.be(len(new_failing))} unhealthy",
                *failing,
            )
        )
    if errors_after or load_after:
        because.append(
            prose.claim(
                "Errors or load stepped up after the rollout",
                *(errors_after[:1] + load_after[:1]),
            )
        )
    if still is not None:
        because.append(prose.claim(f"Pods of revision {previous.revision} still serve", still))
    elif deadline is not None:
        because.append(prose.claim("The rollout missed its progress deadline", facts[1]))
    if new_failing:
        problem = f"Revision {current.revision} of {prose.obj(target)} is failing"
        aside = f"{len(new_failing)} of {prose.count(len(new_pods), 'new pod')} unhealthy"
    else:
        problem = f"{prose.obj(target)} degraded after revision {current.revision} rolled out"
        aside = ""
    return [
        make_finding(
            "bad-rollout",
            Category.BAD_ROLLOUT,
            min(confidence, CONFIDENCE.cap),
            prose.narrative(
                problem,
                f"roll back to revision {previous.revision}",
                aside=aside,
                because=because[:4],
            ),
            facts,
            Action.ROLLBACK,
            target,
            {"revision": str(previous.revision)},
        )
    ]


def _rollout_changed(evidence: Evidence, revision: int, aspect: str) -> bool:
    """Whether the rollout to ``revision`` changed this part of the pod template (True when
    the timeline does not show that rollout: unknown counts as changed)."""
    rollouts = [c for c in evidence.changes if c.kind == "rollout" and c.to_revision == revision]
    return not rollouts or any(aspect in c.aspects for c in rollouts)


_SPECIFIC_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
    }
)


def _specific_cause(pod: PodEvidence) -> bool:
    return any(
        c.state.state == "waiting" and c.state.reason in _SPECIFIC_WAITING for c in pod.containers
    )


ROLLOUT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("bad-rollout", (Category.BAD_ROLLOUT,), check_bad_rollout),
)
