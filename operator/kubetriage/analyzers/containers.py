"""Container-level analyzers: OOM kills, crash loops, missing configuration, image pulls and
failing probes, read from container states, pod events and log tails.

Registered in ``kubetriage.analyzers.ANALYZERS``; each rule is a pure function of Evidence.
Confidences are calibrated so that the specific explanation of a restart (OOMKilled, a missing
ConfigMap, a liveness kill) outranks the generic "it crash-loops".
"""

from __future__ import annotations

import re
from collections import defaultdict
from difflib import SequenceMatcher

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.changes import cap_explained
from kubetriage.analyzers.container_texts import (
    ABSENT,
    MISSPELT_HOST,
    PROBE_TIMEOUT,
    REJECTED,
    ConfigProblem,
    crash_text,
    log_problem,
    no_key,
    oom_text,
    probe_text,
)
from kubetriage.analyzers.support import (
    CONFIG_LOG,
    CONFIG_VARIABLE_GROUPS,
    CRASH_LOG,
    DEPENDENCY_LOG,
    DNS_LOG,
    FAILURE_WORDS,
    OOM_LOG,
    LogHit,
    cpu_usage_jumps,
    current_and_previous_revision,
    event_fact,
    grep_logs,
    hosts_in,
    item,
    iter_containers,
    logs_of,
    metrics_named,
    parse_quantity,
    pod_revision,
    pod_source,
    seconds_before,
    service_for_host,
    states,
    suggest_memory,
    timestamp,
    workload_container,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import (
    ContainerEvidence,
    ContainerState,
    EventEvidence,
    Evidence,
    MetricSummary,
    PodEvidence,
)
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

_LIVENESS_KILL = re.compile(
    r"(?i)container (?P<container>[\w.-]+) failed (?P<kind>liveness|startup) probe"
)
_PROBE_FAILED = re.compile(r"(?i)(?P<kind>liveness|readiness|startup) probe failed:?\s*(?P<why>.*)")
_MISSING_OBJECT = re.compile(
    r"(?i)\b(?P<kind>configmaps?|secrets?) \"?(?P<name>[a-z0-9][\w.-]*)\"? not found"
)
_MISSING_KEY = re.compile(
    r"(?i)couldn't find key (?P<key>[\w.-]+) in (?P<kind>ConfigMap|Secret) "
    r"(?:(?P<ns>[\w.-]+)/)?(?P<name>[\w.-]+)"
)
_PULL_WAITING = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
_PULL_EVENT = re.compile(
    r"(?i)(failed to pull image|back-off pulling image|error: (errimagepull|imagepullbackoff)|"
    r"invalidimagename|couldn't parse image reference)"
)
_IMAGE_IN_TEXT = re.compile(r"(?i)image \"(?P<image>[^\"]+)\"")
# (what the registry said, the fix in a few words, how it says it)
_PULL_CAUSES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "the tag or image does not exist",
        "correct the image tag",
        re.compile(r"(?i)(manifest unknown|not found|manifest for \S+ not found|no such image)"),
    ),
    (
        "the registry refused the credentials",
        "renew or fix the pull secret",
        re.compile(
            r"(?i)(unauthorized|pull access denied|authentication required|"
            r"insufficient_scope|403 forbidden|denied: )"
        ),
    ),
    (
        "the image reference is malformed",
        "correct the image reference",
        re.compile(r"(?i)(invalidimagename|invalid reference format|couldn't parse image)"),
    ),
    (
        "the registry is unreachable or limits pulls",
        "restore registry access or use a mirror",
        re.compile(
            r"(?i)(i/o timeout|no such host|connection refused|tls handshake|"
            r"service unavailable|context deadline exceeded|toomanyrequests|rate limit)"
        ),
    ),
)


def _pod_events(evidence: Evidence, pod: PodEvidence) -> list[EventEvidence]:
    return [
        e
        for e in evidence.events
        if e.involved.kind == "Pod"
        and e.involved.name == pod.name
        and (e.involved.namespace in (None, pod.namespace))
    ]


def _liveness_killed(evidence: Evidence, pod: PodEvidence, container: str) -> list[EventEvidence]:
    killed: list[EventEvidence] = []
    for event in _pod_events(evidence, pod):
        match = _LIVENESS_KILL.search(event.message)
        if match and match["container"] == container:
            killed.append(event)
    return killed


