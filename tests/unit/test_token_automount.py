"""Checks the token-automount rule: the newest revision turned off
``automountServiceAccountToken`` and its pods log that the ServiceAccount token file is
missing, so the release is rolled back (bad-rollout, rollback on the workload). Near misses:
the mount was turned on (or never changed), the missing-token line comes from a pod of the
previous revision, the new pods log no such line. Real: the analyzer registry over Evidence
built with the shared factories (``tests/support/evidence``), the change's aspects from the
real pod-template diff; revisions, templates and log lines are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.template_diff import TemplateDiff, template_diff
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    NOW,
    ago,
    analyze,
    app_pod,
    assert_leads,
    container,
    deployment,
    log,
    metric,
    rollout_change,
    rollout_revisions,
)

_NEW, _OLD = "operator-7d9f6c8b5", "operator-5c6d7e8f9"
_MISSING = (
    'level=error msg="cannot build client" err="open '
    '/var/run/secrets/kubernetes.io/serviceaccount/token: no such file or directory"'
)
_STARTED = 'level=info msg="starting controller" version=1.8.0'


def _template(automount: bool | None, account: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": account,
        "containers": [{"name": "manager", "image": "ghcr.io/acme/operator:1.8.0"}],
    }
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    return {"metadata": {"labels": {"app": "operator"}}, "spec": spec}


def _change(diff: TemplateDiff) -> ChangeEvidence:
    """The timeline entry of the rollout to revision 7, with what the real template diff
    noted between the two pod templates."""
    workload = deployment("operator", "platform").ref
    change = rollout_change(workload, 6, *diff.aspects, minutes_ago=20)
    return change.model_copy(update={"aspect_details": diff.aspects, "details": diff.details})


def _turned(before: bool | None, after: bool | None, account: str = "default") -> TemplateDiff:
    return template_diff(_template(before), _template(after, account))


def _latency_step(minutes_ago: float) -> MetricSummary:
    """The workload's p99 latency, seen from an hour ago, stepping up ``minutes_ago``."""
    step = metric(
        "histogram_quantile(0.99, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{job="operator"}[5m])))',
        name="latency_p99",
        first=0.2,
        last=1.4,
        trend="rising",
        changed_minutes_ago=minutes_ago,
    )
    return step.model_copy(
        update={"shape": "step", "first_at": ago(60), "before": 0.2, "after": 1.4}
    )


def _evidence(
    diff: TemplateDiff,
    *,
    logged: str = _MISSING,
    pod_rs: str = _NEW,
    metrics: list[MetricSummary] | None = None,
) -> Evidence:
    pod_name = f"{pod_rs}-x2x9k"
    return Evidence(
        metrics=metrics or [],
        collected_at=NOW,
        workload=deployment("operator", "platform", replicas=1, revision=7),
        pods=[app_pod(pod_name, container("manager"), namespace="platform")],
        revisions=rollout_revisions(
            7,
            {"manager": "ghcr.io/acme/operator:1.8.0"},
            {"manager": "ghcr.io/acme/operator:1.8.0"},
            minutes_ago=20,
            ready=1,
            names=(_NEW, _OLD),
        ),
        changes=[_change(diff)],
        logs=[log(pod_name, "manager", f"{_STARTED}\n{logged}", namespace="platform")],
    )


def test_a_release_that_unmounts_the_token_its_pods_read_is_rolled_back() -> None:
    result = analyze(_evidence(_turned(None, False)))
    first = assert_leads(
        result, Category.BAD_ROLLOUT, Action.ROLLBACK, deployment("operator", "platform").ref
    )
    assert first.analyzer == "token-automount"
    assert first.params == {"revision": "6"}


def _fired(ev: Evidence) -> bool:
    return any(f.analyzer == "token-automount" for f in analyze(ev).findings)


def test_near_misses_are_not_this_rule() -> None:
    assert _fired(_evidence(_turned(True, False)))
    assert not _fired(_evidence(_turned(False, True)))
    assert not _fired(_evidence(_turned(None, None, account="operator")))
    assert not _fired(_evidence(_turned(None, False), logged=_STARTED))
    assert not _fired(_evidence(_turned(None, False), pod_rs=_OLD))


def test_a_release_that_served_before_the_symptom_stepped_is_not_this_rule() -> None:
    # The rollout 20 minutes ago; a latency step at the rollout is its doing, one that came
    # after the new revision served for a while is not, whatever the pods log.
    assert _fired(_evidence(_turned(None, False), metrics=[_latency_step(19)]))
    rollout_long_ago = _evidence(_turned(None, False), metrics=[_latency_step(19)])
    change = rollout_long_ago.changes[0].model_copy(update={"at": ago(55)})
    assert not _fired(rollout_long_ago.model_copy(update={"changes": [change]}))
