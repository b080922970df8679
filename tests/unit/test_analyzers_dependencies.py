"""Checks the dependency analyzers: a callee that rolled out right before the caller's
errors began is rolled back (the callee, not the caller); a callee whose pods fail or whose
Service has no ready endpoint is escalated to its owner; and the near misses (the caller
changed too, the callee's rollout is old, nothing stands behind the Service); a followed
callee in another namespace (an external provider behind a Service, a callee up but unable
to serve) named by the caller's env; and a new revision that only waits on a callee that is
down for everyone, which is the callee's failure, not the revision's; and pods held before
their app starts by an init container waiting on a callee that is down (the app never runs to
log a failing call), with the near misses (the init container completed, never started, or
names another host); how the calls fail, in the reader's words (timeouts, not a digit
run of the line's timestamp read as a status); a callee whose rollout only carried an edited
ConfigMap into its pods (a Reloader hash naming it), whose edit is corrected rather than the
callee rolled back, with the near misses (the rollout also changed the image, its checksum
names no object, it is old).

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.analyzers.callee_config import CONFIDENCE as CALLEE_CONFIG
from kubetriage.analyzers.calls import service_fact
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ContainerEvidence,
    ContainerState,
    MetricSummary,
    PodCondition,
    ServiceEvidence,
)
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import (
    ago,
    analyze,
    assert_leads,
    assert_ranks_below,
    by_category,
    naming,
    top,
)

CALLEE = ObjectRef(kind="Deployment", namespace="shop", name="currencyservice")
CALLER = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _rollout(ref: ObjectRef, minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=ref,
        aspects=["image"],
        details=["revision 5 -> 6", "server image currency:1 -> currency:2"],
        from_revision=5,
        to_revision=6,
    )


def _errors(step_minutes_ago: float) -> MetricSummary:
    return make.error_ratio(
        first=0.001, last=0.12, changed_minutes_ago=step_minutes_ago, trend="rising"
    )


def _callee(
    *changes: ChangeEvidence, named_by: str = "log shop/checkout-1/app"
) -> DependencyEvidence:
    return DependencyEvidence(
        workload=CALLEE,
        named_by=naming(named_by),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        changes=list(changes),
    )


def test_errors_right_after_the_callees_rollout_roll_the_callee_back() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(20)],
        dependencies=[_callee(_rollout(CALLEE, 25))],
    )
    finding = top(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        CALLEE,
    )
    assert finding.params == {"revision": "5"}


def test_a_rollout_named_by_a_callees_own_words_says_so() -> None:
    # Found one hop further: the callee's own tail names it, not the caller's.
    own = make.log("checkout-1", "app", "ERROR GetRates: rpc error: code = Unknown")
    for named_by, said in (
        ("log shop/checkout-1/app", "Deployment shop/checkout names it in its failing calls."),
        (
            "log shop/rates-1/app",
            "A service Deployment shop/checkout calls names it in its own failing calls.",
        ),
    ):
        ev = make.evidence(
            workload=make.deployment(),
            metrics=[_errors(20)],
            logs=[own],
            dependencies=[_callee(_rollout(CALLEE, 25), named_by=named_by)],
        )
        finding = top(ev)
        assert finding.analyzer == "dependency-change"
        assert finding.narrative is not None
        assert finding.narrative.because[2].text == said


_ENGINE_CONFIG = ObjectRef(kind="ConfigMap", namespace="shop", name="currency-config")


def _carried(*aspects: str, minutes_ago: float = 25, names: bool = True) -> ChangeEvidence:
    """A rollout of the callee whose template changed in ``aspects``; ``names``: its Reloader
    hash says which ConfigMap it carried into the pods."""
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=CALLEE,
        aspects=list(aspects),
        details=["revision 5 -> 6", "ConfigMap currency-config changed (Reloader)"],
        from_revision=5,
        to_revision=6,
        configs=[_ENGINE_CONFIG] if names else [],
    )


def _carried_evidence(change: ChangeEvidence, *, failing: bool = False) -> Evidence:
    callee = _callee(change)
    if failing:
        callee = callee.model_copy(
            update={
                "failing_pods": [
                    PodTrouble(pod="currencyservice-6-x", waiting="CrashLoopBackOff", restarts=4)
                ]
            }
        )
    return make.evidence(workload=make.deployment(), metrics=[_errors(20)], dependencies=[callee])


@pytest.mark.parametrize(
    ("failing", "confidence"),
    [(True, CALLEE_CONFIG.carried_edit_failing), (False, CALLEE_CONFIG.carried_edit)],
)
def test_a_callee_that_rolled_out_only_to_load_a_config_edit_has_the_edit_corrected(
    failing: bool, confidence: float
) -> None:
    result = analyze(_carried_evidence(_carried("config"), failing=failing))
    finding = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, _ENGINE_CONFIG)
    assert finding.analyzer == "dependency-change"
    assert finding.confidence == confidence
    assert finding.narrative is not None
    assert "rolling it back would mount the same edit again" in finding.narrative.because[0].text
    assert not [
        f
        for f in result.findings
        if f.analyzer == "dependency-change" and f.action is Action.ROLLBACK
    ]


@pytest.mark.parametrize(
    "change",
    [
        _carried("image", "config"),  # the rollout changed what the callee runs, too
        _carried("config", names=False),  # a checksum that does not say which object changed
    ],
    ids=["image-and-config", "checksum-naming-nothing"],
)
def test_a_callee_rollout_that_changed_more_or_names_no_edit_is_rolled_back(
    change: ChangeEvidence,
) -> None:
    finding = top(_carried_evidence(change))
    assert (finding.analyzer, finding.action, finding.target) == (
        "dependency-change",
        Action.ROLLBACK,
        CALLEE,
    )


def test_an_old_config_carrying_callee_rollout_is_not_what_changed() -> None:
    ev = _carried_evidence(_carried("config", minutes_ago=60 * 24))
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-change"]


def test_a_caller_that_changed_after_the_callee_is_the_suspect() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(10)],
        changes=[_rollout(CALLER, 15)],
        dependencies=[_callee(_rollout(CALLEE, 25))],
    )
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-change"]


def test_an_old_callee_rollout_is_not_what_changed() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(20)],
        dependencies=[_callee(_rollout(CALLEE, 60 * 24))],
    )
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-change"]


def test_a_callee_named_only_in_env_is_not_blamed_for_a_rollout() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(20)],
        dependencies=[_callee(_rollout(CALLEE, 25), named_by="pod checkout-1 env CURRENCY_URL")],
    )
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-change"]


def _service(ready: int) -> ServiceEvidence:
    return ServiceEvidence(
        name="auth-api", namespace="identity", selector={"app": "auth"}, ready_endpoints=ready
    )


def test_a_callee_with_no_ready_endpoint_is_a_dependency_failure_of_that_service() -> None:
    dep = DependencyEvidence(
        service=_service(0),
        named_by=naming("pod portal-1 env AUTH_URL"),
        pods=1,
        failing_pods=[PodTrouble(pod="auth-api-1", container="auth")],
        warnings=["Pod/auth-api-1 Unhealthy: Readiness probe failed"],
    )
    failing = make.log(
        "portal-1", "app", "ERROR GET http://auth-api.identity/verify: 503 Service Unavailable"
    )
    finding = top(make.evidence(workload=make.deployment(), dependencies=[dep], logs=[failing]))
    assert (finding.category, finding.action, finding.target) == (
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="identity", name="auth-api"),
    )
    # A caller with no failing call has trouble of its own: the callee is not blamed.
    quiet = make.evidence(workload=make.deployment(), dependencies=[dep])
    assert not [f for f in analyze(quiet).findings if f.analyzer == "dependency-down"]


_WAIT = "until nc -z -w 2 auth-api.identity.svc.cluster.local 8080; do sleep 2; done"


def _held_by(init: ContainerEvidence, *, log: str | None = None) -> Evidence:
    """The portal Deployment with one pod held before its app starts by ``init`` (Initialized
    False, the app container PodInitializing), and no failing call in any log."""
    app = make.container("app", ready=False, state=make.waiting("PodInitializing"))
    held = make.pod(
        "portal-6f7b8c9d4-abcde",
        init,
        app,
        phase="Pending",
        conditions=[PodCondition(type="Initialized", status="False")],
    )
    dep = DependencyEvidence(
        service=_service(0),
        named_by=naming("pod portal-6f7b8c9d4-abcde args"),
        pods=1,
        failing_pods=[PodTrouble(pod="auth-api-1", container="auth", waiting="CrashLoopBackOff")],
    )
    logs = [make.log("portal-6f7b8c9d4-abcde", init.name, log)] if log else []
    return make.evidence(
        workload=make.deployment("portal"), pods=[held], dependencies=[dep], logs=logs
    )


def _init(
    state: ContainerState | None = None, restarts: int = 0, **fields: Any
) -> ContainerEvidence:
    return make.container(
        "wait-for-auth",
        "busybox:1.36",
        ready=False,
        restarts=restarts,
        state=state or make.running(),
        init=True,
        **fields,
    )


def test_a_pod_held_by_an_init_container_waiting_on_a_down_callee_escalates_the_callee() -> None:
    auth = ObjectRef(kind="Service", namespace="identity", name="auth-api")
    for ev in (
        _held_by(_init(args=["sh", "-c", _WAIT])),
        # named only by what the wait loop prints
        _held_by(_init(), log="waiting for auth-api.identity:8080"),
        # an init container that keeps failing to reach it (a migration, a schema check)
        _held_by(
            _init(make.waiting("CrashLoopBackOff"), 4, env={"AUTH_HOST": "auth-api.identity"})
        ),
    ):
        finding = top(ev)
        assert (finding.category, finding.action, finding.target) == (
            Category.DEPENDENCY_FAILURE,
            Action.ESCALATE,
            auth,
        )
        assert any("init container wait-for-auth" in e.fact for e in finding.evidence)


def test_an_init_container_that_completed_never_ran_or_waits_elsewhere_blames_no_callee() -> None:
    done = make.terminated("Completed", 0)
    for init in (
        _init(done, args=["sh", "-c", _WAIT]),
        _init(make.waiting("ErrImagePull"), args=["sh", "-c", _WAIT]),
        _init(args=["sh", "-c", "until nc -z config-api.platform.svc 80; do sleep 2; done"]),
    ):
        found = analyze(_held_by(init)).findings
        assert not [f for f in found if f.analyzer == "dependency-down"], init


def test_a_service_with_nothing_behind_it_is_left_to_the_network_analyzer() -> None:
    dep = DependencyEvidence(
        service=_service(0), named_by=naming("pod portal-1 env AUTH_URL"), pods=0
    )
    ev = make.evidence(workload=make.deployment(), dependencies=[dep])
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-down"]


def test_a_healthy_callee_is_not_blamed() -> None:
    dep = DependencyEvidence(
        service=_service(2), named_by=naming("pod portal-1 env AUTH_URL"), pods=2
    )
    ev = make.evidence(workload=make.deployment(), dependencies=[dep])
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-down"]


def _followed(
    service: ServiceEvidence, *, pods: int = 2, failing: tuple[str, ...] = ()
) -> DependencyEvidence:
    """A dependency the collector followed into its own namespace, named by the caller's env."""
    return DependencyEvidence(
        service=service,
        named_by=naming("pod portal-1 env UPSTREAM_URL"),
        pods=pods,
        failing_pods=[PodTrouble(pod=name, container="vault") for name in failing],
    )


