"""The device-plugin-pull rule: pods of the workload stay Pending because the scheduler finds
too little of a device (an extended resource such as ``nvidia.com/gpu``), and nodes their node
selector allows advertise none of it at all, because the device plugin's pods there cannot
pull their image (the walk follows that DaemonSet, named by the node and the resource:
``DependencyEvidence.routed("device-plugin")``). A node counts a device only once its plugin
registers it with the kubelet, so adding nodes brings more nodes without the device, as
fresh nodes from the same group are exactly the ones without a cached copy of the image: the
fix is the plugin's image (the reference, the registry, its pull secret), above freeing
capacity for the pending pods.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.images import IMAGE_IN_TEXT, PULL_EVENT, PULL_WAITING, pull_cause
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a device-plugin-pull finding is, by the evidence that earns it."""

    # Nodes meant for the pending pods advertise none of the device they lack, and the
    # device plugin's pods there cannot pull their image: above the unschedulable finding
    # for the same pods (0.9), whose "add nodes" brings more nodes without the device.
    cannot_pull_there: float = 0.92


CONFIDENCE: Final = _Confidence()
NAME: Final = "device-plugin-pull"


def check_device_plugin_pull(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        plugin = dependency.workload
        routes = dependency.routed("device-plugin")
        if plugin is None or not routes:
            continue
        if plugin.kind not in ACTION_TARGET_KINDS[Action.FIX_IMAGE]:
            continue
        pulls = [p for p in dependency.failing_pods if p.waiting in PULL_WAITING]
        if not pulls:
            continue
        nodes = sorted({r.node for r in routes if r.node})
        resource = next((r.resource for r in routes if r.resource), "the device")
        source = object_source(plugin)
        down = [item(source, f"pod {prose.pod_trouble(p)}") for p in pulls[:2]]
        pulled = [w for w in dependency.warnings if PULL_EVENT.search(w)]
        said = [item(source, w) for w in pulled[:1]]
        starved = [
            item(f"node/{n}", f"advertises no {resource}; the plugin's pod there does not run")
            for n in nodes[:2]
        ]
        cause, fix = pull_cause(" ".join(pulled))
        images = [m["image"] for w in pulled if (m := IMAGE_IN_TEXT.search(w))]
        params = {"container": pulls[0].container} if pulls[0].container else {}
        if images:
            params["image"] = images[0]
        findings.append(
            make_finding(
                NAME,
                Category.IMAGE_PULL,
                CONFIDENCE.cannot_pull_there,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"the device plugin {prose.obj(plugin)} cannot pull its image on "
                            f"the nodes that advertise no {resource}",
                            f"the device plugin {plugin.name} cannot pull its image",
                            "the device plugin cannot pull its image",
                        ],
                        fix,
                    ),
                    fix,
                    aside=cause,
                    because=[
                        prose.claim(
                            f"The pending pods lack {resource}, and "
                            f"{prose.count(len(nodes), 'node')} meant for them "
                            f"{'advertise' if len(nodes) > 1 else 'advertises'} none at all",
                            *starved,
                        ),
                        prose.claim(
                            "A node counts the device only once its plugin registers it, and "
                            "the plugin's pods there cannot pull their image",
                            *down,
                            *said,
                        ),
                        prose.claim(
                            "More nodes of the same kind would come up without the device "
                            "just the same"
                        ),
                    ],
                ),
                [*starved, *down, *said],
                Action.FIX_IMAGE,
                plugin,
                params,
            )
        )
    return findings


DEVICE_PLUGIN_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.IMAGE_PULL,), check_device_plugin_pull),
)
