"""The callee-liveness rule: a dependency the workload fails on whose replicas are restarted
one after another by their liveness probe timing out (the kubelet's "Liveness probe failed:
... timed out" / "context deadline exceeded" on two or more of its pods, each of which
restarted), with no rollout of its own and no OOM kill, is killed by a probe too tight for
the load it serves: under a peak the probe's answer takes longer than its timeout, the
kubelet restarts a busy server, its peers take its load (and, for a replicated database, hold
an election) and time out in turn. What the callers see (a server gone, a primary that
refuses writes) follows from the kills; an SRE loosens the probe's timing on the
dependency's workload rather than escalating its Service. One replica that stops answering
alone is wedged, not loaded: that is the probe doing its job, and the rule stays silent.

The same holds for a liveness probe that fails without timing out or being refused (its
command exits non-zero, its endpoint answers with an error status) on two or more replicas
that the kubelet then restarts: the servers run and answer, so the probe judges something
other than the process being alive (a cluster-wide health status that drops to yellow when
one member leaves, a downstream): it kills each healthy member in turn and turns one
member's absence into an outage. The fix is the probe, checking the local process only.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import RECENT_DEPENDENCY_ROLLOUT, caller_fails_on
from kubetriage.analyzers.support import item, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

# Replicas of a dependency restarted by liveness timeouts: above its refusals read alone
# (dependency-refusing, 0.9), which the kills explain.
CONFIDENCE: Final = 0.92
# Replicas restarted by a liveness probe their running server answers and fails: above the
# dependency being down (dependency-down, 0.8), which the kills explain; below the timeouts.
ANSWERED_CONFIDENCE: Final = 0.88

# The kubelet's Warning for a liveness probe that did not answer in time (exec, HTTP, gRPC).
_LIVENESS_TIMEOUT = re.compile(
    r"(?i)^Pod/(?P<pod>\S+) Unhealthy: Liveness probe failed:.*("
    r"timed out|context deadline exceeded|Client\.Timeout|deadline exceeded)"
)
# The kubelet's Warning for a liveness probe that failed otherwise: an exec command that
# exited non-zero (quietly or with its output) or an endpoint that answered with an error.
_LIVENESS_FAILED = re.compile(r"(?i)^Pod/(?P<pod>\S+) Unhealthy: Liveness probe failed\b")
# ... where the server was not there to answer: not listening, unreachable, gone mid-way.
_NOT_ANSWERED = re.compile(
    r"(?i)(connection refused|connect: |dial tcp|no route to host|reset by peer|\bEOF\b"
    r"|broken pipe|no such host)"
)
# Killed by the probe at least this many of its replicas: load, not one wedged process.
_KILLED_REPLICAS = 2


def _restarted(dependency: DependencyEvidence) -> set[str]:
    return {
        p.pod
        for p in dependency.failing_pods + dependency.restarted_pods
        if p.restarts > 0 and p.last_terminated != "OOMKilled"
    }


def _killed_by_liveness(dependency: DependencyEvidence) -> list[str]:
    """The dependency's pods that restarted, not OOM-killed, whose liveness probe timed out."""
    timed_out = [m["pod"] for w in dependency.warnings if (m := _LIVENESS_TIMEOUT.search(w))]
    return sorted(set(timed_out) & _restarted(dependency))


def _answered_liveness(warning: str) -> re.Match[str] | None:
    """The pod of a liveness failure its running server answered (neither a timeout nor a
    refused or broken connection)."""
    if _LIVENESS_TIMEOUT.search(warning) or _NOT_ANSWERED.search(warning):
        return None
    return _LIVENESS_FAILED.search(warning)


def _killed_while_answering(dependency: DependencyEvidence) -> list[str]:
    """The dependency's pods that restarted, not OOM-killed, whose liveness probe failed
    while their server answered it."""
    failed = [m["pod"] for w in dependency.warnings if (m := _answered_liveness(w))]
    return sorted(set(failed) & _restarted(dependency))


def check_callee_liveness(evidence: Evidence) -> list[Finding]:
    """Loosen the liveness probe that kills the dependency's replicas under load."""
    now = timestamp(evidence.collected_at)
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.FIX_PROBE]:
            continue
        timed_out = _killed_by_liveness(dependency)
        answered = [] if len(timed_out) >= _KILLED_REPLICAS else _killed_while_answering(dependency)
        killed = timed_out if len(timed_out) >= _KILLED_REPLICAS else answered
        if len(killed) < _KILLED_REPLICAS or not caller_fails_on(evidence, dependency):
            continue
        if any(
            c.at is not None and now - timestamp(c.at) <= RECENT_DEPENDENCY_ROLLOUT.total_seconds()
            for c in dependency.changes
        ):
            continue  # its own rollout may have made it slow or changed the probe
        source = f"dependency {prose.obj(dependency.ref or workload)}"
        warnings = [
            w
            for w in dependency.warnings
            if (_answered_liveness(w) if answered else _LIVENESS_TIMEOUT.search(w))
        ]
        troubles = {p.pod: p for p in dependency.failing_pods + dependency.restarted_pods}
        facts = [
            item(source, prose.clip(warnings[0], 240)),
            item(
                source,
                "restarted: "
                + ", ".join(f"{pod} ({troubles[pod].restarts} restarts)" for pod in killed[:3]),
            ),
            item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}"),
        ]
        replicas = prose.count(len(killed), "replica")
        if answered:
            problem = f"{prose.obj(workload)}'s liveness probe kills replicas that answer it"
            fix = "make its liveness probe check the local process only"
            failing = f"Its liveness probe fails on {replicas} without timing out or being refused"
        else:
            problem = f"{prose.obj(workload)}'s liveness probe kills its replicas under load"
            fix = "loosen its liveness probe's timeout and failure threshold"
            failing = f"Its liveness probe times out on {replicas}"
        text = prose.narrative(
            problem,
            fix,
            because=[
                prose.claim(failing, facts[0]),
                prose.claim(
                    "Each was restarted by the kubelet, not by a crash or the OOM killer, "
                    "and it did not roll out",
                    facts[1],
                ),
                prose.claim(
                    "The workload's calls fail on it: a server killed in turn drops its callers",
                    facts[2],
                ),
            ],
        )
        return [
            make_finding(
                "callee-liveness",
                Category.PROBE_FAILURE,
                ANSWERED_CONFIDENCE if answered else CONFIDENCE,
                text,
                facts,
                Action.FIX_PROBE,
                workload,
                {},
            )
        ]
    return []


CALLEE_LIVENESS_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("callee-liveness", (Category.PROBE_FAILURE,), check_callee_liveness),
)