def _portal(url: str, line: str) -> Evidence:
    """The portal Deployment, healthy, whose env points at ``url`` and that logged ``line``."""
    caller = make.container("app", env={"UPSTREAM_URL": url})
    return make.evidence(
        workload=make.deployment("portal"),
        pods=[make.app_pod("portal-6f7b8c9d4-abcde", caller)],
        logs=[make.log("portal-6f7b8c9d4-abcde", "app", line)],
    )


def test_an_external_provider_behind_another_namespaces_service_is_escalated_there() -> None:
    relay = make.external_service("mail-relay", "smtp.provider.example", namespace="outbound")
    ev = _portal(
        "http://mail-relay.outbound.svc.cluster.local",
        '{"level":"warn","msg":"send failed, will retry","status":503,"attempt":2}',
    ).model_copy(update={"dependencies": [_followed(relay, pods=0)]})
    finding = top(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="outbound", name="mail-relay"),
    )
    # Near miss: the same structured line with a 2xx status is no failing call.
    fine = _portal(
        "http://mail-relay.outbound.svc.cluster.local",
        '{"level":"info","msg":"sent","status":202,"attempt":1}',
    ).model_copy(update={"dependencies": [_followed(relay, pods=0)]})
    assert not by_category(analyze(fine), Category.DEPENDENCY_FAILURE)
    # Near miss: a structured access log of a 503 the portal served is its own error.
    served = _portal(
        "http://mail-relay.outbound.svc.cluster.local",
        '{"level":"error","method":"POST","path":"/signup","status":503,"ms":12}',
    ).model_copy(update={"dependencies": [_followed(relay, pods=0)]})
    assert not by_category(analyze(served), Category.DEPENDENCY_FAILURE)


