"""The words of the container analyzers' findings: what an OOM kill, a crash loop, a missing
ConfigMap or Secret, and a failing probe look like as a ``Narrative`` (problem, fix, causal
claims citing their evidence), built with ``kubetriage.prose``.

Used only by the container rules (``oom``, ``crashes``, ``config_missing``, ``probes``), which
decide; this module only words the decision. Pure functions of plain values and evidence models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubetriage import prose
from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import EvidenceItem, Narrative
from kubetriage.models.object_evidence import ContainerEvidence, ProbeSpec
from kubetriage.models.vocabulary import Action

PROBE_TIMEOUT = re.compile(
    r"(?i)(context deadline exceeded|timeout exceeded|timed out|i/o timeout|"
    r"request canceled while waiting)"
)


def _so_far(restarts: int, ago: float | None, failed_pods: int | None = None) -> str:
    """``3 restarts so far, the last 4m ago``; for a Job's pods that end Failed (never
    restarted: the Job retries in a new pod) ``3 failed pods so far``."""
    if failed_pods is not None:
        return f"{_attempts(restarts, failed_pods)} so far"
    text = f"{prose.count(restarts, 'restart')} so far"
    return f"{text}, the last {prose.duration(ago)} ago" if ago is not None else text


def _attempts(restarts: int, failed_pods: int | None) -> str:
    """``2 restarts``, or ``3 failed pods`` when the attempts are a Job's pods."""
    if failed_pods is not None:
        return prose.count(failed_pods, "failed pod")
    return prose.count(restarts, "restart")


def oom_text(
    target: ObjectRef,
    container: str,
    restarted: tuple[int, float | None],
    sizes: tuple[float | None, float | None],
    params: dict[str, str],
    kills: list[EvidenceItem],
    peak_fact: EvidenceItem | None,
    *,
    failed_pods: int | None = None,
) -> Narrative:
    restarts, ago = restarted
    limit, peak = sizes
    at_limit = f" at its {prose.memory(limit)} memory limit" if limit else ""
    because = [
        prose.claim(
            f"Container {container} is killed for using more memory than its cgroup allows "
            f"({_so_far(restarts, ago, failed_pods)})",
            *kills,
        )
    ]
    if limit and peak and peak_fact is not None:
        because.append(
            prose.claim(
                f"Its working set peaked at {prose.memory(peak)}, "
                f"{prose.percent(peak / limit)} of the {prose.memory(limit)} limit",
                peak_fact,
            )
        )
    elif limit:
        because.append(
            prose.claim(
                f"The limit is {prose.memory(limit)}; no working-set series showed how close "
                "the process came to it"
            )
        )
    if "memory" in params:
        because.append(
            prose.claim(
                f"A {params['memory']} limit gives the process headroom; if usage keeps "
                "climbing after that, look for a leak"
            )
        )
    return prose.narrative(
        f"{prose.obj(target)} is OOM-killed{at_limit}",
        f"raise the limit to {params['memory']}"
        if "memory" in params
        else "set a memory limit above its peak",
        aside=f"container {container}, {_attempts(restarts, failed_pods)}",
        because=because,
    )


# What a crash's last words say it was, in the words an on-call engineer would use.
_CRASH_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Go panic", re.compile(r"(?i)\bpanic:")),
    # Before the segmentation fault: a shell reports SIGILL as "Illegal instruction (core
    # dumped)", an instruction the CPU lacks (a binary built for a newer architecture level).
    ("an illegal instruction", re.compile(r"(?i)(illegal instruction|sigill)")),
    ("a segmentation fault", re.compile(r"(?i)(segmentation fault|sigsegv|core dumped)")),
    (
        "an unhandled exception",
        re.compile(
            r"(?i)(traceback \(most recent call last\)|"
            r"unhandled (exception|rejection)|uncaught exception|exception in thread)"
        ),
    ),
    (
        "an unknown command-line argument",
        re.compile(
            r"(?i)(unknown (flag|option|argument|command)|flag provided but not defined|"
            r"unrecognized (option|argument))"
        ),
    ),
    ("a failed migration", re.compile(r"(?i)(migrations? failed|failed to (run )?migrat)")),
    ("a fatal error", re.compile(r"(?i)(\bfatal\b|\berror:)")),
)
_EXIT_KINDS = {
    132: "an illegal instruction",
    139: "a segmentation fault",
    134: "an abort",
    137: "a SIGKILL",
    143: "a SIGTERM",
}


