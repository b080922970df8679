"""Checks the caller-resolver rule: a healthy callee's alert right after one of its callers
(``Evidence.callers``) rolled out a revision that moved its pods onto the node's resolver
(dnsPolicy Default, or the host network with ClusterFirst) is that caller's rollout, rolled
back; and the near misses: the caller still resolves through the cluster DNS, its rollout
changed no DNS setting, came after the symptom or long before it, or the callee's own pods
fail. The caller's template is read by the real caller walk (``caller_summaries``).

Real: Evidence models from ``tests.support.evidence``, the caller walk over raw objects and
the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.caller_resolver import CONFIDENCE, NAME
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import ago, analyze, assert_leads, naming

CALLEE = ObjectRef(kind="StatefulSet", namespace="billing", name="invoice-redis")
SERVICE = ObjectRef(kind="Service", namespace="billing", name="invoice-redis")
CALLER = ObjectRef(kind="Deployment", namespace="billing", name="invoice-api")
REDIS_NAME = "invoice-redis"
REDIS = "invoice-redis:6379"


def _evidence(
    *,
    node_resolver: bool = True,
    aspects: tuple[str, ...] = ("dns",),
    changed_minutes_ago: float = 30,
    firing_since: float = 25,
    **fields: Any,
) -> Evidence:
    change = make.rollout_change(CALLER, 8, *aspects, minutes_ago=changed_minutes_ago)
    fields.setdefault(
        "pods",
        [make.app_pod("invoice-redis-0", make.container("redis"), namespace="billing")],
    )
    return make.evidence(
        target=CALLEE,
        alerts=[
            AlertEvidence(
                labels={"alertname": "CacheErrorsHigh", "namespace": "billing"},
                starts_at=ago(firing_since),
                status="firing",
            )
        ],
        callers=[
            CallerEvidence(
                ref=CALLER,
                callee=SERVICE,
                named_by=naming("Deployment invoice-api env REDIS_URL"),
                changes=[change],
                node_resolver=node_resolver,
            )
        ],
        **fields,
    )


def _ours(ev: Evidence) -> list[Any]:
    return [f for f in analyze(ev).findings if f.analyzer == NAME]


def test_a_callers_rollout_onto_the_node_resolver_rolls_the_caller_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, CALLER)
    assert finding.confidence == CONFIDENCE.moved


def test_a_caller_still_on_the_cluster_dns_is_not_this_rule() -> None:
    assert not _ours(_evidence(node_resolver=False))


def test_a_rollout_that_changed_no_dns_setting_is_not_this_rule() -> None:
    assert not _ours(_evidence(aspects=("image",)))


def test_a_rollout_after_the_symptom_began_did_not_cause_it() -> None:
    assert not _ours(_evidence(changed_minutes_ago=10, firing_since=40))


def test_a_rollout_long_before_the_symptom_did_not_cause_it() -> None:
    assert not _ours(_evidence(changed_minutes_ago=3000, firing_since=20))


def test_a_callee_whose_own_pods_fail_has_a_cause_of_its_own() -> None:
    crashing = make.crash_looping("redis", restarts=5, exit_code=1, reason="Error")
    pods = [make.app_pod("invoice-redis-0", crashing, namespace="billing")]
    assert not _ours(_evidence(pods=pods))


def _walked(pod_spec: dict[str, Any]) -> bool:
    """Whether the real caller walk finds a caller whose template has ``pod_spec``'s DNS
    fields resolving through the node."""
    caller = deployment_manifest(
        "invoice-api",
        "billing",
        {
            "name": "api",
            "image": "api:2",
            "env": [{"name": "REDIS_URL", "value": "invoice-redis:6379"}],
        },
    )
    caller["spec"]["template"]["spec"].update(pod_spec)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "invoice-redis-abc",
            "namespace": "billing",
            "labels": {"app": REDIS_NAME},
        },
        "spec": {"containers": [{"name": "redis", "image": "redis:7"}]},
    }
    objects = [
        deployment_manifest(REDIS_NAME, "billing", ("redis", "redis:7")),
        pod,
        service_manifest("invoice-redis", "billing", {"app": "invoice-redis"}, port=6379),
        caller,
    ]
    evidence = built(
        objects, ObjectRef(kind="Deployment", namespace="billing", name="invoice-redis")
    )
    assert [c.ref for c in evidence.callers] == [CALLER]
    return evidence.callers[0].node_resolver


def test_the_caller_walk_reads_which_resolver_the_callers_pods_use() -> None:
    assert _walked({"dnsPolicy": "Default"})
    assert _walked({"hostNetwork": True})
    assert not _walked({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"})
    assert not _walked({})
