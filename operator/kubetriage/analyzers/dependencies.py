"""Dependency analyzers over the Services (and workloads) the incident's workload calls,
followed across namespaces (``Evidence.dependencies``):

- the callee changed: a rollout of the dependency shortly before the caller's errors began,
  with the caller itself unchanged, is the dependency's bad rollout (roll the dependency
  back, not the caller); but a rollout that only carried an edited ConfigMap or Secret into
  its pods (a Reloader hash or config checksum naming it, ``carried_configs``) changed
  nothing but that object, and rolling the template back would mount the same edit again:
  the edit is corrected (``config-missing``, fix-config on that object);
- the callee is down: its pods fail or no endpoint is ready, so the caller's failures are a
  dependency failure, handed to the dependency's owner. The caller fails on it when its logs
  name it or show failing calls, or when its pods cannot start for it: an init container
  that names it (a wait-for loop, a migration) has not completed, so the app never starts
  and logs nothing (``init_waits_on``).

The callee's configuration edited in place is ``kubetriage.analyzers.dependency_edits``.
Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.callee_config import carried_edit
from kubetriage.analyzers.carried_configs import carried_configs
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG, POOLER_ERROR, service_for_host
from kubetriage.analyzers.onset import (
    ONSET_AFTER_CHANGE,
    ONSET_TOLERANCE,
    alert_onset,
    attributable,
    follows_within,
    symptom_times,
)
from kubetriage.analyzers.support import (
    grep_logs,
    incident_subject,
    item,
    logs_of,
    object_source,
    pod_source,
    timestamp,
)
from kubetriage.analyzers.token_issuers import token_issuer
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence, ContainerEvidence, PodEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a dependency-change or dependency-down finding is, by the evidence that earns
    it (always with the dependency named by the caller's failing calls)."""

    changed_and_failing: float = 0.82  # it rolled out right before the errors; it fails too
    changed: float = 0.78  # it rolled out right before the caller's errors began
    no_endpoint: float = 0.86  # it is down: no ready endpoint
    failing_pods: float = 0.8  # its pods fail
    # ... but it is down since its own rollout, which the caller's errors followed: rolling
    # it back (the dependency-change finding) is the fix, escalating only an alternative.
    down_since_rollout: float = 0.76


CONFIDENCE: Final = _Confidence()

# A dependency rollout older than this is the steady state, not "what changed".
RECENT_DEPENDENCY_ROLLOUT = timedelta(hours=6)


def named_in_logs(dependency: DependencyEvidence) -> bool:
    return any(source.kind == "log" for source in dependency.named_by)


