"""Checks a release that changed what a pod injector adds, and the injector-release rule.

Evidence side (``kubetriage.evidence.template_diff``): a new value of a Vault Agent Injector or
Dapr annotation in the pod template is an ``injection`` change with its own line; another
annotation (a dashboard hint) is none.

Analyzer side (``kubetriage.analyzers.injector_releases``): the workload's latest release
changed its injector's annotations and, an hour later, only pods of that revision are refused
their login: bad-rollout, roll back. Near misses: the same refusals after a release that
changed the image only; refusals that a pod of the earlier revision logs too.

Real: ``template_diff`` over pod templates as the API returns them; Evidence models from
``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetriage.analyzers.injector_releases import CONFIDENCE, check_injector_release
from kubetriage.evidence.template_diff import template_diff
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

NEW_RS, OLD_RS = "booking-6f9c8d7b5c", "booking-5d8b7c6f9d"
REFUSED = (
    'ActiveRecord::ConnectionNotEstablished (connection to server at "10.43.77.20", port 5432 '
    'failed: FATAL:  password authentication failed for user "v-kubernetes-booking-Ak8Zp2")'
)


def _template() -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"app": "booking"},
            "annotations": {
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "booking",
            },
        },
        "spec": {"containers": [{"name": "web", "image": "booking:7"}]},
    }


def test_a_new_injector_annotation_is_an_injection_change() -> None:
    old = _template()
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["vault.hashicorp.com/agent-pre-populate-only"] = "true"
    diff = template_diff(old, new)
    assert list(diff.aspects) == ["injection"]
    assert diff.details == [
        "pod template annotation vault.hashicorp.com/agent-pre-populate-only unset -> true"
    ]


def test_another_annotation_is_no_injection_change() -> None:
    old = _template()
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] = "web"
    assert "injection" not in template_diff(old, new).aspects


def _evidence(*aspects: str, old_refused: bool = False) -> Evidence:
    workload = make.deployment("booking", "shop", revision=45)
    new_pod = make.app_pod(f"{NEW_RS}-x4k9m", created_at=make.ago(67))
    old_pod = make.app_pod(f"{OLD_RS}-p2w7c", created_at=make.ago(60 * 24))
    logs = [make.log(new_pod.name, "web", REFUSED)]
    if old_refused:
        logs.append(make.log(old_pod.name, "web", REFUSED))
    return make.evidence(
        workload=workload,
        pods=[new_pod, old_pod],
        revisions=make.rollout_revisions(
            45, {"web": "booking:7"}, {"web": "booking:7"}, minutes_ago=68, names=(NEW_RS, OLD_RS)
        ),
        changes=[make.rollout_change(workload.ref, 44, *aspects, minutes_ago=68)],
        logs=logs,
    )


def test_logins_refused_since_a_release_that_changed_the_injection_roll_it_back() -> None:
    evidence = _evidence("injection")
    [found] = check_injector_release(evidence)
    assert (found.category, found.action, found.confidence) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        CONFIDENCE.refused_since,
    )
    assert found.params == {"revision": "44"}
    assert evidence.workload is not None
    assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, evidence.workload.ref)


def test_silent_after_a_release_that_changed_the_image_only() -> None:
    assert check_injector_release(_evidence("image")) == []


def test_silent_when_a_pod_of_the_earlier_revision_is_refused_too() -> None:
    assert check_injector_release(_evidence("injection", old_refused=True)) == []
