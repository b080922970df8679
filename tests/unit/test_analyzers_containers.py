"""Checks the container analyzers (oom-killed, crash-loop, config-missing, image-pull,
probe-failure) and how they rank against each other on misleading evidence.

Everything is real: Evidence models built by ``tests.support.evidence`` and the full analyzer
registry via ``run_analyzers``; nothing is mocked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ConfigReference,
    ContainerState,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import (
    CHECKOUT_POD,
    ago,
    analyze,
    assert_leads,
    assert_ranks_below,
    by_category,
    top,
)

EXPORTER_POD = "csv-exporter-5f7d8c9b6d-k2x9p"


def _oom_exporter(**extra: object) -> dict[str, object]:
    exporter = make.container(
        "exporter",
        "ghcr.io/example-org/csv-exporter:1.4.0",
        ready=False,
        restarts=5,
        state=make.waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container"),
        last_state=make.terminated("OOMKilled", 137),
        limits={"cpu": "500m", "memory": "256Mi"},
        requests={"cpu": "100m", "memory": "256Mi"},
    )
    return {
        "alerts": [
            make.alert(
                alertname="KubePodCrashLooping",
                namespace="exports",
                pod=EXPORTER_POD,
                container="exporter",
            )
        ],
        "workload": make.deployment("csv-exporter", "exports", replicas=1, ready=0, revision=3),
        "pods": [
            make.pod(
                EXPORTER_POD,
                exporter,
                namespace="exports",
                replica_set="csv-exporter-5f7d8c9b6d",
                labels={"app": "csv-exporter"},
            )
        ],
        "revisions": [
            make.revision("csv-exporter-5f7d8c9b6d", 3, {"exporter": exporter.image}, current=True)
        ],
        "events": [
            make.event(
                "BackOff",
                "Back-off restarting failed container exporter in pod " + EXPORTER_POD,
                name=EXPORTER_POD,
                namespace="exports",
                count=14,
            )
        ],
        "logs": [
            make.log(
                EXPORTER_POD,
                "exporter",
                "INFO:exporter:loaded 1200000 rows, rss=198MB\n"
                "INFO:exporter:loaded 2400000 rows, rss=241MB",
                namespace="exports",
            )
        ],
        **extra,
    }


def test_oom_killed_exporter_gets_increase_memory_on_its_deployment() -> None:
    finding = top(make.evidence(**_oom_exporter()))
    assert finding.category is Category.OOM_KILLED
    assert finding.action is Action.INCREASE_MEMORY
    assert finding.target == ObjectRef(kind="Deployment", namespace="exports", name="csv-exporter")
    assert finding.params == {"container": "exporter", "memory": "512Mi", "currentMemory": "256Mi"}
    assert 0.9 <= finding.confidence <= 0.97
    assert "256Mi" in finding.summary
    assert any("OOMKilled" in e.fact for e in finding.evidence)


def test_crashlooping_alert_with_oomkilled_last_state_is_not_a_crash_loop() -> None:
    result = analyze(make.evidence(**_oom_exporter()))
    assert result.findings[0].category is Category.OOM_KILLED
    assert by_category(result, Category.CRASH_LOOP) == []


def test_working_set_metrics_raise_the_suggested_limit_and_add_evidence() -> None:
    ws = make.metric(
        'container_memory_working_set_bytes{namespace="exports",container="exporter"}',
        last=250 * 1024**2,
        first=60 * 1024**2,
        max_=400 * 1024**2,
        labels={"container": "exporter"},
    )
    finding = top(make.evidence(**_oom_exporter(metrics=[ws])))
    assert finding.params["memory"] == "640Mi"  # 1.5x the 400Mi peak beats 2x the limit
    assert any(e.source == "metrics" for e in finding.evidence)


def test_sigkill_from_liveness_probe_is_probe_failure_not_oom() -> None:
    web = make.container(
        "web",
        ready=False,
        restarts=4,
        state=make.running(),
        last_state=make.terminated("Error", 137),
        limits={"memory": "512Mi"},
        probes=[make.http_probe("liveness", "/healthz", 8080)],
        ports=[make.port(8080, "http")],
    )
    ev = make.checkout_evidence(
        web,
        events=[
            make.event(
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 404",
                name=CHECKOUT_POD,
                count=12,
            ),
            make.event(
                "Killing",
                "Container web failed liveness probe, will be restarted",
                name=CHECKOUT_POD,
                type_="Normal",
                count=4,
            ),
        ],
        logs=[make.log(CHECKOUT_POD, "web", "listening on :8080\nGET /api/cart 200")],
    )
    result = analyze(ev)
    finding = result.findings[0]
    assert finding.category is Category.PROBE_FAILURE
    assert finding.action is Action.FIX_PROBE
    assert finding.params == {"container": "web", "probe": "liveness"}
    assert finding.target == ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    assert by_category(result, Category.OOM_KILLED) == []


def test_readiness_failing_with_503_because_a_dependency_is_down_ranks_below_dependency() -> None:
    app = make.container("app", ready=False, env={"DB_HOST": "postgres.shop.svc.cluster.local"})
    ev = make.checkout_evidence(
        app,
        workload=make.deployment(ready=0),
        services=[make.service("postgres", ready=0, matching=1)],
        events=[
            make.event(
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                name=CHECKOUT_POD,
                count=40,
            )
        ],
        logs=[
            make.checkout_log(
                "ERROR db ping failed: dial tcp postgres.shop.svc.cluster.local:5432: "
                "connect: connection refused"
            )
        ],
    )
    result = analyze(ev)
    assert result.findings[0].category is Category.DEPENDENCY_FAILURE
    assert result.findings[0].target == ObjectRef(kind="Service", namespace="shop", name="postgres")
    assert_ranks_below(result, Category.PROBE_FAILURE, result.findings[0])


def test_memory_near_limit_without_a_kill_is_a_weak_oom_signal() -> None:
    app = make.container("app", limits={"memory": "1Gi"})
    ev = make.checkout_evidence(
        app,
        metrics=[
            make.metric(
                'container_memory_working_set_bytes{container="app"}',
                last=0.97 * 1024**3,
                first=0.5 * 1024**3,
                labels={"container": "app"},
                trend="rising",
            )
        ],
    )
    finding = top(ev)
    assert finding.category is Category.OOM_KILLED
    assert finding.confidence <= 0.6
    assert finding.params["memory"] == "2Gi"


def test_panic_crash_loop_without_history_is_escalated_to_the_workload_owner() -> None:
    app = make.crash_looping("app", restarts=7, exit_code=2)
    ev = make.checkout_evidence(
        app,
        workload=make.deployment(ready=0),
        logs=[
            make.checkout_log(
                "starting checkout v2\npanic: runtime error: invalid memory address or nil "
                "pointer dereference\ngoroutine 1 [running]:"
            )
        ],
    )
    finding = top(ev)
    assert finding.category is Category.CRASH_LOOP
    # The kubelet restarts it already; a deterministic panic needs a code change.
    assert finding.action is Action.ESCALATE
    assert finding.target == ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    assert finding.params["exitCode"] == "2"
    assert "panic" in finding.summary


def test_bad_flag_on_the_first_revision_of_a_statefulset_is_escalated() -> None:
    worker = make.crash_looping("indexer", restarts=11, exit_code=64)
    ev = make.evidence(
        pods=[
            make.pod("search-indexer-0", worker, namespace="catalog", replica_set=None).model_copy(
                update={
                    "owner": ObjectRef(
                        kind="StatefulSet", namespace="catalog", name="search-indexer"
                    )
                }
            )
        ],
        logs=[
            make.log(
                "search-indexer-0",
                "indexer",
                "indexer: unknown option --shards-per-node\nTry 'indexer --help'",
                namespace="catalog",
            )
        ],
    )
    crash = by_category(analyze(ev), Category.CRASH_LOOP)[0]
    assert crash.action is Action.ESCALATE
    assert crash.target == ObjectRef(kind="StatefulSet", namespace="catalog", name="search-indexer")


def test_process_that_ran_for_hours_before_exiting_gets_a_restart() -> None:
    # Near miss of the escalate rule: a process that degrades over hours (stuck pool, leaked
    # handles) recovers with a fresh start, so a restart is worth suggesting.
    long_run = ContainerState(
        state="terminated", reason="Error", exit_code=1, started_at=ago(300), finished_at=ago(2)
    )
    api = make.container(
        "api", ready=False, restarts=2, state=make.waiting("CrashLoopBackOff"), last_state=long_run
    )
    ev = make.evidence(
        workload=make.deployment("ledger", "money", ready=1),
        pods=[
            make.pod(
                "ledger-6f7d8c9b4-qwert", api, namespace="money", replica_set="ledger-6f7d8c9b4"
            )
        ],
        logs=[
            make.log(
                "ledger-6f7d8c9b4-qwert", "api", "fatal: too many open files", namespace="money"
            )
        ],
    )
    crash = by_category(analyze(ev), Category.CRASH_LOOP)[0]
    assert crash.action is Action.RESTART


def test_a_container_the_runtime_cannot_start_is_escalated_not_restarted() -> None:
    # Near miss of the restart rule: a StartError (the command is not in the image) carries the
    # zero time as its start, which is no long run; another restart cannot help.
    never_ran = ContainerState(
        state="terminated",
        reason="StartError",
        exit_code=128,
        message='exec: "/app/server": stat /app/server: no such file or directory: unknown',
        started_at=datetime(1970, 1, 1, tzinfo=UTC),
        finished_at=ago(2),
    )
    api = make.container(
        "api", ready=False, restarts=6, state=make.waiting("CrashLoopBackOff"), last_state=never_ran
    )
    ev = make.evidence(
        workload=make.deployment("tiles", "geo", ready=0),
        pods=[
            make.pod("tiles-6f7d8c9b4-qwert", api, namespace="geo", replica_set="tiles-6f7d8c9b4")
        ],
    )
    crash = by_category(analyze(ev), Category.CRASH_LOOP)[0]
    assert crash.action is Action.ESCALATE
    assert crash.narrative is not None
    assert "cannot be started by the container runtime" in crash.narrative.because[0].text


def _crashing_since_revision_5(minutes_ago: float, restarts: int, line: str) -> Evidence:
    """Revision 5 (app:2.0) rolled out ``minutes_ago`` over revision 4 (app:1.9), and its
    pod crash-loops logging ``line``."""
    app = make.crash_looping("app", "ghcr.io/example/app:2.0", restarts=restarts)
    return make.checkout_evidence(
        app,
        workload=make.deployment(ready=0, revision=5),
        revisions=make.rollout_revisions(
            5, {"app": app.image}, {"app": "ghcr.io/example/app:1.9"}, minutes_ago=minutes_ago
        ),
        logs=[make.checkout_log(line)],
    )


def test_crash_loop_right_after_a_new_revision_suggests_rollback_to_it() -> None:
    ev = _crashing_since_revision_5(40, 3, "Error: unknown flag: --listen-addr")
    crash = by_category(analyze(ev), Category.CRASH_LOOP)[0]
    assert crash.action is Action.ROLLBACK
    assert crash.params["revision"] == "4"


def test_crash_loop_whose_previous_revision_crashes_too_is_not_rolled_back() -> None:
    # Near miss of the rollback rule: the rollout is recent, but the previous revision's pod
    # crash-loops as well (a poison record, a shared dependency): rolling back restores nothing.
    ev = _crashing_since_revision_5(40, 3, "Traceback (most recent call last):")
    old = make.crash_looping("app", "ghcr.io/example/app:1.9", restarts=9)
    ev = ev.model_copy(
        update={
            "pods": [
                *ev.pods,
                make.pod("checkout-5c6d7e8f9-old01", old, replica_set="checkout-5c6d7e8f9"),
            ]
        }
    )
    crash = by_category(analyze(ev), Category.CRASH_LOOP)[0]
    assert crash.action is Action.ESCALATE


def _rollout_to_5(*aspects: str) -> ChangeEvidence:
    """The rollout to revision 5, 40 minutes ago, changing ``aspects`` of the template; its
    config hash names the ConfigMap checkout-config."""
    return ChangeEvidence(
        at=ago(40),
        kind="rollout",
        object=ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
        aspects=list(aspects),
        details=["revision 4 -> 5"],
        from_revision=4,
        to_revision=5,
        configs=[ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-config")],
    )


def test_crash_loop_after_a_rollout_that_only_carried_a_config_edit_is_not_rolled_back() -> None:
    # Reloader rolled the Deployment because its ConfigMap was edited: the template differs
    # only by that hash, so the previous revision would mount the same edited ConfigMap.
    ev = _crashing_since_revision_5(40, 3, "Error: unknown flag: --listen-addr")
    carried = ev.model_copy(update={"changes": [_rollout_to_5("config")]})
    assert by_category(analyze(carried), Category.CRASH_LOOP)[0].action is Action.ESCALATE
    # Near miss: the same rollout also changing the image is still rolled back.
    both = ev.model_copy(update={"changes": [_rollout_to_5("config", "image")]})
    assert by_category(analyze(both), Category.CRASH_LOOP)[0].action is Action.ROLLBACK


def test_crash_loop_on_a_revision_weeks_old_is_not_blamed_on_the_rollout() -> None:
    # Near miss of the rollback rule: an older revision exists, but the current one served
    # for weeks before crashing, so rolling back is not the fix.
    ev = _crashing_since_revision_5(60 * 24 * 20, 5, "Traceback (most recent call last):")
    crash = by_category(analyze(ev), Category.CRASH_LOOP)[0]
    assert crash.action is Action.ESCALATE


def test_crash_loop_whose_logs_name_a_missing_env_var_is_config_missing() -> None:
    app = make.crash_looping("app", restarts=6, exit_code=1)
    refs = [
        ConfigReference(kind="ConfigMap", name="checkout-env", via="envFrom", exists=True),
        ConfigReference(
            kind="Secret", name="checkout-db", key="password", via="env DB_PASSWORD", exists=None
        ),
    ]
    ev = make.evidence(
        workload=make.deployment(ready=0),
        pods=[make.pod(CHECKOUT_POD, app, config_refs=refs)],
        logs=[
            make.checkout_log(
                "level=info msg=starting\n"
                'level=fatal msg="environment variable PAYMENT_API_KEY is not set"'
            )
        ],
    )
    result = analyze(ev)
    first = result.findings[0]
    assert first.category is Category.CONFIG_MISSING
    assert first.action is Action.FIX_CONFIG
    # The variable is not fed by the named Secret, so the envFrom ConfigMap is the suspect.
    assert first.target == ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-env")
    assert_ranks_below(result, Category.CRASH_LOOP, first)


def test_create_container_config_error_targets_the_missing_configmap() -> None:
    app = make.container(
        "app",
        ready=False,
        state=make.waiting("CreateContainerConfigError", 'configmap "checkout-config" not found'),
    )
    ev = make.evidence(workload=make.deployment(ready=0), pods=[make.pod(CHECKOUT_POD, app)])
    finding = top(ev)
    assert finding.category is Category.CONFIG_MISSING
    assert finding.target == ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-config")
    assert finding.confidence >= 0.9


_ROOT_IMAGE = (
    'container has runAsNonRoot and image will run as root (pod: "checkout-7d9f6c8b5-x2k9q_shop'
    '(0c1d)", container: app)'
)


def _image_user_refused(images: tuple[str, str]) -> Evidence:
    """New pods of revision 5 refused for their image's user; revision 4 serves beside them."""
    new_image, old_image = images
    app = make.container(
        "app", new_image, ready=False, state=make.waiting("CreateContainerConfigError", _ROOT_IMAGE)
    )
    return make.evidence(
        workload=make.deployment(replicas=3, ready=2, revision=5),
        pods=[make.pod(CHECKOUT_POD, app, phase="Pending")],
        revisions=[
            make.revision("checkout-7d9f6c8b5", 5, {"app": new_image}, current=True),
            make.revision("checkout-5c8d7b6a4", 4, {"app": old_image}, ready=2),
        ],
    )