def test_a_callee_the_caller_waits_for_in_vain_fails_with_timeouts_not_a_timestamps_digits() -> (
    None
):
    """The JDK HTTP client's read timeout is a failing call, worded as timeouts; the
    milliseconds of the line's timestamp (".551") are no HTTP status."""
    relay = make.external_service("mail-relay", "smtp.provider.example", namespace="outbound")
    ev = _portal(
        "http://mail-relay.outbound.svc.cluster.local",
        "2026-11-20 09:58:03.551 ERROR c.e.MailClient - send failed: "
        "java.net.http.HttpTimeoutException: request timed out",
    ).model_copy(update={"dependencies": [_followed(relay, pods=0)]})
    finding = top(ev)
    assert finding.target == ObjectRef(kind="Service", namespace="outbound", name="mail-relay")
    assert "fail with timeouts" in finding.summary
    assert "551" not in finding.summary


def test_a_500_the_caller_served_from_its_own_exception_does_not_blame_a_ready_callee() -> None:
    # pino's access log nests the request and its "statusCode"; the error is a TypeError
    # raised in the caller's own code, while the callee its env names has ready endpoints.
    ev = _portal(
        "http://rates.shop.svc.cluster.local:8080",
        '{"level":50,"req":{"method":"POST","url":"/v1/quotes"},"res":{"statusCode":500},'
        '"err":{"type":"TypeError","message":"Cannot read properties of undefined '
        "(reading 'zip')\"}}",
    ).model_copy(update={"services": [make.service("rates", ready=2, matching=2)]})
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


