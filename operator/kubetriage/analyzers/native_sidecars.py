"""A native sidecar on a kubelet that does not know it: an init container with
``restartPolicy: Always`` is a sidecar only to a kubelet with sidecar support (the
SidecarContainers feature, on by default from Kubernetes 1.29; alpha and off in 1.28; absent
before). The API server accepts the field, but an older kubelet on the node the pod landed on
(node pools may lag the control plane by several minor versions) runs that container as an
ordinary init container and waits for it to exit before starting the next one and the main
containers. A proxy or agent never exits, so the pod stays initializing for good: a Job never
completes, a Deployment's new pods never become Ready. Nothing in the sidecar or the app is
wrong: the pod template asks for a feature the node's kubelet lacks. An SRE reads the running
"init" container next to the kubelet version and changes the template (back to a classic
sidecar, or onto nodes whose kubelet supports it), i.e. fix-config on the workload whose
template it is (the CronJob for its Jobs); a restart lands on the same kind of node.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, pod_source, seconds_before, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerEvidence, NodeEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an unsupported-sidecar finding is."""

    # A pod has waited to initialize for longer than STUCK behind a running init container
    # with restartPolicy Always, on a node whose kubelet predates sidecar support.
    unsupported_sidecar: float = 0.86


CONFIDENCE: Final = _Confidence()

# The first Kubernetes minor version whose kubelet runs restartable init containers as
# sidecars by default (the SidecarContainers feature went beta, on by default, in 1.29).
SIDECAR_MINOR: Final = 29
# How long a pod may take to initialize before a still-running sidecar is what holds it.
STUCK: Final = timedelta(minutes=10)
_VERSION = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)")


def kubelet_minor(node: NodeEvidence) -> int | None:
    """The minor version of the node's kubelet (1.x only), None when unknown."""
    match = _VERSION.match(node.kubelet_version or "")
    if match is None or match["major"] != "1":
        return None
    return int(match["minor"])


def _held(evidence: Evidence, pod: PodEvidence) -> ContainerEvidence | None:
    """The running restartable init container a pod has waited to initialize behind for more
    than STUCK, every main container still waiting to start; None otherwise."""
    age = seconds_before(evidence, pod.created_at)
    if age is None or age < STUCK.total_seconds() or pod.deleting:
        return None
    initialized = next((c for c in pod.conditions if c.type == "Initialized"), None)
    if initialized is None or initialized.status != "False":
        return None
    main = [c for c in pod.containers if not c.init]
    if not main or any(c.state.state != "waiting" for c in main):
        return None
    init = [c for c in pod.containers if c.init]
    running = [c for c in init if c.restart_policy == "Always" and c.state.state == "running"]
    # Any other init container still to run or failing holds the pod by itself.
    others = [c for c in init if c not in running and c.state.state != "terminated"]
    return running[0] if running and not others else None


def check_unsupported_sidecar(evidence: Evidence) -> list[Finding]:
    nodes = {node.name: node for node in evidence.nodes}
    for pod in evidence.pods:
        sidecar = _held(evidence, pod)
        node = nodes.get(pod.node or "")
        target = workload_ref(evidence, pod)
        if sidecar is None or node is None or target is None:
            continue
        minor = kubelet_minor(node)
        if minor is None or minor >= SIDECAR_MINOR:
            continue
        waiting = item(
            pod_source(pod),
            f"init container {sidecar.name} ({sidecar.image}) has restartPolicy Always and "
            "runs; the main containers have not started",
        )
        kubelet = item(f"node/{node.name}", f"kubelet {node.kubelet_version}")
        return [
            make_finding(
                "unsupported-sidecar",
                Category.CONFIG_MISSING,
                CONFIDENCE.unsupported_sidecar,
                prose.narrative(
                    f"an old kubelet runs sidecar {sidecar.name} as an init container "
                    "that never exits",
                    f"fix the pod template of {prose.obj(target)}",
                    because=[
                        prose.claim(
                            f"{sidecar.name} is a native sidecar (an init container with "
                            "restartPolicy Always), and the pod still waits for it to finish",
                            waiting,
                        ),
                        prose.claim(
                            f"The node's kubelet is older than 1.{SIDECAR_MINOR}, which is "
                            "when sidecar containers became supported by default",
                            kubelet,
                        ),
                    ],
                ),
                [waiting, kubelet],
                Action.FIX_CONFIG,
                target,
                {"container": sidecar.name},
            )
        ]
    return []


NATIVE_SIDECAR_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("unsupported-sidecar", (Category.CONFIG_MISSING,), check_unsupported_sidecar),
)
