"""The crash-loop rule: a container that keeps exiting with an error, with the crash's own
log lines; lowered when a more specific cause shows (a configuration complaint, a failing
dependency, a liveness kill, only the new revision crashing). What helps: roll back when the
crash began with a new revision, restart a process that ran long before failing, else
escalate to the workload's owner.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.carried_configs import only_carried_config, only_restarted
from kubetriage.analyzers.container_texts import crash_text
from kubetriage.analyzers.log_signatures import (
    CONFIG_LOG,
    CRASH_LOG,
    DEPENDENCY_LOG,
    FAILURE_WORDS,
)
from kubetriage.analyzers.pods import last_exit_ago, liveness_killed
from kubetriage.analyzers.recency import is_recent, revision_age
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import (
    failed_run_pods,
    grep_logs,
    item,
    iter_containers,
    logs_of,
    pod_source,
    states,
    timestamp,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerState, PodEvidence, RevisionEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a crash-loop finding is, by the evidence that earns it; the caps leave the
    specific cause's own finding above it."""

    back_off: float = 0.75  # the container waits in CrashLoopBackOff
    exits: float = 0.65  # it exited with an error twice or more (or its Job's pod failed)
    killed_penalty: float = 0.2  # exit code 137 or 143: killed from outside (OOM, liveness)
    crash_log_bonus: float = 0.05  # its logs carry a crash (panic, traceback, segfault...)
    config_cap: float = 0.45  # its logs say configuration is missing: config-missing's case
    dependency_cap: float = 0.6  # its logs show a failing call: dependency-failure's case
    liveness_cap: float = 0.45  # the kubelet killed it for a failed liveness probe
    new_revision_cap: float = 0.7  # only the new revision crashes: bad-rollout's case


CONFIDENCE: Final = _Confidence()

# A process that ran this long before exiting was not failing at start: it degrades (leak,
# stuck worker pool, exhausted handles) and a fresh process is a real, if temporary, fix.
LONG_RUN_SECONDS = 30 * 60


def _crash_started_with_revision(evidence: Evidence, pod: PodEvidence) -> bool:
    """Whether an older revision exists that the crash plausibly started after: it still
    serves, or the current revision is recent (or of unknown age)."""
    current, previous = current_and_previous_revision(evidence)
    if current is None or previous is None:
        return False
    if _older_revision_serving(evidence, pod) or previous.ready_replicas > 0:
        return True
    if _previous_revision_crashes(evidence, previous):
        return False  # the old revision crashes too: the crash did not come with the new one
    age = revision_age(evidence, current)
    return age is None or is_recent(age)


def _previous_revision_crashes(evidence: Evidence, previous: RevisionEvidence) -> bool:
    """Pods of the previous revision are in the evidence and every one of them crash-loops
    too: that revision was not healthy, so rolling back to it restores nothing."""
    old_pods = [p for p in evidence.pods if pod_revision(p, evidence) == previous]
    return bool(old_pods) and all(
        any(
            not c.ready
            and (
                c.state.reason == "CrashLoopBackOff"
                or any(s.state == "terminated" and s.exit_code not in (None, 0) for s in states(c))
            )
            for c in p.containers
            if not c.init
        )
        for p in old_pods
    )


# Termination reasons of a process that never ran: the runtime could not start it (the
# command is not in the image, not executable, a mount failed), so its times say nothing about
# how long it ran (the kubelet reports the zero time, 1970-01-01, as its start).
NEVER_STARTED = frozenset({"StartError", "ContainerCannotRun"})


def _ran_long_before_exit(exits: list[ContainerState]) -> bool:
    for state in exits:
        if state.reason in NEVER_STARTED:
            continue
        if state.started_at is not None and state.finished_at is not None:
            ran = timestamp(state.finished_at) - timestamp(state.started_at)
            if ran >= LONG_RUN_SECONDS:
                return True
    return False


def _crash_action(
    evidence: Evidence, target: ObjectRef, pod: PodEvidence, exits: list[ContainerState]
) -> tuple[Action, dict[str, str]]:
    """What helps a crash loop. The kubelet already restarts the container, so a deterministic
    crash (panic, bad flag, segfault at start) is not fixed by another restart: the code or
    its arguments must change, which is the workload owner's job (escalate). Roll back only
    when an older revision exists, the crash began with the new one and the older one did not
    crash as well, and the new revision changed more than the hash of an edited ConfigMap or
    Secret (rolling back would mount the same edited object) and was more than a bare restart
    (rolling back would recreate the same pods); restart only a
    process that ran for a long time before failing."""
    current, previous = current_and_previous_revision(evidence)
    if (
        previous is not None
        and current is not None
        and target.kind in ACTION_TARGET_KINDS[Action.ROLLBACK]
        and _crash_started_with_revision(evidence, pod)
        and not only_carried_config(evidence, current.revision)
        and not only_restarted(evidence, current.revision)
    ):
        return Action.ROLLBACK, {"revision": str(previous.revision)}
    if _ran_long_before_exit(exits) and target.kind in ACTION_TARGET_KINDS[Action.RESTART]:
        return Action.RESTART, {}
    return Action.ESCALATE, {}


