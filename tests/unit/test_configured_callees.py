"""Checks that failing calls naming no host (a pool that cannot hand out a connection) are
laid at the Service the failing container's own set-up line names (``database pool ready
host=...``) when no env value names one, and only then: a request line naming the caller
that sent it, a set-up line of another container, a failure line, or an env value naming a
Service all keep the set-up lines out.

Real: Evidence models from ``tests.support.evidence``, the dependency-failure rule and the
whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.calls import dependency_hits
from kubetriage.analyzers.configured_callees import (
    CLIENT_SETUP_LOG,
    configured_callees,
    logged_callees,
)
from kubetriage.analyzers.dependency_failure import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, by_category

POOL_READY = (
    'level=INFO msg="database pool ready" host=orders-db.shop.svc.cluster.local:5432 max_conns=20'
)
ACQUIRE_TIMEOUT = (
    'level=ERROR msg="request failed" status=503 '
    'err="failed to acquire connection: context deadline exceeded" waited=2.000s'
)
REQUEST_FROM_CALLER = (
    'level=INFO msg="request completed" peer=storefront.shop.svc.cluster.local:41822 status=200'
)
DB = make.service("orders-db", selector={}, ready=1)
FRONT = make.service("storefront", ready=2)


def _evidence(text: str, *services: object, **fields: object) -> Evidence:
    return make.checkout_evidence(
        logs=[make.checkout_log(text)], services=list(services or [DB, FRONT]), **fields
    )


def test_a_client_set_up_line_is_told_from_other_lines() -> None:
    assert CLIENT_SETUP_LOG.search(POOL_READY)
    assert CLIENT_SETUP_LOG.search("connected to redis at cache.shop.svc:6379")
    assert CLIENT_SETUP_LOG.search("dialing broker kafka-0.kafka:9092")
    assert not CLIENT_SETUP_LOG.search(REQUEST_FROM_CALLER)
    assert not CLIENT_SETUP_LOG.search("GET http://storefront.shop.svc/cart 200 12ms")


def test_pool_timeouts_are_laid_at_the_service_the_set_up_line_names() -> None:
    ev = _evidence(f"{POOL_READY}\n{ACQUIRE_TIMEOUT}\n{ACQUIRE_TIMEOUT}")
    findings = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert findings
    top = max(findings, key=lambda f: f.confidence)
    assert top.target == ObjectRef(kind="Service", namespace="shop", name="orders-db")
    assert top.action == Action.ESCALATE
    assert top.confidence >= CONFIDENCE.env_only
    assert any(POOL_READY[:40] in e.fact for e in top.evidence)


def test_a_request_line_naming_the_caller_does_not_name_a_callee() -> None:
    ev = _evidence(f"{REQUEST_FROM_CALLER}\n{ACQUIRE_TIMEOUT}\n{ACQUIRE_TIMEOUT}")
    assert not logged_callees(ev, [DB, FRONT], dependency_hits(ev))
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_a_set_up_line_of_another_container_is_not_read() -> None:
    other = make.log(CHECKOUT_POD, "migrations", POOL_READY)
    ev = make.checkout_evidence(
        logs=[make.checkout_log(f"{ACQUIRE_TIMEOUT}\n{ACQUIRE_TIMEOUT}"), other],
        services=[DB, FRONT],
    )
    assert not logged_callees(ev, [DB, FRONT], dependency_hits(ev))


def test_an_env_value_naming_a_service_wins_over_set_up_lines() -> None:
    app = make.container("app", env={"CART_URL": "http://storefront.shop.svc:8080"})
    ev = make.checkout_evidence(
        app,
        logs=[make.checkout_log(f"{POOL_READY}\n{ACQUIRE_TIMEOUT}\n{ACQUIRE_TIMEOUT}")],
        services=[DB, FRONT],
    )
    assert set(configured_callees(ev, [DB, FRONT], dependency_hits(ev))) == {"storefront"}