def test_an_image_user_refused_under_a_new_image_is_no_configuration_fault() -> None:
    # The same securityContext ran the old image: the new image's root user is the change.
    ev = _image_user_refused(("nginx:1.27", "nginxinc/nginx-unprivileged:1.27"))
    assert by_category(analyze(ev), Category.CONFIG_MISSING) == []


def test_an_image_user_refused_under_the_same_image_is_the_pod_spec_to_correct() -> None:
    # Same image in both revisions: the securityContext (or a policy's mutation) changed.
    ev = _image_user_refused(("nginx:1.27", "nginx:1.27"))
    found = by_category(analyze(ev), Category.CONFIG_MISSING)
    assert found
    assert found[0].target == ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def test_missing_secret_key_reference_targets_the_secret() -> None:
    app = make.container(
        "app",
        ready=False,
        state=make.waiting(
            "CreateContainerConfigError", "couldn't find key url in Secret shop/checkout-db"
        ),
    )
    ev = make.evidence(workload=make.deployment(ready=0), pods=[make.pod(CHECKOUT_POD, app)])
    finding = top(ev)
    assert finding.target == ObjectRef(kind="Secret", namespace="shop", name="checkout-db")
    assert finding.params == {"key": "url"}


def test_failed_mount_of_a_configmap_volume_is_config_missing_not_storage() -> None:
    app = make.container("app", ready=False, state=make.waiting("ContainerCreating"))
    ev = make.evidence(
        workload=make.deployment(ready=0),
        pods=[make.pod(CHECKOUT_POD, app, phase="Pending")],
        events=[
            make.event(
                "FailedMount",
                'MountVolume.SetUp failed for volume "config" : configmap "nginx-conf" not found',
                name=CHECKOUT_POD,
            )
        ],
    )
    result = analyze(ev)
    assert result.findings[0].category is Category.CONFIG_MISSING
    assert result.findings[0].target.name == "nginx-conf"
    assert by_category(result, Category.STORAGE) == []