@pytest.mark.parametrize(
    "line",
    [
        # The client library reports the callee's 503 as an error object.
        "ClientError(503, 'unavailable_exception', 'blocked: no master elected');",
        "redis.exceptions.ResponseError: CLUSTERDOWN The cluster is down",
        "redis.exceptions.BusyLoadingError: LOADING the dataset is still loading in memory",
        "WARN Error fetching metadata for index.data.svc:9200 {events=LEADER_NOT_AVAILABLE}",
        # A search cluster with primaries unassigned; a stream cluster without quorum.
        'meta: { statusCode: 503, body: { error: { reason: "all shards failed" } } }',
        'level=ERROR msg="publish failed" err="nats: JetStream system temporarily unavailable"',
        'level=ERROR msg="publish failed" err="nats: no response from stream"',
    ],
)
def test_a_callee_that_is_up_but_cannot_serve_is_the_dependency_at_fault(line: str) -> None:
    # Its pods run and its endpoints are ready, but it says it cannot serve yet (no leader,
    # its data still loading): the callee's state, which its owner must fix.
    index = make.service("index", "data", ready=2, matching=2)
    ev = _portal("http://index.data.svc:9200", line).model_copy(
        update={"dependencies": [_followed(index)]}
    )
    finding = top(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="data", name="index"),
    )


