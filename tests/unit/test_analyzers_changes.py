"""Checks change correlation: a symptom that began right after a rollout changing the
program (image, args, env...), with no rise in traffic, is diagnosed as the rollout's doing
(rollback) and the capacity explanation (raise memory, add replicas) stays a lower
alternative; and the near misses where the change must not be blamed (symptoms before it,
traffic rising too, only resources changed, a specific cause such as a missing ConfigMap).

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.log_signatures import SERVER_NOT_SERVING
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    EventEvidence,
    PodCondition,
    RevisionEvidence,
)
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, by_category, naming, top

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _rollout(minutes_ago: float, *aspects: str) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=WORKLOAD,
        aspects=list(aspects),
        details=["revision 4 -> 5", "app image app:1.0 -> app:1.1"],
        from_revision=4,
        to_revision=5,
    )


def _new_over_old(ready: int = 0) -> list[RevisionEvidence]:
    """Revision 5 (app:1.1) rolled out 30 minutes ago over revision 4 (app:1.0)."""
    return make.rollout_revisions(
        5,
        {"app": "app:1.1"},
        {"app": "app:1.0"},
        minutes_ago=30,
        ready=ready,
        names=("checkout-new", "checkout-old"),
    )


def _correlated(ev: Evidence) -> list[Finding]:
    """The findings of the change-correlation analyzer."""
    return [f for f in analyze(ev).findings if f.analyzer == "change-correlation"]


def _new_revision_serving(**fields: object) -> Evidence:
    """The checkout Deployment at revision 5, its one pod running app:1.1."""
    return make.evidence(
        workload=make.deployment(revision=5),
        pods=[
            make.pod("checkout-new-a", make.container("app", "app:1.1"), replica_set="checkout-new")
        ],
        **fields,
    )


def _oom_after(
    change: ChangeEvidence | None, *, oom_minutes_ago: float = 20, **extra: object
) -> Evidence:
    oom = make.container(
        "app",
        "app:1.1",
        ready=False,
        restarts=4,
        last_state=make.terminated("OOMKilled", 137),
        limits={"memory": "512Mi"},
    )
    warning = make.event(
        "BackOff", "Back-off restarting failed container", name="checkout-7d9f6c8b5-a"
    )
    warning = warning.model_copy(update={"first_seen": ago(oom_minutes_ago)})
    fields: dict[str, object] = {
        "workload": make.deployment(revision=5),
        "pods": [make.pod("checkout-7d9f6c8b5-a", oom, replica_set="checkout-new")],
        "revisions": _new_over_old(),
        "events": [warning],
        "changes": [change] if change else [],
    }
    fields.update(extra)
    return make.evidence(**fields)


def test_oom_right_after_a_new_image_is_the_rollouts_doing() -> None:
    ev = _oom_after(_rollout(30, "image"))
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.BAD_ROLLOUT, Action.ROLLBACK)
    assert finding.target == WORKLOAD
    assert finding.params["revision"] == "4"
    oom = by_category(analyze(ev), Category.OOM_KILLED)
    assert oom
    assert all(f.confidence < finding.confidence for f in oom)


def test_without_a_change_the_oom_stays_an_oom() -> None:
    finding = top(_oom_after(None))
    assert finding.category is Category.OOM_KILLED


def test_symptoms_that_predate_the_change_do_not_blame_it() -> None:
    finding = top(_oom_after(_rollout(30, "image"), oom_minutes_ago=90))
    assert finding.category is Category.OOM_KILLED


def test_a_change_long_before_the_symptom_is_not_its_cause() -> None:
    ev = _oom_after(_rollout(300, "image"), oom_minutes_ago=20)
    assert top(ev).category is Category.OOM_KILLED


def test_a_limit_cut_by_a_rollout_is_undone_rather_than_raised_past_it() -> None:
    finding = top(_oom_after(_rollout(30, "resources")))
    assert (finding.category, finding.action) == (Category.BAD_ROLLOUT, Action.ROLLBACK)


def _oom_at_admitted_limit(
    old_limits: dict[str, str], template_limits: dict[str, str], *aspects: str
) -> Evidence:
    """Revision 5 changed ``aspects`` 30 minutes ago; its pod is OOM-killed at 512Mi while the
    template sets ``template_limits`` and a pod of revision 4 runs with ``old_limits``."""
    old = make.pod(
        "checkout-old-a",
        make.container("app", "app:1.0", limits=old_limits),
        replica_set="checkout-old",
    )
    ev = _oom_after(_rollout(30, *aspects))
    return ev.model_copy(
        update={
            "workload": make.deployment(
                revision=5, containers=[make.container("app", "app:1.1", limits=template_limits)]
            ),
            "pods": [*ev.pods, old],
        }
    )


def test_an_oom_at_a_limit_admission_gave_the_new_pods_is_not_the_rollouts_doing() -> None:
    # The template sets no memory limit; the new pod got 512Mi when it was admitted (a
    # LimitRange default) while the previous revision's pod runs without one: a rollback's
    # pods would be admitted under the same default, so the limit is what to raise.
    ev = _oom_at_admitted_limit({}, {}, "env")
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)
    assert not _correlated(ev)
    assert any("admitted" in e.fact for e in finding.evidence)
    rollback = [f for f in analyze(ev).findings if f.action is Action.ROLLBACK]
    assert all(f.confidence < finding.confidence for f in rollback)
    # A previous revision that ran with a higher limit was admitted before the default too.
    assert top(_oom_at_admitted_limit({"memory": "2Gi"}, {}, "env")).category is (
        Category.OOM_KILLED
    )


def test_an_oom_at_a_limit_the_old_pods_share_or_the_rollout_set_stays_the_rollouts() -> None:
    # Near misses: the previous revision runs under the same limit (the new code uses more),
    # the template itself sets the limit, or the rollout changed the resources.
    for ev in (
        _oom_at_admitted_limit({"memory": "512Mi"}, {}, "env"),
        _oom_at_admitted_limit({}, {"memory": "512Mi"}, "env"),
        _oom_at_admitted_limit({}, {}, "env", "resources"),
    ):
        finding = top(ev)
        assert (finding.category, finding.action) == (Category.BAD_ROLLOUT, Action.ROLLBACK)


def test_a_rollout_of_probes_only_is_left_to_the_probe_analyzer() -> None:
    ev = _oom_after(_rollout(30, "probes"))
    assert not _correlated(ev)


def test_rising_traffic_leaves_capacity_as_a_fair_explanation() -> None:
    traffic = make.metric(
        'sum(rate(http_requests_total{job="checkout"}[5m]))',
        name="http_requests_per_second",
        first=100,
        last=400,
        trend="rising",
    )
    ev = _oom_after(_rollout(30, "image"), metrics=[traffic])
    assert top(ev).category is Category.OOM_KILLED
    assert not _correlated(ev)


def test_errors_stepping_up_after_the_rollout_point_at_it() -> None:
    errors = make.error_ratio(first=0.001, last=0.1, changed_minutes_ago=25, trend="rising")
    ev = _new_revision_serving(
        revisions=_new_over_old(ready=2),
        metrics=[errors],
        changes=[_rollout(30, "image", "env")],
    )
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.BAD_ROLLOUT, Action.ROLLBACK)
    assert "change-correlation" in analyze(ev).fired


def test_a_missing_config_map_keeps_its_own_precise_finding() -> None:
    blocked = make.container(
        "app", "app:1.1", ready=False, state=make.waiting("CreateContainerConfigError")
    )
    failed = EventEvidence(
        type="Warning",
        reason="Failed",
        message='Error: configmap "flags" not found',
        involved=ObjectRef(kind="Pod", namespace="shop", name="checkout-new-a"),
        first_seen=ago(20),
        last_seen=ago(1),
    )
    ev = make.evidence(
        workload=make.deployment(revision=5),
        pods=[make.pod("checkout-new-a", blocked, replica_set="checkout-new")],
        revisions=_new_over_old(),
        events=[failed],
        changes=[_rollout(30, "env")],
    )
    assert not _correlated(ev)


def test_a_moved_tag_asks_to_pin_the_image() -> None:
    moved = ChangeEvidence(
        at=ago(30),
        kind="image-digest",
        object=WORKLOAD,
        aspects=["digest"],
        details=["app image app:latest now resolves to sha256:bbb (failing)"],
    )
    ev = _oom_after(None, changes=[moved])
    findings = _correlated(ev)
    assert [(f.category, f.action) for f in findings] == [(Category.BAD_ROLLOUT, Action.FIX_IMAGE)]


def test_the_onset_tolerance_is_small() -> None:
    # A symptom ten minutes before the rollout is not "right after" it.
    ev = _oom_after(_rollout(30, "image"), oom_minutes_ago=40)
    assert not _correlated(ev)


def _fired(minutes_ago: float) -> AlertEvidence:
    return make.alert(alertname="HighRequestLatency", namespace="shop").model_copy(
        update={"starts_at": ago(minutes_ago)}
    )


def test_an_alert_that_began_right_after_an_env_change_dates_the_symptom() -> None:
    # No Warning event and no stepped series: the alert's start is the only dated symptom.
    ev = _new_revision_serving(
        revisions=_new_over_old(ready=2),
        alerts=[_fired(13)],
        changes=[_rollout(19, "env")],
    )
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.BAD_ROLLOUT, Action.ROLLBACK)
    assert finding.analyzer == "change-correlation"
    assert any(e.source == "alert" for e in finding.evidence)


def test_a_rollout_that_took_the_pods_out_of_the_mesh_is_blamed() -> None:
    """Only the sidecar injection changed (the pods left the mesh); the errors began right
    after: the rollout's doing, as any change of what the pods run."""
    ev = _new_revision_serving(
        revisions=_new_over_old(ready=2),
        alerts=[_fired(13)],
        changes=[_rollout(19, "mesh")],
    )
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.BAD_ROLLOUT, Action.ROLLBACK)
    assert finding.analyzer == "change-correlation"


