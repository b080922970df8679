"""A Job that never completes because a sidecar outlives its work: the pod's main containers
finished with exit code 0 long ago, while another regular container of the pod (a service
mesh proxy injected at admission, a database or log proxy) keeps running. A Job counts a pod
as succeeded only when every container has stopped, so the run stays active; with
``concurrencyPolicy: Forbid`` its CronJob skips every later run, and with a deadline the run
fails although its work was done. Nothing in the work is wrong: the pod template is. An SRE
reads the finished exit code next to the running sidecar and changes the template: opt the
Job out of injection, turn the sidecar into a native sidecar (an init container with
``restartPolicy: Always``, which the kubelet stops after the main containers), or have the
work tell the proxy to quit. That is fix-config on the CronJob (or the Job) whose template it
is; escalating or restarting starts another run that hangs the same way.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, pod_source, seconds_before, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a lingering-sidecar finding is."""

    # Every main container of a Job's pod exited 0 more than LINGER ago while another of its
    # regular containers still runs.
    lingering_sidecar: float = 0.84


CONFIDENCE: Final = _Confidence()

# How long after the work finished a still-running container is no longer a sidecar shutting
# down with it (a proxy drains in seconds) but one that will not stop.
LINGER: Final = timedelta(minutes=10)


def _finished(container: ContainerEvidence) -> bool:
    state = container.state
    return state.state == "terminated" and state.exit_code == 0


def _lingering(evidence: Evidence, pod: PodEvidence) -> tuple[ContainerEvidence, ...] | None:
    """(a finished main container, the running sidecar) of a Job's pod whose work ended more
    than LINGER ago; None when the pod is not such a pod."""
    if pod.owner is None or pod.owner.kind != "Job" or pod.phase != "Running":
        return None
    regular = [c for c in pod.containers if not c.init]
    finished = [c for c in regular if _finished(c)]
    running = [c for c in regular if c.state.state == "running"]
    others = [c for c in regular if c not in finished and c not in running]
    if not finished or not running or others:
        return None
    ended = max((c.state.finished_at for c in finished if c.state.finished_at), default=None)
    age = seconds_before(evidence, ended)
    if age is None or age < LINGER.total_seconds():
        return None
    return finished[0], running[0]


def check_lingering_sidecar(evidence: Evidence) -> list[Finding]:
    for pod in evidence.pods:
        found = _lingering(evidence, pod)
        target = workload_ref(evidence, pod)
        if found is None or target is None or pod.owner is None:
            continue
        work, sidecar = found
        ended = work.state.finished_at
        done = item(
            pod_source(pod),
            f"container {work.name} exited 0"
            + (f" at {ended:%Y-%m-%d %H:%M}" if ended is not None else ""),
        )
        alive = item(
            pod_source(pod),
            f"container {sidecar.name} ({sidecar.image}) still running",
        )
        return [
            make_finding(
                "lingering-sidecar",
                Category.CONFIG_MISSING,
                CONFIDENCE.lingering_sidecar,
                prose.narrative(
                    f"{prose.obj(pod.owner)} never completes: {sidecar.name} outlives the work",
                    f"fix the pod template of {prose.obj(target)}",
                    because=[
                        prose.claim("The Job's work exited successfully", done),
                        prose.claim(
                            "Another container of the pod keeps running, and a Job's pod "
                            "succeeds only once every container has stopped",
                            alive,
                        ),
                    ],
                ),
                [done, alive],
                Action.FIX_CONFIG,
                target,
                {"container": sidecar.name},
            )
        ]
    return []


JOB_SIDECAR_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("lingering-sidecar", (Category.CONFIG_MISSING,), check_lingering_sidecar),
)