def test_healthy_workload_fires_nothing() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app", limits={"memory": "256Mi"}))],
        logs=[make.checkout_log("GET /healthz 200\nGET /cart 200")],
    )
    assert analyze(ev).findings == ()


def _image_typo(**extra: object) -> dict[str, object]:
    new_web = make.container(
        "web",
        "docker.io/library/nginx:1.27-alpline",
        ready=False,
        state=make.waiting(
            "ImagePullBackOff", 'Back-off pulling image "docker.io/library/nginx:1.27-alpline"'
        ),
    )
    old_web = make.container("web", "docker.io/library/nginx:1.27-alpine")
    labels = {"app": "landing-page"}
    return {
        "workload": make.deployment("landing-page", "marketing-site", replicas=2, revision=4),
        "revisions": [
            make.revision(
                "landing-page-66b9d5c7f8",
                4,
                {"web": new_web.image},
                current=True,
                created_minutes_ago=31,
            ),
            make.revision("landing-page-7d4f8b6c59", 3, {"web": old_web.image}, ready=2),
        ],
        "pods": [
            make.pod(
                "landing-page-66b9d5c7f8-q4m7t",
                new_web,
                namespace="marketing-site",
                replica_set="landing-page-66b9d5c7f8",
                labels=labels,
                phase="Pending",
            ),
            make.pod(
                "landing-page-7d4f8b6c59-8wcdz",
                old_web,
                namespace="marketing-site",
                replica_set="landing-page-7d4f8b6c59",
                labels=labels,
            ),
        ],
        "events": [
            make.event(
                "Failed",
                'Failed to pull image "docker.io/library/nginx:1.27-alpline": failed to resolve '
                'reference "docker.io/library/nginx:1.27-alpline": not found',
                name="landing-page-66b9d5c7f8-q4m7t",
                namespace="marketing-site",
                count=9,
            )
        ],
        **extra,
    }


