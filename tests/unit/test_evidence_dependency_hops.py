"""Checks the second hop of the dependency walk as the builder summarises it: a followed
callee whose own log tail reports an error is walked past once, to the Services its tail
names (``name:port`` in a driver's words included), with their rollouts; a healthy callee
is not, a name that is no Service is dropped, and the bound on dependencies holds; the bounded
sources naming a dependency keep the log line that names it.

Everything is real: raw manifests, log tails and ``build_evidence``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.dependencies import callee_hosts
from kubetriage.evidence.dependency_summary import naming_sources
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.models.base import ObjectRef
from tests.support.built import built, deployment_manifest
from tests.support.evidence import named, naming

LIMITS = EvidenceLimits()
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")
_FAILING = (
    '{"level":"info","message":"session to store:27017 lost: connection reset by peer"}\n'
    '{"level":"error","message":"GetItem: item 18: no documents in result"}\n'
)


def _app(name: str, *, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Deployment, Service and one pod ``shop/<name>`` (app=<name>)."""
    container = {
        "name": "c",
        "image": f"{name}:2",
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-rs2-abcde",
            "namespace": "shop",
            "labels": {"app": name},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{name}-rs2", "controller": True}],
        },
        "spec": {"containers": [container]},
        "status": {"phase": "Running"},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"selector": {"app": name}},
    }
    workload = deployment_manifest(
        name,
        "shop",
        container,
        metadata={"uid": f"{name}-uid", "annotations": {"deployment.kubernetes.io/revision": "2"}},
    )
    return [workload, _revision(name, 2, "2026-11-20T09:38:00Z"), pod, service]


def _revision(name: str, number: int, created: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-rs{number}",
            "namespace": "shop",
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(number)},
            "labels": {"app": name},
            "ownerReferences": [
                {"kind": "Deployment", "name": name, "uid": f"{name}-uid", "controller": True}
            ],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": f"{name}:{number}"}]},
            }
        },
    }


def _objects() -> list[dict[str, Any]]:
    """web calls api (its env); api's database is the Service store, which rolled out."""
    return [
        *_app("web", env={"API_URL": "http://api:8080"}),
        *_app("api", env={"STORE_ADDR": "tcp://store-proxy"}),
        *_app("store"),
        _revision("store", 1, "2026-10-01T00:00:00Z"),
    ]


def _tails(api_said: str) -> list[Any]:
    web = "ERROR GET http://api:8080/items failed: 500\n"
    return [
        tail_from_text("shop", "web-rs2-abcde", "c", web, limits=LIMITS),
        tail_from_text("shop", "api-rs2-abcde", "c", api_said, limits=LIMITS, source="dependency"),
    ]


def test_a_failing_callees_own_words_lead_one_hop_further() -> None:
    ev = built(_objects(), WEB, logs=_tails(_FAILING))
    names = [d.service.name for d in ev.dependencies if d.service is not None]
    assert names == ["api", "store"]
    store = ev.dependencies[1]
    assert store.named_by == [named("log shop/api-rs2-abcde/c")]
    assert store.workload == ObjectRef(kind="Deployment", namespace="shop", name="store")
    assert [c.to_revision for c in store.changes] == [2]


def test_a_healthy_callee_is_not_walked_past() -> None:
    said = '{"level":"info","message":"session to store:27017 opened"}\n'
    ev = built(_objects(), WEB, logs=_tails(said))
    assert [d.service.name for d in ev.dependencies if d.service is not None] == ["api"]


def test_the_next_hop_stays_within_the_bound_on_dependencies() -> None:
    ev = built(
        _objects(),
        WEB,
        logs=_tails(_FAILING),
        limits=EvidenceLimits(max_dependencies=1),
    )
    assert [d.service.name for d in ev.dependencies if d.service is not None] == ["api"]


def test_a_failing_callees_lines_name_its_servers_by_name_and_port() -> None:
    lines = [
        (named("log a"), "mongo session to mongodb-profile:27017 lost: connection reset by peer"),
        (named("log a"), "ERROR lookup failed at 09:38:31 for 10.0.0.7:5432"),
    ]
    assert [(h.name, h.port) for h in callee_hosts(lines)] == [("mongodb-profile", 27017)]
    assert callee_hosts(lines[:1]) == []  # no line reports an error: not walked past


def test_a_callees_warnings_name_the_hosts_it_is_troubled_by() -> None:
    """A line at warning level (its level field) reports trouble in words that carry no
    error vocabulary: the host it names is the next hop; its healthy peers named on lines
    at info level are not."""
    warned = (
        "2026-11-20T09:21:05.002Z\twarn\tapp/netstorage.go:262\tvmstorage "
        '"store-1.store.data.svc:8400" is in read-only mode; re-routing rows'
    )
    info = '2026-11-20T09:20:00.000Z\tinfo\tapp/netstorage.go:90\tadded "other.data.svc:8400"'
    lines = [(named("log a"), info), (named("log a"), warned)]
    assert [(h.name, h.namespace) for h in callee_hosts(lines) if h.kind == "Service"][:1] == [
        ("store", "data")
    ]
    assert "other" not in {h.name for h in callee_hosts(lines)}
    # Near miss: the same words at info level are no trouble, and its configuration is not
    # walked to either (only errors fall back to it).
    calm = [(named("log a"), warned.replace("\twarn\t", "\tinfo\t"))]
    assert callee_hosts(calm, [(named("env"), "http://db.data.svc:5432")]) == []


def test_the_log_line_naming_a_callee_is_kept_whatever_the_replica_count() -> None:
    # Six replicas name the database in their env before the one log line that calls it.
    spec = naming(*[f"pod web-{i} env DB_URL" for i in range(6)])
    said = named("log shop/web-3/c")
    kept = naming_sources([*spec, named("Deployment web env DB_URL"), said])
    assert len(kept) == 5
    assert kept[:4] == spec[:4]
    assert kept[-1] == said
    # Within the bound, the order is the order found.
    assert naming_sources([spec[0], said, spec[1]]) == [spec[0], said, spec[1]]
    assert naming_sources(spec) == spec[:5]


def test_a_dns_servers_query_log_names_what_it_was_asked_not_what_it_calls() -> None:
    """CoreDNS's log plugin lists the names clients asked for (NXDOMAIN answers included):
    they are not the DNS server's callees, so the walk does not go on to them; its own error
    naming an upstream it failed to reach still counts."""
    queries = [
        (
            named("log kube-system/coredns-1/coredns"),
            '[INFO] 10.1.2.3:48122 - 51703 "A IN orders-v2.shop.svc.cluster.local. udp 68 false '
            '1232" NXDOMAIN qr,aa,rd 167 0.000212s',
        ),
    ]
    assert callee_hosts(queries) == []
    upstream = (
        named("log kube-system/coredns-1/coredns"),
        "[ERROR] plugin/errors: 2 x.example. A: read udp 10.1.0.5:41000->"
        "dns-upstream.infra:53: i/o timeout",
    )
    assert [h.name for h in callee_hosts([*queries, upstream])] == ["dns-upstream"]
