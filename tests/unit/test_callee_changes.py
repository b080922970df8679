"""Checks the callee-change rules (``kubetriage.analyzers.callee_changes``): a healthy caller
whose symptom (a latency alert, CPU throttling) names no callee in a failing call, and which
did not change itself, is explained by the one dependency its env names that changed just
before the symptom began:

- a rollout of that callee is a bad rollout of the callee (roll it back), below findings with
  evidence of a fault;
- an in-place edit of a ConfigMap of that callee (a flag service's flags) is the change that
  explains the caller's symptom (``changes.explaining_change``): fix the ConfigMap, with the
  throttling the edit caused capped below it;

- with the caller's calls failing in lines that name no host (timeouts retried at each
  layer), that callee rollout leads with more confidence, and it is why an autoscaler of the
  caller at its maximum is not short of replicas (``callee_rollout_doubt``);

and the near misses: the caller rolled out too, two callees changed, the change is not just
before the symptom, only a log line names the callee, the caller's failing calls name a host
(the dependency rules speak then), the callee rolled out after its ConfigMap was edited, an
autoscaler at its maximum whose callee rolled out long before.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
evidence is synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.callee_changes import (
    CONFIDENCE,
    callee_rollout_doubt,
    configured_dependency_edit,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence, ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

FRONTEND = ObjectRef(kind="Deployment", namespace="shop", name="frontend")
CATALOG = ObjectRef(kind="Deployment", namespace="shop", name="catalog")
CART = ObjectRef(kind="Deployment", namespace="shop", name="cart")
FLAGS = ObjectRef(kind="Deployment", namespace="shop", name="flagd")
FLAGS_CONFIG = ObjectRef(kind="ConfigMap", namespace="shop", name="flagd-config")
POD = "frontend-6f9d8b7c5-b2n9v"


def _callee(
    ref: ObjectRef,
    *changes: ChangeEvidence,
    edits: tuple[ChangeEvidence, ...] = (),
    named_by: str | None = None,
) -> DependencyEvidence:
    return DependencyEvidence(
        service=make.service(ref.name, ready=1, matching=1),
        workload=ref,
        named_by=naming(named_by or f"pod {POD} env {ref.name.upper()}_ADDR"),
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
        changes=list(changes),
        config_changes=list(edits),
    )


def _edit(minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="config",
        object=FLAGS_CONFIG,
        aspects=["data"],
        details=["last written"],
    )


def _frontend(*dependencies: DependencyEvidence, **fields: Any) -> Evidence:
    """The frontend, every replica ready, alerting on its latency since six minutes ago."""
    fields.setdefault("alerts", [make.alert(alertname="FrontendLatencyHigh", namespace="shop")])
    app = make.container("app", limits={"cpu": "500m"})
    return make.evidence(
        target=FRONTEND,
        workload=make.deployment("frontend", replicas=1),
        pods=[make.app_pod(POD, app)],
        dependencies=list(dependencies),
        **fields,
    )


def _rolled(ref: ObjectRef, minutes_ago: float) -> ChangeEvidence:
    return make.rollout_change(ref, 5, "env", minutes_ago=minutes_ago)


def test_the_one_callee_that_rolled_out_just_before_is_rolled_back() -> None:
    ev = _frontend(_callee(CATALOG, _rolled(CATALOG, 14)), _callee(CART))
    finding = assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, CATALOG)
    assert finding.analyzer == "callee-rollout"
    assert finding.confidence == CONFIDENCE.only_change
    assert finding.params == {"revision": "5"}
    assert any(e.source == "deployment/shop/catalog" for e in finding.evidence)


def _no_callee_rollout(ev: Evidence) -> None:
    assert all(f.analyzer != "callee-rollout" for f in analyze(ev).findings)


def test_a_caller_that_rolled_out_itself_is_not_explained_by_its_callee() -> None:
    ev = _frontend(_callee(CATALOG, _rolled(CATALOG, 14)), changes=[_rolled(FRONTEND, 10)])
    _no_callee_rollout(ev)


def test_two_callees_that_changed_leave_the_change_undecided() -> None:
    _no_callee_rollout(
        _frontend(_callee(CATALOG, _rolled(CATALOG, 14)), _callee(CART, _rolled(CART, 12)))
    )


def test_a_callee_rollout_long_before_the_symptom_is_the_steady_state() -> None:
    _no_callee_rollout(_frontend(_callee(CATALOG, _rolled(CATALOG, 90))))


def test_a_callee_named_only_in_a_log_line_is_not_the_callers_configuration() -> None:
    named = "log shop/catalog-5d8f7c9b4-x7k2p/app"
    _no_callee_rollout(_frontend(_callee(CATALOG, _rolled(CATALOG, 14), named_by=named)))


def test_failing_calls_leave_the_callee_to_the_dependency_rules() -> None:
    failing = make.log(POD, "app", "GET http://catalog:8080/items failed: connection refused")
    _no_callee_rollout(_frontend(_callee(CATALOG, _rolled(CATALOG, 14)), logs=[failing]))


_TIMEOUT = 'err="context deadline exceeded (Client.Timeout exceeded while awaiting headers)"'
# Failing calls that name no host: the caller's own words and the client's error.
ANONYMOUS_TIMEOUTS = "\n".join(
    f'level=WARN msg="catalog call failed" attempt={n} {_TIMEOUT}' for n in (1, 2)
)


def _maxed_hpa() -> AutoscalerEvidence:
    return autoscalers.hpa(FRONTEND, current=1, minimum=1, maximum=1, limited=True)


def test_anonymous_failing_calls_and_the_callee_rollout_agree() -> None:
    timeouts = make.log(POD, "app", ANONYMOUS_TIMEOUTS)
    ev = _frontend(_callee(CATALOG, _rolled(CATALOG, 14)), _callee(CART), logs=[timeouts])
    finding = assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, CATALOG)
    assert finding.analyzer == "callee-rollout"
    assert finding.confidence == CONFIDENCE.failing_calls


def test_a_callee_rollout_doubts_the_callers_autoscaler_at_its_maximum() -> None:
    timeouts = make.log(POD, "app", ANONYMOUS_TIMEOUTS)
    ev = _frontend(
        _callee(CATALOG, _rolled(CATALOG, 14)), logs=[timeouts], autoscalers=[_maxed_hpa()]
    )
    doubt = callee_rollout_doubt(ev)
    assert doubt is not None
    assert doubt[1].source == "deployment/shop/catalog"
    assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, CATALOG)


def test_a_callee_rollout_long_before_leaves_the_autoscaler_undoubted() -> None:
    timeouts = make.log(POD, "app", ANONYMOUS_TIMEOUTS)
    ev = _frontend(
        _callee(CATALOG, _rolled(CATALOG, 90)), logs=[timeouts], autoscalers=[_maxed_hpa()]
    )
    assert callee_rollout_doubt(ev) is None
    _no_callee_rollout(ev)


def _throttled_frontend(*dependencies: DependencyEvidence) -> Evidence:
    alert = make.alert(alertname="CPUThrottlingHigh", namespace="shop", pod=POD, container="app")
    throttled = make.metric(
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total...",
        name="cpu_throttled_ratio",
        labels={"namespace": "shop", "pod": POD, "container": "app"},
        first=0.01,
        last=0.78,
    )
    return _frontend(*dependencies, alerts=[alert], metrics=[throttled])


def test_an_edit_of_the_flags_the_caller_reads_explains_its_throttling() -> None:
    ev = _throttled_frontend(_callee(FLAGS, edits=(_edit(10),)), _callee(CART))
    assert configured_dependency_edit(ev) == ev.dependencies[0].config_changes[0]
    result = analyze(ev)
    leader = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, FLAGS_CONFIG)
    throttling = by_category(result, Category.CPU_THROTTLING)
    assert throttling
    assert all(f.confidence < leader.confidence for f in throttling)


def test_a_flag_service_rolled_out_after_its_edit_is_not_an_in_place_edit() -> None:
    ev = _throttled_frontend(_callee(FLAGS, _rolled(FLAGS, 8), edits=(_edit(10),)))
    assert configured_dependency_edit(ev) is None


def test_an_old_edit_of_the_flags_is_not_the_change() -> None:
    assert (
        configured_dependency_edit(_throttled_frontend(_callee(FLAGS, edits=(_edit(80),)))) is None
    )
