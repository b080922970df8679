"""The callee-probe-failure rule: a dependency the workload calls cannot serve fully (fewer
ready replicas than desired) because the kubelet restarts its containers for a liveness probe
that reaches nothing (refused) or the wrong path (404) while its processes run: correct that
workload's probe, one hop away, rather than escalate at its Service. Stronger when the
dependency's latest rollout changed that probe; silent when a recent rollout left the probe
alone (the new revision stopped serving: the callee-rollout rule's case), and for a probe
that times out (a process too busy to answer says less). The workload's own failing probes
are ``kubetriage.analyzers.probes``'s.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import RECENT_DEPENDENCY_ROLLOUT, caller_fails_on
from kubetriage.analyzers.probe_blips import PROBE_FAILED
from kubetriage.analyzers.support import item, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a callee-probe-failure finding is, by the evidence that earns it."""

    # A dependency the workload's calls fail against is short of ready replicas because the
    # kubelet restarts its containers for a liveness probe refused or answered 404 (the probe
    # reaches nothing, or the wrong path, on a process that runs): its probe, one hop away,
    # rather than an escalation at its Service that names no cause (0.88).
    callee: float = 0.89
    callee_changed_probe: float = 0.92  # ... and its latest rollout changed that probe


CONFIDENCE: Final = _Confidence()


# A probe that reaches nothing (refused) or the wrong path (404): the probe is wrong, not
# the process (a timeout may be a process too busy to answer, and says less).
_PROBE_MISSES = re.compile(r"(?i)connection refused|statuscode:? 404|status code:? 404")


def _rolled_out_recently(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the dependency's latest change is a rollout within RECENT_DEPENDENCY_ROLLOUT."""
    latest = dependency.changes[0] if dependency.changes else None
    return (
        latest is not None
        and latest.kind == "rollout"
        and latest.at is not None
        and timestamp(evidence.collected_at) - timestamp(latest.at)
        <= RECENT_DEPENDENCY_ROLLOUT.total_seconds()
    )


def check_callee_probe(evidence: Evidence) -> list[Finding]:
    """A dependency the workload calls cannot serve fully (fewer ready replicas than desired)
    because the kubelet restarts its containers for a liveness probe that is refused or
    answered 404 while its processes run: correct that workload's probe, rather than escalate
    at its Service. Requires the caller to fail on it (``caller_fails_on``), as the
    dependency-down rule does."""
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.FIX_PROBE]:
            continue
        restarting = {
            p.pod: p
            for p in dependency.failing_pods
            if (p.restarts or p.waiting == "CrashLoopBackOff") and p.last_terminated != "OOMKilled"
        }
        failures = [
            (pod, match)
            for warning in dependency.warnings
            if (pod := warning.partition(" ")[0].removeprefix("Pod/")) in restarting
            and (match := PROBE_FAILED.search(warning)) is not None
            and match["kind"].lower() == "liveness"
            and _PROBE_MISSES.search(match["why"])
        ]
        short = dependency.short_of_ready()
        if not failures or not short or not caller_fails_on(evidence, dependency):
            continue
        source = f"dependency {prose.obj(dependency.ref or workload)}"
        trouble = restarting[failures[0][0]]
        facts = [
            item(source, f"pod {prose.pod_trouble(trouble)}"),
            *(item(source, f"pod {pod}: {m[0]}") for pod, m in failures[:2]),
            item(
                source,
                f"{dependency.ready_replicas} of {dependency.desired_replicas} replicas ready",
            ),
        ]
        changed = next(
            (c for c in dependency.changes[:1] if c.kind == "rollout" and "probes" in c.aspects),
            None,
        )
        if changed is None and _rolled_out_recently(evidence, dependency):
            # A probe its previous revision passed, refused since a rollout that left the
            # probe alone: the new revision stopped serving (the callee-rollout rule's case).
            continue
        because = [
            prose.claim(
                f"The kubelet restarts pods of {prose.obj(workload)} for a liveness probe that "
                "reaches nothing, and not all its replicas are ready",
                *facts,
            )
        ]
        if changed is not None:
            facts.append(item(source, "; ".join(changed.details[:2])))
            because.append(prose.claim("Its latest rollout changed that probe", facts[-1]))
        facts.append(item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}"))
        because.append(prose.claim("The workload's calls to it fail", facts[-1]))
        params = {"container": trouble.container, "probe": "liveness"} if trouble.container else {}
        findings.append(
            make_finding(
                "callee-probe-failure",
                Category.PROBE_FAILURE,
                CONFIDENCE.callee_changed_probe if changed else CONFIDENCE.callee,
                prose.narrative(
                    f"{prose.obj(workload)}, which the workload calls, is restarted by its "
                    "liveness probe",
                    "correct its probe",
                    aside=prose.count(len(restarting), "pod") + " restarting",
                    because=because,
                ),
                facts,
                Action.FIX_PROBE,
                workload,
                params,
            )
        )
    return findings


CALLEE_PROBE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("callee-probe-failure", (Category.PROBE_FAILURE,), check_callee_probe),
)