def test_a_rollout_of_labels_only_is_not_blamed() -> None:
    ev = _new_revision_serving(
        revisions=_new_over_old(ready=2),
        alerts=[_fired(13)],
        changes=[_rollout(19, "template")],
    )
    assert not _correlated(ev)


def test_an_alert_already_firing_before_the_rollout_does_not_blame_it() -> None:
    ev = _new_revision_serving(
        revisions=_new_over_old(ready=2),
        alerts=[_fired(40)],
        changes=[_rollout(19, "env")],
    )
    assert not _correlated(ev)


def test_a_dated_symptom_before_the_rollout_outweighs_a_later_alert() -> None:
    # The alert fired after the rollout, but its series stepped up before it.
    errors = make.error_ratio(first=0.001, last=0.1, changed_minutes_ago=35, trend="rising")
    ev = _new_revision_serving(
        revisions=_new_over_old(ready=2),
        alerts=[_fired(13)],
        metrics=[errors],
        changes=[_rollout(19, "env")],
    )
    assert not _correlated(ev)


def test_a_metric_step_is_timed_against_the_rollout_on_the_metrics_clock() -> None:
    # The API server says the rollout was 30 minutes ago; Prometheus' clock runs 15 minutes
    # behind it. The error step and the generation step agree on the metrics' clock.
    errors = make.error_ratio(first=0.001, last=0.1, changed_minutes_ago=44, trend="rising")
    generation = make.metric(
        'max(kube_deployment_status_observed_generation{namespace="shop",deployment="checkout"})',
        name="deployment_generation",
        first=4,
        last=5,
        trend="rising",
        changed_minutes_ago=45,
    )
    ev = _new_revision_serving(revisions=_new_over_old(), changes=[_rollout(30, "image")])
    assert not _correlated(ev.model_copy(update={"metrics": [errors]}))
    with_clock = ev.model_copy(update={"metrics": [errors, generation]})
    assert "change-correlation" in analyze(with_clock).fired


