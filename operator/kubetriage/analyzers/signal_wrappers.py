"""A rollout that wrapped a container's command in a shell that swallows SIGTERM.

Kubernetes stops a container by sending SIGTERM to its PID 1 and SIGKILL when the grace
period ends. ``sh -c "setup; app"`` makes the shell PID 1 and the app its child: the shell
neither forwards the signal nor exits on it, so the app never hears it, keeps taking work
and dies mid-task at the deadline (exit 137), leaving what it held half done (a queue's
messages redelivered until they are dead-lettered, a batch lost). ``exec app`` as the last
command (the app replaces the shell), a single command (shells exec it) or a ``trap`` that
forwards the signal avoid it. An SRE who sees a worker killed at every scale-down since a
release changed its command to such a shell rolls the release back.

The finding needs all three: the workload's current revision runs such a shell for a
container whose command in the previous revision did not; and a pod of the current revision
was killed rather than stopped (a container that exited 137 without running out of memory, or
one that kept logging well after the kubelet began stopping it).

Pure functions of Evidence, registered in ``kubetriage.analyzers.ANALYZERS``.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.revisions import (
    pod_revision,
    rollback_subject,
)
from kubetriage.analyzers.support import event_fact, item, logs_of, pod_source, states
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category

_SHELLS: Final = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
# The separators of a shell script's commands (a pipeline's stages run as children too).
_SEPARATORS: Final = re.compile(r";|&&|\|\||\||\n|&")
# SIGKILL's exit code, and how long after the kubelet began stopping a container a logged
# line shows it still working (past a log flush or a final line).
_SIGKILLED: Final = 137
_STILL_WORKING: Final = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class _Confidence:
    """What the evidence earns the finding."""

    killed: float = 0.9  # the release wrapped the command, and its pods are killed


CONFIDENCE: Final = _Confidence()


def shell_script(argv: list[str]) -> str | None:
    """The script of ``sh -c SCRIPT`` (any POSIX shell, any path, ``-c`` among its flags)."""
    if len(argv) < 3 or posixpath.basename(argv[0]) not in _SHELLS:
        return None
    flag = argv[1]
    if not flag.startswith("-") or flag.startswith("--") or "c" not in flag:
        return None
    return argv[2]


def swallows_sigterm(argv: list[str]) -> bool:
    """Whether ``argv`` runs a shell as PID 1 that keeps the app from hearing SIGTERM: more
    than one command, the last not ``exec``'d, and no ``trap`` forwarding signals."""
    script = shell_script(argv)
    if script is None or re.search(r"\btrap\b", script):
        return False
    commands = [c.strip() for c in _SEPARATORS.split(script) if c.strip()]
    return len(commands) > 1 and not re.match(r"exec\s", commands[-1])


def _killed(evidence: Evidence, pod: PodEvidence) -> list[EvidenceItem]:
    """What says ``pod`` was killed rather than stopped: a container that exited 137 without
    running out of memory, or a line logged well after the kubelet began stopping it."""
    for container in pod.containers:
        for state in states(container):
            if state.exit_code == _SIGKILLED and state.reason != "OOMKilled":
                fact = f"container {container.name} exited {_SIGKILLED} (SIGKILL)"
                return [item(pod_source(pod), fact)]
    stops = [
        e
        for e in evidence.events
        if e.reason == "Killing"
        and e.involved.kind == "Pod"
        and e.involved.name == pod.name
        and e.involved.namespace == pod.namespace
    ]
    for event in stops:
        began = event.first_seen or event.last_seen
        if began is None:
            continue
        for log in logs_of(evidence, pod):
            late = [
                line
                for line in log.lines
                if (when := line_time(line, evidence.collected_at)) is not None
                and when - began >= _STILL_WORKING
            ]
            if late:
                return [
                    item("event", event_fact(event)),
                    item(pod_source(pod), f"still logs after it: {late[-1][:160]}"),
                ]
    return []


def check_signal_swallowing_shell(evidence: Evidence) -> list[Finding]:
    release = rollback_subject(evidence)
    if release is None:
        return []
    target, current, previous = release
    wrapped = [
        name
        for name, argv in current.commands.items()
        if swallows_sigterm(argv) and not swallows_sigterm(previous.commands.get(name, []))
    ]
    if not wrapped:
        return []
    killed: list[EvidenceItem] = []
    for pod in evidence.pods:
        if pod_revision(pod, evidence) == current and (killed := _killed(evidence, pod)):
            break
    if not killed:
        return []
    shell = item(
        "revision",
        f"revision {current.revision} runs {wrapped[0]} as "
        f"{' '.join(current.commands[wrapped[0]])[:160]}",
    )
    return [
        make_finding(
            "signal-swallowing-shell",
            Category.BAD_ROLLOUT,
            CONFIDENCE.killed,
            prose.narrative(
                f"{prose.obj(target)} runs {wrapped[0]} under a shell that swallows SIGTERM "
                f"since revision {current.revision}",
                f"roll back to revision {previous.revision}",
                because=[
                    prose.claim(
                        "The shell is PID 1 and does not exec the app or forward signals",
                        shell,
                    ),
                    prose.claim(
                        "Its pods keep working after they are told to stop, until SIGKILL",
                        *killed,
                    ),
                    prose.claim(f"Revision {previous.revision} started the app directly"),
                ],
            ),
            [shell, *killed],
            Action.ROLLBACK,
            target,
            {"revision": str(previous.revision)},
        )
    ]


SIGNAL_WRAPPER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("signal-swallowing-shell", (Category.BAD_ROLLOUT,), check_signal_swallowing_shell),
)
