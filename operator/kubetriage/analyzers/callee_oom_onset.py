"""The callee OOM-killed once, at the moment the caller began to fail, whose failure outlived
the restart: a store that keeps its state in memory (a queue, a cache, a session store
without persistence) comes back empty from one kill, and what the caller needed from it (a
consumer group, a lock, its sessions) is gone. One kill is then the fault, not "a dependency
fails" to escalate: the dependency's memory limit is what to raise. The kill must end within
``ONSET`` of the caller's first failing call to it (timestamps of the caller's own log
lines), and the incident must still fire now, after the callee serves again. Kills again
and again within the hour are ``oom.killed_again``'s; kills that did not coincide with the
caller's first failure, or an untimed log, say nothing here.

Pure; registered in ``kubetriage.analyzers.ANALYZERS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import caller_fails_on
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.oom import KILLED_AGAIN_RESTARTS, KILLED_AGAIN_WITHIN
from kubetriage.analyzers.support import LogHit, grep_logs, item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    # One OOM kill of the callee ended as the caller's failing calls began, and the incident
    # still fires after the callee serves again: above the generic escalation at its Service,
    # below kills again and again (oom.CONFIDENCE.callee_killed_again).
    killed_at_onset: float = 0.86


CONFIDENCE: Final = _Confidence()

# How close the end of the callee's killed run and the caller's first failing call must be.
ONSET: Final = timedelta(minutes=2)


def _first_failure(evidence: Evidence) -> tuple[datetime, LogHit] | None:
    """When the caller's own logs first show a failing call (connection refused or reset, a
    timeout...), by the lines' timestamps, and that line."""
    timed = [
        (t, hit)
        for hit in grep_logs(evidence.logs, DEPENDENCY_LOG)
        if (t := line_time(hit.line, evidence.collected_at)) is not None
    ]
    return min(timed, key=lambda pair: pair[0]) if timed else None


def _killed_once(dependency: DependencyEvidence, evidence: Evidence) -> list[PodTrouble]:
    """The dependency's pods that serve again after one (or fewer than the killed-again count
    of) OOM kill(s), the last ending within the hour."""
    now = evidence.collected_at
    return [
        p
        for p in dependency.restarted_pods
        if p.last_terminated == "OOMKilled"
        and 0 < p.restarts < KILLED_AGAIN_RESTARTS
        and p.last_finished is not None
        and timedelta(0) <= now - p.last_finished <= KILLED_AGAIN_WITHIN
    ]


def check_callee_oom_at_onset(evidence: Evidence) -> list[Finding]:
    if not any(a.status in (None, "firing") for a in evidence.alerts):
        return []
    first = _first_failure(evidence)
    if first is None:
        return []
    onset, hit = first
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
            continue
        killed = [
            p
            for p in _killed_once(dependency, evidence)
            if p.last_finished is not None and abs(onset - p.last_finished) <= ONSET
        ]
        if not killed or not caller_fails_on(evidence, dependency):
            continue
        pod = killed[0]
        source = f"dependency {prose.obj(dependency.ref or workload)}"
        facts = [
            item(source, f"pod {prose.pod_restarts(pod)}"),
            item(hit.source, hit.line),
            item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}"),
        ]
        params = {"container": pod.container} if pod.container else {}
        return [
            make_finding(
                "callee-oom-killed-at-onset",
                Category.OOM_KILLED,
                CONFIDENCE.killed_at_onset,
                prose.narrative(
                    f"{prose.obj(workload)}, which the workload calls, was OOMKilled as the "
                    "workload's calls began to fail",
                    "raise its memory limit",
                    because=[
                        prose.claim(
                            f"Pod {pod.pod} of {prose.obj(workload)} ended a run OOMKilled "
                            "within minutes of the caller's first failing call",
                            facts[0],
                            facts[1],
                        ),
                        prose.claim(
                            "It serves again, yet the incident still fires: what it held in "
                            "memory was lost with the kill",
                            facts[2],
                        ),
                    ],
                ),
                facts,
                Action.INCREASE_MEMORY,
                workload,
                params,
            )
        ]
    return []


CALLEE_OOM_ONSET_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("callee-oom-killed-at-onset", (Category.OOM_KILLED,), check_callee_oom_at_onset),
)
