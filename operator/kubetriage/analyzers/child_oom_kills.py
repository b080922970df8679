"""Children killed inside a container that keeps running: a prefork supervisor (Celery,
gunicorn, PHP-FPM, nginx, Apache, PostgreSQL) whose children together fill the memory
cgroup. The kernel's OOM killer picks the largest process of the cgroup, usually a child,
not PID 1 (on cgroup v1 nodes, and on v2 where the kubelet does not kill the whole group), so
the container never ends: no OOMKilled state, no restart, only the supervisor's log line
that a child died of SIGKILL (``Process 'ForkPoolWorker-31' pid:58 exited with 'signal 9
(SIGKILL)'``, ``child 12 exited on signal 9 (SIGKILL)``) and the node's OOMKilling Event.
What the workload loses is the work each killed child held (a task, a request).

An SRE reads those lines next to the container's working set: pressing on its memory limit,
the kills are the cgroup's OOM killer and the fix is memory (or fewer children); with memory
well below the limit a SIGKILL came from elsewhere (gunicorn kills a worker past its timeout
and writes ``Perhaps out of memory?`` for any SIGKILL), and the rule stays silent. A memory
cgroup OOMKilling Event on the node the pod runs on corroborates.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.memory_use import (
    AT_LIMIT,
    memory_limit,
    peak_ratio,
    peak_working_set,
)
from kubetriage.analyzers.support import (
    event_fact,
    grep_logs,
    item,
    iter_containers,
    log_source,
    logs_of,
    suggest_memory,
    workload_ref,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a child-OOM finding is, by the evidence that earns it."""

    # The supervisor logs children ended by SIGKILL while the container's working set
    # presses on its memory limit and the container itself keeps running.
    children_killed: float = 0.8
    # ... and the node the pod runs on posted a memory cgroup OOMKilling Event.
    node_event_bonus: float = 0.05


CONFIDENCE: Final = _Confidence()

# A supervisor's line that one of its children ended by SIGKILL.
CHILD_SIGKILL_LOG: Final = re.compile(
    r"(?i)(?:(?:worker|child|process|forkpoolworker)\S*\W.{0,60}?"
    r"(?:exited|terminated|killed|was sent)\b.{0,40}?(?:signal\s*9\b|SIGKILL|signal Killed)"
    r"|exit signal Killed \(9\))"
)
# The kernel's memory cgroup OOM kill as node-problem-detector reports it on the Node.
_CGROUP_OOM: Final = re.compile(r"(?i)memory cgroup out of memory")
# Quoted lines per finding.
_QUOTES = 2


def check_child_oom_kills(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence, include_init=False):
        if container.name in seen or container.restart_count > 0:
            continue
        killed = grep_logs(logs_of(evidence, pod, container.name), CHILD_SIGKILL_LOG)
        limit = memory_limit(evidence, container)
        peak = peak_working_set(evidence, container.name)
        ratio = peak / limit if limit and peak else peak_ratio(evidence, container.name)
        if not killed or not limit or ratio is None or ratio < AT_LIMIT:
            continue
        target = workload_ref(evidence, pod)
        if target is None or target.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
            continue
        seen.add(container.name)
        peak = peak or ratio * limit
        quotes = [item(log_source(h.log), h.line) for h in killed[:_QUOTES]]
        peak_fact = item(
            "metrics",
            f"working set of {container.name} peaked at {prose.memory(peak)}, "
            f"{prose.percent(ratio)} of the {prose.memory(limit)} limit",
        )
        node_events = [
            e
            for e in evidence.events
            if e.involved.kind == "Node"
            and pod.node is not None
            and e.involved.name == pod.node
            and _CGROUP_OOM.search(e.message)
        ]
        confidence = CONFIDENCE.children_killed
        facts = [*quotes, peak_fact]
        because = [
            prose.claim(
                f"Container {container.name} logs children ended by SIGKILL while it keeps running",
                *quotes,
            ),
            prose.claim(
                f"Its working set peaked at {prose.percent(ratio)} of its memory limit",
                peak_fact,
            ),
        ]
        if node_events:
            confidence += CONFIDENCE.node_event_bonus
            node_fact = item("events", event_fact(node_events[0]))
            facts.append(node_fact)
            because.append(
                prose.claim("The kernel's memory cgroup OOM killer struck on its node", node_fact)
            )
        because.append(
            prose.claim(
                "The OOM killer picks the largest process in the cgroup, a child, so the "
                "container is never restarted"
            )
        )
        suggested = suggest_memory(limit, peak)
        params = {
            "container": container.name,
            "memory": suggested,
            "currentMemory": prose.memory(limit),
        }
        findings.append(
            make_finding(
                "child-oom-kills",
                Category.OOM_KILLED,
                confidence,
                prose.narrative(
                    f"The kernel OOM-kills processes inside {prose.obj(target)} at its "
                    f"{prose.memory(limit)} memory limit",
                    f"raise the limit to {suggested}",
                    aside=f"container {container.name}",
                    because=because,
                ),
                facts,
                Action.INCREASE_MEMORY,
                target,
                params,
            )
        )
    return findings


CHILD_OOM_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("child-oom-kills", (Category.OOM_KILLED,), check_child_oom_kills),
)
