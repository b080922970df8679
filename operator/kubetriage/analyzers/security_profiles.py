"""A security profile the pod spec names is missing on the node its pods landed on: a
Localhost seccomp profile (``securityContext.seccompProfile.localhostProfile``, a file under
the kubelet's seccomp root on each node) or an AppArmor profile the node's kernel has not
loaded. The container runtime cannot create the container (CreateContainerError, in its own
words: ``cannot load seccomp profile "...": ... no such file or directory``, ``apparmor
profile not found``, ``Cannot enforce AppArmor: profile ... is not loaded``).

Such profiles are installed node by node, by hand or by a daemon (the Security Profiles
Operator's ``spod``, an AppArmor loader DaemonSet): a node the installer never reached (a new
node pool whose taint its DaemonSet does not tolerate, a rebuilt node image) fails every pod
that needs the profile, while the same template runs on the nodes that have it. The workload
is as it was, so neither a rollback nor more replicas help: an SRE gets the profile onto
those nodes (or keeps the pods off them) through the profile's owner (config-missing,
escalate on the workload). When no pod of the workload runs anywhere, the name the spec
gives may be the fault: correct the workload's reference (fix-config).

A node that had the profile and lost it is another matter: when the one node that fails them
restarted (a ``Rebooted`` event, its Ready condition turning) after the failing pods were
created there, those same pods ran on it before, and the node came back without the profile
(a loader that did not run at boot, a profile cache on tmpfs). That node is the fault
(node-failure): cordon and drain it so the pods land where the profile is, then repair it.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, node_source, pod_source, workload_ref
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a missing-profile finding is, by the evidence that earns it."""

    # The runtime cannot load the profile for pods on some nodes while pods of the same
    # workload run ready on other nodes: those nodes lack it.
    missing_on_some_nodes: float = 0.86
    # ... and no pod of the workload runs anywhere: the node or the name the spec gives.
    missing_everywhere: float = 0.75
    # The one node that fails them restarted after the failing pods were created on it (they
    # ran there before) while pods of the same workload run ready elsewhere: it lost the profile.
    lost_in_node_restart: float = 0.88


CONFIDENCE: Final = _Confidence()

# The container runtime's words (containerd, CRI-O, the kubelet) for a seccomp or AppArmor
# profile it cannot find or load for a container it is asked to create.
PROFILE_MISSING: Final = re.compile(
    r"cannot load seccomp profile"
    r"|seccomp profile \S+ (?:not found|does not exist)"
    r"|apparmor profile (?:\S+ )?not found"
    r"|Cannot enforce AppArmor: profile \S+ is not loaded"
    r"|failed to generate apparmor spec opts",
    re.IGNORECASE,
)
# The waiting reasons of a container the runtime could not create or start.
_NOT_CREATED: Final = frozenset({"CreateContainerError", "RunContainerError"})


def _refusal(evidence: Evidence, pod: PodEvidence) -> str | None:
    """The runtime's words that a profile of the pod is missing: a waiting container's
    message, or a Warning event on the pod."""
    for container in pod.containers:
        state = container.state
        if state.reason in _NOT_CREATED and state.message and PROFILE_MISSING.search(state.message):
            return state.message
    for event in evidence.events:
        if (
            event.type == "Warning"
            and event.involved.kind == "Pod"
            and event.involved.name == pod.name
            and PROFILE_MISSING.search(event.message)
        ):
            return event.message
    return None


def _serving(pod: PodEvidence) -> bool:
    return bool(pod.containers) and all(c.ready for c in pod.containers if not c.init)


def _restarted_at(evidence: Evidence, node: str) -> tuple[datetime, EvidenceItem] | None:
    """When the node last came back: its ``Rebooted`` event, else its Ready condition's last
    transition to True; with the fact that says so."""
    for event in evidence.events:
        when = event.last_seen or event.first_seen
        if (
            event.reason == "Rebooted"
            and event.involved.kind == "Node"
            and event.involved.name == node
            and when is not None
        ):
            return when, item(node_source(node), f"rebooted at {when:%H:%M}")
    for known in evidence.nodes:
        if known.name != node or known.ready != "True":
            continue
        for condition in known.conditions:
            when = condition.last_transition_time
            if condition.type == "Ready" and condition.status == "True" and when is not None:
                return when, item(node_source(node), f"Ready again since {when:%H:%M}")
    return None


