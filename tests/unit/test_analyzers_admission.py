"""The admission-policy rule (``kubetriage.analyzers.admission``): the API server refuses a
workload's pods because their spec violates an enforced policy (Pod Security Admission, a
policy engine's webhook, a ValidatingAdmissionPolicy)."""

from __future__ import annotations

import pytest

from kubetriage.analyzers import AnalyzerRun
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import RevisionEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    analyze,
    assert_leads,
    by_category,
    deployment,
    event,
    evidence,
    revision,
    rollout_change,
)

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
PSA = (
    'Error creating: pods "checkout-7d9f6c8b5-x2k9q" is forbidden: violates PodSecurity '
    '"restricted:latest": allowPrivilegeEscalation != false (container "app" must set '
    "securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "
    '"app" must set securityContext.runAsNonRoot=true)'
)
KYVERNO = (
    'Error creating: admission webhook "validate.kyverno.svc-fail" denied the request: \n\n'
    "resource Pod/shop/checkout-7d9f6c8b5-x2k9q was blocked due to the following policies\n\n"
    "disallow-latest-tag:\n  validate-image-tag: 'validation error: Using a mutable image tag "
    "e.g. 'latest' is not allowed.'"
)
GATEKEEPER = (
    'Error creating: admission webhook "validation.gatekeeper.sh" denied the request: '
    "[must-have-limits] container <app> has no resource limits"
)
VAP = (
    'Error creating: pods "checkout-7d9f6c8b5-x2k9q" is forbidden: ValidatingAdmissionPolicy '
    "'require-nonroot' with binding 'require-nonroot-binding' denied request: runAsNonRoot"
)


def _refused(message: str, *revisions: RevisionEvidence) -> AnalyzerRun:
    return analyze(
        evidence(
            workload=deployment("checkout", replicas=3, ready=1),
            events=[event("FailedCreate", message, name="checkout-7d9f6c8b5", kind="ReplicaSet")],
            revisions=list(revisions),
        )
    )


@pytest.mark.parametrize("message", [PSA, KYVERNO, GATEKEEPER, VAP])
def test_pods_refused_by_an_enforced_policy_need_a_compliant_spec(message: str) -> None:
    only = revision("checkout-7d9f6c8b5", 4, {"app": "shop/checkout:1.4"}, current=True, ready=1)
    assert_leads(_refused(message, only), Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT)


def test_a_new_revision_the_policy_refuses_while_the_old_one_serves_is_rolled_back() -> None:
    new = revision("checkout-7d9f6c8b5", 5, {"app": "shop/checkout:latest"}, current=True)
    old = revision("checkout-5c8d7b6a4", 4, {"app": "shop/checkout:1.4"}, ready=3)
    assert_leads(_refused(KYVERNO, new, old), Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)


def _psa_refused_after(*aspects: str) -> AnalyzerRun:
    """Pod Security refuses the pods of revision 5, rolled out over a serving revision 4 by a
    rollout that changed ``aspects`` of the pod template."""
    new = revision("checkout-7d9f6c8b5", 5, {"app": "shop/checkout:1.5"}, current=True)
    old = revision("checkout-5c8d7b6a4", 4, {"app": "shop/checkout:1.4"}, ready=3)
    return analyze(
        evidence(
            workload=deployment("checkout", replicas=3, ready=3, revision=5),
            events=[event("FailedCreate", PSA, name="checkout-7d9f6c8b5", kind="ReplicaSet")],
            revisions=[new, old],
            changes=[rollout_change(CHECKOUT, 4, *aspects, minutes_ago=25)],
        )
    )


@pytest.mark.parametrize("aspects", [("image",), ("image", "env", "resources")])
def test_pod_security_refusing_a_release_that_changed_nothing_it_judges_needs_a_compliant_spec(
    aspects: tuple[str, ...],
) -> None:
    # The level was raised under the running pods: the previous template violates it too,
    # so a rollback's pods would be refused alike.
    first = assert_leads(
        _psa_refused_after(*aspects), Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT
    )
    # ... and cites the rollout that left the judged settings alone.
    assert "deployment/shop/checkout" in {e.source for e in first.evidence}


@pytest.mark.parametrize("aspects", [("image", "security"), ("containers",), ("volumes",)])
def test_pod_security_refusing_a_release_that_changed_what_it_judges_is_rolled_back(
    aspects: tuple[str, ...],
) -> None:
    assert_leads(_psa_refused_after(*aspects), Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)


def test_a_webhook_refusing_an_image_only_release_still_blames_the_release() -> None:
    # A policy engine may judge the image itself (a tag, a registry): the PSA reading of an
    # image-only rollout does not carry over.
    new = revision("checkout-7d9f6c8b5", 5, {"app": "shop/checkout:latest"}, current=True)
    old = revision("checkout-5c8d7b6a4", 4, {"app": "shop/checkout:1.4"}, ready=3)
    result = analyze(
        evidence(
            workload=deployment("checkout", replicas=3, ready=3, revision=5),
            events=[event("FailedCreate", KYVERNO, name="checkout-7d9f6c8b5", kind="ReplicaSet")],
            revisions=[new, old],
            changes=[rollout_change(CHECKOUT, 4, "image", minutes_ago=25)],
        )
    )
    assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)


@pytest.mark.parametrize(
    "message",
    [
        # A webhook the API server could not call is the webhook's fault, not the spec's.
        'Error creating: Internal error occurred: failed calling webhook "validate.kyverno.svc-'
        'fail": failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/validate/fail'
        '?timeout=10s": context deadline exceeded',
        # A ResourceQuota is the unschedulable rule's case.
        'Error creating: pods "checkout-7d9f6c8b5-x2k9q" is forbidden: exceeded quota: compute, '
        "requested: limits.memory=1Gi, used: limits.memory=8Gi, limited: limits.memory=8Gi",
    ],
)
def test_refusals_that_are_no_policy_verdict_are_left_to_their_rules(message: str) -> None:
    result = _refused(message)
    assert not [f for f in result.findings if f.analyzer == "admission-policy"]
    assert not by_category(result, Category.CONFIG_MISSING)


def test_a_refused_run_of_a_cron_job_is_fixed_on_the_cron_job_that_stamps_it() -> None:
    # The Job is one scheduled run; the next run comes from the CronJob's template.
    cron_job = ObjectRef(kind="CronJob", namespace="db", name="backup")
    run = deployment("backup-29919435", "db", replicas=1, ready=0).model_copy(
        update={
            "ref": ObjectRef(kind="Job", namespace="db", name="backup-29919435"),
            "controller": cron_job,
        }
    )
    refused = PSA.replace("checkout-7d9f6c8b5-x2k9q", "backup-29919435-l6w2x")
    result = analyze(
        evidence(
            workload=run,
            events=[
                event("FailedCreate", refused, name="backup-29919435", kind="Job", namespace="db")
            ],
        )
    )
    assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, cron_job)