def _config_edit(minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="config",
        object=ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-flags"),
        aspects=["data"],
        details=["last written"],
    )


def _crashing_since(minutes_ago: float) -> Evidence:
    """Revision 4, unchanged, crashing since ``minutes_ago``; its ConfigMap was written 25
    minutes ago."""
    crashing = make.container(
        "app", "app:1.0", ready=False, restarts=3, last_state=make.terminated("Error", 1)
    )
    warning = make.event("BackOff", "Back-off restarting failed container", name="checkout-old-a")
    return make.evidence(
        workload=make.deployment(revision=4),
        pods=[make.pod("checkout-old-a", crashing, replica_set="checkout-old")],
        revisions=[make.revision("checkout-old", 4, {"app": "app:1.0"}, current=True)],
        events=[warning.model_copy(update={"first_seen": ago(minutes_ago)})],
        changes=[_config_edit(25)],
    )


def test_crashes_right_after_a_config_map_edit_aim_at_the_config_map() -> None:
    findings = _correlated(_crashing_since(20))
    assert [(f.category, f.action, f.target) for f in findings] == [
        (
            Category.CONFIG_MISSING,
            Action.FIX_CONFIG,
            ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-flags"),
        )
    ]


def test_a_config_map_edited_after_the_crashes_began_is_not_blamed() -> None:
    assert not _correlated(_crashing_since(40))


