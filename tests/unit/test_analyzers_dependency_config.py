"""Checks the dependency-config rule: a ConfigMap a dependency uses (the cluster DNS's
Corefile, a flag service's flags) edited right before the caller's errors began, with no
rollout of either since, is the configuration to correct; and the near misses (the edit is
old or came after the errors, the dependency or the caller rolled out since); a dependency
only the caller's env names (``FLAGD_HOST=flagd``) is blamed, less surely, only when its edit
is the only change of any dependency before the errors and the caller's calls fail.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, naming

DNS = ServiceEvidence(
    name="kube-dns", namespace="kube-system", selector={"k8s-app": "kube-dns"}, ready_endpoints=2
)
DNS_WORKLOAD = ObjectRef(kind="Deployment", namespace="kube-system", name="coredns")
COREFILE = ObjectRef(kind="ConfigMap", namespace="kube-system", name="coredns")
LOOKUP_FAILED = "dial tcp: lookup ledger.corp.example.net: no such host"


def _edit(minutes_ago: float, ref: ObjectRef = COREFILE) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago), kind="config", object=ref, aspects=["data"], details=["last written"]
    )


def _rollout(ref: ObjectRef, minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago), kind="rollout", object=ref, aspects=["image"], from_revision=3
    )


def _dns(
    *edits: ChangeEvidence,
    rollouts: tuple[ChangeEvidence, ...] = (),
    named_by: str = "log shop/checkout-7d9f6c8b5-x2x9k/app",
) -> DependencyEvidence:
    return DependencyEvidence(
        service=DNS,
        workload=DNS_WORKLOAD,
        named_by=naming(named_by),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        changes=list(rollouts),
        config_changes=list(edits),
    )


def _errors(step_minutes_ago: float) -> MetricSummary:
    return make.error_ratio(
        first=0.001, last=0.4, changed_minutes_ago=step_minutes_ago, trend="rising"
    )


def _caller(dependency: DependencyEvidence, **fields: object) -> Evidence:
    fields.setdefault("metrics", [_errors(20)])
    return make.checkout_evidence(
        logs=[make.checkout_log(LOOKUP_FAILED)], dependencies=[dependency], **fields
    )


def _rule(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "dependency-config"]


def test_lookups_failing_right_after_the_cluster_dns_config_edit_fix_that_config() -> None:
    finding = assert_leads(
        analyze(_caller(_dns(_edit(22)))), Category.CONFIG_MISSING, Action.FIX_CONFIG, COREFILE
    )
    assert "kube-dns" in finding.summary


def test_a_flag_service_whose_flags_were_edited_is_the_config_to_correct() -> None:
    flags = ObjectRef(kind="ConfigMap", namespace="shop", name="flag-config")
    flag_service = DependencyEvidence(
        service=ServiceEvidence(
            name="flagd", namespace="shop", selector={"app": "flagd"}, ready_endpoints=1
        ),
        workload=ObjectRef(kind="Deployment", namespace="shop", name="flagd"),
        named_by=naming("log shop/checkout-7d9f6c8b5-x2x9k/app"),
        pods=1,
        config_changes=[_edit(25, flags)],
    )
    ev = make.checkout_evidence(
        logs=[make.checkout_log("POST http://flagd:8013/ofrep/v1/evaluate/flags returned 500")],
        dependencies=[flag_service],
        metrics=[_errors(20)],
    )
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, flags)


def test_an_old_edit_is_not_what_changed() -> None:
    assert not _rule(_caller(_dns(_edit(60 * 5))))


def test_an_edit_after_the_errors_began_did_not_cause_them() -> None:
    assert not _rule(_caller(_dns(_edit(5))))


def test_errors_that_began_before_the_edit_were_not_caused_by_it() -> None:
    # The caller's errors stepped up an hour ago; a later symptom after the edit is the
    # same trouble, not a new one.
    late = make.event("Unhealthy", "Readiness probe failed: 503", name="checkout-1")
    late = late.model_copy(update={"first_seen": ago(10)})
    ev = _caller(_dns(_edit(15)), metrics=[_errors(60)], events=[late])
    assert not _rule(ev)
    assert _rule(_caller(_dns(_edit(15)), metrics=[_errors(12)], events=[late]))


def test_a_dependency_that_rolled_out_since_the_edit_is_the_rollout_rule() -> None:
    assert not _rule(_caller(_dns(_edit(40), rollouts=(_rollout(DNS_WORKLOAD, 25),))))


def test_a_caller_that_rolled_out_since_the_edit_is_the_suspect() -> None:
    caller = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    ev = _caller(_dns(_edit(40)), changes=[_rollout(caller, 25)])
    assert not _rule(ev)


def test_a_dependency_named_only_by_env_is_blamed_when_its_edit_is_all_that_changed() -> None:
    # FLAGD_HOST=flagd: a flag service consulted on every call names no host in the errors.
    ev = _caller(_dns(_edit(22), named_by="pod checkout-1 env DNS_SERVER"))
    (finding,) = _rule(ev)
    assert (finding.action, finding.target) == (Action.FIX_CONFIG, COREFILE)
    assert finding.confidence < analyze(_caller(_dns(_edit(22)))).findings[0].confidence


def test_a_dependency_named_only_by_env_is_not_blamed_when_another_changed_too() -> None:
    other = DependencyEvidence(
        service=ServiceEvidence(
            name="ledger", namespace="shop", selector={"app": "ledger"}, ready_endpoints=1
        ),
        workload=ObjectRef(kind="Deployment", namespace="shop", name="ledger"),
        named_by=naming("pod checkout-1 env LEDGER_ADDR"),
        pods=1,
        changes=[_rollout(ObjectRef(kind="Deployment", namespace="shop", name="ledger"), 24)],
    )
    env_named = _dns(_edit(22), named_by="pod checkout-1 env DNS_SERVER")
    ev = make.checkout_evidence(
        logs=[make.checkout_log(LOOKUP_FAILED)],
        dependencies=[env_named, other],
        metrics=[_errors(20)],
    )
    assert not _rule(ev)


def test_a_dependency_named_only_by_env_is_not_blamed_without_failing_calls() -> None:
    ev = make.checkout_evidence(
        logs=[make.checkout_log("GET /healthz 200")],
        dependencies=[_dns(_edit(22), named_by="pod checkout-1 env DNS_SERVER")],
        metrics=[_errors(20)],
    )
    assert not _rule(ev)
