"""The oom-killed rule: a container killed for using more memory than its limit (OOMKilled, a
SIGKILL with no liveness kill to explain it (without a memory limit, on a node short of
memory), an out-of-memory log line or metric, a kernel OOM event), sized against the
working set's peak; without a kill, a working set pressing on the limit. A last state
that ended hours ago on a container that has served ready since, its working set clear of
the limit (``pods.exit_is_history``, ``memory_use.presses_limit``), is history: it earns
nothing. Kept below a change that explains the symptom (``changes.cap_explained``), and
below a caller's rollout right before the kills of pods that had long run under the same
limit (``callers.caller_drove_memory``: the caller's new traffic fills the memory).
A dependency the caller fails on whose own pods are OOM-killed is the same fault one hop
away (callee-oom-killed): its memory limit, not an escalation at its Service. So is the
ingress controller in front of the workload (ingress-controller-oom-killed): every request
through the Ingress passes its pods.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence. Confidences are
calibrated so that the specific explanation of a restart (OOMKilled, a missing ConfigMap, a
liveness kill) outranks the generic "it crash-loops".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.callers import caller_drove_memory
from kubetriage.analyzers.changes import EXPLAINED_CAP, cap_explained
from kubetriage.analyzers.container_texts import oom_text
from kubetriage.analyzers.dependencies import RECENT_DEPENDENCY_ROLLOUT, caller_fails_on
from kubetriage.analyzers.front_proxies import check_ingress_controller_oom
from kubetriage.analyzers.log_signatures import OOM_LOG
from kubetriage.analyzers.memory_use import (
    AT_LIMIT,
    memory_limit,
    peak_ratio,
    peak_working_set,
    presses_limit,
)
from kubetriage.analyzers.nodes import nodes_short_of_memory
from kubetriage.analyzers.pods import (
    admitted_memory_limit,
    exit_is_history,
    last_exit_ago,
    liveness_killed,
    metric_for,
    pod_events,
)
from kubetriage.analyzers.scrape_growth import grown_scrape_job
from kubetriage.analyzers.support import (
    event_fact,
    failed_run_pods,
    grep_logs,
    item,
    iter_containers,
    logs_of,
    metrics_named,
    pod_source,
    states,
    suggest_memory,
    timestamp,
    workload_ref,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ContainerEvidence, PodEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an oom-killed finding is, by the evidence that earns it."""

    oom_killed: float = 0.95  # the container terminated with reason OOMKilled
    # exit code 137 (SIGKILL) with no liveness kill to explain it (with no memory limit, only
    # when a node under the container shows memory trouble or was not read)
    sigkill: float = 0.65
    oom_log: float = 0.7  # the process logs an out-of-memory error
    oom_metric: float = 0.85  # kube-state-metrics says it last terminated OOMKilled
    oom_event: float = 0.85  # an OOMKilling Event, or the kernel's "memory cgroup out of memory"
    at_limit_bonus: float = 0.03  # the working set peaked at AT_LIMIT of the limit or more
    at_limit_floor: float = 0.85  # ... which lifts a kill at least as sure as a SIGKILL to this
    sure_without_limit: float = 0.9  # a kill this sure (OOMKilled) needs no known limit
    no_limit_penalty: float = 0.1  # less sure kills, with no limit known: maybe not the cgroup
    cap: float = 0.97  # the most a kill claims
    near_limit: float = 0.5  # no kill seen, the working set at NEAR_LIMIT of the limit or more
    # A dependency the workload's calls fail against has pods whose last run ended OOMKilled
    # and fewer ready replicas than desired: its memory limit is the cause of the caller's
    # failures (above the "dependency is down" escalation, which names no cause).
    callee: float = 0.88
    callee_changed: float = 0.7  # ... but it rolled out recently: that may be the cause
    # A dependency the caller fails on whose pods serve again between kills but were
    # OOM-killed again and again within the last hour: the kills, fresher and more specific
    # than any change of the caller's whose own pods are healthy, are what drops its calls
    # (above a caller's rollout that preceded them, 0.88).
    callee_killed_again: float = 0.9