def test_image_tag_typo_gets_fix_image_then_rollback() -> None:
    result = analyze(make.evidence(**_image_typo()))
    first, second = result.findings[0], result.findings[1]
    landing = ObjectRef(kind="Deployment", namespace="marketing-site", name="landing-page")
    assert (first.category, first.action, first.target) == (
        Category.IMAGE_PULL,
        Action.FIX_IMAGE,
        landing,
    )
    assert "does not exist" in first.summary
    assert first.params["previousImage"] == "docker.io/library/nginx:1.27-alpine"
    assert (second.action, second.target, second.params["revision"]) == (
        Action.ROLLBACK,
        landing,
        "3",
    )
    assert_ranks_below(result, Category.BAD_ROLLOUT, first)


def test_unauthorized_pull_without_history_names_the_pull_secret_and_no_rollback() -> None:
    app = make.container(
        "app",
        "registry.example.com/team/app:1.0",
        ready=False,
        state=make.waiting(
            "ErrImagePull",
            "pull access denied, repository does not exist or may "
            "require authorization: authorization failed",
        ),
    )
    ev = make.evidence(workload=make.deployment(ready=0), pods=[make.pod(CHECKOUT_POD, app)])
    result = analyze(ev)
    assert [f.action for f in result.findings] == [Action.FIX_IMAGE]
    assert "pull secret" in result.findings[0].summary