def test_a_configuration_error_in_the_logs_keeps_its_own_precise_finding() -> None:
    ev = _oom_after(
        _rollout(30, "image", "env"),
        logs=[
            make.log(
                "checkout-7d9f6c8b5-a", "app", "FATAL environment variable DATABASE_URL is not set"
            )
        ],
    )
    assert not _correlated(ev)


def test_liveness_kills_keep_the_probe_finding() -> None:
    kill = make.event(
        "Killing",
        "Container app failed liveness probe, will be restarted",
        name="checkout-7d9f6c8b5-a",
        type_="Normal",
    )
    ev = _oom_after(_rollout(30, "image"))
    ev = ev.model_copy(update={"events": [*ev.events, kill]})
    assert not _correlated(ev)


def _rollout_blocked_by_webhook(policy: str) -> Evidence:
    """Revision 5 rolled out 30 minutes ago; its ReplicaSet cannot create pods because the
    API server cannot call an admission webhook (failurePolicy ``policy``) in time."""
    message = (
        'Error creating: Internal error occurred: failed calling webhook "validate.policy.io": '
        'failed to call webhook: Post "https://policy-webhook.policy.svc:443/validate": '
        "context deadline exceeded"
    )
    hook = WebhookEvidence(
        name="validate.policy.io",
        failure="timeout",
        message=message,
        blocked=[ObjectRef(kind="ReplicaSet", namespace="shop", name="checkout-new")],
        count=23,
        configuration=ObjectRef(kind="ValidatingWebhookConfiguration", name="policy"),
        failure_policy=policy,
        service=ObjectRef(kind="Service", namespace="policy", name="policy-webhook"),
    )
    return make.evidence(
        workload=make.deployment(revision=5, ready=1),
        pods=[
            make.pod("checkout-old-a", make.container("app", "app:1.0"), replica_set="checkout-old")
        ],
        revisions=_new_over_old(),
        events=[make.event("FailedCreate", message, kind="ReplicaSet", name="checkout-new")],
        changes=[_rollout(30, "image")],
        webhooks=[hook],
    )


def test_a_rollout_whose_pods_an_admission_webhook_blocks_is_not_blamed() -> None:
    # The new pods are never created: the webhook is broken, not the revision (rolling back
    # would need the same webhook to admit the old pods).
    assert not _correlated(_rollout_blocked_by_webhook("Fail"))
    # Near miss: a webhook that fails open blocks nothing; the rollout stays the suspect.
    assert _correlated(_rollout_blocked_by_webhook("Ignore"))


def _rollout_refused_over_quota(*aspects: str) -> Evidence:
    """Revision 5 rolled out 30 minutes ago (``aspects``); its ReplicaSet cannot create the
    surge pod: the namespace's ResourceQuota has no room left; the old pods still serve."""
    message = (
        'pods "checkout-new-" is forbidden: exceeded quota: shop-compute, requested: '
        "limits.cpu=1, used: limits.cpu=7500m, limited: limits.cpu=8"
    )
    return make.evidence(
        workload=make.deployment(revision=5, ready=1),
        pods=[
            make.pod("checkout-old-a", make.container("app", "app:1.0"), replica_set="checkout-old")
        ],
        revisions=_new_over_old(),
        events=[make.event("FailedCreate", message, kind="ReplicaSet", name="checkout-new")],
        changes=[_rollout(30, *aspects)],
    )