CONFIDENCE: Final = _Confidence()
# The share of the memory limit the working set peaked at that is close enough to be the
# next kill, without one (``memory_use.AT_LIMIT``: pressing on it, with a kill).
NEAR_LIMIT = 0.9
# A kill with the working set's peak below this share of the limit, on a node that ran out of
# memory itself (``nodes_short_of_memory``), is the node's OOM killer: the kernel picks a
# victim across the node when the node is out of memory, whatever the container's limit, so
# raising that limit changes nothing (node-failure's case).
FAR_BELOW_LIMIT = 0.6
# A dependency's pod killed this many times, the last within this window, is killed again
# and again rather than once long ago.
KILLED_AGAIN_RESTARTS = 2
KILLED_AGAIN_WITHIN = timedelta(hours=1)


def _nodes_memory_calm(evidence: Evidence, pods: list[PodEvidence]) -> bool:
    """Whether every node under ``pods`` was read and shows no sign of running out of memory
    (``nodes_short_of_memory``): with no memory limit on the container, only the node's own
    OOM killer could have killed it for memory, and it leaves those signs."""
    nodes = {n.name for n in evidence.nodes}
    names = {p.node for p in pods}
    if not names or any(n is None or n not in nodes for n in names):
        return False
    return not nodes_short_of_memory(evidence, pods)


# --- oom-killed ---------------------------------------------------------------------------


def check_oom(evidence: Evidence) -> list[Finding]:
    findings = cap_explained(evidence, _check_oom(evidence))
    if not findings or (
        caller_drove_memory(evidence) is None and grown_scrape_job(evidence) is None
    ):
        return findings
    return [f.model_copy(update={"confidence": min(f.confidence, EXPLAINED_CAP)}) for f in findings]