def _memory_limit(evidence: Evidence, container: ContainerEvidence) -> float | None:
    limit = parse_quantity(container.limits.get("memory"))
    if limit is None:
        template = workload_container(evidence, container.name)
        limit = parse_quantity(template.limits.get("memory")) if template else None
    if limit is None:
        for metric in metrics_named(evidence, "kube_pod_container_resource_limits"):
            is_memory = metric.labels.get("resource") == "memory" or 'resource="memory"' in (
                metric.query
            )
            # A ratio query mentions the limit metric too; only a plain limit is bytes.
            plain = "/" not in metric.query
            if is_memory and plain and _metric_for(metric, container.name) and metric.last:
                limit = metric.last
    return limit


def _metric_for(metric: MetricSummary, container: str) -> bool:
    labelled = metric.labels.get("container")
    if labelled is not None:
        return labelled == container
    return f'container="{container}"' in metric.query or "container=" not in metric.query


def _peak_ratio(evidence: Evidence, container: str) -> float | None:
    """The working set's peak share of the limit when a ratio query was run."""
    peaks = [
        m.max
        for m in metrics_named(evidence, "container_memory_working_set_bytes")
        if m.max is not None
        and _metric_for(m, container)
        and "/" in m.query
        and "kube_pod_container_resource_limits" in m.query
    ]
    return max(peaks) if peaks else None


def _peak_working_set(evidence: Evidence, container: str) -> float | None:
    peaks = [
        m.max
        for m in metrics_named(evidence, "container_memory_working_set_bytes")
        if m.max is not None and _metric_for(m, container) and "/" not in m.query
    ]
    return max(peaks) if peaks else None


# --- oom-killed ---------------------------------------------------------------------------


def check_oom(evidence: Evidence) -> list[Finding]:
    return cap_explained(evidence, _check_oom(evidence))