def test_a_rollout_whose_pods_a_quota_refuses_is_not_blamed_unless_it_raised_them() -> None:
    # The new revision never ran: the quota has no room for its surge pod, whatever it runs.
    assert not _correlated(_rollout_refused_over_quota("image"))
    # Near miss: a rollout that raised the pods' resources is what the quota refuses.
    assert _correlated(_rollout_refused_over_quota("image", "resources"))
    # So is a rollout that moved the pods to another priority class, which a quota scoped to
    # that class counts (and may allow none of).
    assert _correlated(_rollout_refused_over_quota("image", "priority"))


# --- a rollout that only carried a configuration change -----------------------------------

CONFIG = ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-config")


def _crash_after(change: ChangeEvidence, **extra: object) -> Evidence:
    """The new revision's pod exits with an error since 20 minutes, after ``change``."""
    crashing = make.crash_looping("app", "app:1.0", restarts=5)
    warning = make.event("BackOff", "Back-off restarting failed container", name="checkout-new-a")
    fields: dict[str, object] = {
        "workload": make.deployment(revision=5),
        "pods": [make.pod("checkout-new-a", crashing, replica_set="checkout-new")],
        "revisions": make.rollout_revisions(
            5, {"app": "app:1.0"}, {"app": "app:1.0"}, minutes_ago=30, names=("checkout-new", "x")
        ),
        "events": [warning.model_copy(update={"first_seen": ago(20)})],
        "changes": [change],
    }
    fields.update(extra)
    return make.evidence(**fields)


def test_a_reloader_rollout_points_at_the_config_map_it_carried() -> None:
    carried = _rollout(30, "config").model_copy(update={"configs": [CONFIG]})
    findings = _correlated(_crash_after(carried))
    assert [(f.category, f.action, f.target) for f in findings] == [
        (Category.CONFIG_MISSING, Action.FIX_CONFIG, CONFIG)
    ]


def test_a_reloader_rollout_ranks_the_config_fix_above_rolling_the_template_back() -> None:
    # The new pods crash while the previous revision's pods still serve and the rollout missed
    # its deadline, which alone earns a strong rollback; but the template changed only by the
    # hash of an edited ConfigMap, so undoing it would mount the same edited ConfigMap again.
    carried = _rollout(30, "config").model_copy(update={"configs": [CONFIG]})
    serving_old = make.pod("checkout-old-a", make.container("app", "app:1.0"), replica_set="x")
    stuck = PodCondition(type="Progressing", status="False", reason="ProgressDeadlineExceeded")
    workload = make.deployment(revision=5, conditions=[stuck])
    ev = _crash_after(carried, workload=workload)
    ev = ev.model_copy(update={"pods": [*ev.pods, serving_old]})
    result = analyze(ev)
    first = result.findings[0]
    assert (first.category, first.action, first.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        CONFIG,
    )
    rollback = next(f for f in result.findings if f.analyzer == "bad-rollout")
    assert rollback.confidence < first.confidence
    # Near miss: the same rollout also changing the image is the suspect, rolled back first.
    both = _rollout(30, "config", "image").model_copy(update={"configs": [CONFIG]})
    ev = _crash_after(both, workload=workload)
    ev = ev.model_copy(update={"pods": [*ev.pods, serving_old]})
    assert (top(ev).category, top(ev).action) == (Category.BAD_ROLLOUT, Action.ROLLBACK)


def test_a_checksum_rollout_naming_no_object_still_points_at_the_rollout() -> None:
    findings = _correlated(_crash_after(_rollout(30, "config")))
    assert [(f.category, f.action) for f in findings] == [(Category.BAD_ROLLOUT, Action.ROLLBACK)]