@pytest.mark.parametrize(
    "line",
    [
        "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
        "request timed out after 30000ms (total=20, active=20, idle=0, waiting=37)",
        "Error: timeout exceeded when trying to connect",  # node-postgres' pool
        "ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool "
        "within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use",
        "org.apache.tomcat.jdbc.pool.PoolExhaustedException: Timeout: Pool empty. Unable to "
        "fetch a connection in 30 seconds, none available[size:20; busy:20; idle:0]",
    ],
)
def test_a_pool_that_waits_in_vain_for_its_database_escalates_the_database(line: str) -> None:
    # The line names no host: every connection of the pool is busy in the server its env
    # names, which does not give them back.
    db = make.service("orders-pg", "db", ready=1, matching=1)
    ev = _portal("postgres://orders-pg.db.svc:5432/orders", line).model_copy(
        update={"dependencies": [_followed(db, pods=1)]}
    )
    finding = top(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="db", name="orders-pg"),
    )
    # Near miss: a pool that reports its size is no failing call.
    quiet = _portal(
        "postgres://orders-pg.db.svc:5432/orders", "HikariPool-1 - Start completed."
    ).model_copy(update={"dependencies": [_followed(db, pods=1)]})
    assert not by_category(analyze(quiet), Category.DEPENDENCY_FAILURE)


def _blocked_rollout(*failing: str) -> Evidence:
    """A new revision of portal whose init container waits on the secrets store, which
    answers 503 (``failing``: the store's own failing pods); the old revision still serves."""
    # Its Endpoints were not read: only its pods say whether it serves.
    store = make.service("secrets", "vault-system", matching=2)
    blocked = make.container("init", ready=False, init=True)
    waiting = make.container("app", ready=False, state=make.waiting("PodInitializing"))
    new_pod = make.pod("portal-6f7b8c9d4-new01", blocked, waiting, replica_set="portal-6f7b8c9d4")
    old_pod = make.pod("portal-5c6d7e8f9-old01", make.container(), replica_set="portal-5c6d7e8f9")
    return make.evidence(
        workload=make.deployment("portal", replicas=2, ready=1, revision=9),
        revisions=make.rollout_revisions(
            9,
            {"app": "ghcr.io/example/portal:4"},
            {"app": "ghcr.io/example/portal:4"},
            minutes_ago=20,
            old_ready=1,
            names=("portal-6f7b8c9d4", "portal-5c6d7e8f9"),
        ),
        pods=[new_pod, old_pod],
        logs=[
            make.log(
                "portal-6f7b8c9d4-new01",
                "init",
                "error authenticating: URL: PUT https://secrets.vault-system.svc:8200/v1/login "
                "Code: 503. Errors: * store is sealed",
            )
        ],
        dependencies=[_followed(store, failing=failing)],
    )


def test_new_pods_waiting_on_a_callee_that_is_down_for_everyone_escalate_the_callee() -> None:
    result = analyze(_blocked_rollout("secrets-0", "secrets-1"))
    first = assert_leads(
        result,
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="vault-system", name="secrets"),
    )
    assert_ranks_below(result, Category.BAD_ROLLOUT, first)


def test_new_pods_failing_on_a_callee_that_serves_others_stay_a_bad_rollout() -> None:
    # Near miss: the callee's own pods are fine, so what broke is the new revision.
    result = analyze(_blocked_rollout())
    assert result.findings[0].category is Category.BAD_ROLLOUT


AUTH = ObjectRef(kind="Deployment", namespace="identity", name="auth")


def _auth_killed(last: str) -> Evidence:
    """The portal's calls to auth-api fail while one of auth's pods is not ready after its
    last run ended with ``last``; the other serves."""
    dep = DependencyEvidence(
        service=_service(1),
        workload=AUTH,
        named_by=naming("pod portal-1 env AUTH_URL"),
        pods=2,
        desired_replicas=2,
        ready_replicas=1,
        failing_pods=[
            PodTrouble(pod="auth-7c9d-x2", container="auth", restarts=3, last_terminated=last)
        ],
    )
    failing = make.log(
        "portal-1", "app", "ERROR GET http://auth-api.identity/verify: connection refused"
    )
    return make.evidence(workload=make.deployment(), dependencies=[dep], logs=[failing])


