"""Failures that follow the nodes' platform: in a cluster with more than one CPU architecture,
operating system, Windows build or CPU feature set, an image is built for some of its nodes.

An SRE who sees the same pod template run on some nodes and fail on others looks at what those
nodes are before reading the logs. When every failing replica sits on nodes of one platform
(``kubernetes.io/arch``, ``kubernetes.io/os``, ``node.kubernetes.io/windows-build``, or the CPU
features Node Feature Discovery labels as ``feature.node.kubernetes.io/cpu-cpuid.*``) and every
replica that runs sits on nodes of another, and one revision both runs and fails, the image does
not fit the failing nodes' platform: a native library or binary built for the other one
(``exec format error``, an illegal instruction, a missing native library, a container OS build
the host cannot start). The fix is the image (built for every platform the workload may land
on), or pinning the workload to the platform it was built for; draining one node does not help,
the next node of that platform fails the same way. A container the runtime cannot even start
there is an image that does not fit the host (image-pull); one that starts and exits is a
crash-loop.

A revision that drops the pin instead: the previous revision's running pods carried a
``nodeSelector`` on the platform label, the new revision's failing pods carry none and were
placed on nodes of another platform. That is the change's case: roll back (the image-pull
finding of the same pods yields to it, ``dropped_platform_pin``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import item, node_source, owner_workload, pod_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    NodeEvidence,
    PodEvidence,
    RevisionEvidence,
)
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """What each piece of evidence earns a platform finding."""

    # Every failing replica is on nodes of one platform, every running one on another, and a
    # revision both runs and fails: above the crash-loop's escalation (0.75), below a finding
    # that names the revision that broke it.
    split: float = 0.8
    # The new revision's failing pods lost the previous revision's nodeSelector on the
    # platform label and sit on nodes of another platform: above the image-pull finding of
    # the same pods, which yields to it (``pin_yield``).
    pin_dropped: float = 0.88
    # The image-pull finding of pods whose revision dropped the pin: the reference is fine,
    # it is pulled where it was never meant to run.
    pin_yield: float = 0.6


CONFIDENCE: Final = _Confidence()

# The node labels that say which platform a node is, most telling first.
PLATFORM_LABELS: Final = (
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "node.kubernetes.io/windows-build",
)
# Node Feature Discovery's CPU feature labels ("true" when the CPU has the feature).
CPU_FEATURE_PREFIX: Final = "feature.node.kubernetes.io/cpu-cpuid."
# The labels a workload pins its platform with (a nodeSelector on the node's own label).
PIN_LABELS: Final = ("kubernetes.io/os", "kubernetes.io/arch")
# The kubelet's reasons for a container the runtime could not start at all.
_NOT_STARTED: Final = frozenset(
    {"CreateContainerError", "RunContainerError", "StartError", "ContainerCannotRun"}
)
# Exit codes of a container killed from outside (OOM killer, liveness, termination).
_KILLED: Final = frozenset({137, 143})


def _not_started(container: ContainerEvidence) -> bool:
    states = [container.state, *([container.last_state] if container.last_state else [])]
    return any(s.reason in _NOT_STARTED for s in states)


def _exits(container: ContainerEvidence) -> bool:
    """It ran and exited on its own with an error (not killed from outside)."""
    last = container.last_state
    return (
        container.restart_count > 0
        and last is not None
        and last.state == "terminated"
        and last.exit_code not in (None, 0, *_KILLED)
    )


def _broken(pod: PodEvidence) -> list[ContainerEvidence]:
    return [
        c
        for c in pod.containers
        if not c.init and c.ready is not True and (_not_started(c) or _exits(c))
    ]


def runs_cleanly(pod: PodEvidence) -> bool:
    """Running with every app container ready and never restarted."""
    return (
        pod.phase == "Running"
        and bool(pod.containers)
        and all(c.ready is True and c.restart_count == 0 for c in pod.containers if not c.init)
    )


def platform_keys(nodes: list[NodeEvidence]) -> list[str]:
    """The platform labels any of the nodes carries, most telling first."""
    features = sorted({k for n in nodes for k in n.labels if k.startswith(CPU_FEATURE_PREFIX)})
    return [k for k in PLATFORM_LABELS if any(k in n.labels for n in nodes)] + features


@dataclass(frozen=True, slots=True)
class PlatformSplit:
    """A label whose values on the failing replicas' nodes and on the running replicas' nodes
    have nothing in common (an absent CPU feature reads as "")."""

    key: str
    failing: tuple[str, ...]
    running: tuple[str, ...]


def platform_split(
    failing: list[NodeEvidence], running: list[NodeEvidence]
) -> PlatformSplit | None:
    if not failing or not running:
        return None
    for key in platform_keys(failing + running):
        bad = {n.labels.get(key, "") for n in failing}
        good = {n.labels.get(key, "") for n in running}
        if not bad & good:
            return PlatformSplit(key, tuple(sorted(bad)), tuple(sorted(good)))
    return None


def _shown(value: str) -> str:
    return value or "absent"


def _short(key: str) -> str:
    """A platform label without its prefix: ``arch``, ``windows-build``, ``cpu-cpuid.AVX512F``."""
    return key.rsplit("/", 1)[-1]


def check_platform_split(evidence: Evidence) -> list[Finding]:
    nodes = {n.name: n for n in evidence.nodes}
    groups: dict[str, tuple[ObjectRef, list[PodEvidence]]] = {}
    for pod in evidence.pods:
        owner = owner_workload(pod)
        if owner is not None and pod.node in nodes:
            groups.setdefault(owner.key(), (owner, []))[1].append(pod)
    findings: list[Finding] = []
    for workload, pods in groups.values():
        failing = [p for p in pods if _broken(p)]
        running = [p for p in pods if runs_cleanly(p)]
        if not failing or not running:
            continue
        if not {p.owner.name for p in failing if p.owner} & {
            p.owner.name for p in running if p.owner
        }:
            continue  # the split follows the revision: a change's case
        split = platform_split(
            [nodes[p.node or ""] for p in failing], [nodes[p.node or ""] for p in running]
        )
        if split is None or workload.kind not in ACTION_TARGET_KINDS[Action.FIX_IMAGE]:
            continue
        containers = [c for p in failing for c in _broken(p)]
        never_started = all(_not_started(c) for c in containers)
        first, broken = failing[0], _broken(failing[0])[0]
        shown = (
            broken.state
            if broken.state.state != "waiting" or not broken.last_state
            else broken.last_state
        )
        how = (
            f"{shown.reason}: {shown.message}"
            if shown.message
            else f"exit code {shown.exit_code}"
            if shown.exit_code is not None
            else shown.reason or "not running"
        )
        fails = item(
            pod_source(first),
            f"container {broken.name} fails on node {first.node} "
            f"({split.key}={_shown(nodes[first.node or ''].labels.get(split.key, ''))}): {how}",
        )
        runs = item(
            pod_source(running[0]),
            f"the same template runs on node {running[0].node} "
            f"({split.key}={_shown(nodes[running[0].node or ''].labels.get(split.key, ''))})",
        )
        where = item(
            node_source(first.node or ""),
            f"the failing replicas' nodes have {split.key} "
            f"{prose.listing([_shown(v) for v in split.failing])}; the running replicas' nodes "
            f"{prose.listing([_shown(v) for v in split.running])}",
        )
        findings.append(
            make_finding(
                "platform-split",
                Category.IMAGE_PULL if never_started else Category.CRASH_LOOP,
                CONFIDENCE.split,
                prose.narrative(
                    f"The image of {prose.obj(workload)} does not run on its "
                    f"{_short(split.key)}={'/'.join(_shown(v) for v in split.failing)} nodes",
                    "build it for them or pin the workload",
                    because=[
                        prose.claim(
                            f"Only its replicas on nodes with {split.key} "
                            f"{prose.listing([_shown(v) for v in split.failing])} fail",
                            fails,
                            where,
                        ),
                        prose.claim(
                            "The same revision runs on the other nodes, so neither a change "
                            "nor one node explains it",
                            runs,
                        ),
                    ],
                ),
                [fails, runs, where],
                Action.FIX_IMAGE,
                workload,
                {"container": broken.name, "image": broken.image},
            )
        )
    return findings


@dataclass(frozen=True, slots=True)
class DroppedPin:
    """The previous revision's running pods were pinned to ``key=value``; the new revision's
    failing pods are not, and sit on nodes where the label is otherwise."""

    key: str
    value: str
    previous: RevisionEvidence
    failing: list[PodEvidence]
    running: list[PodEvidence]


def dropped_platform_pin(evidence: Evidence) -> DroppedPin | None:
    current, previous = current_and_previous_revision(evidence)
    if current is None or previous is None:
        return None
    nodes = {n.name: n for n in evidence.nodes}
    failing = [
        p
        for p in evidence.pods
        if pod_revision(p, evidence) == current
        and p.node in nodes
        and not runs_cleanly(p)
        and any(c.state.state == "waiting" for c in p.containers if not c.init)
    ]
    running = [
        p for p in evidence.pods if pod_revision(p, evidence) == previous and runs_cleanly(p)
    ]
    if not failing or not running:
        return None
    for key in PIN_LABELS:
        pinned = {p.node_selector.get(key) for p in running}
        if len(pinned) != 1 or None in pinned:
            continue
        value = next(v for v in pinned if v is not None)
        if any(key in p.node_selector for p in failing):
            continue
        if all(nodes[p.node or ""].labels.get(key, value) != value for p in failing):
            return DroppedPin(key, value, previous, failing, running)
    return None


def check_dropped_pin(evidence: Evidence) -> list[Finding]:
    pin = dropped_platform_pin(evidence)
    workload = evidence.workload.ref if evidence.workload else None
    if pin is None or workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return []
    first = pin.failing[0]
    there = next((n.labels.get(pin.key, "") for n in evidence.nodes if n.name == first.node), "")
    lost = item(
        pod_source(first),
        f"no nodeSelector on {pin.key}; placed on node {first.node} ({pin.key}={_shown(there)})",
    )
    had = item(
        pod_source(pin.running[0]),
        f"revision {pin.previous.revision} runs with nodeSelector {pin.key}={pin.value} "
        f"on node {pin.running[0].node}",
    )
    return [
        make_finding(
            "platform-pin-dropped",
            Category.BAD_ROLLOUT,
            CONFIDENCE.pin_dropped,
            prose.narrative(
                f"The new revision of {prose.obj(workload)} dropped its "
                f"{pin.key}={pin.value} nodeSelector",
                f"roll back to revision {pin.previous.revision}",
                because=[
                    prose.claim(
                        "The new revision's pods carry no platform pin and fail on nodes of "
                        "another platform",
                        lost,
                    ),
                    prose.claim("The previous revision's pods were pinned and run", had),
                ],
            ),
            [lost, had],
            Action.ROLLBACK,
            workload,
            {"revision": str(pin.previous.revision)},
        )
    ]


def pin_dropped_for(evidence: Evidence, pod: PodEvidence) -> bool:
    """Whether ``pod`` is one of the new revision's pods placed off its platform because the
    revision dropped the previous one's platform nodeSelector."""
    pin = dropped_platform_pin(evidence)
    return pin is not None and any(p.name == pod.name for p in pin.failing)


PLATFORM_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("platform-split", (Category.CRASH_LOOP, Category.IMAGE_PULL), check_platform_split),
    Analyzer("platform-pin-dropped", (Category.BAD_ROLLOUT,), check_dropped_pin),
)
