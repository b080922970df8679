"""The probe-failure rule: liveness, readiness or startup probes that fail (Unhealthy Events,
kubelet kills), with the probe's spec and why it fails (a port the container does not
declare, a path that answers 404); lowered when the probe only reports something else (a
failing dependency, a process too busy to answer) and ignored for a readiness blip the pod
recovered from. (A dependency restarted by a liveness probe that reaches nothing:
``kubetriage.analyzers.callee_probe_misses``.)

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cfs import THROTTLED_SHARE, throttle_ratios
from kubetriage.analyzers.container_texts import PROBE_TIMEOUT, probe_text
from kubetriage.analyzers.listen_ports import serves_elsewhere
from kubetriage.analyzers.log_signatures import (
    DEPENDENCY_LOG,
    FAILURE_WORDS,
    POOL_EXHAUSTED,
    WEDGED_LOG,
)
from kubetriage.analyzers.pods import LIVENESS_KILL, liveness_killed, metric_for, pod_events
from kubetriage.analyzers.probe_blips import BLIP_FAILURES, PROBE_FAILED
from kubetriage.analyzers.saturation import outrun_autoscaler
from kubetriage.analyzers.support import (
    cpu_usage_jumps,
    event_fact,
    grep_logs,
    item,
    iter_containers,
    logs_of,
    pod_source,
    states,
    workload_container,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    EventEvidence,
    PodEvidence,
    ProbeSpec,
)
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a probe-failure finding is, by the evidence that earns it."""

    liveness_kill: float = 0.85  # the kubelet kills the container for its failing probe
    startup_restarts: float = 0.8  # its startup probe fails and it restarts
    not_ready: float = 0.75  # its readiness probe fails and it runs not ready
    failing: float = 0.45  # probes fail, with no kill, restart or unready container to show
    wrong_port_bonus: float = 0.05  # refused on a port the container does not declare
    no_path_bonus: float = 0.05  # the probe's path answers 404
    # Refused where an unchanged probe dials while the server says it listens elsewhere
    # (``listen_ports.serves_elsewhere``): what the pod runs moved the server.
    moved_penalty: float = 0.2
    changed_probe_bonus: float = 0.1  # the rollout that made the running pods changed this probe
    dependency_penalty: float = 0.25  # it answers 5xx while its log shows a dependency failing
    self_reported_penalty: float = 0.15  # it answers 5xx: the app reports a fault it has
    busy_penalty: float = 0.25  # it times out while its CPU usage jumped or its server says its
    # worker pool is exhausted: too busy to answer (when killed for it, only while its
    # autoscaler runs its maximum as traffic grew, ``saturation.outrun_autoscaler``)
    wedged_penalty: float = 0.25  # it times out while its own log shows it deadlocked or out of
    # file descriptors: the process is stuck whatever the probe's timing
    throttled_penalty: float = 0.2  # it times out (killed or not) while its CFS quota throttles
    # it in THROTTLED_SHARE of periods or more: the CPU limit stalls the answer


CONFIDENCE: Final = _Confidence()

# The probe reached the application and got a server error back (it reports itself unhealthy),
# and failures that mean it did not reach it or the answer was wrong for the probe.
_APP_5XX = re.compile(r"(?i)(statuscode|status code):? 5\d\d")
_OTHER_FAILURE = re.compile(r"(?i)refused|timeout|deadline|statuscode:? 4\d\d|no such host|reset")


def _busy_container(evidence: Evidence, pod: PodEvidence, container: str) -> EvidenceItem | None:
    """A fact when the container's CPU usage at least doubled over the window."""
    for metric in cpu_usage_jumps(evidence):
        labelled_pod = metric.labels.get("pod")
        if labelled_pod not in (None, pod.name) or not metric_for(metric, container):
            continue
        low = metric.first if metric.first is not None else metric.min
        return item(
            "metrics", f"CPU usage of {container} rose from {low:.2g} to {metric.last:.2g} cores"
        )
    return None


