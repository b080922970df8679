"""How the crash-loop and OOM findings count the attempts of a Job's pods.

A pod in a terminal phase is never restarted by the kubelet: a Job whose pods run with
restartPolicy Never retries by creating a new pod, so each failed attempt is one more Failed
pod with a restart count of 0. The findings must count those pods ("3 failed pods so far",
"the Job retries in a new pod"), not report "0 restarts" and a kubelet restarting the
container; a Deployment's crash loop keeps its restart count.

Real: the analyzers (``run_analyzers``) and ``support.failed_run_pods`` over synthetic
evidence from ``tests.support.evidence``; no case files are read.
"""

from __future__ import annotations

from kubetriage.analyzers.support import failed_run_pods
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Category
from tests.support.evidence import (
    analyze,
    by_category,
    container,
    crash_looping,
    evidence,
    log,
    pod,
    terminated,
)

NAMESPACE = "reporting"
JOB = ObjectRef(kind="Job", namespace=NAMESPACE, name="usage-export-29919450")
OTHER_JOB = ObjectRef(kind="Job", namespace=NAMESPACE, name="cleanup-29919440")


def _job_pod(name: str, reason: str, exit_code: int, job: ObjectRef = JOB) -> PodEvidence:
    """A pod of ``job`` that ended Failed after one run of its container (never restarted)."""
    failed = container("export", ready=False, restarts=0, state=terminated(reason, exit_code))
    made = pod(name, failed, namespace=NAMESPACE, replica_set=None, phase="Failed")
    return made.model_copy(update={"owner": job})


def _texts(ev_pods: list[PodEvidence], category: Category, **fields: object) -> str:
    findings = by_category(analyze(evidence(pods=ev_pods, **fields)), category)
    assert findings, f"no {category.value} finding"
    first = findings[0]
    assert first.narrative is not None
    return " ".join([first.summary, *(claim.text for claim in first.narrative.because)])


def test_failed_job_pods_are_counted_as_attempts_of_a_crash() -> None:
    pods = [_job_pod(f"usage-export-29919450-{s}", "Error", 1) for s in ("a1", "b2", "c3")]
    traceback = "Traceback (most recent call last):\nValueError: bad row 17\n"
    text = _texts(
        pods,
        Category.CRASH_LOOP,
        logs=[log(pods[-1].name, "export", traceback, namespace=NAMESPACE)],
    )
    assert "3 failed pods so far" in text
    assert "the Job retries in a new pod" in text
    assert "kubelet restarts" not in text
    assert "0 restarts" not in text


def test_failed_job_pods_are_counted_as_attempts_of_an_oom_kill() -> None:
    pods = [_job_pod(f"usage-export-29919450-{s}", "OOMKilled", 137) for s in ("a1", "b2")]
    text = _texts(pods, Category.OOM_KILLED)
    assert "2 failed pods" in text
    assert "0 restarts" not in text


def test_a_deployment_crash_loop_keeps_its_restart_count() -> None:
    crashing = pod("checkout-7d9f6c8b5-x2x9k", crash_looping(restarts=6))
    text = _texts([crashing], Category.CRASH_LOOP)
    assert "the kubelet restarts it" in text
    assert "6 restarts so far" in text
    assert "failed pod" not in text


def test_only_failed_pods_of_the_same_workload_count() -> None:
    mine = [_job_pod(f"usage-export-29919450-{s}", "Error", 1) for s in ("a1", "b2")]
    other = _job_pod("cleanup-29919440-z9", "Error", 1, job=OTHER_JOB)
    still_running = pod(
        "usage-export-29919450-d4", container("export"), namespace=NAMESPACE, replica_set=None
    ).model_copy(update={"owner": JOB})
    ev = evidence(pods=[*mine, other, still_running])
    assert failed_run_pods(ev, mine[0]) == 2
    assert failed_run_pods(ev, still_running) is None
    assert failed_run_pods(ev, pod("checkout-7d9f6c8b5-x2x9k", crash_looping())) is None