_MISSING_SECRET = (
    "Unable to retrieve some image pull secrets (regcred); attempting to pull the image "
    "may not succeed."
)


def test_a_missing_pull_secret_is_named_as_why_the_registry_refuses() -> None:
    app = make.container(
        "app",
        "registry.example.com/team/app:1.1",
        ready=False,
        state=make.waiting(
            "ImagePullBackOff",
            'Back-off pulling image "registry.example.com/team/app:1.1": failed to authorize: '
            "failed to fetch anonymous token: unexpected status: 403 Forbidden",
        ),
    )
    missing = make.event("FailedToRetrieveImagePullSecret", _MISSING_SECRET, name=CHECKOUT_POD)
    ev = make.evidence(
        workload=make.deployment(ready=0), pods=[make.pod(CHECKOUT_POD, app)], events=[missing]
    )
    first = analyze(ev).findings[0]
    assert (first.category, first.action) == (Category.IMAGE_PULL, Action.FIX_IMAGE)
    assert "imagePullSecrets" in first.summary
    assert any("regcred" in e.fact for e in first.evidence)


def test_a_missing_pull_secret_alone_is_no_image_pull() -> None:
    # Near miss: the kubelet warns and pulls anyway (a public or cached image): no failure.
    missing = make.event("FailedToRetrieveImagePullSecret", _MISSING_SECRET, name=CHECKOUT_POD)
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"))],
        events=[missing],
    )
    assert by_category(analyze(ev), Category.IMAGE_PULL) == []


