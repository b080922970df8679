"""Checks the lingering-sidecar rule: a Job's pod whose main container exited 0 long ago while
another regular container (an injected proxy) keeps running never completes, and the fix goes
on the pod template of the Job's CronJob (fix-config); a work container that just finished, a
failed one, or a pod of a Deployment leaves it silent.

Real: the analyzer registry over Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerState
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import ago, analyze, container, evidence, pod

CRON = ObjectRef(kind="CronJob", namespace="batch", name="export")
RUN = ObjectRef(kind="Job", namespace="batch", name="export-29918280")


def _evidence(minutes_since: float = 300, exit_code: int = 0, owner: ObjectRef = RUN) -> Evidence:
    work = container(
        "export",
        ready=False,
        state=ContainerState(
            state="terminated",
            reason="Completed" if exit_code == 0 else "Error",
            exit_code=exit_code,
            started_at=ago(minutes_since + 4),
            finished_at=ago(minutes_since),
        ),
    )
    proxy = container("istio-proxy", "docker.io/istio/proxyv2:1.23.3")
    run = pod("export-29918280-6kq9t", work, proxy, namespace="batch", replica_set=None)
    run = run.model_copy(update={"owner": owner})
    return evidence(target=RUN, pods=[run])


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "lingering-sidecar"]


def test_a_job_whose_sidecar_outlives_its_work_is_fixed_on_its_cronjob() -> None:
    (found,) = _found(_evidence())
    assert (found.category, found.action) == (Category.CONFIG_MISSING, Action.FIX_CONFIG)
    assert found.target.kind in {"CronJob", "Job"}
    assert found.target.name in {CRON.name, RUN.name}
    assert "istio-proxy" in found.summary
    assert "None" not in found.summary


def test_a_sidecar_still_draining_is_left_alone() -> None:
    assert _found(_evidence(minutes_since=1)) == []


def test_failed_work_is_left_alone() -> None:
    assert _found(_evidence(exit_code=1)) == []


def test_a_pod_of_a_deployment_is_left_alone() -> None:
    owner = ObjectRef(kind="ReplicaSet", namespace="batch", name="export-7d9f6c8b5")
    assert _found(_evidence(owner=owner)) == []
