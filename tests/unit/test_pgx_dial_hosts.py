"""Checks that the host pgx (Go's PostgreSQL driver, 5.5+) prints beside each address it
dialled ("10.0.0.7:5432 (orders-db): unexpected EOF") names the dependency: the Service of
that name is blamed and escalated, the caller's own HTTP status in the same line is not taken
for the failure, and a bare address with a parenthesised remark names no host.

Real: the log-signature helpers, Evidence models from ``tests.support.evidence`` and the whole
analyzer registry; the log lines are synthetic, in pgx's documented error format.
"""

from __future__ import annotations

from kubetriage.analyzers.log_signatures import hosts_in
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

PGX_EOF = (
    '{"level":"ERROR","msg":"request failed","status":503,"err":"failed to connect to '
    '`user=orders database=orders`: 10.56.9.200:5432 (orders-db): unexpected EOF"}'
)


def test_pgx_names_the_host_beside_the_address_it_dialled() -> None:
    assert hosts_in(PGX_EOF) == ["orders-db"]
    line = "failed to connect to `user=app`: 10.0.3.7:5432 (pg.data.svc.cluster.local): timeout"
    assert "pg.data.svc.cluster.local" in hosts_in(line)


def test_an_address_followed_by_a_remark_in_parentheses_names_no_host() -> None:
    assert hosts_in("dial 10.0.0.1:80 (attempt 3)") == []


def test_the_named_database_service_is_escalated_with_resets_not_the_callers_503() -> None:
    db = make.service("orders-db", ready=1, matching=1)
    ev = make.checkout_evidence(logs=[make.checkout_log(f"{PGX_EOF}\n{PGX_EOF}")], services=[db])
    leader = assert_leads(
        analyze(ev),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="shop", name="orders-db"),
    )
    assert "connection resets" in leader.summary
    assert "503" not in leader.summary
