"""Checks the Secret-sourced database client reasoning: a shared SQL database out of
connection slots is called by a workload that takes its database URL from a Secret
(``DATABASE_URL``, a .NET connection string, a Secret key ``database-url``), so no Service
name links it to the database; it is still a possible caller of a database Service (known by
its well-known port), named weaker than a caller naming the Service, and when it is the one
database client that rolled out right before the onset it is rolled back. Near misses: a
Secret-sourced env whose name says nothing about a database, a callee that is no SQL
database, a client released long before the onset, a client the server names by address (the
refused-client rule speaks for it), and a caller naming the database that changed too (it is
preferred).

Real: raw Deployments and Services as the API returns them (``tests.support.built``) for the
caller discovery (``kubetriage.evidence.callers``, ``...shared_callers``), Evidence models from
``tests.support.evidence`` and the whole analyzer registry for the rule; Secret data is
never in the objects, as the collector never reads it.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.shared_dependency import CONFIDENCE
from kubetriage.evidence.callers import find_callers
from kubetriage.evidence.shared_callers import secret_clients, secret_database_env
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.naming import env_source
from kubetriage.models.neighbours import CallerEvidence, RefusedClientEvidence
from kubetriage.models.object_evidence import WorkloadEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import deployment_manifest
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

OWN = ObjectRef(kind="Deployment", namespace="billing", name="invoice-worker")
DB = ObjectRef(kind="Service", namespace="data", name="pg-main")
WEB = ObjectRef(kind="Deployment", namespace="storefront", name="web")
API = ObjectRef(kind="Deployment", namespace="orders", name="orders-api")
TOO_MANY = "psycopg2.OperationalError: FATAL:  sorry, too many clients already"


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _client(name: str, namespace: str, *env: dict[str, Any]) -> dict[str, Any]:
    return deployment_manifest(
        name, namespace, {"name": "app", "image": f"example/{name}:1", "env": list(env)}
    )


def _service(name: str, namespace: str, port: int) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": port}]},
    }


PG = _service("pg-main", "data", 5432)
WEB_CLIENT = _client("web", "storefront", _secret_env("DATABASE_URL", "web-db", "url"))


def test_a_database_url_from_a_secret_names_a_database_client() -> None:
    assert secret_database_env(WEB_CLIENT) == ("DATABASE_URL", "web-db")
    keyed = _client("api", "orders", _secret_env("APP_SETTINGS", "api-db", "database-url"))
    assert secret_database_env(keyed) == ("APP_SETTINGS", "api-db")
    dotnet = _client("api", "orders", _secret_env("ConnectionStrings__Orders", "api", "conn"))
    assert secret_database_env(dotnet) == ("ConnectionStrings__Orders", "api")


def test_a_secret_env_that_says_nothing_about_a_database_is_no_client() -> None:
    token = _client("api", "orders", _secret_env("API_TOKEN", "api-token", "token"))
    assert secret_database_env(token) is None
    plain = _client("api", "orders", {"name": "DATABASE_URL", "value": "postgres://pg-main.data"})
    assert secret_database_env(plain) is None


def test_secret_clients_are_possible_callers_of_a_sql_database_only() -> None:
    assert secret_clients([WEB_CLIENT], [PG], []) == [(WEB_CLIENT, PG, ("DATABASE_URL", "web-db"))]
    assert not find_callers([WEB_CLIENT], [PG], [])
    cache = _service("kv-main", "cache", 6379)
    assert not secret_clients([WEB_CLIENT], [cache], [])
    assert not secret_clients([WEB_CLIENT], [PG], [WEB_CLIENT])
    assert not secret_clients([WEB_CLIENT], [PG], [], room=0)


def test_a_caller_naming_the_database_is_no_secret_client() -> None:
    named = _client("orders-api", "orders", {"name": "DB_HOST", "value": "pg-main.data"})
    with_secret = _client(
        "orders-api",
        "orders",
        {"name": "DB_HOST", "value": "pg-main.data"},
        _secret_env("DATABASE_URL", "orders-db", "url"),
    )
    assert [w for w, _, _ in find_callers([WEB_CLIENT, named], [PG], [])] == [named]
    assert secret_clients([WEB_CLIENT, with_secret], [PG], []) == [
        (WEB_CLIENT, PG, ("DATABASE_URL", "web-db"))
    ]


def _caller(ref: ObjectRef, *, secret: bool, minutes_ago: float = 30) -> CallerEvidence:
    source = (
        env_source("Deployment", ref.name, "DATABASE_URL", secret=f"{ref.name}-db")
        if secret
        else env_source("Deployment", ref.name, "DB_HOST")
    )
    return CallerEvidence(
        ref=ref,
        callee=DB,
        named_by=[source],
        secret_env="DATABASE_URL" if secret else None,
        changes=[make.rollout_change(ref, 12, "env", minutes_ago=minutes_ago)],
    )


def _evidence(callers: list[CallerEvidence]) -> Evidence:
    dependency = DependencyEvidence(
        service=make.service("pg-main", "data", ready=1, matching=1),
        ref=DB,
        named_by=naming("Deployment invoice-worker env DB_HOST"),
        workload=ObjectRef(kind="StatefulSet", namespace="data", name="pg-main"),
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
        callers=callers,
    )
    return make.evidence(
        target=OWN,
        workload=WorkloadEvidence(ref=OWN, desired_replicas=1, ready_replicas=1),
        alerts=[
            AlertEvidence(
                labels={"alertname": "InvoiceFailures", "namespace": "billing"},
                starts_at=ago(20),
                status="firing",
            )
        ],
        logs=[make.log("invoice-worker-7f6b-r4p7d", "worker", TOO_MANY)],
        dependencies=[dependency],
    )


def test_the_one_secret_client_released_before_the_onset_is_rolled_back() -> None:
    result = analyze(_evidence([_caller(WEB, secret=True)]))
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, WEB)
    assert finding.confidence == CONFIDENCE.secret_linked
    assert any("from Secret web-db" in e.fact for e in finding.evidence)


def test_a_secret_client_released_long_before_the_onset_is_not_blamed() -> None:
    result = analyze(_evidence([_caller(WEB, secret=True, minutes_ago=60 * 24 * 3)]))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == WEB]


def test_a_changed_caller_naming_the_database_is_preferred() -> None:
    result = analyze(_evidence([_caller(WEB, secret=True), _caller(API, secret=False)]))
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, API)
    assert finding.confidence == CONFIDENCE.named


def test_a_client_the_server_names_by_address_is_left_to_the_refused_client_rule() -> None:
    # The pooler's refusal names the client's pod address: that is stronger than a Secret.
    evidence = _evidence([_caller(WEB, secret=True)])
    refused = RefusedClientEvidence(
        ref=WEB,
        address="10.12.3.101",
        pod="web-7s59v4m89r-b7xqm",
        line="pooler error: no more connections allowed (max_client_conn)",
        changes=[make.rollout_change(WEB, 12, "env", minutes_ago=30)],
    )
    result = analyze(evidence.model_copy(update={"refused_clients": [refused]}))
    leader = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, WEB)
    assert leader.analyzer != "shared-dependency"
