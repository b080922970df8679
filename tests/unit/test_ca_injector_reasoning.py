"""Checks "who should have injected this webhook's caBundle?": a webhook configuration
annotated ``cert-manager.io/inject-ca-from`` gets its caBundle from cert-manager's CA injector
(cainjector); when the API server refuses a call to one of its webhooks as signed by an
unknown authority, the injector is the controller the incident waits on. When the injector
crash-loops in exactly the pods of its newest rollout, that rollout is rolled back
(bad-rollout); crash-looping in pods of an older revision, it is a crash loop to restart; a
healthy injector, an unannotated configuration, or a call that failed for another reason
(a timeout) read or conclude nothing about it.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, the analyzer registry,
the live walk (``follow_reconcilers``) over a fake reader that lists by label selector, and
the train case written for this, replayed through the builder.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.reconciler_walk import follow_reconcilers
from kubetriage.evidence.summaries.reconciler_debts import stale_ca_bundles
from kubetriage.evidence.summaries.reconcilers import CA_INJECTOR
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.tenancy import Scope
from tests.support.built import built, case_evidence, deployment_manifest
from tests.support.cases import TRAIN
from tests.support.evidence import NOW, analyze, assert_leads
from tests.support.listing import ListingReader

WEB = ObjectRef(kind="Deployment", namespace="web", name="shopfront")
INJECTOR = ObjectRef(kind="Deployment", namespace="pki", name="injector")
LABELS = {"app.kubernetes.io/name": "cainjector", "app.kubernetes.io/component": "cainjector"}
HOOK = "pods.policy.example.org"
UNKNOWN = (
    f'Error creating: Internal error occurred: failed calling webhook "{HOOK}": failed to call '
    'webhook: Post "https://policy.platform.svc:443/mutate?timeout=10s": tls: failed to verify '
    "certificate: x509: certificate signed by unknown authority"
)
TIMEOUT = (
    f'Error creating: Internal error occurred: failed calling webhook "{HOOK}": failed to call '
    'webhook: Post "https://policy.platform.svc:443/mutate?timeout=10s": context deadline exceeded'
)


def _configuration(*, injected: bool = True) -> dict[str, Any]:
    annotations = {"cert-manager.io/inject-ca-from": "platform/policy-tls"} if injected else {}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "policy", "annotations": annotations},
        "webhooks": [
            {
                "name": HOOK,
                "failurePolicy": "Fail",
                "clientConfig": {
                    "service": {"name": "policy", "namespace": "platform"},
                    "caBundle": "cmVkYWN0ZWQ=",
                },
            }
        ],
    }


def _event(message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "shopfront-7c4d.1", "namespace": "web"},
        "type": "Warning",
        "reason": "FailedCreate",
        "message": message,
        "count": 12,
        "involvedObject": {"kind": "ReplicaSet", "namespace": "web", "name": "shopfront-7c4d"},
    }


def _web() -> list[dict[str, Any]]:
    return [
        deployment_manifest(
            "shopfront",
            "web",
            ("app", "shopfront:2"),
            replicas=1,
            status={"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        )
    ]


def _template(image: str, args: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": LABELS},
        "spec": {"containers": [{"name": "cainjector", "image": image, "args": args}]},
    }


def _injector(*, crashing_revision: int | None = 9) -> list[dict[str, Any]]:
    """cainjector at revision 9 (a new image with a new flag), revision 8 before it; its one
    pod, of ``crashing_revision`` (None: healthy, of revision 9), crash-loops."""
    new = _template("quay.io/jetstack/cert-manager-cainjector:v1.16.2", ["--feature-gates=X=true"])
    old = _template("quay.io/jetstack/cert-manager-cainjector:v1.14.5", [])
    workload = deployment_manifest(
        "injector",
        "pki",
        labels=LABELS,
        metadata={"labels": LABELS, "annotations": {"deployment.kubernetes.io/revision": "9"}},
        replicas=1,
        status={"replicas": 1, "readyReplicas": 0 if crashing_revision else 1},
    )
    workload["spec"]["template"] = new
    objects = [workload]
    for revision, template, when in ((8, old, "2026-05-01T00:00:00Z"), (9, new, None)):
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"injector-{revision}",
                    "namespace": "pki",
                    "labels": LABELS,
                    "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                    "creationTimestamp": when or "2026-11-17T11:00:00Z",
                    "ownerReferences": [
                        {"kind": "Deployment", "name": "injector", "controller": True}
                    ],
                },
                "spec": {"template": template},
            }
        )
    crashing = crashing_revision is not None
    state = {"waiting": {"reason": "CrashLoopBackOff"}} if crashing else {"running": {}}
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"injector-{crashing_revision or 9}-x7vbq",
                "namespace": "pki",
                "labels": LABELS,
                "ownerReferences": [
                    {"kind": "ReplicaSet", "name": f"injector-{crashing_revision or 9}"}
                ],
            },
            "spec": {"containers": new["spec"]["containers"]},
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "cainjector",
                        "ready": not crashing,
                        "restartCount": 800 if crashing else 0,
                        "state": state,
                        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}
                        if crashing
                        else {},
                    }
                ],
            },
        }
    )
    return objects


def test_an_injector_crashing_since_its_rollout_is_rolled_back() -> None:
    ev = built([*_web(), _configuration(), _event(UNKNOWN), *_injector()], WEB)
    (reconciler,) = ev.reconcilers
    assert (reconciler.role, reconciler.workload) == (CA_INJECTOR, INJECTOR)
    assert reconciler.change_failing
    assert reconciler.subjects[0].name == "policy"
    finding = assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, INJECTOR)
    assert finding.params == {"revision": "8"}


def test_an_injector_crashing_in_an_older_revision_is_a_crash_loop() -> None:
    ev = built([*_web(), _configuration(), _event(UNKNOWN), *_injector(crashing_revision=8)], WEB)
    (reconciler,) = ev.reconcilers
    assert not reconciler.change_failing
    assert_leads(analyze(ev), Category.CRASH_LOOP, Action.RESTART, INJECTOR)


def test_a_healthy_injector_is_read_but_not_blamed() -> None:
    ev = built(
        [*_web(), _configuration(), _event(UNKNOWN), *_injector(crashing_revision=None)], WEB
    )
    assert [r.workload for r in ev.reconcilers] == [INJECTOR]
    assert not [f for f in analyze(ev).findings if f.target == INJECTOR]


def test_nothing_is_owed_without_injection_or_without_an_unknown_authority() -> None:
    plain = built([*_web(), _configuration(injected=False), _event(UNKNOWN), *_injector()], WEB)
    assert plain.reconcilers == []
    timeout = built([*_web(), _configuration(), _event(TIMEOUT), *_injector()], WEB)
    assert timeout.reconcilers == []


def test_stale_ca_bundles_match_the_refused_webhook_by_name() -> None:
    other = _configuration()
    other["webhooks"][0]["name"] = "other.example.org"
    found = stale_ca_bundles([_configuration(), other], [TIMEOUT, UNKNOWN])
    assert [(c["metadata"]["name"], text) for c, text in found] == [("policy", UNKNOWN)]


def _walked(read: list[dict[str, Any]]) -> set[str]:
    run = CollectionRun(asyncio.Semaphore(1))
    for obj in read:
        run.add(obj)
    reader = ListingReader(_injector())
    asyncio.run(follow_reconcilers(reader, run, [], NOW, Scope.unrestricted()))  # type: ignore[arg-type]
    return {f"{k}/{ns}/{name}" for k, ns, name in run.objects if ns == "pki"}


def test_the_live_walk_reads_the_injector_of_a_refused_injected_webhook() -> None:
    assert _walked([*_web(), _configuration(), _event(UNKNOWN)]) == {
        "Deployment/pki/injector",
        "ReplicaSet/pki/injector-8",
        "ReplicaSet/pki/injector-9",
        "Pod/pki/injector-9-x7vbq",
    }
    assert _walked([*_web(), _configuration(), _event(TIMEOUT)]) == set()


def test_the_train_case_about_a_crashing_injector() -> None:
    case = (
        "bad-rollout-eks-cainjector-upgrade-crashloops-webhook-cabundle-stale-after-ca-rotation"
        "-orders-rollout-stuck"
    )
    first = analyze(case_evidence(load_case(TRAIN / case))).findings[0]
    assert (first.category, first.action) == (Category.BAD_ROLLOUT, Action.ROLLBACK), first
    assert first.target.same_object(
        ObjectRef(kind="Deployment", namespace="cert-manager", name="cert-manager-cainjector")
    )