def test_kubelet_alert_alone_does_not_make_a_crash_loop() -> None:
    ev = make.evidence(
        alerts=[make.alert(alertname="KubePodCrashLooping", namespace="shop", pod="x")],
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"))],
    )
    assert by_category(analyze(ev), Category.CRASH_LOOP) == []


def test_env_host_one_letter_off_a_real_service_is_config_missing() -> None:
    app = make.crash_looping(
        "app",
        restarts=4,
        env={"DB_HOST": "postgress"},
    )
    ev = make.checkout_evidence(
        app,
        workload=make.deployment(ready=0),
        services=[make.service("postgres", selector={"app": "pg"}, ready=1, matching=1)],
        logs=[
            make.checkout_log(
                'psql: error: could not translate host name "postgress" to address: '
                "Name or service not known\nlookup postgress on 10.96.0.10:53: no such host"
            )
        ],
    )
    result = analyze(ev)
    first = assert_leads(
        result,
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
    )
    assert "the Service is postgres" in first.evidence[0].fact


# --- config: unresolved placeholders, renamed keys, references a started process had -----


def _booking_api(line: str, keys: list[str]) -> Evidence:
    api = make.crash_looping(
        "api",
        restarts=5,
        env={"APP_ENV": "production"},
    )
    booking = make.pod(
        "booking-api-6b7c8d9e0f-mn4op",
        api,
        namespace="travel",
        replica_set="booking-api-6b7c8d9e0f",
        labels={"app": "booking-api"},
        config_refs=[
            ConfigReference(kind="ConfigMap", name="booking-settings", via="envFrom", exists=True)
        ],
    )
    return make.evidence(
        workload=make.deployment("booking-api", "travel", ready=0),
        pods=[booking],
        config_maps={"booking-settings": keys},
        logs=[make.log("booking-api-6b7c8d9e0f-mn4op", "api", line, namespace="travel")],
    )


