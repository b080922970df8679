"""Checks the addressed-dependency rule: failing calls that quote only an outside address
(``Failed to connect to 10.30.8.4:5432``, no host name) on one port, with exactly one pod-less
Service of the namespace (ExternalName, or selector-less) declaring that port, name that
Service as the failing dependency; with the look-alikes that must not fire: a host named in
the line, the address of a pod or Service in the evidence, two such Services on the port,
none on it, calls on two ports.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.addressed_dependency import check_addressed_dependency
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

POD = "checkout-api-5d7c8b9f64-h2m6t"
TIMEOUT = (
    "Npgsql.NpgsqlException (0x80004005): Failed to connect to {address}\n"
    "fail: PlaceOrderHandler[0] Placing order failed: Npgsql.NpgsqlException (0x80004005): "
    "Failed to connect to {address} ---> System.TimeoutException: The operation has timed out."
)
DB = make.external_service(
    "checkout-db",
    "psql-checkout-prod.postgres.database.azure.com",
    ports=[make.service_port(5432, 5432, "postgres")],
    port_numbers=[5432],
)


def _checkout(
    address: str = "10.30.8.4:5432", services: list[ServiceEvidence] | None = None
) -> Evidence:
    return make.app_evidence(
        POD,
        make.container("checkout-api", ready=False),
        logs=TIMEOUT.format(address=address),
        services=[DB] if services is None else services,
    )


def test_calls_to_an_outside_address_name_the_one_service_on_that_port() -> None:
    finding = assert_leads(
        analyze(_checkout()),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="shop", name="checkout-db"),
    )
    assert finding.analyzer == "addressed-dependency"
    assert any("10.30.8.4:5432" in e.fact for e in finding.evidence)
    # A selector-less Service (its Endpoints written by hand) reaches outside the same way.
    manual = ServiceEvidence(name="legacy-db", namespace="shop", selector={}, port_numbers=[5432])
    found = check_addressed_dependency(_checkout(services=[manual]))
    assert [f.target.name for f in found] == ["legacy-db"]


def test_no_finding_when_the_port_does_not_pick_one_outside_service() -> None:
    other = make.external_service("reporting-db", "psql-reporting.example", port_numbers=[5432])
    assert check_addressed_dependency(_checkout(services=[DB, other])) == []
    assert check_addressed_dependency(_checkout(services=[])) == []
    assert check_addressed_dependency(_checkout("10.30.8.4:6432")) == []
    # A Service with pods of its own on that port is no way outside.
    inside = make.service("orders-db", port_numbers=[5432], cluster_ip="10.0.9.9")
    assert check_addressed_dependency(_checkout(services=[inside])) == []


def test_no_finding_for_named_hosts_known_addresses_or_several_ports() -> None:
    named = _checkout("psql-checkout-prod.postgres.database.azure.com:5432")
    assert check_addressed_dependency(named) == []
    in_cluster = make.service("checkout-db-proxy", cluster_ip="10.30.8.4", port_numbers=[80])
    assert check_addressed_dependency(_checkout(services=[DB, in_cluster])) == []
    two_ports = make.app_evidence(
        POD,
        make.container("checkout-api", ready=False),
        logs="Failed to connect to 10.30.8.4:5432\nFailed to connect to 10.30.8.5:6379",
        services=[DB],
    )
    assert check_addressed_dependency(two_ports) == []