def _older_revision_serving(evidence: Evidence, pod: PodEvidence) -> bool:
    current, _ = current_and_previous_revision(evidence)
    if current is None or pod_revision(pod, evidence) != current:
        return False
    for other in evidence.pods:
        rev = pod_revision(other, evidence)
        if (
            rev is not None
            and rev.revision < current.revision
            and all(c.ready for c in other.containers if not c.init)
        ):
            return True
    return False


def check_crash_loop(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for pod, container in iter_containers(evidence):
        waiting_crash = container.state.state == "waiting" and container.state.reason == (
            "CrashLoopBackOff"
        )
        exits = [
            s for s in states(container) if s.state == "terminated" and s.exit_code not in (None, 0)
        ]
        failed_job = bool(exits) and pod.owner is not None and pod.owner.kind == "Job"
        if not waiting_crash and not (exits and container.restart_count >= 2) and not failed_job:
            continue
        if any((s.reason or "").lower() == "oomkilled" for s in states(container)):
            continue  # oom-killed explains this restart
        target = workload_ref(evidence, pod)
        if target is None or (target.key(), container.name) in seen:
            continue
        seen.add((target.key(), container.name))

        exit_code = exits[0].exit_code if exits else None
        state_fact = item(
            pod_source(pod),
            f"container {container.name}: {container.state.reason or container.state.state}"
            + (f", last exit code {exit_code}" if exit_code is not None else "")
            + (f" ({exits[0].reason})" if exits and exits[0].reason else "")
            + f", {prose.count(container.restart_count, 'restart')}",
        )
        facts = [state_fact]
        confidence = CONFIDENCE.back_off if waiting_crash else CONFIDENCE.exits
        if exit_code in (137, 143):
            confidence -= CONFIDENCE.killed_penalty
        logs = logs_of(evidence, pod, container.name)
        config_hits = grep_logs(logs, CONFIG_LOG, limit=2)
        dependency_hits = [
            h for h in grep_logs(logs, DEPENDENCY_LOG, limit=5) if FAILURE_WORDS.search(h.line)
        ]
        # A line that reports a refused connection or a missing setting is not the crash's
        # own signature, even when it starts with "Error:".
        crash_hits = [
            h
            for h in grep_logs(logs, CRASH_LOG, limit=6)
            if not DEPENDENCY_LOG.search(h.line) and not CONFIG_LOG.search(h.line)
        ][:3]
        facts.extend(item(h.source, h.line) for h in crash_hits)
        if crash_hits:
            confidence += CONFIDENCE.crash_log_bonus
        if exits and exits[0].message:
            facts.append(item(pod_source(pod), f"termination message: {exits[0].message}"))
        # A more specific cause in the logs outranks the generic crash loop.
        if config_hits:
            confidence = min(confidence, CONFIDENCE.config_cap)
            facts.append(item(config_hits[0].source, config_hits[0].line))
        elif dependency_hits:
            # Crashing because a dependency refuses: dependency-failure, when it can name the
            # Service, outranks this; otherwise the crash loop stays the best explanation.
            confidence = min(confidence, CONFIDENCE.dependency_cap)
            facts.append(item(dependency_hits[0].source, dependency_hits[0].line))
        if liveness_killed(evidence, pod, container.name):
            confidence = min(confidence, CONFIDENCE.liveness_cap)
        if _older_revision_serving(evidence, pod):
            confidence = min(confidence, CONFIDENCE.new_revision_cap)
        action, params = _crash_action(evidence, target, pod, exits)
        params = {"container": container.name, **params}
        if exit_code is not None:
            params["exitCode"] = str(exit_code)
        findings.append(
            make_finding(
                "crash-loop",
                Category.CRASH_LOOP,
                confidence,
                crash_text(
                    target,
                    container,
                    last_exit_ago(evidence, container),
                    exit_code,
                    [h.line for h in crash_hits],
                    action,
                    params,
                    state_fact,
                    [item(h.source, h.line) for h in crash_hits],
                    never_started=bool(exits) and exits[0].reason in NEVER_STARTED,
                    failed_pods=failed_run_pods(evidence, pod),
                ),
                facts,
                action,
                target,
                params,
            )
        )
    return findings


CRASH_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("crash-loop", (Category.CRASH_LOOP,), check_crash_loop),
)