def _crash_kind(lines: list[str], exit_code: int | None) -> str | None:
    for kind, pattern in _CRASH_KINDS:
        if any(pattern.search(line) for line in lines):
            return kind
    return _EXIT_KINDS.get(exit_code) if exit_code is not None else None


def crash_text(
    target: ObjectRef,
    container: ContainerEvidence,
    ago: float | None,
    exit_code: int | None,
    lines: list[str],
    action: Action,
    params: dict[str, str],
    state_fact: EvidenceItem,
    log_facts: list[EvidenceItem],
    *,
    never_started: bool = False,
    failed_pods: int | None = None,
) -> Narrative:
    kind = _crash_kind(lines, exit_code)
    restarts = _attempts(container.restart_count, failed_pods)
    exits = f"exits with code {exit_code}" if exit_code is not None else "keeps exiting"
    if never_started:
        exits = "cannot be started by the container runtime (its command does not run)"
    retried = (
        "; its pod ends Failed and the Job retries in a new pod"
        if failed_pods is not None
        else " and the kubelet restarts it"
    )
    because = [
        prose.claim(
            f"Container {container.name} {exits}{retried} "
            f"({_so_far(container.restart_count, ago, failed_pods)})",
            state_fact,
        )
    ]
    if kind is not None and log_facts:
        because.append(prose.claim(f"Its log shows {kind} just before it exits", *log_facts))
    if action is Action.ROLLBACK:
        fix = f"roll back to revision {params['revision']}"
        because.append(
            prose.claim(
                f"The crashes began with the current revision; revision {params['revision']} "
                "ran without them, so rolling back restores service while the change is fixed"
            )
        )
    elif action is Action.RESTART:
        fix = "restart it and look for a leak"
        because.append(
            prose.claim(
                "The process ran for a long time before failing, so it degrades over time; a "
                "fresh start buys time"
            )
        )
    else:
        fix = "escalate to its owners"
        because.append(
            prose.claim(
                "The crash repeats on every start, so another restart will not help: the code, "
                "its arguments or its input must change"
            )
        )
    return prose.narrative(
        f"{prose.obj(target)} crash-loops",
        fix,
        aside=f"{kind.split(' ', 1)[1]}, {restarts}"
        if kind
        else f"container {container.name}, {restarts}",
        because=because,
    )


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """What is wrong with a ConfigMap, Secret or workload configuration, and its fix."""

    what: str
    fix: str
    why: str


ABSENT = ConfigProblem(
    "does not exist",
    "create it",
    "The kubelet does not create a container whose referenced object is missing",
)
CLAIM_SECRET_ABSENT = ConfigProblem(
    "does not exist",
    "create it",
    "The storage class names it for its CSI provisioner or resizer, which creates or grows no "
    "volume without it, so the claims waiting on them stay Pending or unresized",
)
ABSENT_OPTIONAL = ConfigProblem(
    "does not exist",
    "create it",
    "The pod references it as optional, so its containers start without the settings it holds",
)
REJECTED = ConfigProblem(
    "is rejected by the kubelet",
    "correct it",
    "The kubelet cannot create the container from this configuration",
)

STORE_MISSING = ConfigProblem(
    "names a secret its secret store does not hold",
    "create the secret in the store or correct the name",
    "The store answers and says the secret does not exist; the pod cannot start without it",
)
STORE_REFUSED = ConfigProblem(
    "mounts a secret its secret store refuses to the pod",
    "grant the pod's identity read access to it",
    "The Secrets Store CSI driver mounts every listed secret before the container starts",
)


def no_key(key: str) -> ConfigProblem:
    return ConfigProblem(
        f"has no key {key}",
        f"add the key {key}",
        "The kubelet does not create a container whose referenced key is missing",
    )


def read_no_key(key: str) -> ConfigProblem:
    """A key the client that reads the object through the API (not the kubelet) says it lacks."""
    return ConfigProblem(
        f"has no key {key}",
        f"add the key {key} (or point the reader at the key it has now)",
        "What reads it through the API stops at the missing key, whatever else it did first",
    )


