"""Checks the caller-rollout rule: a callee strained from right after a workload that calls it
(``Evidence.callers``) rolled out a revision that changed how it behaves, with the callee's own
request rate flat and nothing of its own changed, is that caller's rollout, rolled back; and
the near misses: the callee's own traffic rose, the callee rolled out itself, the caller's
change touched no behaviour, the change came after the symptom. A callee whose long-running
pods are OOM-killed only from right after the caller's rollout is the caller's too, above the
kill's "raise the limit"; not when the pods are new or the kills began long after.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.callers import CONFIDENCE
from kubetriage.analyzers.changes import EXPLAINED_CAP
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.naming import config_map_source
from kubetriage.models.neighbours import CallerEvidence, ClientMention
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, named, naming

CALLEE = ObjectRef(kind="Deployment", namespace="catalog", name="inventory")
SERVICE = ObjectRef(kind="Service", namespace="catalog", name="inventory")
CALLER = ObjectRef(kind="Deployment", namespace="web", name="storefront")


def _requests(first: float, last: float) -> MetricSummary:
    return make.metric(
        'sum(rate(http_requests_total{namespace="catalog",job="inventory"}[5m]))',
        name="http_requests_total",
        first=first,
        last=last,
    )


def _evidence(
    *,
    aspects: tuple[str, ...] = ("env",),
    changed_minutes_ago: float = 30,
    firing_since: float = 20,
    metrics: list[MetricSummary] | None = None,
    own_changes: list[ChangeEvidence] | None = None,
    callers: list[CallerEvidence] | None = None,
    **fields: Any,
) -> Evidence:
    change = make.rollout_change(CALLER, 7, *aspects, minutes_ago=changed_minutes_ago)
    return make.evidence(
        target=CALLEE,
        **fields,
        alerts=[
            AlertEvidence(
                labels={"alertname": "CalleeSaturated", "namespace": "catalog"},
                starts_at=ago(firing_since),
                status="firing",
            )
        ],
        metrics=metrics if metrics is not None else [_requests(100.0, 102.0)],
        changes=own_changes or [],
        callers=callers
        or [
            CallerEvidence(
                ref=CALLER,
                callee=SERVICE,
                named_by=naming("Deployment storefront env INVENTORY_ADDR"),
                changes=[change],
            )
        ],
    )


def test_a_callers_rollout_before_the_onset_with_flat_traffic_rolls_the_caller_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, CALLER)
    assert finding.confidence == CONFIDENCE.flat_demand
    assert any("INVENTORY_ADDR" in e.fact for e in finding.evidence)


def test_without_a_request_rate_the_autoscalers_scale_up_after_the_rollout_earns_it() -> None:
    scaled = ChangeEvidence(
        at=ago(25),
        kind="scaling",
        object=ObjectRef(kind="HorizontalPodAutoscaler", namespace="catalog", name="inventory"),
        aspects=["replicas"],
        details=["New size: 6; reason: cpu resource utilization above target"],
    )
    result = analyze(_evidence(metrics=[], own_changes=[scaled]))
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CALLER)
    assert finding.confidence == CONFIDENCE.scaled_after


def test_the_callees_own_traffic_rising_leaves_the_caller_alone() -> None:
    result = analyze(_evidence(metrics=[_requests(100.0, 400.0)]))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CALLER]


def test_the_callees_own_rollout_is_the_simpler_explanation() -> None:
    own = make.rollout_change(CALLEE, 3, "image", minutes_ago=25)
    result = analyze(_evidence(own_changes=[own]))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CALLER]


def test_a_change_that_touched_no_behaviour_is_not_a_cause() -> None:
    result = analyze(_evidence(aspects=("template",)))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CALLER]


def test_a_rollout_after_the_symptom_began_did_not_cause_it() -> None:
    result = analyze(_evidence(changed_minutes_ago=10, firing_since=40))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CALLER]


def _oom_killed_callee(created_minutes_ago: float) -> dict[str, Any]:
    """The callee's Deployment and one pod, created ``created_minutes_ago``, crash-looping on
    OOMKilled at a 1Gi limit."""
    killed = make.crash_looping("inventory", restarts=6, exit_code=137, reason="OOMKilled")
    return {
        "workload": make.deployment("inventory", "catalog"),
        "pods": [
            make.app_pod(
                "inventory-5d8f9c7b6d-x2x9k",
                killed,
                namespace="catalog",
                created_at=ago(created_minutes_ago),
            )
        ],
    }


def test_long_running_pods_oom_killed_right_after_a_callers_rollout_roll_the_caller_back() -> None:
    ev = _evidence(metrics=[], changed_minutes_ago=25, firing_since=15, **_oom_killed_callee(3000))
    result = analyze(ev)
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CALLER)
    assert finding.confidence == CONFIDENCE.memory_driven
    oom = by_category(result, Category.OOM_KILLED)
    assert oom
    assert oom[0].confidence <= EXPLAINED_CAP
    assert any("OOM-killed only since the caller's rollout" in e.fact for e in finding.evidence)


def test_pods_started_after_the_callers_rollout_keep_the_memory_limit_reading() -> None:
    ev = _evidence(metrics=[], changed_minutes_ago=25, firing_since=15, **_oom_killed_callee(20))
    result = analyze(ev)
    assert result.findings[0].category is Category.OOM_KILLED
    assert result.findings[0].action is Action.INCREASE_MEMORY


def test_kills_that_began_long_after_the_callers_rollout_keep_the_memory_limit_reading() -> None:
    ev = _evidence(metrics=[], changed_minutes_ago=95, firing_since=15, **_oom_killed_callee(3000))
    result = analyze(ev)
    assert result.findings[0].category is Category.OOM_KILLED


def test_a_caller_the_callees_error_lines_name_earns_more_than_its_timing() -> None:
    # No request rate to tell; the identity provider's own errors name the client.
    change = make.rollout_change(CALLER, 7, "env", minutes_ago=30)
    mentioned = CallerEvidence(
        ref=CALLER,
        callee=SERVICE,
        named_by=[named("log catalog/inventory-1/app")],
        in_errors=ClientMention(
            log=named("log catalog/inventory-1/app"), lines=5, client="storefront"
        ),
        changes=[change],
    )
    finding = assert_leads(
        analyze(_evidence(metrics=[], callers=[mentioned])),
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        CALLER,
    )
    assert finding.confidence == CONFIDENCE.named_by_errors
    assert finding.evidence[0].fact == "5 error lines name client storefront"
    assert finding.evidence[0].source == "log catalog/inventory-1/app"
    # The same words without the mention are only words: the timing alone decides.
    words_only = mentioned.model_copy(update={"in_errors": None})
    result = analyze(_evidence(metrics=[], callers=[words_only]))
    assert all(f.confidence != CONFIDENCE.named_by_errors for f in result.findings)
    assert finding.narrative is not None
    assert "name Deployment web/storefront as the client" in finding.narrative.because[0].text


def test_a_callers_restart_that_only_loaded_an_edited_config_blames_the_edit() -> None:
    # A gateway in front of the callee restarted (Reloader) to load an edited ConfigMap.
    config = ObjectRef(kind="ConfigMap", namespace="web", name="storefront-routes")
    change = make.rollout_change(CALLER, 7, "config", minutes_ago=30).model_copy(
        update={"configs": [config], "details": ["ConfigMap storefront-routes changed (Reloader)"]}
    )
    gateway = CallerEvidence(
        ref=CALLER,
        callee=SERVICE,
        named_by=[config_map_source("storefront-routes", used_by="Deployment storefront")],
        changes=[change],
    )
    finding = assert_leads(
        analyze(_evidence(callers=[gateway])), Category.CONFIG_MISSING, Action.FIX_CONFIG, config
    )
    assert finding.confidence == CONFIDENCE.flat_demand
    assert finding.narrative is not None
    assert "with nothing else of its template changed" in finding.narrative.because[1].text


def test_a_release_that_also_changed_the_image_stays_the_callers_rollback() -> None:
    config = ObjectRef(kind="ConfigMap", namespace="web", name="storefront-routes")
    change = make.rollout_change(CALLER, 7, "config", "image", minutes_ago=30).model_copy(
        update={"configs": [config]}
    )
    caller = CallerEvidence(
        ref=CALLER,
        callee=SERVICE,
        named_by=naming("Deployment storefront env INVENTORY_ADDR"),
        changes=[change],
    )
    assert_leads(
        analyze(_evidence(callers=[caller])), Category.BAD_ROLLOUT, Action.ROLLBACK, CALLER
    )


def _front(minutes_ago: float) -> CallerEvidence:
    """The proxy in front of the callee (its mounted file routes there), whose release changed
    its image ``minutes_ago``."""
    return CallerEvidence(
        ref=CALLER,
        callee=SERVICE,
        named_by=[config_map_source("storefront-routes", used_by="Deployment storefront")],
        changes=[make.rollout_change(CALLER, 7, "image", minutes_ago=minutes_ago)],
    )


def test_the_proxy_in_front_released_minutes_before_the_symptom_leads_unmeasured() -> None:
    result = analyze(_evidence(metrics=[], callers=[_front(28)]))
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CALLER)
    assert finding.confidence == CONFIDENCE.front_prompt


def test_a_front_released_long_before_or_a_caller_by_env_stays_a_weak_lead() -> None:
    late = analyze(_evidence(metrics=[], callers=[_front(90)], changed_minutes_ago=90))
    by_env = analyze(_evidence(metrics=[], changed_minutes_ago=28))
    for result in (late, by_env):
        found = [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CALLER]
        assert found
        assert all(f.confidence == CONFIDENCE.unmeasured for f in found)