def _check_oom(evidence: Evidence) -> list[Finding]:
    by_container: dict[str, list[tuple[float, EvidenceItem]]] = defaultdict(list)
    sample: dict[str, tuple[PodEvidence, ContainerEvidence]] = {}
    restarts: dict[str, int] = defaultdict(int)
    for pod, container in iter_containers(evidence):
        if pod.reason == "Evicted":
            continue  # node pressure, not the container's own limit: node-failure's case
        signals = by_container[container.name]
        killed_by_probe = bool(liveness_killed(evidence, pod, container.name))
        # A kill hours ago, served ready since, with memory now clear of the limit: history.
        past = exit_is_history(evidence, container) and not presses_limit(evidence, container)
        for state in states(container):
            if state.state != "terminated" or (past and state is container.last_state):
                continue
            if (state.reason or "").lower() == "oomkilled":
                signals.append(
                    (
                        CONFIDENCE.oom_killed,
                        item(
                            pod_source(pod),
                            f"container {container.name} terminated: OOMKilled, exit code "
                            f"{state.exit_code}, "
                            f"{prose.count(container.restart_count, 'restart')}",
                        ),
                    )
                )
            elif state.exit_code == 137 and not killed_by_probe:
                signals.append(
                    (
                        CONFIDENCE.sigkill,
                        item(
                            pod_source(pod),
                            f"container {container.name} killed by SIGKILL (exit code 137), "
                            f"{prose.count(container.restart_count, 'restart')}",
                        ),
                    )
                )
        for hit in grep_logs(logs_of(evidence, pod, container.name), OOM_LOG, limit=2):
            signals.append((CONFIDENCE.oom_log, item(hit.source, hit.line)))
        for metric in metrics_named(evidence, "kube_pod_container_status_last_terminated_reason"):
            oom_metric = "OOMKilled" in metric.query or metric.labels.get("reason") == "OOMKilled"
            if oom_metric and metric_for(metric, container.name) and (metric.max or 0) >= 1:
                fact = item("metrics", f"{container.name} last terminated reason OOMKilled")
                signals.append((CONFIDENCE.oom_metric, fact))
        if signals and container.name not in sample:
            sample[container.name] = (pod, container)
        restarts[container.name] = max(restarts[container.name], container.restart_count)
        for event in pod_events(evidence, pod):
            if event.reason == "OOMKilling" or "memory cgroup out of memory" in (
                event.message.lower()
            ):
                signals.append((CONFIDENCE.oom_event, item("events", event_fact(event))))
                sample.setdefault(container.name, (pod, container))

    findings: list[Finding] = []
    for name, signals in by_container.items():
        if name not in sample:
            continue
        pod, container = sample[name]
        limit = memory_limit(evidence, container)
        peak = peak_working_set(evidence, name)
        ratio_peak = peak_ratio(evidence, name)
        if peak is None and limit and ratio_peak:
            peak = ratio_peak * limit
        confidence = max(score for score, _ in signals)
        facts = [fact for _, fact in signals]
        kills = [fact for score, fact in signals if score == confidence] or facts[:1]
        peak_fact: EvidenceItem | None = None
        if limit and peak:
            ratio = peak / limit
            peak_fact = item(
                "metrics",
                f"container_memory_working_set_bytes peaked at {prose.memory(peak)}, "
                f"{prose.percent(ratio)} of the {prose.memory(limit)} limit",
            )
            facts.append(peak_fact)
            if ratio < FAR_BELOW_LIMIT and nodes_short_of_memory(
                evidence, [p for p, c in iter_containers(evidence) if c.name == name]
            ):
                continue
            if ratio >= AT_LIMIT:
                floor = (
                    CONFIDENCE.at_limit_floor if confidence >= CONFIDENCE.sigkill else confidence
                )
                confidence = max(confidence + CONFIDENCE.at_limit_bonus, floor)
        if limit is None and confidence < CONFIDENCE.sure_without_limit:
            if all(score == CONFIDENCE.sigkill for score, _ in signals) and _nodes_memory_calm(
                evidence, [p for p, c in iter_containers(evidence) if c.name == name]
            ):
                # Only a SIGKILL, no limit for a cgroup to enforce, and nodes that were not
                # short of memory: something else killed it (a person, a chaos tool, a
                # runtime), not the kernel's OOM killer.
                continue
            confidence -= CONFIDENCE.no_limit_penalty
        admitted = admitted_memory_limit(evidence)
        if admitted is not None:
            facts.append(admitted)  # why a rollback would not help: admission set the limit
        target = workload_ref(evidence, pod)
        if target is None or target.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
            continue
        params = {"container": name}
        if limit:
            params["memory"] = suggest_memory(limit, peak)
            params["currentMemory"] = prose.memory(limit)
        findings.append(
            make_finding(
                "oom-killed",
                Category.OOM_KILLED,
                min(confidence, CONFIDENCE.cap),
                oom_text(
                    target,
                    name,
                    (restarts[name], last_exit_ago(evidence, container)),
                    (limit, peak),
                    params,
                    kills,
                    peak_fact,
                    failed_pods=failed_run_pods(evidence, pod),
                ),
                facts,
                Action.INCREASE_MEMORY,
                target,
                params,
            )
        )

    # A working set pressing on the limit, before any kill, is a weaker but real signal.
    if not findings:
        findings.extend(_memory_near_limit(evidence))
    return findings


def _memory_near_limit(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence, include_init=False):
        if container.name in seen:
            continue
        limit = memory_limit(evidence, container)
        peak = peak_working_set(evidence, container.name)
        ratio_peak = peak_ratio(evidence, container.name)
        if peak is None and limit and ratio_peak:
            peak = ratio_peak * limit
        if not limit or not peak or peak / limit < NEAR_LIMIT:
            continue
        target = workload_ref(evidence, pod)
        if target is None or target.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
            continue
        seen.add(container.name)
        suggested = suggest_memory(limit, peak)
        fact = item(
            "metrics",
            f"working set of {container.name} peaked at {prose.memory(peak)}, "
            f"{prose.percent(peak / limit)} of the {prose.memory(limit)} limit",
        )
        findings.append(
            make_finding(
                "oom-killed",
                Category.OOM_KILLED,
                CONFIDENCE.near_limit,
                prose.narrative(
                    f"{prose.obj(target)} uses {prose.percent(peak / limit)} of its "
                    f"{prose.memory(limit)} memory limit",
                    f"raise the limit to {suggested}",
                    aside=f"container {container.name}",
                    because=[
                        prose.claim(
                            f"The working set of container {container.name} peaked at "
                            f"{prose.memory(peak)}",
                            fact,
                        ),
                        prose.claim(
                            "No OOM kill was seen yet, but the next spike in usage will be one"
                        ),
                    ],
                ),
                [fact],
                Action.INCREASE_MEMORY,
                target,
                {"container": container.name, "memory": suggested},
            )
        )
    return findings


