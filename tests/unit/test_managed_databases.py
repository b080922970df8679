"""Checks managed-database reasoning: pods that log a database server's own refusal (Azure
SQL's request limit, error 10928) without naming a host, in a namespace that reaches one
managed database of that engine through an ExternalName Service, are escalated to that
Service (dependency-failure); not when two such databases are in view, when the managed
database is of another engine, or when the refusal names another Service's host.

Real: the analyzer registry on Evidence models.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    analyze,
    assert_leads,
    deployment,
    evidence,
    external_service,
    log,
    service,
)

REFUSED = (
    "Microsoft.Data.SqlClient.SqlException (0x80131904): Resource ID : 1. The request limit "
    "for the database is 200 and has been reached. See "
    "'https://docs.microsoft.com/azure/azure-sql/database/resource-limits-logical-server'"
)
ORDERS_DB = external_service("orders-db", "sqlsrv-orders.database.windows.net")


def _evidence(line: str, *services: ServiceEvidence) -> Evidence:
    return evidence(
        target=ObjectRef(kind="Deployment", namespace="shop", name="orders"),
        workload=deployment("orders"),
        logs=[log("orders-7d9f-a1", "app", line), log("orders-7d9f-b2", "app", line)],
        services=list(services),
    )


def _managed(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "managed-database"]


def test_a_refusal_of_the_one_managed_database_in_view_is_escalated_to_its_service() -> None:
    found = assert_leads(
        analyze(_evidence(REFUSED, ORDERS_DB, service("orders"))),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ORDERS_DB.ref(),
    )
    assert found.analyzer == "managed-database"


def test_two_managed_databases_of_that_engine_leave_it_unsaid() -> None:
    other = external_service("ledger-db", "sqlsrv-ledger.database.windows.net")
    assert _managed(_evidence(REFUSED, ORDERS_DB, other)) == []


def test_a_managed_database_of_another_engine_is_not_blamed() -> None:
    postgres = external_service("orders-db", "pg-orders.postgres.database.azure.com")
    assert _managed(_evidence(REFUSED, postgres)) == []


def test_a_refusal_naming_another_services_host_is_left_to_the_dependency_rules() -> None:
    line = f"{REFUSED} (server=reports-sql.shop.svc.cluster.local)"
    assert _managed(_evidence(line, ORDERS_DB, service("reports-sql"))) == []


def test_a_plain_sql_error_is_not_a_refusal() -> None:
    line = "Microsoft.Data.SqlClient.SqlException (0x80131904): Invalid column name 'total'."
    assert _managed(_evidence(line, ORDERS_DB)) == []