def log_problem(variable: str | None, path: str | None, renamed: str | None) -> ConfigProblem:
    why = "The application reads this setting when it starts and exits without it"
    if variable and renamed:
        return ConfigProblem(f"has {renamed} where {variable} is read", f"restore {variable}", why)
    if variable:
        return ConfigProblem(f"does not provide {variable}", f"set {variable}", why)
    if path:
        return ConfigProblem(f"does not provide {path}", f"provide {path}", why)
    return ConfigProblem("holds a setting the application rejects", "correct it", why)


def unparsable(key: str) -> ConfigProblem:
    return ConfigProblem(
        f"holds a {key} that does not parse",
        f"correct {key}",
        "The application reads the file mounted from it when it starts and its parser rejects "
        "it, so every start fails the same way",
    )


MISSPELT_HOST = ConfigProblem(
    "names a host that does not exist",
    "correct the host name",
    "The name does not resolve, and a Service with a nearly identical name exists",
)


# How a probe fails, in a few words, and what to change about it.
_PROBE_OUTCOMES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (PROBE_TIMEOUT, "times out", "lengthen its timeout or add a startup probe"),
    (
        re.compile(r"(?i)(connection refused|connect: refused)"),
        "is refused",
        "point it at the port the container listens on",
    ),
    (
        re.compile(r"(?i)(statuscode: 404|status code 404)"),
        "gets HTTP 404",
        "point it at a path the application serves",
    ),
    (
        re.compile(r"(?i)statuscode: 5\d\d"),
        "gets an HTTP 5xx",
        "check what the health endpoint depends on",
    ),
)


def probe_text(
    target: ObjectRef,
    container: ContainerEvidence,
    probe_kind: str,
    reasons: str,
    probe_facts: list[EvidenceItem],
    configured: tuple[ProbeSpec | None, list[EvidenceItem]],
    caveat: tuple[str, EvidenceItem] | None,
    *,
    own_cost: EvidenceItem | None = None,
) -> Narrative:
    """``own_cost``: the fact that the probe's command runs inside a container throttled at
    its CPU limit, so the probe pays for itself: the fix is a cheaper check, not more time."""
    outcome, fix = next(
        ((said, fix) for rx, said, fix in _PROBE_OUTCOMES if rx.search(reasons)),
        ("fails", "correct the probe"),
    )
    if probe_kind == "readiness" and fix.endswith("startup probe"):
        fix = "lengthen its timeout"
    if own_cost is not None:
        fix = "make its command cheaper or check over HTTP or TCP instead"
    effect = {
        "liveness": "the kubelet kills and restarts the container",
        "startup": "the kubelet kills the container before it finishes starting",
        "readiness": "the pod is taken out of its Services' endpoints",
    }[probe_kind]
    restarts = prose.count(container.restart_count, "restart")
    because = [
        prose.claim(
            f"The {probe_kind} probe of container {container.name} {outcome}, so {effect}",
            *probe_facts,
        )
    ]
    spec, spec_facts = configured
    if spec is not None and spec_facts:
        because.append(
            prose.claim(
                f"It checks {spec.handler} with a {prose.duration(spec.timeout_seconds)} "
                f"timeout every {prose.duration(spec.period_seconds)}, "
                + (
                    f"starting after {prose.duration(spec.initial_delay_seconds)}"
                    if spec.initial_delay_seconds
                    else "with no initial delay"
                ),
                spec_facts[0],
            )
        )
        if len(spec_facts) > 1:
            because.append(
                prose.claim("That port is not one the container declares", spec_facts[1])
            )
    if own_cost is not None:
        because.append(
            prose.claim(
                "Its command runs inside the container and spends the CPU quota the container "
                "is throttled on, so the probe slows itself",
                own_cost,
            )
        )
    if caveat is not None:
        because.append(
            prose.claim(f"{caveat[0]}: the probe may report that, not be the fault", caveat[1])
        )
    return prose.narrative(
        f"The {probe_kind} probe of {prose.obj(target)} {outcome}",
        fix,
        aside=f"container {container.name}, {restarts}"
        if container.restart_count
        else f"container {container.name}",
        because=because,
    )
