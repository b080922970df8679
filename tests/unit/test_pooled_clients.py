"""Checks the pooled-client rule and the connection slots it reads: a database that refuses
clients for want of slots, its limit read from its own configuration (``max_connections`` less
``superuser_reserved_connections``, in a mounted file or on its command line), and the one
caller whose configured pool per pod times its replicas alone reaches that limit: the
ConfigMap setting the pool is corrected. Near misses: the same pool at fewer replicas, no
refusal in the server's lines, a pool set in the caller's own env, two callers each past the
limit, keys that are not a pool's maximum. The collector keeps only these readings of a
ConfigMap's values, and reading them back gives the same.

Real: ``build_evidence`` (via ``tests.support.built``), ``strip_config_map``, the analyzers.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.connection_slots import (
    POOL_KEY,
    config_map_connection_limit,
    config_map_pool_sizes,
    connection_limit,
)
from kubetriage.evidence.reader import strip_config_map
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import CallerEvidence, ConfiguredPool
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import analyze, app_evidence

SERVER = ObjectRef(kind="Deployment", namespace="db", name="pg")
CONFIG = ObjectRef(kind="ConfigMap", namespace="payments", name="api-config")
REFUSED = "2026-11-20 09:36:02 UTC [2281734] FATAL:  sorry, too many clients already"


def _config_map(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def _server(*args: str) -> list[dict[str, Any]]:
    server = deployment_manifest(
        "pg", "db", {"name": "postgres", "image": "postgres:16", "args": list(args)}
    )
    server["spec"]["template"]["spec"]["volumes"] = [
        {"name": "conf", "configMap": {"name": "pg-config"}}
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pg-abc", "namespace": "db", "labels": {"app": "pg"}},
        "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]},
    }
    conf = "max_connections = 200\nsuperuser_reserved_connections = 3\nshared_buffers = 8GB\n"
    return [
        server,
        pod,
        service_manifest("pg", "db", {"app": "pg"}, port=5432),
        _config_map("pg-config", "db", {"postgresql.conf": conf}),
    ]


def _caller(replicas: int) -> list[dict[str, Any]]:
    api = deployment_manifest(
        "api",
        "payments",
        {"name": "api", "image": "api:3", "envFrom": [{"configMapRef": {"name": "api-config"}}]},
        replicas=replicas,
    )
    data = {"DB_HOST": "pg.db.svc.cluster.local", "DB_MAX_CONNS": "50", "DB_MIN_CONNS": "10"}
    return [api, _config_map("api-config", "payments", data)]


def test_the_server_limit_and_the_callers_pool_are_read_from_their_configuration() -> None:
    ev = built([*_server(), *_caller(5)], SERVER)
    assert ev.connection_limit == 197
    [caller] = ev.callers
    assert caller.pool is not None
    assert (caller.pool.size, caller.pool.key, caller.pool.config) == (50, "DB_MAX_CONNS", CONFIG)
    assert caller.replicas == 5


def test_a_limit_on_the_command_line_comes_before_the_file() -> None:
    ev = built([*_server("-c", "max_connections=100"), *_caller(5)], SERVER)
    assert ev.connection_limit == 100


def test_the_collector_keeps_the_readings_it_drops_the_values_of() -> None:
    server = _config_map("c", "db", {"my.cnf": "[mysqld]\nmax_connections=500\n"})
    client = _config_map("c", "app", {"DB_POOL_SIZE": "20", "DB_HOST": "mysql.db"})
    for config_map in (server, client):
        stripped = strip_config_map(config_map)
        assert set(stripped["data"].values()) == {""}
        assert config_map_connection_limit(stripped) == config_map_connection_limit(config_map)
        assert config_map_pool_sizes(stripped) == config_map_pool_sizes(config_map)
    assert config_map_connection_limit(server) == 500
    assert config_map_pool_sizes(client) == {"DB_POOL_SIZE": 20}


@pytest.mark.parametrize(
    "key",
    [
        "DB_MAX_CONNS",
        "DB_MAX_OPEN_CONNS",
        "DATABASE_POOL_SIZE",
        "DB_POOL_MAX",
        "DB_POOL",
        "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE",
        "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE",
    ],
)
def test_keys_naming_a_pool_maximum(key: str) -> None:
    assert POOL_KEY.search(key)


@pytest.mark.parametrize(
    "key", ["DB_MIN_CONNS", "DB_MAX_CONN_IDLE_TIME", "POOL_TIMEOUT", "HTTP_MAX_IDLE", "SPOOL_DIR"]
)
def test_keys_that_are_no_pool_maximum(key: str) -> None:
    assert not POOL_KEY.search(key)


def test_no_limit_without_max_connections() -> None:
    assert connection_limit(["shared_buffers = 8GB", "superuser_reserved_connections = 3"]) is None


def _evidence(*callers: CallerEvidence, refusal: str = REFUSED) -> Any:
    return app_evidence(
        "pg-abc",
        namespace="db",
        connection_limit=197,
        callers=list(callers),
        logs=refusal,
    )


def _pooled(name: str, replicas: int, config: ObjectRef | None = CONFIG) -> CallerEvidence:
    return CallerEvidence(
        ref=ObjectRef(kind="Deployment", namespace="payments", name=name),
        callee=ObjectRef(kind="Service", namespace="db", name="pg"),
        replicas=replicas,
        pool=ConfiguredPool(size=50, key="DB_MAX_CONNS", config=config),
    )


def _pooled_findings(ev: Any) -> list[Any]:
    return [f for f in analyze(ev).findings if f.analyzer == "pooled-client"]


def test_the_one_caller_whose_pools_take_every_slot_has_its_config_map_corrected() -> None:
    [finding] = _pooled_findings(_evidence(_pooled("api", 5)))
    assert (finding.category, finding.action, finding.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        CONFIG,
    )
    assert "250" in finding.evidence[1].fact


def test_the_same_pool_at_fewer_replicas_fits_and_is_not_blamed() -> None:
    assert _pooled_findings(_evidence(_pooled("api", 3))) == []


def test_a_server_that_refuses_no_one_blames_no_pool() -> None:
    ev = _evidence(_pooled("api", 5), refusal="LOG:  checkpoint complete")
    assert _pooled_findings(ev) == []


def test_a_pool_set_in_the_callers_own_env_is_a_rollout_story() -> None:
    assert _pooled_findings(_evidence(_pooled("api", 5, config=None))) == []


def test_two_callers_each_past_the_limit_share_the_blame() -> None:
    assert _pooled_findings(_evidence(_pooled("api", 5), _pooled("jobs", 4))) == []