def _lost_in_restart(
    evidence: Evidence, failing: list[PodEvidence], node: str
) -> EvidenceItem | None:
    """The fact that ``node`` restarted after every failing pod was created on it: those
    pods ran there before, so the node came back without a profile it had."""
    restarted = _restarted_at(evidence, node)
    if restarted is None:
        return None
    when, fact = restarted
    ran_before = all(
        p.created_at is not None
        and p.created_at < when
        and any(c.restart_count > 0 or c.last_state is not None for c in p.containers)
        for p in failing
    )
    return fact if failing and ran_before else None


def check_security_profiles(evidence: Evidence) -> list[Finding]:
    target = workload_ref(evidence)
    if target is None:
        return []
    ours = [p for p in evidence.pods if workload_ref(evidence, p) == target]
    failing = [(pod, text) for pod in ours if (text := _refusal(evidence, pod))]
    if not failing:
        return []
    nodes = sorted({p.node for p, _ in failing if p.node})
    elsewhere = [p for p in ours if _serving(p) and p.node and p.node not in nodes]
    pod, text = failing[0]
    facts: list[EvidenceItem] = [item(pod_source(pod), prose.clip(text, 240))]
    where = f"node {nodes[0]}" if len(nodes) == 1 else f"nodes {prose.listing(nodes)}"
    if not nodes:
        where = "its node"
    because = [
        prose.claim(
            f"The container runtime cannot load a security profile the pods of "
            f"{prose.obj(target)} name, on {where}",
            *facts,
        )
    ]
    lost = (
        _lost_in_restart(evidence, [p for p, _ in failing], nodes[0])
        if len(nodes) == 1 and elsewhere
        else None
    )
    if lost is not None:
        return [_node_lost_profile(target, nodes[0], facts, because, lost, len(elsewhere))]
    if elsewhere:
        serving = item(
            node_source(elsewhere[0].node or ""),
            f"{prose.count(len(elsewhere), 'pod')} of the same workload run ready on "
            f"{prose.listing(sorted({p.node for p in elsewhere if p.node}))}",
        )
        facts.append(serving)
        because.append(
            prose.claim(
                "The same pods run on nodes that have the profile: the nodes that fail them "
                "lack it, the workload is as it was",
                serving,
            )
        )
        return [
            make_finding(
                "security-profile-missing",
                Category.CONFIG_MISSING,
                CONFIDENCE.missing_on_some_nodes,
                prose.narrative(
                    f"{prose.obj(target)} needs a security profile that {where} "
                    f"{'lacks' if len(nodes) <= 1 else 'lack'}",
                    "have its owner install it there",
                    aside="or keep the pods off those nodes",
                    because=because,
                ),
                facts,
                Action.ESCALATE,
                target,
                {"nodes": ",".join(nodes)},
            )
        ]
    return [
        make_finding(
            "security-profile-missing",
            Category.CONFIG_MISSING,
            CONFIDENCE.missing_everywhere,
            prose.narrative(
                f"The security profile the pods of {prose.obj(target)} name cannot be loaded",
                "correct the profile it names or install it on the nodes",
                because=because,
            ),
            facts,
            Action.FIX_CONFIG,
            target,
            {"nodes": ",".join(nodes)},
        )
    ]


_DRAIN: Final = "cordon and drain it so the pods run where the profile is"


def _node_lost_profile(
    target: ObjectRef,
    node: str,
    facts: list[EvidenceItem],
    because: list[Claim],
    restarted: EvidenceItem,
    serving: int,
) -> Finding:
    node_ref = ObjectRef(kind="Node", name=node)
    return make_finding(
        "security-profile-lost-in-node-restart",
        Category.NODE_FAILURE,
        CONFIDENCE.lost_in_node_restart,
        prose.narrative(
            prose.fitting_problem(
                [
                    f"Node {node} came back from a restart without a security profile the "
                    f"pods of {prose.obj(target)} need",
                    f"Node {node} lost a security profile in its restart",
                ],
                _DRAIN,
            ),
            _DRAIN,
            aside="then reload the profile on the node",
            because=[
                *because,
                prose.claim(
                    f"The failing pods ran on node {node} before it restarted; "
                    f"{prose.count(serving, 'pod')} of the same workload run ready elsewhere",
                    restarted,
                ),
            ],
        ),
        [*facts, restarted],
        Action.DRAIN_NODE,
        node_ref,
        {"nodes": node},
    )


SECURITY_PROFILE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "security-profile-missing",
        (Category.CONFIG_MISSING, Category.NODE_FAILURE),
        check_security_profiles,
    ),
)