def _pool_exhausted(evidence: Evidence, pod: PodEvidence) -> EvidenceItem | None:
    """A fact when a server of the pod (any of its containers: the probe may reach the
    workers through a proxy in front of them) says its worker pool has no free worker; a
    replica's log stands for the others, which serve the same load."""
    logs = logs_of(evidence, pod)
    names = {c.name for c in pod.containers}
    logs = logs or [log for log in evidence.logs if log.container in names]
    hits = grep_logs(logs, POOL_EXHAUSTED, limit=1)
    return item(hits[0].source, hits[0].line) if hits else None


# A process that exits with one of these was stopped by a signal the kubelet sends (SIGKILL,
# SIGTERM): a liveness kill. Any other code is the process ending on its own.
_SIGNAL_EXITS = frozenset({137, 143})


def _exited_on_its_own(container: ContainerEvidence, kills: list[EventEvidence]) -> bool:
    """The container's last run ended by the process's own exit (a panic, an error code), not
    by the kubelet: probes that fail around it only report that nothing listens."""
    last = container.last_state
    if kills or last is None or last.state != "terminated" or last.exit_code is None:
        return False
    return last.exit_code not in _SIGNAL_EXITS and last.exit_code != 0


def _rollout_changed_probes(evidence: Evidence, target: ObjectRef) -> EvidenceItem | None:
    """A fact when the workload's latest rollout changed its probes."""
    rollouts = [c for c in evidence.changes if c.kind == "rollout" and c.object.same_object(target)]
    latest = max(rollouts, key=lambda c: c.to_revision or 0, default=None)
    if latest is None or "probes" not in latest.aspects:
        return None
    return item(
        "changes", f"revision {latest.to_revision} of {prose.obj(target)} changed its probes"
    )


def _server_moved(evidence: Evidence, target: ObjectRef, pod: PodEvidence) -> EvidenceItem | None:
    """A fact when the workload's latest rollout left its probes as the previous revision had
    them while this pod's server listens only on ports other than the one its probes are
    refused on: what the pod runs moved the server, the unchanged probe is not at fault."""
    rollouts = [c for c in evidence.changes if c.kind == "rollout" and c.object.same_object(target)]
    latest = max(rollouts, key=lambda c: c.to_revision or 0, default=None)
    if latest is None or "probes" in latest.aspects:
        return None
    return serves_elsewhere(evidence, [pod])


def _own_exec_cost(spec: ProbeSpec | None, changed: EvidenceItem | None) -> bool:
    """Whether the failing probe is an exec handler the workload's latest rollout changed:
    its command (often a whole interpreter or CLI booting) runs inside the container on
    every period and spends the container's CPU quota, so throttling that arrived with it is
    the probe's own cost, not a limit too tight for the application."""
    return spec is not None and changed is not None and spec.mechanism == "exec"


# Readiness failures that all stopped within this long after the container started, on a
# container that is ready now, are its warm-up (loading a model, a cache, a JIT): the
# readiness probe did its job of keeping it out of the endpoints until then.
WARMUP = timedelta(minutes=5)


def _recovered_blip(
    container: ContainerEvidence,
    unhealthy: list[tuple[str, str, EventEvidence]],
    kills: list[EventEvidence],
) -> bool:
    if kills or container.restart_count > 0 or container.ready is not True:
        return False
    if any(kind != "readiness" for kind, _, _ in unhealthy):
        return False
    if sum(event.count for _, _, event in unhealthy) < BLIP_FAILURES:
        return True
    started = container.state.started_at
    last_seen = [event.last_seen or event.first_seen for _, _, event in unhealthy]
    return started is not None and all(
        seen is not None and seen <= started + WARMUP for seen in last_seen
    )