def test_unresolved_placeholder_with_a_renamed_key_is_config_missing_on_the_configmap() -> None:
    ev = _booking_api(
        "startup failed: cannot resolve variable ${SEAT_MAP_ENDPOINT} in 'seatmap.url'",
        keys=["SEATMAP_ENDPOINT", "LOG_LEVEL"],
    )
    finding = top(ev)
    assert finding.category is Category.CONFIG_MISSING
    assert finding.action is Action.FIX_CONFIG
    assert finding.target == ObjectRef(
        kind="ConfigMap", namespace="travel", name="booking-settings"
    )
    assert any("SEATMAP_ENDPOINT" in e.fact for e in finding.evidence)


def test_placeholder_whose_key_exists_gets_no_renamed_key_bonus() -> None:
    # Near miss: the key is there, so nothing was renamed; the finding stays weaker.
    renamed = top(
        _booking_api(
            "startup failed: cannot resolve variable ${SEAT_MAP_ENDPOINT}",
            keys=["SEATMAP_ENDPOINT"],
        )
    )
    present = top(
        _booking_api(
            "startup failed: cannot resolve variable ${SEAT_MAP_ENDPOINT}",
            keys=["SEAT_MAP_ENDPOINT"],
        )
    )
    assert present.confidence < renamed.confidence
    assert not any("has no key" in e.fact for e in present.evidence)


def _segfaulting_agent(*, started: bool) -> Evidence:
    state = (
        make.crash_looping("agent", restarts=9, exit_code=139)
        if started
        else make.container("agent", ready=False, state=make.waiting("ContainerCreating"))
    )
    agent = make.pod(
        "log-agent-x7k2p",
        state,
        namespace="observability",
        replica_set=None,
        labels={"app": "log-agent"},
        config_refs=[
            ConfigReference(
                kind="ConfigMap", name="log-agent-conf", via="volume conf", exists=False
            )
        ],
    ).model_copy(
        update={"owner": ObjectRef(kind="DaemonSet", namespace="observability", name="log-agent")}
    )
    return make.evidence(
        pods=[agent],
        logs=[
            make.log(
                "log-agent-x7k2p",
                "agent",
                "[engine] caught signal (SIGSEGV)\n#0 0x55d0 in flush_buffer() at src/out.c:88",
                namespace="observability",
            )
        ]
        if started
        else [],
    )


def test_config_a_started_process_mounted_is_not_blamed_for_its_segfault() -> None:
    result = analyze(_segfaulting_agent(started=True))
    assert result.findings[0].category is Category.CRASH_LOOP
    assert result.findings[0].action is Action.ESCALATE
    assert result.findings[0].target == ObjectRef(
        kind="DaemonSet", namespace="observability", name="log-agent"
    )
    assert all(f.confidence <= 0.5 for f in by_category(result, Category.CONFIG_MISSING))


def test_missing_config_of_a_pod_that_never_started_stays_strong() -> None:
    # Near miss: nothing ran, so the absent ConfigMap is the explanation.
    finding = by_category(analyze(_segfaulting_agent(started=False)), Category.CONFIG_MISSING)[0]
    assert finding.confidence >= 0.9
    assert finding.target.name == "log-agent-conf"


