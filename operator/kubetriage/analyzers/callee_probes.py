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

# The kubelet's Warning for a liveness probe that did not answer in time (exec, HTTP, gRPC).
_LIVENESS_TIMEOUT = re.compile(
    r"(?i)^Pod/(?P<pod>\S+) Unhealthy: Liveness probe failed:.*("
    r"timed out|context deadline exceeded|Client\.Timeout|deadline exceeded)"
)
# Killed by the probe at least this many of its replicas: load, not one wedged process.
_KILLED_REPLICAS = 2


def _killed_by_liveness(dependency: DependencyEvidence) -> list[str]:
    """The dependency's pods that restarted, not OOM-killed, whose liveness probe timed out."""
    restarted = {
        p.pod
        for p in dependency.failing_pods + dependency.restarted_pods
        if p.restarts > 0 and p.last_terminated != "OOMKilled"
    }
    timed_out = [m["pod"] for w in dependency.warnings if (m := _LIVENESS_TIMEOUT.search(w))]
    return sorted(set(timed_out) & restarted)


def check_callee_liveness(evidence: Evidence) -> list[Finding]:
    """Loosen the liveness probe that kills the dependency's replicas under load."""
    now = timestamp(evidence.collected_at)
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.FIX_PROBE]:
            continue
        killed = _killed_by_liveness(dependency)
        if len(killed) < _KILLED_REPLICAS or not caller_fails_on(evidence, dependency):
            continue
        if any(
            c.at is not None and now - timestamp(c.at) <= RECENT_DEPENDENCY_ROLLOUT.total_seconds()
            for c in dependency.changes
        ):
            continue  # its own rollout may have made it slow or changed the probe
        source = f"dependency {prose.obj(dependency.ref or workload)}"
        warnings = [w for w in dependency.warnings if _LIVENESS_TIMEOUT.search(w)]
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
        text = prose.narrative(
            f"{prose.obj(workload)}'s liveness probe kills its replicas under load",
            "loosen its liveness probe's timeout and failure threshold",
            because=[
                prose.claim(
                    f"Its liveness probe times out on {prose.count(len(killed), 'replica')}",
                    facts[0],
                ),
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
                CONFIDENCE,
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
