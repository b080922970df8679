"""Checks the analyzers that read what a followed dependency says about itself
(``kubetriage.analyzers.dependency_server``): a database, cache, broker or search engine that
is up but cannot serve. Its full volume is grown at the claim of the pod that is full (the
pod that logs it, or the pod its line names); its refusals (connection slots, memory alarms,
in-sync replicas, read-only indices) and its refused logins of the caller (the caller logs
one too, or the server names the caller's address) with the caller unchanged are escalated
to its Service, above the caller's own surface (a crash loop); a refused login
right after the caller's own configuration changed is that ConfigMap's or Secret's to fix;
a caller quoting one server family's refusal (writes refused by a database that only serves
reads among them) names the followed Service on that family's port. Near misses: no claim
known, a behaviour change of the caller, a server that says nothing wrong, a read-only
refusal with no followed Service of that family.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

import pytest

from kubetriage import prose
from kubetriage.analyzers.dependency_server import CONFIDENCE
from kubetriage.analyzers.dependency_volumes import CONFIDENCE as VOLUME_CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ConfigReference,
    ContainerEvidence,
    MetricSummary,
    PVCEvidence,
)
from kubetriage.models.relations import DependencyEvidence, DependencyVolume
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

CALLER_POD = "orders-6f7d8c9b5-x1y2z"


def _volume(pod: str, claim: str, namespace: str = "data") -> DependencyVolume:
    return DependencyVolume(
        pod=pod, claim=PVCEvidence(name=claim, namespace=namespace, phase="Bound")
    )


def _server(
    lines: str,
    *,
    pod: str = "db-0",
    name: str = "db",
    port: int = 5432,
    volumes: tuple[DependencyVolume, ...] = (),
) -> DependencyEvidence:
    """A followed Service ``data/<name>`` on ``port`` whose pod ``pod`` logged ``lines``."""
    return DependencyEvidence(
        service=make.service(name, "data", ready=1, matching=1, port_numbers=[port]),
        named_by=naming(f"pod {CALLER_POD} env DB_URL"),
        pods=1,
        desired_replicas=1,
        ready_replicas=1,
        logs=[make.log(pod, "server", lines, namespace="data")],
        volumes=list(volumes),
    )


def _caller(
    *dependencies: DependencyEvidence,
    logs: str = "",
    container: ContainerEvidence | None = None,
    changes: tuple[ChangeEvidence, ...] = (),
    config: tuple[ConfigReference, ...] = (),
) -> Evidence:
    the_pod = make.app_pod(CALLER_POD, container or make.container("app"), config_refs=list(config))
    return make.evidence(
        workload=make.deployment("orders"),
        pods=[the_pod],
        dependencies=list(dependencies),
        logs=[make.log(CALLER_POD, "app", logs)] if logs else [],
        changes=list(changes),
    )


def _rollout(*aspects: str, minutes_ago: float = 20) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=ObjectRef(kind="Deployment", namespace="shop", name="orders"),
        aspects=list(aspects),
        details=["revision 7 -> 8"],
        from_revision=7,
        to_revision=8,
    )


_SECRET = ConfigReference(kind="Secret", name="orders-db", key="password", via="env DB_PASS")
_CONFIG = ConfigReference(kind="ConfigMap", name="orders-config", via="envFrom")
_DB = ObjectRef(kind="Service", namespace="data", name="db")


@pytest.mark.parametrize(
    "line",
    [
        'ERROR:  could not extend file "base/16384/2619": No space left on device',
        "[ERROR] [MY-000035] [Server] Disk is full writing './binlog.000009' "
        "(OS errno 28 - No space left on device). Waiting for someone to free space...",
        '{"s":"E","c":"WT","msg":"WiredTiger error","attr":{"error":28,"message":"write: '
        'No space left on device"}}',
        "[warning] <0.512.0> disk resource limit alarm set on node 'rabbit@mq-0'.",
        "2026-11-20T09:21:04.118Z\twarn\tVictoriaMetrics/lib/storage/storage.go:724\tswitching "
        "the storage at /vm-data to read-only mode, since it has less than "
        "-storage.minFreeDiskSpaceBytes=10000000 of free space: 9961472 bytes left",
    ],
)
def test_a_dependency_whose_disk_is_full_grows_the_claim_of_its_pod(line: str) -> None:
    dep = _server(line, volumes=(_volume("db-0", "data-db-0"),))
    ev = _caller(dep, logs="ERROR insert failed: server closed the connection unexpectedly")
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-db-0")
    finding = assert_leads(analyze(ev), Category.STORAGE, Action.EXPAND_STORAGE, claim)
    assert finding.confidence == VOLUME_CONFIDENCE.volume_full


def test_a_watermark_line_naming_another_member_grows_that_members_claim() -> None:
    line = (
        "flood stage disk watermark [95%] exceeded on [Xk2][search-2][/usr/share/data] "
        "free: 1.9gb[1.9%], all indices on this node will be marked read-only"
    )
    volumes = tuple(_volume(f"search-{i}", f"data-search-{i}") for i in range(3))
    dep = _server(line, pod="search-0", name="search", port=9200, volumes=volumes)
    finding = assert_leads(
        analyze(_caller(dep)),
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-search-2"),
    )
    assert any("search-0" in item.source for item in finding.evidence)


def _volume_used(claim: str, used: float, capacity: float = 8e9) -> list[MetricSummary]:
    labels = {"namespace": "data", "persistentvolumeclaim": claim}
    return [
        make.metric(
            f'kubelet_volume_stats_used_bytes{{persistentvolumeclaim="{claim}"}}',
            last=used,
            labels=labels,
        ),
        make.metric(
            f'kubelet_volume_stats_capacity_bytes{{persistentvolumeclaim="{claim}"}}',
            last=capacity,
            labels=labels,
        ),
    ]


def test_of_a_pods_several_claims_the_one_measured_full_is_grown() -> None:
    """A database keeping its WAL on a second volume: "no space left" does not say which of
    the pod's volumes ran out; the kubelet's measurements do (the WAL one, listed second)."""
    line = 'PANIC:  could not write to file "pg_wal/xlogtemp.88214": No space left on device'
    volumes = (_volume("db-0", "db-0"), _volume("db-0", "db-0-wal"))
    ev = _caller(_server(line, volumes=volumes))
    ev.metrics = [*_volume_used("db-0", 3.1e9), *_volume_used("db-0-wal", 8e9)]
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="db-0-wal")
    assert_leads(analyze(ev), Category.STORAGE, Action.EXPAND_STORAGE, claim)


def test_of_a_pods_several_claims_none_measured_the_first_is_grown() -> None:
    line = 'PANIC:  could not write to file "pg_wal/xlogtemp.88214": No space left on device'
    volumes = (_volume("db-0", "db-0"), _volume("db-0", "db-0-wal"))
    ev = _caller(_server(line, volumes=volumes))
    ev.metrics = [*_volume_used("db-0", 3.1e9), *_volume_used("db-0-wal", 2e9)]
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="db-0")
    assert_leads(analyze(ev), Category.STORAGE, Action.EXPAND_STORAGE, claim)


def test_a_full_volume_behind_a_long_service_name_keeps_the_summary_whole() -> None:
    """Long claim, pod and Service names cost the Service, not the end of the sentence."""
    pod = "logs-es-data-1"
    line = "flood stage disk watermark [95%] exceeded on [kG3][" + pod + "][/data]"
    dep = _server(
        line,
        pod=pod,
        name="logs-elasticsearch-coordinating-http",
        port=9200,
        volumes=(_volume(pod, f"data-{pod}"),),
    )
    [finding] = by_category(analyze(_caller(dep)), Category.STORAGE)
    assert len(finding.summary) <= prose.SUMMARY_LIMIT
    assert prose.ELLIPSIS not in finding.summary
    assert f"PersistentVolumeClaim data/data-{pod} of pod {pod} is full" in finding.summary


def test_a_full_disk_with_no_claim_known_is_not_a_volume_to_grow() -> None:
    dep = _server('ERROR:  could not extend file "base/1/2": No space left on device')
    result = analyze(_caller(dep))
    assert not [f for f in result.findings if f.analyzer == "dependency-volume-full"]


@pytest.mark.parametrize(
    ("line", "port"),
    [
        ("FATAL:  sorry, too many clients already", 5432),
        ("FATAL:  remaining connection slots are reserved for roles with the SUPERUSER", 5432),
        ("[warning] <0.812.0> memory resource limit alarm set on node 'rabbit@mq-1'.", 5672),
        (
            "Error processing append operation on partition orders-3: NotEnoughReplicasException: "
            "The size of the current ISR Set(1) is insufficient to satisfy the min.isr",
            9092,
        ),
        ('{"c":"NETWORK","msg":"connection refused because too many open connections"}', 27017),
        (
            "ERROR:  cannot execute INSERT in a read-only transaction\n"
            'STATEMENT:  INSERT INTO "orders"',
            5432,
        ),
    ],
)
def test_a_dependency_that_refuses_work_outranks_the_callers_crash_loop(
    line: str, port: int
) -> None:
    dep = _server(line, port=port)
    ev = _caller(dep, logs="panic: cannot reach the database", container=make.crash_looping())
    finding = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, _DB)
    assert finding.confidence == CONFIDENCE.refusing
    assert by_category(analyze(ev), Category.CRASH_LOOP)[0].confidence < finding.confidence


def test_a_refused_login_with_the_caller_unchanged_is_the_servers() -> None:
    dep = _server(
        '{"c":"ACCESS","msg":"Authentication failed","attr":{"principalName":"app",'
        '"error":"UserNotFound: Could not find user \\"app\\" for db \\"admin\\""}}',
        port=27017,
    )
    ev = _caller(
        dep,
        logs="panic: server returned error on SASL authentication step: Authentication failed.",
        container=make.crash_looping(),
        config=(_SECRET,),
    )
    finding = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, _DB)
    assert finding.confidence == CONFIDENCE.login_refused
    assert not [f for f in analyze(ev).findings if f.analyzer == "credentials-changed"]


def test_a_server_refusing_some_other_clients_login_is_not_the_callers_problem() -> None:
    dep = _server('FATAL:  password authentication failed for user "reporting"')
    ev = _caller(dep, logs="GET /orders 200", config=(_SECRET,))
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-refusing"]


def test_a_refused_login_from_the_callers_address_is_the_callers() -> None:
    line = (
        '{"msg":"Authentication failed","attr":{"remote":"10.1.2.3:51000","error":"UserNotFound"}}'
    )
    dep = _server(line, port=27017)
    the_pod = make.app_pod(CALLER_POD, make.crash_looping(), ips=["10.1.2.3"])
    ev = make.evidence(workload=make.deployment("orders"), pods=[the_pod], dependencies=[dep])
    assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, _DB)


def test_a_refused_login_right_after_a_config_only_rollout_fixes_the_secret() -> None:
    dep = _server('FATAL:  password authentication failed for user "orders"')
    ev = _caller(dep, changes=(_rollout("config"),), config=(_SECRET,))
    secret = ObjectRef(kind="Secret", namespace="shop", name="orders-db")
    finding = assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, secret)
    assert finding.confidence == CONFIDENCE.credentials_changed
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-refusing"]


def test_a_refused_login_after_a_configmap_change_fixes_that_configmap() -> None:
    edited = ChangeEvidence(
        at=ago(30),
        kind="config",
        object=ObjectRef(kind="ConfigMap", namespace="shop", name="orders-config"),
        aspects=["data"],
        details=["last written"],
    )
    ev = _caller(
        logs="ERROR connect failed: Command failed: Error code 18 (AuthenticationFailed)",
        changes=(edited, _rollout("config", minutes_ago=29)),
        config=(_SECRET, _CONFIG),
    )
    assert_leads(
        analyze(ev),
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="shop", name="orders-config"),
    )


def test_a_refused_login_after_a_behaviour_change_is_not_blamed_on_the_config() -> None:
    dep = _server('FATAL:  password authentication failed for user "orders"')
    ev = _caller(dep, changes=(_rollout("image", "config"),), config=(_SECRET,))
    assert not [f for f in analyze(ev).findings if f.analyzer == "credentials-changed"]


def test_a_refused_login_of_an_old_change_is_the_servers() -> None:
    dep = _server('FATAL:  password authentication failed for user "orders"')
    ev = _caller(
        dep,
        logs='PSQLException: FATAL: password authentication failed for user "orders"',
        changes=(_rollout("config", minutes_ago=60 * 24),),
        config=(_SECRET,),
    )
    assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, _DB)


def test_a_caller_quoting_a_redis_refusal_names_the_followed_redis() -> None:
    cache = _server("* Background saving terminated with success", name="cache", port=6379)
    db = _server("LOG:  checkpoint complete", name="db", port=5432)
    quote = "redis.exceptions.OutOfMemoryError: command not allowed when used memory > 'maxmemory'."
    result = analyze(_caller(cache, db, logs=quote))
    finding = assert_leads(
        result,
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="data", name="cache"),
    )
    assert finding.confidence == CONFIDENCE.caller_words


@pytest.mark.parametrize(
    ("quote", "port"),
    [
        ("ERROR: cannot execute INSERT in a read-only transaction (SQLSTATE 25006)", 5432),
        ("org.postgresql.util.PSQLException: ERROR: recovery is in progress", 5432),
        (
            "SQLSTATE[HY000]: General error: 1290 The MySQL server is running with the "
            "--super-read-only option so it cannot execute this statement",
            3306,
        ),
        ("ReplyError: READONLY You can't write against a read only replica.", 6379),
        ("MongoServerError: NotWritablePrimary", 27017),
        (
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
            "persist to disk. Commands that may modify the data set are disabled",
            6379,
        ),
    ],
)
def test_a_caller_quoting_a_database_that_refuses_writes_escalates_to_it(
    quote: str, port: int
) -> None:
    store = _server("LOG:  checkpoint complete", name="store", port=port)
    other = _server("* Ready to accept connections tcp", name="other", port=11211)
    result = analyze(_caller(store, other, logs=quote))
    finding = assert_leads(
        result,
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="data", name="store"),
    )
    assert finding.confidence == CONFIDENCE.caller_words


def test_a_read_only_refusal_of_another_familys_port_names_no_dependency() -> None:
    cache = _server("* Ready to accept connections tcp", name="cache", port=6379)
    quote = "ERROR: cannot execute UPDATE in a read-only transaction (SQLSTATE 25006)"
    result = analyze(_caller(cache, logs=quote))
    assert not [f for f in result.findings if f.analyzer == "dependency-refusing"]


def test_a_caller_quoting_a_refusal_after_its_own_rollout_is_less_sure() -> None:
    cache = _server("* Ready to accept connections tcp", name="cache", port=6379)
    quote = "ReplyError: OOM command not allowed when used memory > 'maxmemory'."
    result = analyze(_caller(cache, logs=quote, changes=(_rollout("image", "env"),)))
    [finding] = [f for f in result.findings if f.analyzer == "dependency-refusing"]
    assert finding.confidence == CONFIDENCE.after_change


def test_a_dependency_that_says_nothing_wrong_is_not_blamed() -> None:
    dep = _server(
        "LOG:  checkpoint starting: time\nLOG:  checkpoint complete: wrote 12 buffers",
        volumes=(_volume("db-0", "data-db-0"),),
    )
    result = analyze(_caller(dep, logs="GET /orders 200"))
    names = {"dependency-volume-full", "dependency-refusing", "credentials-changed"}
    assert not [f for f in result.findings if f.analyzer in names]


@pytest.mark.parametrize(
    ("quote", "port"),
    [
        (
            "find failed: (Unauthorized) not authorized on rates to execute command "
            '{ find: "plans", $db: "rates" }',
            27017,
        ),
        ("ERROR: permission denied for table plans (SQLSTATE 42501)", 5432),
        ("Error 1142 (42000): SELECT command denied to user 'rates'@'10.0.3.4' for table", 3306),
        ("NOPERM User rates has no permissions to run the 'hget' command", 6379),
    ],
)
def test_a_caller_quoting_a_denied_operation_escalates_to_that_server(
    quote: str, port: int
) -> None:
    # The caller logs in fine but the server denies its user the operation: a role or grant
    # revoked on the server, whose owner restores it.
    server = _server("connection accepted", name="rates", port=port)
    other = _server("connection accepted", name="cache", port=11211)
    result = analyze(_caller(server, other, logs=quote))
    finding = assert_leads(
        result,
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="data", name="rates"),
    )
    assert finding.confidence == CONFIDENCE.caller_words
    assert "denies the caller's operations" in finding.summary


def test_of_several_servers_of_a_family_the_denial_names_the_one_its_words_pick() -> None:
    rate = _server("ok", name="mongodb-rate", port=27017)
    geo = _server("ok", name="mongodb-geo", port=27017)
    quote = '(Unauthorized) not authorized on rate-db to execute command { find: "inventory" }'
    assert_leads(
        analyze(_caller(geo, rate, logs=quote)),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="data", name="mongodb-rate"),
    )
    # Words that pick neither (or both) leave it unnamed.
    vague = "(Unauthorized) not authorized on admin to execute command { listDatabases: 1 }"
    result = analyze(_caller(geo, rate, logs=vague))
    assert not [f for f in result.findings if f.analyzer == "dependency-refusing"]


def test_a_redis_refusing_writes_because_its_snapshot_hit_a_full_disk_grows_the_claim() -> None:
    # MISCONF alone is Redis refusing writes; its own log says why: a full volume is storage.
    cache = _server(
        "# Write error saving DB on disk: No space left on device",
        name="cache",
        port=6379,
        pod="cache-0",
        volumes=(_volume("cache-0", "data-cache-0"),),
    )
    quote = (
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
        "persist to disk."
    )
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-cache-0")
    assert_leads(
        analyze(_caller(cache, logs=quote)), Category.STORAGE, Action.EXPAND_STORAGE, claim
    )


def test_a_storage_node_read_only_below_its_free_space_floor_on_a_roomy_volume_is_no_growth() -> (
    None
):
    """vmstorage's read-only switch is its own -storage.minFreeDiskSpaceBytes threshold: with
    the kubelet measuring its claim a quarter used, the threshold is what tripped (a raised
    flag), not a volume to grow."""
    line = (
        "2026-11-20T09:21:04.118Z\twarn\tVictoriaMetrics/lib/storage/storage.go:724\tswitching "
        "the storage at /vm-data to read-only mode, since it has less than "
        "-storage.minFreeDiskSpaceBytes=200000000000 of free space: 190000000000 bytes left"
    )
    ev = _caller(_server(line, pod="vmstorage-1", volumes=(_volume("vmstorage-1", "vm-1"),)))
    ev.metrics = _volume_used("vm-1", 2e9)
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-volume-full"]