def _check_oom(evidence: Evidence) -> list[Finding]:
    by_container: dict[str, list[tuple[float, EvidenceItem]]] = defaultdict(list)
    sample: dict[str, tuple[PodEvidence, ContainerEvidence]] = {}
    restarts: dict[str, int] = defaultdict(int)
    for pod, container in iter_containers(evidence):
        if pod.reason == "Evicted":
            continue  # node pressure, not the container's own limit: node-failure's case
        signals = by_container[container.name]
        killed_by_probe = bool(_liveness_killed(evidence, pod, container.name))
        for state in states(container):
            if state.state != "terminated":
                continue
            if (state.reason or "").lower() == "oomkilled":
                signals.append(
                    (
                        0.95,
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
                        0.65,
                        item(
                            pod_source(pod),
                            f"container {container.name} killed by SIGKILL (exit code 137), "
                            f"{prose.count(container.restart_count, 'restart')}",
                        ),
                    )
                )
        for hit in grep_logs(logs_of(evidence, pod, container.name), OOM_LOG, limit=2):
            signals.append((0.7, item(hit.source, hit.line)))
        for metric in metrics_named(evidence, "kube_pod_container_status_last_terminated_reason"):
            oom_metric = "OOMKilled" in metric.query or metric.labels.get("reason") == "OOMKilled"
            if oom_metric and _metric_for(metric, container.name) and (metric.max or 0) >= 1:
                signals.append(
                    (0.85, item("metrics", f"{container.name} last terminated reason OOMKilled"))
                )
        if signals and container.name not in sample:
            sample[container.name] = (pod, container)
        restarts[container.name] = max(restarts[container.name], container.restart_count)
        for event in _pod_events(evidence, pod):
            if event.reason == "OOMKilling" or "memory cgroup out of memory" in (
                event.message.lower()
            ):
                signals.append((0.85, item("events", event_fact(event))))
                sample.setdefault(container.name, (pod, container))

    findings: list[Finding] = []
    for name, signals in by_container.items():
        if name not in sample:
            continue
        pod, container = sample[name]
        limit = _memory_limit(evidence, container)
        peak = _peak_working_set(evidence, name)
        ratio_peak = _peak_ratio(evidence, name)
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
            if ratio >= 0.85:
                confidence = max(confidence + 0.03, 0.85 if confidence >= 0.65 else confidence)
        if limit is None and confidence < 0.9:
            confidence -= 0.1  # without a limit a SIGKILL is less likely to be the cgroup's
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
                min(confidence, 0.97),
                oom_text(
                    target,
                    name,
                    (restarts[name], _last_exit_ago(evidence, container)),
                    (limit, peak),
                    params,
                    kills,
                    peak_fact,
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


def _last_exit_ago(evidence: Evidence, container: ContainerEvidence) -> float | None:
    """Seconds since the container last terminated, when its last state says."""
    last = container.last_state
    if last is None or last.state != "terminated":
        return None
    return seconds_before(evidence, last.finished_at)


def _memory_near_limit(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence, include_init=False):
        if container.name in seen:
            continue
        limit = _memory_limit(evidence, container)
        peak = _peak_working_set(evidence, container.name)
        ratio_peak = _peak_ratio(evidence, container.name)
        if peak is None and limit and ratio_peak:
            peak = ratio_peak * limit
        if not limit or not peak or peak / limit < 0.9:
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
                0.5,
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


# --- crash-loop ---------------------------------------------------------------------------


# A process that ran this long before exiting was not failing at start: it degrades (leak,
# stuck worker pool, exhausted handles) and a fresh process is a real, if temporary, fix.
LONG_RUN_SECONDS = 30 * 60
# The newest revision counts as "the change that broke it" when it is at most this old.
RECENT_REVISION_SECONDS = 6 * 3600


def _crash_started_with_revision(evidence: Evidence, pod: PodEvidence) -> bool:
    """Whether an older revision exists that the crash plausibly started after: it still
    serves, or the current revision is recent (or of unknown age)."""
    current, previous = current_and_previous_revision(evidence)
    if current is None or previous is None:
        return False
    if _older_revision_serving(evidence, pod) or previous.ready_replicas > 0:
        return True
    if current.created_at is None:
        return True
    age = timestamp(evidence.collected_at) - timestamp(current.created_at)
    return age <= RECENT_REVISION_SECONDS


def _ran_long_before_exit(exits: list[ContainerState]) -> bool:
    for state in exits:
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
    when an older revision exists and the crash began with the new one; restart only a
    process that ran for a long time before failing."""
    _, previous = current_and_previous_revision(evidence)
    if (
        previous is not None
        and target.kind in ACTION_TARGET_KINDS[Action.ROLLBACK]
        and _crash_started_with_revision(evidence, pod)
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
        confidence = 0.75 if waiting_crash else 0.65
        if exit_code in (137, 143):
            confidence -= 0.2  # a kill from outside (OOM, liveness), not the process itself
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
            confidence += 0.05
        if exits and exits[0].message:
            facts.append(item(pod_source(pod), f"termination message: {exits[0].message}"))
        # A more specific cause in the logs outranks the generic crash loop.
        if config_hits:
            confidence = min(confidence, 0.45)
            facts.append(item(config_hits[0].source, config_hits[0].line))
        elif dependency_hits:
            # Crashing because a dependency refuses: dependency-failure, when it can name the
            # Service, outranks this; otherwise the crash loop stays the best explanation.
            confidence = min(confidence, 0.6)
            facts.append(item(dependency_hits[0].source, dependency_hits[0].line))
        if _liveness_killed(evidence, pod, container.name):
            confidence = min(confidence, 0.45)
        if _older_revision_serving(evidence, pod):
            confidence = min(confidence, 0.7)  # only the new revision crashes: bad-rollout
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
                    _last_exit_ago(evidence, container),
                    exit_code,
                    [h.line for h in crash_hits],
                    action,
                    params,
                    state_fact,
                    [item(h.source, h.line) for h in crash_hits],
                ),
                facts,
                action,
                target,
                params,
            )
        )
    return findings


# --- config-missing -----------------------------------------------------------------------


def _config_target(pod: PodEvidence, kind: str, name: str) -> ObjectRef:
    canonical = "Secret" if kind.lower().startswith("secret") else "ConfigMap"
    return ObjectRef(kind=canonical, namespace=pod.namespace, name=name)


def _log_config_target(evidence: Evidence, pod: PodEvidence, hit: LogHit) -> ObjectRef | None:
    """The ConfigMap/Secret a log complaint points at: the one feeding the named variable,
    else the one a missing file would be mounted from, else the only envFrom source."""
    variable = next((hit.match[g] for g in CONFIG_VARIABLE_GROUPS if hit.match[g]), None)
    refs = [r for r in pod.config_refs if r.name != "kube-root-ca.crt"]
    if variable:
        for ref in refs:
            if ref.via.split()[-1:] == [variable] or ref.key == variable:
                return ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
    path = hit.match["path"] or hit.match["path2"]
    volumes = [r for r in refs if r.via.startswith("volume")]
    if path and len(volumes) == 1:
        return ObjectRef(kind=volumes[0].kind, namespace=pod.namespace, name=volumes[0].name)
    env_from = [r for r in refs if r.via.startswith("envFrom")]
    if variable and len(env_from) == 1:
        return ObjectRef(kind=env_from[0].kind, namespace=pod.namespace, name=env_from[0].name)
    if len(refs) == 1:
        return ObjectRef(kind=refs[0].kind, namespace=pod.namespace, name=refs[0].name)
    return workload_ref(evidence, pod)


def _near_miss_key(evidence: Evidence, target: ObjectRef | None, wanted: str | None) -> str | None:
    """A key of the ConfigMap the application reads that nearly matches the variable it says
    is missing: the key was renamed or misspelt on one side."""
    if target is None or wanted is None or target.kind != "ConfigMap":
        return None
    keys = evidence.config_maps.get(target.name)
    if not keys or wanted in keys:
        return None
    scored = [(SequenceMatcher(None, wanted.lower(), k.lower()).ratio(), k) for k in keys]
    ratio, key = max(scored)
    return key if ratio >= 0.75 else None


def _misspelt_hosts(evidence: Evidence, pod: PodEvidence) -> list[tuple[ObjectRef, EvidenceItem]]:
    """A host that does not resolve, set in an env value, and one edit away from a Service
    that exists: the value is wrong, not the dependency."""
    found: list[tuple[ObjectRef, EvidenceItem]] = []
    names = [s.name for s in evidence.services]
    for hit in grep_logs(logs_of(evidence, pod), DNS_LOG, limit=5):
        for host in hosts_in(hit.line):
            if service_for_host(host, evidence.services) is not None:
                continue
            first = host.split(".")[0]
            close = [
                n for n in names if n != first and SequenceMatcher(None, n, first).ratio() >= 0.8
            ]
            if not close:
                continue
            for container in pod.containers:
                var = next((k for k, v in container.env.items() if first in v), None)
                if var is None:
                    continue
                ref = next(
                    (r for r in pod.config_refs if r.via.split()[-1:] == [var]),
                    None,
                )
                target = (
                    ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
                    if ref
                    else workload_ref(evidence, pod)
                )
                if target is not None:
                    found.append(
                        (
                            target,
                            item(
                                hit.source,
                                f"{hit.line.strip()[:160]} (env {var} names {first}; the "
                                f"Service is {close[0]})",
                            ),
                        )
                    )
                    return found
    return found


def _process_started(pod: PodEvidence) -> bool:
    """Whether an app container of the pod is running or has run (exited with a code)."""
    for container in pod.containers:
        if container.init:
            continue
        if container.state.state == "running":
            return True
        if any(s.state == "terminated" and s.exit_code is not None for s in states(container)):
            return True
    return False


def check_config_missing(evidence: Evidence) -> list[Finding]:
    # target key -> (target, best confidence, facts, params, problem of the best note)
    found: dict[
        str, tuple[ObjectRef, float, list[EvidenceItem], dict[str, str], ConfigProblem]
    ] = {}

    def note(
        target: ObjectRef | None,
        confidence: float,
        fact: EvidenceItem,
        params: dict[str, str] | None = None,
        problem: ConfigProblem = REJECTED,
    ) -> None:
        if target is None:
            return
        key = target.key()
        _, best, facts, old, why = found.get(key, (target, 0.0, [], {}, problem))
        found[key] = (
            target,
            max(best, confidence),
            [*facts, fact],
            {**(params or {}), **old},
            problem if confidence > best else why,
        )

    for pod in evidence.pods:
        for container in pod.containers:
            state = container.state
            if state.state == "waiting" and state.reason in (
                "CreateContainerConfigError",
                "CreateContainerError",
            ):
                message = state.message or ""
                fact = item(pod_source(pod), f"{container.name}: {state.reason}: {message}")
                key_match = _MISSING_KEY.search(message)
                object_match = _MISSING_OBJECT.search(message)
                if key_match:
                    target = _config_target(pod, key_match["kind"], key_match["name"])
                    note(target, 0.95, fact, {"key": key_match["key"]}, no_key(key_match["key"]))
                elif object_match:
                    target = _config_target(pod, object_match["kind"], object_match["name"])
                    note(target, 0.95, fact, problem=ABSENT)
                elif state.reason == "CreateContainerConfigError":
                    note(workload_ref(evidence, pod), 0.8, fact)
        # The kubelet cannot create a container whose non-optional ConfigMap/Secret (or key) is
        # absent; a process that started got what it referenced, so an absence seen now (or
        # an object merely not collected) does not explain its failure.
        resolved = _process_started(pod)
        for ref in pod.config_refs:
            if ref.optional:
                continue
            target = ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
            if ref.exists is False:
                note(
                    target,
                    0.4 if resolved else 0.9,
                    item(pod_source(pod), f"{ref.kind} {ref.name} ({ref.via}) does not exist"),
                    problem=ABSENT,
                )
            elif ref.key_exists is False and ref.key:
                note(
                    target,
                    0.4 if resolved else 0.9,
                    item(
                        pod_source(pod),
                        f"{ref.kind} {ref.name} has no key {ref.key} ({ref.via})",
                    ),
                    {"key": ref.key},
                    no_key(ref.key),
                )
        for event in _pod_events(evidence, pod):
            if event.type != "Warning" and event.reason not in ("FailedMount", "Failed"):
                continue
            key_match = _MISSING_KEY.search(event.message)
            object_match = _MISSING_OBJECT.search(event.message)
            match = key_match or object_match
            if match:
                target = _config_target(pod, match["kind"], match["name"])
                note(
                    target,
                    0.9,
                    item("events", event_fact(event)),
                    {"key": key_match["key"]} if key_match else None,
                    no_key(key_match["key"]) if key_match else ABSENT,
                )
        for log in logs_of(evidence, pod):
            for hit in grep_logs([log], CONFIG_LOG, limit=3):
                variable = next(
                    (hit.match[g] for g in CONFIG_VARIABLE_GROUPS if hit.match[g]), None
                )
                generic = variable is None and not (hit.match["path"] or hit.match["path2"])
                confidence = 0.6 if generic else 0.75
                crashing = any(
                    c.name == log.container and c.restart_count > 0 for c in pod.containers
                )
                log_target = _log_config_target(evidence, pod, hit)
                renamed = _near_miss_key(evidence, log_target, variable)
                note(
                    log_target,
                    confidence + (0.05 if crashing else 0.0) + (0.1 if renamed else 0.0),
                    item(hit.source, hit.line),
                    problem=log_problem(variable, hit.match["path"] or hit.match["path2"], renamed),
                )
                if renamed is not None and log_target is not None:
                    note(
                        log_target,
                        0.0,
                        item(
                            f"configmap/{pod.namespace}/{log_target.name}",
                            f"has no key {variable} but has {renamed}",
                        ),
                    )
        for target, fact in _misspelt_hosts(evidence, pod):
            note(target, 0.75, fact, problem=MISSPELT_HOST)

    findings: list[Finding] = []
    workload = workload_ref(evidence)
    for target, confidence, facts, params, problem in found.values():
        own = target.kind not in ("ConfigMap", "Secret")
        subject = f"the configuration of {prose.obj(target)}" if own else prose.obj(target)
        because = [prose.claim(f"{subject} {problem.what}", *facts[:2]), prose.claim(problem.why)]
        if len(facts) > 2:
            more = len(facts) - 2
            because.append(
                prose.claim(
                    "another observation agrees"
                    if more == 1
                    else f"{prose.count(more, 'more observation')} agree",
                    *facts[2:4],
                )
            )
        fails = workload is not None and not own and workload.kind != target.kind
        findings.append(
            make_finding(
                "config-missing",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"{subject} {problem.what}",
                    problem.fix,
                    aside=f"{prose.obj(workload)} fails to start" if fails and workload else "",
                    because=because,
                ),
                facts,
                Action.FIX_CONFIG,
                target,
                params,
            )
        )
    return findings


# --- image-pull ---------------------------------------------------------------------------


def check_image_pull(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence):
        waiting = container.state.state == "waiting" and container.state.reason in _PULL_WAITING
        events = [
            e
            for e in _pod_events(evidence, pod)
            if _PULL_EVENT.search(e.message) or e.reason in _PULL_WAITING
        ]
        events = [
            e
            for e in events
            if (m := _IMAGE_IN_TEXT.search(e.message)) is None or m["image"] == container.image
        ]
        if not waiting and not events:
            continue
        target = workload_ref(evidence, pod)
        if target is None or f"{target.key()}/{container.name}" in seen:
            continue
        seen.add(f"{target.key()}/{container.name}")
        facts: list[EvidenceItem] = []
        if waiting:
            facts.append(
                item(
                    pod_source(pod),
                    f"container {container.name} waiting: {container.state.reason}"
                    + (f": {container.state.message}" if container.state.message else "")
                    + f" (image {container.image})",
                )
            )
        facts.extend(item("events", event_fact(e)) for e in events[:3])
        texts = " ".join([container.state.message or "", *(e.message for e in events)])
        matched = next(((label, fix) for label, fix, rx in _PULL_CAUSES if rx.search(texts)), None)
        cause = matched[0] if matched else None
        pulled = facts[:2]
        confidence = 0.9 if waiting else 0.8
        if cause:
            confidence += 0.05
        params = {"container": container.name, "image": container.image}
        current, previous = current_and_previous_revision(evidence)
        revision = pod_revision(pod, evidence)
        previous_image = previous.images.get(container.name) if previous else None
        because = [
            prose.claim(
                f"The kubelet cannot pull {container.image} for container {container.name}"
                + (f": {cause}" if cause else ""),
                *pulled,
            )
        ]
        if previous_image and previous_image != container.image:
            params["previousImage"] = previous_image
            changed = item(
                "revision",
                f"revision {previous.revision if previous else '?'} ran {previous_image}; "
                f"revision {current.revision if current else '?'} uses {container.image}",
            )
            facts.append(changed)
            because.append(
                prose.claim(
                    f"The previous revision ran {prose.image(previous_image)}, so the change "
                    "of image reference is what broke the pull",
                    changed,
                )
            )
        because.append(
            prose.claim(
                "Until the image can be pulled no new container of it starts; pods already "
                "running an older image keep serving"
            )
        )
        pull_text = prose.narrative(
            f"{prose.obj(target)} cannot pull image {prose.image(container.image)}",
            matched[1] if matched else "correct the image reference or its pull secret",
            aside=cause or "",
            because=because,
        )
        findings.append(
            make_finding(
                "image-pull",
                Category.IMAGE_PULL,
                confidence,
                pull_text,
                facts,
                Action.FIX_IMAGE,
                target,
                params,
            )
        )
        healthy_before = previous is not None and (
            previous.ready_replicas > 0
            or any(
                pod_revision(p, evidence) == previous
                and all(c.ready for c in p.containers if not c.init)
                for p in evidence.pods
            )
        )
        new_revision_fails = revision is None or revision == current
        if (
            previous is not None
            and previous_image
            and previous_image != container.image
            and new_revision_fails
            and target.kind in ACTION_TARGET_KINDS[Action.ROLLBACK]
        ):
            findings.append(
                make_finding(
                    "image-pull",
                    Category.IMAGE_PULL,
                    (0.65 if healthy_before else 0.55),
                    pull_text.model_copy(
                        update={
                            "fix": f"roll back to revision {previous.revision} while it is fixed"
                        }
                    ),
                    facts,
                    Action.ROLLBACK,
                    target,
                    {"revision": str(previous.revision), "container": container.name},
                )
            )
    return findings


# --- probe-failure ------------------------------------------------------------------------


def _probe_port(handler: str) -> str | None:
    match = re.search(r":(\w+)\b", handler)
    return match.group(1) if match else None


def _busy_container(evidence: Evidence, pod: PodEvidence, container: str) -> EvidenceItem | None:
    """A fact when the container's CPU usage at least doubled over the window."""
    for metric in cpu_usage_jumps(evidence):
        labelled_pod = metric.labels.get("pod")
        if labelled_pod not in (None, pod.name) or not _metric_for(metric, container):
            continue
        low = metric.first if metric.first is not None else metric.min
        return item(
            "metrics", f"CPU usage of {container} rose from {low:.2g} to {metric.last:.2g} cores"
        )
    return None


# Fewer readiness failures than this, on a container that is ready again and never restarted,
# are a blip the pod recovered from (a GC pause, a slow disk): nothing to fix in the probe.
BLIP_FAILURES = 10


def _recovered_blip(
    container: ContainerEvidence,
    unhealthy: list[tuple[str, str, EventEvidence]],
    kills: list[EventEvidence],
) -> bool:
    if kills or container.restart_count > 0 or container.ready is not True:
        return False
    if any(kind != "readiness" for kind, _, _ in unhealthy):
        return False
    return sum(event.count for _, _, event in unhealthy) < BLIP_FAILURES


def check_probe_failure(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence, include_init=False):
        if any((s.reason or "").lower() == "oomkilled" for s in states(container)):
            continue
        events = _pod_events(evidence, pod)
        unhealthy: list[tuple[str, str, EventEvidence]] = []
        for event in events:
            if event.reason != "Unhealthy":
                continue
            match = _PROBE_FAILED.search(event.message)
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
        kills = _liveness_killed(evidence, pod, container.name)
        if not unhealthy and not kills:
            continue
        if _recovered_blip(container, unhealthy, kills):
            continue
        target = workload_ref(evidence, pod)
        if target is None or f"{target.key()}/{container.name}" in seen:
            continue
        seen.add(f"{target.key()}/{container.name}")
        kinds = {k for k, _, _ in unhealthy} | {
            (m["kind"].lower() if (m := _LIVENESS_KILL.search(e.message)) else "liveness")
            for e in kills
        }
        facts = [item("events", event_fact(e)) for _, _, e in unhealthy[:3]]
        facts.extend(item("events", event_fact(e)) for e in kills[:2])
        running = container.state.state == "running"
        if kills or ("liveness" in kinds and container.restart_count > 0):
            confidence = 0.85
            probe_kind = "startup" if "startup" in kinds and "liveness" not in kinds else "liveness"
        elif "startup" in kinds and container.restart_count > 0:
            confidence = 0.8
            probe_kind = "startup"
        elif "readiness" in kinds and running and container.ready is False:
            confidence = 0.75
            probe_kind = "readiness"
        else:
            confidence = 0.45
            probe_kind = sorted(kinds)[0]
        state_fact = item(
            pod_source(pod),
            f"container {container.name}: {container.state.state}, ready={container.ready},"
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
            port = _probe_port(spec.handler)
            declared = " ".join(container.ports)
            if port and container.ports and port not in declared and "refused" in reasons:
                confidence += 0.05
                spec_facts.append(
                    item(
                        pod_source(pod),
                        f"probe port {port} is not among the "
                        f"container ports {', '.join(container.ports)}",
                    )
                )
            facts.extend(spec_facts)
        if re.search(r"statuscode: 404|status code 404", reasons, re.I):
            confidence += 0.05  # the probe path does not exist
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
            confidence -= 0.25
            fact = item(dependency[0].source, dependency[0].line)
            facts.append(fact)
            caveat = ("The application's own log shows a dependency failing", fact)
        busy = _busy_container(evidence, pod, container.name)
        if busy is not None and PROBE_TIMEOUT.search(reasons) and not kills:
            # The probe times out because the process is too busy to answer it (CPU jumped):
            # the probe reports the overload, it is not the fault.
            confidence -= 0.25
            facts.append(busy)
            caveat = ("CPU usage jumped at the same time, so the process may be too busy", busy)
        findings.append(
            make_finding(
                "probe-failure",
                Category.PROBE_FAILURE,
                confidence,
                probe_text(
                    target, container, probe_kind, reasons, probe_facts, (spec, spec_facts), caveat
                ),
                facts,
                Action.FIX_PROBE,
                target,
                {"container": container.name, "probe": probe_kind},
            )
        )
    return findings


CONTAINER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("oom-killed", (Category.OOM_KILLED,), check_oom),
    Analyzer("crash-loop", (Category.CRASH_LOOP,), check_crash_loop),
    Analyzer("config-missing", (Category.CONFIG_MISSING,), check_config_missing),
    Analyzer("image-pull", (Category.IMAGE_PULL,), check_image_pull),
    Analyzer("probe-failure", (Category.PROBE_FAILURE,), check_probe_failure),
)