def test_a_callee_whose_pods_are_oom_killed_needs_memory_not_an_escalation() -> None:
    result = analyze(_auth_killed("OOMKilled"))
    leader = assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, AUTH)
    assert leader.params == {"container": "auth"}
    assert_ranks_below(result, Category.DEPENDENCY_FAILURE, leader)
    # Near miss: a callee whose pods end with an error of their own is escalated to its owner.
    assert not by_category(analyze(_auth_killed("Error")), Category.OOM_KILLED)
    assert top(_auth_killed("Error")).action == Action.ESCALATE


def _namespace_wide(line: str, *, ad_line: str = "GetAds served") -> Evidence:
    """An error alert naming no workload (an OpenTelemetry service_name): every pod of the
    namespace is in the evidence, the frontend that calls ``ad`` (its env) and ad's own pods,
    ready, behind their Service."""
    frontend = make.pod(
        "frontend-6c9d8f7b5-q2x7k",
        make.container("frontend", env={"AD_ADDR": "ad:8080"}),
        replica_set="frontend-6c9d8f7b5",
        labels={"app": "frontend"},
    )
    ad = make.pod(
        "ad-5f7c9d8b6-h4wtz",
        make.container("ad"),
        replica_set="ad-5f7c9d8b6",
        labels={"app": "ad"},
    )
    return make.evidence(
        target=ObjectRef(kind="Namespace", name="shop"),
        alerts=[make.alert(alertname="FrontendHttp5xxRatioHigh", namespace="shop")],
        pods=[ad, frontend],
        services=[
            make.service("frontend", ready=1, matching=1),
            make.service("ad", ready=1, matching=1),
        ],
        logs=[
            make.log("frontend-6c9d8f7b5-q2x7k", "frontend", line),
            make.log("ad-5f7c9d8b6-h4wtz", "ad", ad_line),
        ],
    )


@pytest.mark.parametrize(
    "line",
    [
        "Error: 14 UNAVAILABLE: ",  # grpc-js
        "rpc error: code = Unavailable desc = error reading from server: EOF",  # grpc-go
        "grpc._channel._InactiveRpcError: status = StatusCode.UNAVAILABLE",  # grpc-python
        "io.grpc.StatusRuntimeException: UNAVAILABLE: io exception",  # grpc-java client
    ],
)
def test_a_namespace_wide_caller_told_its_callee_is_unavailable_escalates_the_callee(
    line: str,
) -> None:
    # The callee's pods are in the namespace-wide evidence too; they are not the caller's own.
    finding = assert_leads(
        analyze(_namespace_wide(line)),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="shop", name="ad"),
    )
    assert "Deployment shop/frontend" in finding.summary


def test_a_namespace_wide_callee_is_own_when_its_pods_log_the_failing_calls() -> None:
    # Near miss: ad logs the failing call itself (it calls out), so Service ad is its own.
    ev = _namespace_wide("GET /api/data 200", ad_line="Error: 14 UNAVAILABLE: ")
    service_ad = ObjectRef(kind="Service", namespace="shop", name="ad")
    assert not [
        f for f in by_category(analyze(ev), Category.DEPENDENCY_FAILURE) if f.target == service_ad
    ]


def test_a_grpc_status_other_than_unavailable_is_no_failing_call() -> None:
    ev = _namespace_wide("Error: 5 NOT_FOUND: product not found")
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_a_service_fact_never_prints_an_unknown_endpoint_count_as_none() -> None:
    unknown = service_fact(make.service("pricing", "pricing"))
    assert "None" not in unknown.fact
    assert "endpoints were not read" in unknown.fact
    known = service_fact(make.service("pricing", "pricing", ready=0, not_ready_endpoints=1))
    assert "0 ready endpoints, 1 not ready" in known.fact