def _named_by_own_pod_warning(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether a Warning event of one of the incident's own pods names the dependency: the
    kubelet failed on it for that pod, as when a mount waits on the node's CSI plugin."""
    own = {p.name for p in evidence.pods}
    return any(
        source.kind == "event" and source.owner_kind == "Pod" and source.owner in own
        for source in dependency.named_by
    )


def _unserved(pod: PodEvidence) -> bool:
    """A pod that does not serve: Pending, not ready, or its containers restarted."""
    ready = next((c.status for c in pod.conditions if c.type == "Ready"), None)
    return (
        pod.phase == "Pending"
        or ready == "False"
        or any(c.restart_count > 0 for c in pod.containers)
    )


def caller_fails_on(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the caller's own failures point at ``dependency``: its logs name it, a
    Warning event of its own pods does, its logs show failing calls at all (then the
    dependency its config names is the one called), its pods cannot start for it
    (``init_waits_on``), or it serves or provisions their volumes (``serves_volumes``) while
    they do not serve: they block on the mount with every file access, or cannot start
    without the volume, logged or not."""
    return (
        named_in_logs(dependency)
        or _named_by_own_pod_warning(evidence, dependency)
        or bool(grep_logs(evidence.logs, DEPENDENCY_LOG, limit=1))
        or bool(init_waits_on(evidence, dependency))
        or (dependency.serves_volumes() and any(_unserved(p) for p in evidence.pods))
    )


# A word of a command line, env value or log line that may be a host name.
_HOST_WORD = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")


def held_in_init(pod: PodEvidence) -> bool:
    """Whether the pod's app containers have not started because its init containers have
    not all completed (condition Initialized False, or an app container PodInitializing)."""
    return any(c.type == "Initialized" and c.status == "False" for c in pod.conditions) or any(
        not c.init and c.state.state == "waiting" and c.state.reason == "PodInitializing"
        for c in pod.containers
    )


def _unfinished(container: ContainerEvidence) -> bool:
    """An init container that ran and has not completed: still running (a wait loop, a
    sidecar that never starts) or restarting after failed runs. One never started (its image
    does not pull, its config is missing) holds the pod for a reason of its own."""
    if not container.init or container.state.state == "terminated":
        return False
    return container.state.state == "running" or container.restart_count > 0


def init_waits_on(evidence: Evidence, dependency: DependencyEvidence) -> list[EvidenceItem]:
    """Facts showing the caller's pods held before their app starts by an init container
    that names ``dependency`` (in its command, args, env or own log lines) and has not
    completed: the pod waits for the dependency, and its app never runs to log a failing
    call. Empty when no pod is held so."""
    service = dependency.service
    if service is None:
        return []

    def names(text: str) -> bool:
        words = _HOST_WORD.findall(text.lower())
        return any(service_for_host(w, [service]) is not None for w in words)

    found: list[EvidenceItem] = []
    for pod in evidence.pods:
        if not held_in_init(pod):
            continue
        for c in pod.containers:
            if not _unfinished(c):
                continue
            said = [line for t in logs_of(evidence, pod, c.name) for line in t.lines if names(line)]
            if said or any(names(t) for t in [*c.args, *c.env.values()]):
                state = c.state.reason or c.state.state
                fact = f"init container {c.name} {state}, restarts {c.restart_count}"
                found.append(item(pod_source(pod), fact + (f": {said[-1]}" if said else "")))
                break
    return found


def own_rollout_after(evidence: Evidence, at: float) -> bool:
    """Whether the caller itself rolled out after ``at`` (then it is the suspect)."""
    return any(
        c.kind in ("rollout", "image-digest")
        and c.at is not None
        and timestamp(c.at) >= at - ONSET_TOLERANCE.total_seconds()
        and evidence.workload is not None
        and c.object.same_object(evidence.workload.ref)
        for c in evidence.changes
    )


def onset_follows(evidence: Evidence, change: ChangeEvidence) -> EvidenceItem | None:
    """The caller's first symptom when it began within the window after ``change``."""
    if change.at is None:
        return None
    at = timestamp(change.at)
    if timestamp(evidence.collected_at) - at > RECENT_DEPENDENCY_ROLLOUT.total_seconds():
        return None
    for when, fact in sorted(symptom_times(evidence), key=lambda s: timestamp(s[0])):
        delay = timestamp(when) - at
        if attributable(delay):
            return fact
        if delay > ONSET_AFTER_CHANGE.total_seconds():
            return None
    # No dated symptom: the alert itself is the onset.
    fired = alert_onset(evidence)
    if fired is not None and follows_within(change.at, fired[0]) is not None:
        return fired[1]
    return None


def _named_by_caller(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the caller itself names the dependency (not one of its callees' own log
    tails: a dependency found one hop further)."""
    if not dependency.named_by:
        return True
    first = dependency.named_by[0]
    return first.kind != "log" or any(
        first.is_log_of(t.namespace, t.pod, t.container) for t in evidence.logs
    )


def configured_by_caller(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the caller's own configuration (env, args, ConfigMaps) names the dependency,
    not a log line of its own or of a callee."""
    return (
        bool(dependency.named_by)
        and not any(s.kind == "log" for s in dependency.named_by)
        and _named_by_caller(evidence, dependency)
    )


def configured_in_env(dependency: DependencyEvidence) -> bool:
    """Whether the caller's own env names the dependency (not a log line, not a callee's)."""
    return any(source.kind == "env" for source in dependency.named_by)


def rolled_out_since(dependency: DependencyEvidence, change: ChangeEvidence) -> bool:
    """Whether the dependency rolled out at or after ``change`` (then the rollout is the
    change its callers met)."""
    return change.at is not None and any(
        c.at is not None and timestamp(c.at) >= timestamp(change.at) for c in dependency.changes
    )


def _down(dependency: DependencyEvidence) -> bool:
    service = dependency.service
    return bool(dependency.failing_pods) or (service is not None and service.ready_endpoints == 0)


def pods_held_by_down_dependency(evidence: Evidence) -> set[str]:
    """The incident's own pods that a down dependency holds: the kubelet's Warning events
    of those pods name it (``holds_own_pods``)."""
    return {
        source.owner
        for d in evidence.dependencies
        if _down(d)
        for source in d.named_by
        if source.kind == "event" and source.owner_kind == "Pod" and source.owner
    } & {p.name for p in evidence.pods}


def holds_own_pods(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the kubelet reports, in Warning events of the incident's own pods, that it
    fails on the dependency for them (a mount that waits on the node's CSI plugin), and the
    dependency is down: those pods cannot start for it, whatever else they run."""
    return _named_by_own_pod_warning(evidence, dependency) and _down(dependency)


def check_dependency_change(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    # A caller whose failing calls do not name the host (a proxy's access log: "503 UH")
    # still points at a callee it is configured to call when that callee is down.
    failing_calls = bool(grep_logs(evidence.logs, DEPENDENCY_LOG, limit=1))
    # Nor does a client quoting its pooler's errors: the pooler its own config names is
    # the one whose pooled connections the calls waited for or were refused.
    pooled_calls = bool(grep_logs(evidence.logs, POOLER_ERROR, limit=1))
    for dependency in evidence.dependencies:
        workload = dependency.workload
        rejected = token_issuer(evidence, dependency)
        called = (
            named_in_logs(dependency)
            or (failing_calls and _down(dependency))
            or rejected is not None
            or (pooled_calls and configured_by_caller(evidence, dependency))
            # The peer a failing callee waits on through a broker, down itself.
            or (dependency.on_callee_topic() and _down(dependency))
            or holds_own_pods(evidence, dependency)
        )
        if workload is None or not called or not dependency.changes:
            continue
        if workload.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
            continue
        change = dependency.changes[0]
        onset = onset_follows(evidence, change)
        if onset is None or change.at is None:
            continue
        # The workload's own later rollout is the suspect, unless its pods are held by the
        # dependency itself: the kubelet cannot start them for it, whatever their template.
        if own_rollout_after(evidence, timestamp(change.at)) and not holds_own_pods(
            evidence, dependency
        ):
            continue
        facts = [
            item(
                object_source(workload),
                f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:3]),
            ),
            onset,
            item("dependency", f"{workload.display()} is named by {dependency.named_by[0].text}"),
        ]
        if rejected is not None:
            facts.append(rejected)
        caller = caller_phrase(evidence)
        if carried := carried_configs(change):
            because = _called_claim(evidence, dependency, caller, facts[2], rejected)
            findings.append(carried_edit(dependency, carried[0], facts, caller, because))
            continue
        params = {"revision": str(change.from_revision)} if change.from_revision else {}
        fix = f"roll {workload.name} back" + (
            f" to revision {change.from_revision}" if change.from_revision else ""
        )
        findings.append(
            make_finding(
                "dependency-change",
                Category.BAD_ROLLOUT,
                CONFIDENCE.changed_and_failing
                if dependency.failing_pods or dependency.warnings
                else CONFIDENCE.changed,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{caller} fails since its dependency {prose.obj(workload)} rolled out",
                            f"{caller} fails since {prose.obj(workload)} rolled out",
                            f"{caller} fails since {workload.name} rolled out",
                        ],
                        fix,
                    ),
                    fix,
                    because=[
                        prose.claim(f"{prose.obj(workload)} rolled out", facts[0]),
                        prose.claim(f"The errors of {caller} began right after", facts[1]),
                        _called_claim(evidence, dependency, caller, facts[2], rejected),
                    ],
                ),
                facts,
                Action.ROLLBACK,
                workload,
                params,
            )
        )
    return findings


def _called_claim(
    evidence: Evidence,
    dependency: DependencyEvidence,
    caller: str,
    named: EvidenceItem,
    rejected: EvidenceItem | None,
) -> Claim:
    """Why the caller's failures are the dependency's: its failing calls name it, or it
    rejects tokens the dependency issues (``token_issuer``)."""
    if dependency.on_callee_topic() and not named_in_logs(dependency):
        return prose.claim(
            f"A service {caller} calls reports errors without naming a callee; it shares a "
            "topic with this workload, whose pods are down",
            named,
        )
    if holds_own_pods(evidence, dependency) and not named_in_logs(dependency):
        return prose.claim(f"The kubelet cannot start the pods of {caller} for it", named)
    if named_in_logs(dependency) or rejected is None:
        return prose.claim(
            f"{caller} names it in its failing calls"
            if _named_by_caller(evidence, dependency)
            else f"A service {caller} calls names it in its own failing calls",
            named,
        )
    return prose.claim(
        f"{caller} takes its tokens' signing keys from it and rejects tokens whose signature "
        "it cannot verify",
        named,
        rejected,
    )


def rolled_out_before_onset(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the dependency rolled out right before the caller's symptoms began, with the
    caller unchanged since: the dependency-change rule's premise (then rolling it back is the
    fix, and escalating it to its owner only an alternative)."""
    if dependency.workload is None or not dependency.changes:
        return False
    if dependency.workload.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return False
    change = dependency.changes[0]
    return (
        change.at is not None
        and onset_follows(evidence, change) is not None
        and not own_rollout_after(evidence, timestamp(change.at))
    )


def check_dependency_down(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        service = dependency.service
        if service is None or dependency.pods == 0:
            continue  # nothing behind the Service is the network analyzer's case
        none_ready = service.ready_endpoints == 0
        if not dependency.failing_pods and not none_ready:
            continue
        if not caller_fails_on(evidence, dependency):
            continue  # the caller shows no failing call: its trouble is its own
        target = service.ref()
        facts = [item(object_source(target), prose.ready_endpoints(service.ready_endpoints))]
        facts += [
            item(object_source(target), f"pod {prose.pod_trouble(p)}")
            for p in dependency.failing_pods[:3]
        ]
        facts += [item("events", w) for w in dependency.warnings[:2]]
        waits = init_waits_on(evidence, dependency)
        facts += waits[:2]
        facts.append(item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}"))
        confidence = CONFIDENCE.no_endpoint if none_ready else CONFIDENCE.failing_pods
        if rolled_out_before_onset(evidence, dependency):
            confidence = min(confidence, CONFIDENCE.down_since_rollout)
        findings.append(
            make_finding(
                "dependency-down",
                Category.DEPENDENCY_FAILURE,
                confidence,
                prose.narrative(
                    f"The dependency {prose.obj(target)} is down",
                    "escalate to its owner",
                    aside=(
                        "no ready endpoint"
                        if none_ready
                        else prose.count(len(dependency.failing_pods), "failing pod")
                    ),
                    because=[
                        prose.claim(f"{prose.obj(target)} cannot serve", *facts[:2]),
                        prose.claim("The workload calls it", facts[-1]),
                        *(
                            [prose.claim("Its pods wait for it before their app starts", waits[0])]
                            if waits
                            else []
                        ),
                    ],
                ),
                facts,
                Action.ESCALATE,
                target,
                {"service": service.name},
            )
        )
    return findings


DEPENDENCY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "dependency-change",
        (Category.BAD_ROLLOUT, Category.CONFIG_MISSING),
        check_dependency_change,
    ),
    Analyzer("dependency-down", (Category.DEPENDENCY_FAILURE,), check_dependency_down),
)


def caller_phrase(evidence: Evidence) -> str:
    """The workload whose calls fail, as prose names it."""
    subject = incident_subject(evidence)
    return prose.obj(subject) if subject is not None else "the caller"