def check_probe_failure(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence, include_init=False):
        if any((s.reason or "").lower() == "oomkilled" for s in states(container)):
            continue
        events = pod_events(evidence, pod)
        unhealthy: list[tuple[str, str, EventEvidence]] = []
        for event in events:
            if event.reason != "Unhealthy":
                continue
            match = PROBE_FAILED.search(event.message)
            if match is None:
                continue
            # Unhealthy events do not name the container; attribute them when unambiguous.
            named = re.search(r"(?i)container (\S+)", event.message)
            if named and named.group(1).strip('"') != container.name:
                continue
            app_containers = [c for c in pod.containers if not c.init]
            if not named and len(app_containers) > 1 and not container.probes:
                continue
            unhealthy.append((match["kind"].lower(), match["why"].strip(), event))
        kills = liveness_killed(evidence, pod, container.name)
        if not unhealthy and not kills:
            continue
        if _recovered_blip(container, unhealthy, kills):
            continue
        target = workload_ref(evidence, pod)
        if target is None or f"{target.key()}/{container.name}" in seen:
            continue
        seen.add(f"{target.key()}/{container.name}")
        kinds = {k for k, _, _ in unhealthy} | {
            (m["kind"].lower() if (m := LIVENESS_KILL.search(e.message)) else "liveness")
            for e in kills
        }
        facts = [item("events", event_fact(e)) for _, _, e in unhealthy[:3]]
        facts.extend(item("events", event_fact(e)) for e in kills[:2])
        running = container.state.state == "running"
        if _exited_on_its_own(container, kills):
            # Probes refused while the process keeps exiting by itself: a crash, not a probe.
            confidence = CONFIDENCE.failing
            probe_kind = "liveness" if "liveness" in kinds else sorted(kinds)[0]
        elif kills or ("liveness" in kinds and container.restart_count > 0):
            confidence = CONFIDENCE.liveness_kill
            probe_kind = "startup" if "startup" in kinds and "liveness" not in kinds else "liveness"
        elif "startup" in kinds and container.restart_count > 0:
            confidence = CONFIDENCE.startup_restarts
            probe_kind = "startup"
        elif "readiness" in kinds and running and container.ready is False:
            confidence = CONFIDENCE.not_ready
            probe_kind = "readiness"
        else:
            confidence = CONFIDENCE.failing
            probe_kind = sorted(kinds)[0]
        state_fact = item(
            pod_source(pod),
            f"container {container.name}: {container.state.state},"
            f" {prose.readiness(container.ready)},"
            f" {prose.count(container.restart_count, 'restart')}",
        )
        probe_facts = [state_fact, *facts[:2]]
        facts.insert(0, state_fact)
        reasons = " ".join(why for _, why, _ in unhealthy)
        spec = next((p for p in container.probes if p.kind == probe_kind), None)
        if spec is None:
            template = workload_container(evidence, container.name)
            spec = next(
                (p for p in (template.probes if template else []) if p.kind == probe_kind), None
            )
        spec_facts: list[EvidenceItem] = []
        if spec is not None:
            spec_facts.append(
                item(
                    pod_source(pod),
                    f"{probe_kind} probe: {spec.handler}, timeout "
                    f"{spec.timeout_seconds}s, period {spec.period_seconds}s, "
                    f"initial delay {spec.initial_delay_seconds}s",
                )
            )
            port = spec.port
            declared = any(p.answers(port) for p in container.ports) if port else True
            if container.ports and not declared and "refused" in reasons:
                confidence += CONFIDENCE.wrong_port_bonus
                spec_facts.append(
                    item(
                        pod_source(pod),
                        f"probe port {port} is not among the "
                        f"container ports {', '.join(p.text for p in container.ports)}",
                    )
                )
            facts.extend(spec_facts)
        if re.search(r"statuscode: 404|status code 404", reasons, re.I):
            confidence += CONFIDENCE.no_path_bonus
        changed = _rollout_changed_probes(evidence, target)
        if changed is not None and running and (kills or container.restart_count == 0):
            # The pods run; the probe the last rollout changed is what fails on them.
            confidence += CONFIDENCE.changed_probe_bonus
            facts.append(changed)
        elif (moved := _server_moved(evidence, target, pod)) is not None:
            confidence -= CONFIDENCE.moved_penalty
            facts.append(moved)
        answered_5xx = bool(_APP_5XX.search(reasons)) and not _OTHER_FAILURE.search(reasons)
        if answered_5xx:
            # The app answers its probe and reports itself unhealthy: the probe does its job.
            confidence -= CONFIDENCE.self_reported_penalty
        # Replicas of one workload fail their probes for one reason; a tail from any of them
        # tells why (often only some pods' logs were collected).
        logs = logs_of(evidence, pod, container.name) or [
            log for log in evidence.logs if log.container == container.name
        ]
        dependency = [
            h for h in grep_logs(logs, DEPENDENCY_LOG, limit=3) if FAILURE_WORDS.search(h.line)
        ]
        caveat: tuple[str, EvidenceItem] | None = None
        if dependency and re.search(r"statuscode: 5\d\d", reasons):
            # The app reports itself unhealthy because something it needs is down.
            confidence -= CONFIDENCE.dependency_penalty
            fact = item(dependency[0].source, dependency[0].line)
            facts.append(fact)
            caveat = ("The application's own log shows a dependency failing", fact)
        cpu_busy = _busy_container(evidence, pod, container.name)
        busy = cpu_busy or _pool_exhausted(evidence, pod)
        # Killed while busy, the kill is the probe's own harm, unless the autoscaler is at
        # its maximum while traffic grew: then the kills only report demand it cannot meet.
        outrun = outrun_autoscaler(evidence, target) if busy is not None and kills else None
        if busy is not None and PROBE_TIMEOUT.search(reasons) and (not kills or outrun):
            # The probe times out because the process is too busy to answer it (CPU jumped,
            # or its server has no free worker): the probe reports the overload, it is not
            # the fault.
            confidence -= CONFIDENCE.busy_penalty
            facts.extend([busy, *([outrun] if outrun else [])])
            caveat = (
                "CPU usage jumped at the same time, so the process may be too busy"
                if cpu_busy
                else "Its server says all its workers are busy, so the probe waits in line",
                busy,
            )
        wedged = grep_logs(logs, WEDGED_LOG, limit=1)
        if wedged and busy is None and PROBE_TIMEOUT.search(reasons):
            # The probe times out on a process its own log shows deadlocked or out of file
            # descriptors: no timing of the probe would pass; the process needs fixing.
            confidence -= CONFIDENCE.wedged_penalty
            fact = item(wedged[0].source, wedged[0].line)
            facts.append(fact)
            caveat = ("Its own log shows the process stuck, so the probe reports that", fact)
        own_cost: EvidenceItem | None = None
        throttled = throttle_ratios(evidence).get(container.name, 0.0)
        if throttled >= THROTTLED_SHARE and PROBE_TIMEOUT.search(reasons):
            fact = item(
                "metrics",
                f"{container.name} throttled in {prose.percent(throttled)} of its CFS periods",
            )
            facts.append(fact)
            if _own_exec_cost(spec, changed):
                # The rollout made this probe run a command inside the container: it spends
                # the container's own CPU quota on every period, so the throttling is (at
                # least partly) the probe's own cost and does not excuse it.
                own_cost = item(
                    pod_source(pod),
                    f"its {probe_kind} probe runs in the container: "
                    f"{prose.clip(spec.handler if spec else 'exec', 120)}",
                )
                facts.append(own_cost)
            else:
                # The probe times out while the kernel throttles the container: its CPU limit
                # stalls the answer, so the kill or unreadiness follows from the quota.
                confidence -= CONFIDENCE.throttled_penalty
                caveat = ("Its CPU limit throttles it at the same time, so the answer stalls", fact)
        findings.append(
            make_finding(
                "probe-failure",
                Category.PROBE_FAILURE,
                confidence,
                probe_text(
                    target,
                    container,
                    probe_kind,
                    reasons,
                    probe_facts,
                    (spec, spec_facts),
                    caveat,
                    own_cost=own_cost,
                ),
                facts,
                Action.FIX_PROBE,
                target,
                {"container": container.name, "probe": probe_kind},
            )
        )
    return findings


PROBE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("probe-failure", (Category.PROBE_FAILURE,), check_probe_failure),
)