def test_a_rollout_that_changed_code_too_is_not_only_a_carrier() -> None:
    both = _rollout(30, "config", "image").model_copy(update={"configs": [CONFIG]})
    findings = _correlated(_crash_after(both))
    assert [(f.category, f.action) for f in findings] == [(Category.BAD_ROLLOUT, Action.ROLLBACK)]


# --- a change that coincided with a failure it did not cause -------------------------------


def _broker(ready: int) -> DependencyEvidence:
    """RabbitMQ in another namespace, named by the checkout pods' env, ``ready`` endpoints."""
    return DependencyEvidence(
        service=make.service("rabbitmq", "messaging", ready=ready, port_numbers=[5672]),
        named_by=naming("pod checkout-new-a env AMQP_HOST"),
        pods=3,
        failing_pods=[] if ready else [PodTrouble(pod="rabbitmq-server-0", container="rabbitmq")],
    )


def _refused_after_rollout(broker: DependencyEvidence) -> Evidence:
    line = (
        '{"level":"error","msg":"amqp reconnect failed",'
        '"err":"connect ECONNREFUSED 10.96.4.7:5672"}'
    )
    return _crash_after(
        _rollout(30, "image"),
        dependencies=[broker],
        logs=[make.log("checkout-new-a", "app", line)],
    )


def test_a_dependency_down_for_everyone_is_not_the_rollouts_doing() -> None:
    assert not _correlated(_refused_after_rollout(_broker(ready=0)))


def test_a_healthy_dependency_leaves_the_rollout_blamed() -> None:
    assert _correlated(_refused_after_rollout(_broker(ready=3)))


def _both_revisions_logging(old_line: str) -> Evidence:
    new_line = "StackExchange.Redis.RedisConnectionException: UnableToConnect on cache:6379"
    return make.evidence(
        workload=make.deployment(revision=5),
        revisions=_new_over_old(ready=1),
        pods=[
            make.pod(
                "checkout-new-a", make.container("app", "app:1.1"), replica_set="checkout-new"
            ),
            make.pod(
                "checkout-old-a", make.container("app", "app:1.0"), replica_set="checkout-old"
            ),
        ],
        logs=[
            make.log("checkout-new-a", "app", new_line),
            make.log("checkout-old-a", "app", old_line),
        ],
        metrics=[make.error_ratio(first=0.001, last=0.2, changed_minutes_ago=25, trend="rising")],
        changes=[_rollout(30, "image")],
    )


def test_the_previous_revision_failing_alike_clears_the_rollout() -> None:
    ev = _both_revisions_logging(
        "StackExchange.Redis.RedisConnectionException: UnableToConnect on cache:6379"
    )
    assert not _correlated(ev)


def test_a_previous_revision_logging_something_else_keeps_the_rollout_blamed() -> None:
    ev = _both_revisions_logging('GET /v1/cart 200 12ms status="200"')
    assert [(f.category, f.action) for f in _correlated(ev)] == [
        (Category.BAD_ROLLOUT, Action.ROLLBACK)
    ]


# --- a scale-in ----------------------------------------------------------------------------


def _scaled_in(
    replica_set: str, cpu_stepped_minutes_ago: float | None, alertname: str = "CheckoutLatencyHigh"
) -> Evidence:
    scaled = make.event(
        "ScalingReplicaSet",
        f"Scaled down replica set {replica_set} to 4 from 8",
        name="checkout",
        kind="Deployment",
        type_="Normal",
    ).model_copy(update={"first_seen": ago(40), "last_seen": ago(40)})
    metrics = []
    if cpu_stepped_minutes_ago is not None:
        metrics.append(
            make.metric(
                'sum(rate(container_cpu_usage_seconds_total{namespace="shop",pod=~"checkout-.*"}[5m]))',
                name="cpu_usage_cores",
                first=0.45,
                last=0.85,
                trend="rising",
                changed_minutes_ago=cpu_stepped_minutes_ago,
            )
        )
    return make.evidence(
        workload=make.deployment(replicas=4, revision=5),
        revisions=[make.revision("checkout-new", 5, {"app": "app:1.1"}, current=True, ready=4)],
        pods=[
            make.pod("checkout-new-a", make.container("app", "app:1.1"), replica_set="checkout-new")
        ],
        events=[scaled],
        metrics=metrics,
        alerts=[make.alert(alertname=alertname, namespace="shop")],
    )