# --- probes that time out because the process is overloaded --------------------------------


def _timing_out_probe(*, cpu_first: float) -> Evidence:
    web = make.container(
        "web",
        ready=False,
        probes=[make.http_probe("readiness", "/healthz", 8080, timeout_seconds=2)],
    )
    web_pod = make.pod(
        "quotes-5e6f7a8b9c-aa1bb", web, namespace="pricing", replica_set="quotes-5e6f7a8b9c"
    )
    return make.evidence(
        workload=make.deployment("quotes", "pricing", ready=1, replicas=2),
        pods=[web_pod],
        events=[
            make.event(
                "Unhealthy",
                'Readiness probe failed: Get "http://10.2.3.4:8080/healthz": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)",
                name="quotes-5e6f7a8b9c-aa1bb",
                namespace="pricing",
                count=12,
            )
        ],
        metrics=[
            make.metric(
                "sum by (pod, container) "
                '(rate(container_cpu_usage_seconds_total{namespace="pricing"}[5m]))',
                first=cpu_first,
                last=1.8,
                name="cpu_usage_cores",
                labels={"pod": "quotes-5e6f7a8b9c-aa1bb", "container": "web"},
            )
        ],
    )


def test_readiness_timeouts_while_cpu_jumps_are_not_blamed_on_the_probe() -> None:
    busy = by_category(analyze(_timing_out_probe(cpu_first=0.3)), Category.PROBE_FAILURE)[0]
    steady = by_category(analyze(_timing_out_probe(cpu_first=1.7)), Category.PROBE_FAILURE)[0]
    assert busy.confidence <= 0.5
    # Near miss: same timeouts with CPU steady keep the probe as the suspect.
    assert steady.confidence >= 0.7


# --- readiness blips that recovered ---------------------------------------------------------


def _blip(count: int, *, ready: bool = True) -> Evidence:
    renderer = make.container(
        "renderer",
        ready=ready,
        probes=[make.http_probe("readiness", "/status", 9000)],
    )
    return make.evidence(
        workload=make.deployment("maps", "carto"),
        pods=[
            make.pod(
                "maps-8a9b0c1d2e-fg3hi", renderer, namespace="carto", replica_set="maps-8a9b0c1d2e"
            )
        ],
        events=[
            make.event(
                "Unhealthy",
                'Readiness probe failed: Get "http://10.4.5.6:9000/status": context deadline '
                "exceeded",
                name="maps-8a9b0c1d2e-fg3hi",
                namespace="carto",
                count=count,
            )
        ],
    )


def test_a_few_readiness_failures_on_a_pod_ready_again_are_not_a_probe_problem() -> None:
    assert not by_category(analyze(_blip(4)), Category.PROBE_FAILURE)


def test_readiness_flapping_many_times_is_still_a_probe_problem() -> None:
    # Near misses: many failures, or a container still not ready.
    assert by_category(analyze(_blip(60)), Category.PROBE_FAILURE)
    assert by_category(analyze(_blip(4, ready=False)), Category.PROBE_FAILURE)


def _warm_up(started_minutes_ago: float) -> Evidence:
    """17 readiness failures seen from 14 to 10 minutes ago, on a container that is ready now
    and started ``started_minutes_ago``."""
    ev = _blip(17)
    pod = ev.pods[0]
    renderer = pod.containers[0].model_copy(
        update={"state": ContainerState(state="running", started_at=ago(started_minutes_ago))}
    )
    event = ev.events[0].model_copy(update={"first_seen": ago(14), "last_seen": ago(10)})
    return ev.model_copy(
        update={"pods": [pod.model_copy(update={"containers": [renderer]})], "events": [event]}
    )


def test_readiness_failures_only_during_start_up_of_a_ready_container_are_its_warm_up() -> None:
    assert not by_category(analyze(_warm_up(14)), Category.PROBE_FAILURE)
    # Near miss: the same failures long after the container started are a probe problem.
    assert by_category(analyze(_warm_up(120)), Category.PROBE_FAILURE)
