"""The ingress controller's own rollout in front of a healthy workload: the workload's pods
run and are ready, it did not change itself, and the ingress controller serving its Ingress
(followed as a dependency that fronts it, ``DependencyEvidence.fronts_workload``) rolled out
right before the symptom began (a new controller version or flags), and the controller's own
log tails name that Ingress in a line saying it rejected, ignored or failed on it.

Requests that never reach the workload (404s from the controller's default backend, a drop
of the workload's traffic) are what an upgraded controller produces when it no longer
accepts an Ingress it served before: a newer version that refuses an annotation (ingress-
nginx 1.12 rejecting configuration snippets above its risk level), a changed class or
validation. An SRE seeing edge errors with healthy backends checks the Ingress's controller
and its recent change, and rolls the controller back first (then fixes the Ingress or the
controller's settings before upgrading again).

A controller that rolled out long before the symptom, or whose log does not name the
Ingress, is not this finding; a workload that rolled out itself since is its own suspect.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import onset_follows, own_rollout_after
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.support import LogHit, grep_logs, item, object_source, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an ingress-controller rollout finding is, by the evidence that earns it."""

    # The controller rolled out right before the symptom, the workload is healthy and
    # unchanged, and the controller's own log names the workload's Ingress as rejected or
    # ignored: its words tie the rollout to the requests that no longer reach the workload,
    # above a callee's rollout tied by the timeline alone.
    refused_after_rollout: float = 0.84


CONFIDENCE: Final = _Confidence()
NAME: Final = "ingress-controller-rollout"

# A controller line saying it did not take an Ingress as it is (rejected, ignored, skipped,
# failed to validate or sync it), at any log level that says so in words.
REFUSED_WORDS: Final = re.compile(
    r"(?i)\b(ignor\w*|reject\w*|invalid|error\w*|skipp\w*|fail\w*|denied|forbidden|"
    r"not allowed|risky|unsupported|deprecated and removed)\b"
)


def _names_ingress(line: str, namespace: str, name: str) -> bool:
    """Whether a log line names the Ingress ``namespace/name`` (as ``namespace/name``, or
    both words apart, the way structured loggers put them in fields)."""
    if f"{namespace}/{name}" in line:
        return True
    words = set(re.findall(r"[\w.-]+", line))
    return name in words and namespace in words


def _refusals(dependency: DependencyEvidence, ingresses: list[ObjectRef]) -> list[LogHit]:
    """The controller's log lines that name one of ``ingresses`` as refused."""
    hits = grep_logs(dependency.logs, REFUSED_WORDS, limit=50)
    return [
        h for h in hits if any(_names_ingress(h.line, i.namespace or "", i.name) for i in ingresses)
    ]


def check_ingress_controller_rollout(evidence: Evidence) -> list[Finding]:
    if not evidence.pods or any(pod_failing(p) for p in evidence.pods):
        return []
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        controller = dependency.workload
        if controller is None or not dependency.fronts_workload() or not dependency.changes:
            continue
        if controller.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
            continue
        change = dependency.changes[0]
        onset = onset_follows(evidence, change)
        if onset is None or change.at is None or own_rollout_after(evidence, timestamp(change.at)):
            continue
        refused = _refusals(dependency, dependency.fronted_ingresses())
        if not refused:
            continue
        rolled = item(
            object_source(controller),
            f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:3]),
        )
        said = item(refused[0].source, prose.quote(refused[0].line))
        healthy = item(
            "pods", f"{prose.count(len(evidence.pods), 'pod')} of the workload running and ready"
        )
        facts = [rolled, said, healthy, onset]
        fix = f"roll {controller.name} back" + (
            f" to revision {change.from_revision}" if change.from_revision else ""
        )
        findings.append(
            make_finding(
                NAME,
                Category.BAD_ROLLOUT,
                CONFIDENCE.refused_after_rollout,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"the ingress controller {prose.obj(controller)} refuses the "
                            "workload's Ingress since it rolled out",
                            f"the ingress controller {controller.name} refuses the workload's "
                            "Ingress since it rolled out",
                            "the ingress controller refuses the workload's Ingress since its "
                            "rollout",
                        ],
                        fix,
                    ),
                    fix,
                    because=[
                        prose.claim(
                            f"The ingress controller {prose.obj(controller)} in front of the "
                            "workload rolled out",
                            rolled,
                        ),
                        prose.claim("Its own log names the workload's Ingress as refused", said),
                        prose.claim(
                            "The workload's own pods run and are ready; its symptom began "
                            "right after the rollout",
                            healthy,
                            onset,
                        ),
                    ],
                ),
                facts,
                Action.ROLLBACK,
                controller,
                {"revision": str(change.from_revision)} if change.from_revision else {},
            )
        )
    return findings


INGRESS_ROLLOUT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_ingress_controller_rollout),
)