def test_cpu_stepping_up_right_after_a_scale_in_asks_for_the_replicas_back() -> None:
    finding = top(_scaled_in("checkout-new", cpu_stepped_minutes_ago=36))
    assert (finding.category, finding.action, finding.target) == (
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        WORKLOAD,
    )
    assert finding.params["replicas"] == "8"


def test_an_autoscalers_cut_that_left_the_pods_busier_asks_for_the_replicas_back() -> None:
    # Its minimum or target was edited: the autoscaler cut 8 -> 4 and the pods it kept got
    # busier right after; with no busier pods the same cut would be the autoscaler's business.
    hpa = autoscalers.hpa(WORKLOAD, current=4, minimum=4, maximum=12)
    busier = _scaled_in("checkout-new", 36).model_copy(update={"autoscalers": [hpa]})
    finding = top(busier)
    assert (finding.category, finding.action, finding.params["replicas"]) == (
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        "8",
    )
    assert "undo the autoscaler change" in finding.summary
    idle = _scaled_in("checkout-new", None).model_copy(update={"autoscalers": [hpa]})
    assert by_category(analyze(idle), Category.RESOURCE_SATURATION) == []


def test_a_rollouts_scale_down_of_the_old_revision_is_no_scale_in() -> None:
    result = analyze(_scaled_in("checkout-old", cpu_stepped_minutes_ago=36))
    assert by_category(result, Category.RESOURCE_SATURATION) == []


def test_a_scale_in_without_busier_pods_or_strain_is_no_cause() -> None:
    def saturation(ev: Evidence) -> list[Finding]:
        return by_category(analyze(ev), Category.RESOURCE_SATURATION)

    # Nothing says the service got slower or fails (a CPU alert, no latency or error alert).
    assert saturation(_scaled_in("checkout-new", None, "CheckoutCpuHigh")) == []
    # CPU that stepped up long after the cut is something else's doing.
    assert saturation(_scaled_in("checkout-new", 2, "CheckoutCpuHigh")) == []


def test_a_scale_in_while_the_latency_alert_fires_asks_for_the_replicas_back() -> None:
    # The same cut by hand (no autoscaler) while the latency alert fires: capacity was cut.
    finding = top(_scaled_in("checkout-new", None))
    assert (finding.category, finding.action, finding.params["replicas"]) == (
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        "8",
    )


def _database_says_after_rollout(line: str) -> Evidence:
    """The new revision's pod logs ``line`` about a managed database (an ExternalName Service
    named in its env: the server itself is out of sight)."""
    database = DependencyEvidence(
        service=make.external_service("orders-db", "orders.cluster-x.rds.amazonaws.com"),
        named_by=naming("pod checkout-new-a env DATABASE_HOST"),
    )
    return _crash_after(
        _rollout(30, "image"),
        dependencies=[database],
        logs=[make.log("checkout-new-a", "app", line)],
    )


def test_a_database_that_says_it_serves_nobody_is_not_the_rollouts_doing() -> None:
    # The client relays the server's own state: recovering after a crash or a failover.
    recovering = (
        'psycopg.OperationalError: connection to server at "10.40.3.118", port 5432 failed: '
        "FATAL:  the database system is in recovery mode"
    )
    assert not _correlated(_database_says_after_rollout(recovering))
    # Near miss: a server that refuses this client's work (its slots, its queries) may well
    # be the new revision's doing; the rollout stays the suspect.
    slots = (
        'psycopg.OperationalError: connection to server at "10.40.3.118", port 5432 failed: '
        "FATAL:  sorry, too many clients already"
    )
    assert _correlated(_database_says_after_rollout(slots))


def test_a_database_logging_its_own_state_is_no_client_relaying_it() -> None:
    client = "pgx: failed to connect: FATAL: the database system is shutting down (SQLSTATE 57P03)"
    assert SERVER_NOT_SERVING.search(client)
    server = "2026-11-20 09:31:02 UTC [88] FATAL:  the database system is shutting down"
    assert not SERVER_NOT_SERVING.search(server)
