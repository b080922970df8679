"""The callee-placement rule: a workload the incident's workload depends on (a callee, the mesh
CA its sidecars get their certificates from) has no pod running because the scheduler finds
no node its own node selector or required affinity admits: every node of the cluster "didn't
match Pod's node affinity/selector" (a node pool renamed or replaced, a label no node carries
any more). The callee is down, but escalating it as a dependency failure hides that nothing
is wrong with it except where it asks to run: the fix is its placement (point the selector
at nodes that exist, or add nodes that carry the label), unschedulable / free-capacity on
that workload, above the caller's dependency-failure read from the same failing calls.

A callee Pending for any other reason (a zonal volume pinned away from the nodes, CPU or
memory short, a taint) is not this finding: the fix is not the callee's own constraint, and
the dependency rules weigh it (or ``callee_quorum``, when most members of a group electing a
leader are Pending). Registered in ``kubetriage.analyzers.ANALYZERS``; pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import caller_fails_on
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a callee-placement finding is, by the evidence that earns it."""

    # No pod of the callee runs and the scheduler rules out every node by the callee's own
    # selector or affinity: above the dependency-down reading of the same callee (0.86).
    no_node_admits: float = 0.9


CONFIDENCE: Final = _Confidence()
NAME: Final = "callee-placement"
# The scheduler's message when every node fails the pod's node selector or required
# affinity: "0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector."
_NO_NODE_MATCHES: Final = re.compile(
    r"(?i)\b0/(?P<total>\d+) nodes are available: (?P<excluded>\d+) node\(s\) didn't match "
    r"(?:pod's )?node (?:affinity|selector)"
)


def _no_node_admits(warning: str) -> bool:
    match = _NO_NODE_MATCHES.search(warning)
    return match is not None and match["total"] == match["excluded"]


def check_callee_placement(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
            continue
        pending = [p for p in dependency.failing_pods if p.phase == "Pending"]
        if not pending or dependency.ready_replicas or len(pending) < dependency.pods:
            continue
        refusals = [w for w in dependency.warnings if _no_node_admits(w)]
        if not refusals or not caller_fails_on(evidence, dependency):
            continue
        facts = [
            *(item(object_source(workload), f"pod {prose.pod_trouble(p)}") for p in pending[:2]),
            item("events", refusals[0]),
            item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}"),
        ]
        fix = f"point {workload.name}'s node selector or affinity at nodes that exist"
        findings.append(
            make_finding(
                NAME,
                Category.UNSCHEDULABLE,
                CONFIDENCE.no_node_admits,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"no node admits the pods of {prose.obj(workload)}, which the "
                            "workload depends on: its node selector or affinity matches none",
                            f"no node matches the node selector of {workload.name}",
                            "no node matches the dependency's node selector",
                        ],
                        fix,
                    ),
                    fix,
                    because=[
                        prose.claim(
                            f"No pod of {prose.obj(workload)} runs: the scheduler rules out "
                            "every node by its node selector or affinity",
                            *facts[:-1],
                        ),
                        prose.claim("The workload's failing calls depend on it", facts[-1]),
                    ],
                ),
                facts,
                Action.FREE_CAPACITY,
                workload,
            )
        )
    return findings


CALLEE_PLACEMENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.UNSCHEDULABLE,), check_callee_placement),
)
