"""Checks the analyzer registry and runner: every vocabulary category has an analyzer, a
raising analyzer becomes an error rather than a crash, findings come out best first and
deduplicated, and the suggestion helpers round to sensible Kubernetes quantities.

Everything is real: the registry as shipped, plus one deliberately broken Analyzer.
"""

from __future__ import annotations

import pytest

from kubetriage import prose
from kubetriage.analyzers import ANALYZERS, Analyzer, run_analyzers
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.log_signatures import (
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.support import (
    parse_quantity,
    suggest_cpu,
    suggest_memory,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import container, deployment, evidence, pod


def test_every_category_but_unknown_has_an_analyzer() -> None:
    covered = {c for a in ANALYZERS for c in a.categories}
    assert covered == set(Category) - {Category.UNKNOWN}


def test_analyzer_names_are_unique() -> None:
    names = [a.name for a in ANALYZERS]
    assert len(names) == len(set(names))


def _boom(_: Evidence) -> list[Finding]:
    raise RuntimeError("bug in rule")


def _constant(confidence: float, name: str) -> Analyzer:
    def check(_: Evidence) -> list[Finding]:
        return [
            make_finding(
                name,
                Category.CRASH_LOOP,
                confidence,
                prose.narrative(f"Deployment shop/checkout fails ({name})", "restart it"),
                [],
                Action.RESTART,
                ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
            )
        ]

    return Analyzer(name, (Category.CRASH_LOOP,), check)


def test_raising_analyzer_is_reported_and_others_still_run() -> None:
    ev = evidence(workload=deployment(), pods=[pod("checkout-7d9f6c8b5-a", container())])
    result = run_analyzers(
        ev, (Analyzer("boom", (Category.NETWORK,), _boom), _constant(0.4, "low"))
    )
    assert [e.analyzer for e in result.errors] == ["boom"]
    assert "RuntimeError: bug in rule" in result.errors[0].error
    assert result.fired == ("low",)
    assert len(result.findings) == 1


def test_findings_are_sorted_and_same_suggestion_kept_once() -> None:
    ev = evidence()
    result = run_analyzers(ev, (_constant(0.4, "a"), _constant(0.7, "b"), _constant(0.5, "c")))
    assert [f.analyzer for f in result.findings] == ["b"]
    assert result.top is not None
    assert result.top.confidence == 0.7
    assert result.fired == ("a", "b", "c")


def test_make_finding_refuses_a_target_kind_the_action_cannot_act_on() -> None:
    with pytest.raises(ValueError, match="drain-node cannot target a Deployment"):
        make_finding(
            "x",
            Category.NODE_FAILURE,
            0.5,
            prose.narrative("Deployment a/b fails"),
            [],
            Action.DRAIN_NODE,
            ObjectRef(kind="Deployment", namespace="a", name="b"),
        )


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("128Mi", "256Mi"),
        ("256Mi", "512Mi"),
        ("300Mi", "640Mi"),
        ("768Mi", "1536Mi"),
        ("1Gi", "2Gi"),
        ("2G", "4Gi"),
        ("100M", "192Mi"),
    ],
)
def test_memory_suggestion_is_about_double_and_rounded(limit: str, expected: str) -> None:
    value = parse_quantity(limit)
    assert value is not None
    assert suggest_memory(value) == expected


@pytest.mark.parametrize(
    ("limit", "expected"),
    [("100m", "200m"), ("250m", "500m"), ("500m", "1"), ("750m", "1500m"), ("2", "4")],
)
def test_cpu_suggestion_is_double_and_rounded(limit: str, expected: str) -> None:
    value = parse_quantity(limit)
    assert value is not None
    assert suggest_cpu(value) == expected


def test_a_grpc_resolver_error_names_only_the_looked_up_host() -> None:
    # grpc-go's "A record lookup error:" is no second name looked up.
    line = (
        "rpc error: code = Unavailable desc = dns: A record lookup error: "
        "lookup badAddress on 10.96.0.10:53: no such host"
    )
    assert hosts_in(line) == ["badaddress"]
    assert hosts_in("dial tcp: lookup orders-db on 10.96.0.10:53: no such host") == ["orders-db"]


def test_libpq_errors_name_the_host_they_dialled() -> None:
    # PostgreSQL 14+ and earlier libpq wordings, as psycopg and the pg gem print them.
    new = (
        'connection to server at "db.media.svc.cluster.local" (10.96.3.4), port 5432 failed: '
        "FATAL:  sorry, too many clients already"
    )
    old = (
        "could not connect to server: Connection refused\n\tIs the server running on host "
        '"orders-db" (10.96.7.1) and accepting TCP/IP connections on port 5432?'
    )
    assert hosts_in(new) == ["db.media.svc.cluster.local"]
    assert "orders-db" in hosts_in(old)


def test_a_python_urllib3_pool_error_names_the_host_it_called() -> None:
    # requests/urllib3 quote the host in single quotes inside the pool's repr.
    line = (
        "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='fx-rates.pricing.svc.cluster."
        "local', port=8080): Read timed out. (read timeout=10)\"))"
    )
    assert hosts_in(line)[0] == "fx-rates.pricing.svc.cluster.local"


def test_an_istio_access_log_names_its_upstream_cluster_host() -> None:
    # Istio's cluster name: direction, port, subset, host ("outbound|8080||h.ns.svc...").
    line = (
        '"GET /v1 HTTP/2" 503 UO - "-" 0 81 0 - "-" outbound|8080||search.shop.svc.cluster.local -'
    )
    assert "search.shop.svc.cluster.local" in hosts_in(line)
    assert "search.shop.svc.cluster.local" in hosts_in(
        "outbound|9090|v2|search.shop.svc.cluster.local"
    )


def test_hosts_and_service_names_match_cluster_dns_forms() -> None:
    services = [
        ServiceEvidence(
            name="email-api",
            namespace="newsletter",
            type="ExternalName",
            external_name="api.mailprovider.example.com",
        ),
        ServiceEvidence(name="postgres", namespace="db"),
    ]
    assert hosts_in("dial tcp postgres.db.svc.cluster.local:5432: connect: refused")[0] == (
        "postgres.db.svc.cluster.local"
    )
    found = {
        h: service_for_host(h, services)
        for h in (
            "postgres",
            "postgres.db",
            "postgres.db.svc",
            "postgres.db.svc.cluster.local",
            "api.mailprovider.example.com",
            "postgres.other",
            "postgresql",
            # A StatefulSet member under the headless Service: pod.service.namespace.svc...
            "postgres-0.postgres.db.svc.cluster.local",
            "postgres-0.postgres.db.svc",
            # Without ".svc" a four-label name is any DNS name, not the member's.
            "postgres-0.postgres.db.example",
            "postgres-0.postgres.other.svc",
        )
    }
    assert {h for h, s in found.items() if s is not None} == {
        "postgres",
        "postgres.db",
        "postgres.db.svc",
        "postgres.db.svc.cluster.local",
        "api.mailprovider.example.com",
        "postgres-0.postgres.db.svc.cluster.local",
        "postgres-0.postgres.db.svc",
    }