def killed_again(dependency: DependencyEvidence, now: float) -> list[PodTrouble]:
    """The dependency's pods that serve again but were OOMKilled ``KILLED_AGAIN_RESTARTS``
    times or more, the last run ending within ``KILLED_AGAIN_WITHIN`` of ``now``."""
    return [
        p
        for p in dependency.restarted_pods
        if p.last_terminated == "OOMKilled"
        and p.restarts >= KILLED_AGAIN_RESTARTS
        and p.last_finished is not None
        and 0 <= now - timestamp(p.last_finished) <= KILLED_AGAIN_WITHIN.total_seconds()
    ]


def check_callee_oom(evidence: Evidence) -> list[Finding]:
    """A dependency the workload calls cannot serve fully (fewer ready replicas than desired)
    because its own containers are OOMKilled: raise that workload's memory, rather than
    escalate at its Service. Requires the caller to fail on it (``caller_fails_on``), as the
    dependency-down rule does."""
    findings: list[Finding] = []
    now = timestamp(evidence.collected_at)
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
            continue
        killed = [p for p in dependency.failing_pods if p.last_terminated == "OOMKilled"]
        again = killed_again(dependency, now)
        if not (killed and dependency.short_of_ready()) and not again:
            continue
        if not caller_fails_on(evidence, dependency):
            continue
        recent = [
            c
            for c in dependency.changes
            if c.at is not None
            and now - timestamp(c.at) <= RECENT_DEPENDENCY_ROLLOUT.total_seconds()
        ]
        source = f"dependency {prose.obj(dependency.ref or workload)}"
        volumes = dependency.serves_volumes()
        facts = [item(source, f"pod {prose.pod_trouble(p)}") for p in killed[:3]]
        facts += [item(source, f"pod {prose.pod_restarts(p)}") for p in again[:3]]
        facts.append(
            item(
                source,
                f"{dependency.ready_replicas} of {dependency.desired_replicas} replicas ready",
            )
        )
        facts.append(item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}"))
        container = (killed or again)[0].container
        params = {"container": container} if container else {}
        if recent:
            confidence = CONFIDENCE.callee_changed
        elif killed and dependency.short_of_ready():
            confidence = CONFIDENCE.callee
        else:
            confidence = CONFIDENCE.callee_killed_again
        findings.append(
            make_finding(
                "callee-oom-killed",
                Category.OOM_KILLED,
                confidence,
                prose.narrative(
                    f"{prose.obj(workload)}, which "
                    + ("serves the workload's volumes" if volumes else "the workload calls")
                    + ", is OOMKilled",
                    "raise its memory limit",
                    aside=prose.count(len(killed) + len(again), "pod") + " killed",
                    because=[
                        prose.claim(
                            f"Pods of {prose.obj(workload)} end their runs OOMKilled and not "
                            "all its replicas are ready"
                            if killed
                            else f"Pods of {prose.obj(workload)} were OOMKilled again and "
                            "again within the hour",
                            *facts[:-1],
                        ),
                        prose.claim(
                            "The workload's pods wait on it for their volumes"
                            if volumes
                            else "The workload's calls to it fail",
                            facts[-1],
                        ),
                    ],
                ),
                facts,
                Action.INCREASE_MEMORY,
                workload,
                params,
            )
        )
    return findings


OOM_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("oom-killed", (Category.OOM_KILLED,), check_oom),
    Analyzer("callee-oom-killed", (Category.OOM_KILLED,), check_callee_oom),
    Analyzer("ingress-controller-oom-killed", (Category.OOM_KILLED,), check_ingress_controller_oom),
)
