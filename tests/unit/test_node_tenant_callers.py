"""One hop on from a node-level alert: the tenant behind the node's resource (its own series
grew with the alert, or it is the node's only tenant) did not change, and the one caller of
it that rolled out right before the onset is rolled back. Near misses: two callers rolled
out, the tenant rolled out itself, a caller's rollout hours before, a tenant whose own
series stayed flat, two tenants with no series to tell them apart, a caller known only by a
Secret's database URL. The evidence side: a Node incident reads its tenants' callers (the
Deployments naming a Service that selects the tenant's pods) with their rollouts, and asks
each tenant server's accepted connections per second; libpq's PGHOST names a callee.

Real: Evidence factories; ``build_evidence`` on API-shaped dicts; the query catalogue.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from kubetriage.analyzers.tenant_callers import check_tenant_callers
from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.node_tenant_walk import follow_node_tenants
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import CallerEvidence, NodeTenantEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support import evidence as make
from tests.support.built import built, service_manifest
from tests.support.listing import ListingReader

NODE = ObjectRef(kind="Node", name="w3")
CACHE = ObjectRef(kind="StatefulSet", namespace="cache", name="redis", api_version="apps/v1")
FEED = ObjectRef(kind="Deployment", namespace="cache", name="feed", api_version="apps/v1")
QUOTES = ObjectRef(kind="Deployment", namespace="pricing", name="quotes", api_version="apps/v1")
ORDERS = ObjectRef(kind="Deployment", namespace="pricing", name="orders", api_version="apps/v1")
SERVICE = ObjectRef(kind="Service", namespace="cache", name="redis")


def _accepted(pod: str, first: float, last: float, namespace: str = "cache") -> MetricSummary:
    labels = {"namespace": namespace, "pod": pod}
    return make.metric(
        f'tenant_connections_accepted_per_second{{namespace="{namespace}",pod="{pod}"}}',
        name="tenant_connections_accepted_per_second",
        first=first,
        last=last,
        labels=labels,
    )


def _caller(ref: ObjectRef, rolled: float | None, secret_env: str | None = None) -> CallerEvidence:
    changes = [make.rollout_change(ref, 23, "image", minutes_ago=rolled)] if rolled else []
    return CallerEvidence(ref=ref, callee=SERVICE, changes=changes, secret_env=secret_env)


def _evidence(
    *metrics: MetricSummary,
    callers: list[CallerEvidence],
    tenant_rolled: float | None = None,
    other_tenant: bool = True,
    alertname: str = "NodeHighNumberConntrackEntriesUsed",
) -> Evidence:
    changes = (
        [make.rollout_change(CACHE, 3, "image", minutes_ago=tenant_rolled)]
        if tenant_rolled is not None
        else []
    )
    tenants = [
        NodeTenantEvidence(ref=CACHE, pods=["redis-0"], changes=changes, callers=callers),
        *([NodeTenantEvidence(ref=FEED, pods=["feed-6b9d5c7f48-zk4wp"])] if other_tenant else []),
    ]
    alert = make.alert(alertname=alertname, instance="10.0.0.3:9100")
    alert = alert.model_copy(update={"starts_at": make.ago(37)})
    return make.evidence(target=NODE, alerts=[alert], node_tenants=tenants, metrics=list(metrics))


def test_the_one_caller_that_rolled_out_before_the_onset_is_rolled_back() -> None:
    ev = _evidence(
        _accepted("redis-0", 3, 700), callers=[_caller(QUOTES, 40), _caller(ORDERS, None)]
    )
    [finding] = check_tenant_callers(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        QUOTES,
    )


def test_near_miss_two_callers_rolled_out_names_neither() -> None:
    ev = _evidence(_accepted("redis-0", 3, 700), callers=[_caller(QUOTES, 40), _caller(ORDERS, 45)])
    assert check_tenant_callers(ev) == []


def test_near_miss_the_tenant_rolled_out_itself() -> None:
    ev = _evidence(_accepted("redis-0", 3, 700), callers=[_caller(QUOTES, 40)], tenant_rolled=50)
    assert check_tenant_callers(ev) == []


def test_near_miss_a_caller_rollout_long_before_the_onset() -> None:
    ev = _evidence(_accepted("redis-0", 3, 700), callers=[_caller(QUOTES, 600)])
    assert check_tenant_callers(ev) == []


def test_near_miss_a_caller_known_only_by_a_secret_database_url() -> None:
    ev = _evidence(_accepted("redis-0", 3, 700), callers=[_caller(QUOTES, 40, "DATABASE_URL")])
    assert check_tenant_callers(ev) == []


def test_near_miss_a_flat_tenant_is_not_behind_the_alert() -> None:
    ev = _evidence(_accepted("redis-0", 300, 305), callers=[_caller(QUOTES, 40)])
    assert check_tenant_callers(ev) == []


def test_the_only_tenant_is_behind_the_alert_by_elimination() -> None:
    disk = "NodeDiskIOSaturation"
    ev = _evidence(callers=[_caller(QUOTES, 40)], other_tenant=False, alertname=disk)
    [finding] = check_tenant_callers(ev)
    assert (finding.action, finding.target) == (Action.ROLLBACK, QUOTES)
    # Two tenants and no series to tell them apart: neither.
    assert check_tenant_callers(_evidence(callers=[_caller(QUOTES, 40)], alertname=disk)) == []
    # The only tenant whose own series stayed flat is not behind it either.
    writes = make.metric(
        'rate(container_fs_writes_bytes_total{namespace="cache",pod="redis-0"}[5m])',
        name="tenant_fs_writes_bytes_per_second",
        first=1e6,
        last=1e6,
        labels={"namespace": "cache", "pod": "redis-0"},
    )
    flat = _evidence(writes, callers=[_caller(QUOTES, 40)], other_tenant=False, alertname=disk)
    assert check_tenant_callers(flat) == []


def test_near_miss_an_alert_about_no_node_resource() -> None:
    ev = _evidence(
        callers=[_caller(QUOTES, 40)], other_tenant=False, alertname="NodeClockNotSynchronising"
    )
    assert check_tenant_callers(ev) == []


# --- the evidence side -------------------------------------------------------------------


def _deployment(name: str, namespace: str, env: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"{name}:1", "env": env}]},
            },
        },
    }


def _objects(env: list[dict[str, str]]) -> list[dict[str, Any]]:
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "data"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "db-0",
            "namespace": "data",
            "labels": {"app": "db"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
            ],
        },
        "spec": {"nodeName": "w3", "containers": [{"name": "pg", "image": "postgres:16"}]},
        "status": {"phase": "Running"},
    }
    service = service_manifest("db", "data", {"app": "db"}, port=5432, target_port=5432)
    return [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w3"}, "status": {}},
        statefulset,
        pod,
        service,
        _deployment("shop", "data", env),
        _deployment("audit", "data", [{"name": "LOG_LEVEL", "value": "db"}]),
    ]


def test_a_node_incident_reads_the_callers_of_its_tenants() -> None:
    ev = built(_objects([{"name": "PGHOST", "value": "db"}]), NODE)
    [tenant] = ev.node_tenants
    assert [(c.ref.name, c.callee.name) for c in tenant.callers] == [("shop", "db")]
    # A variable whose name says nothing of an address names no callee.
    [quiet] = built(_objects([{"name": "PGDATABASE", "value": "db"}]), NODE).node_tenants
    assert quiet.callers == []


def test_a_node_incident_asks_its_tenant_servers_accepted_connections() -> None:
    pods = [ObjectRef(kind="Pod", namespace="cache", name="redis-0")]
    window = timedelta(hours=1)
    names = {q.name: q.promql for q in select_queries(build_scope(NODE, [], tenants=pods), window)}
    assert 'pod=~"redis-0"' in names["tenant_connections_accepted_per_second"]
    assert "redis_connections_received_total" in names["tenant_connections_accepted_per_second"]


# --- the live walk -------------------------------------------------------------------------


def _walked(cluster: list[dict[str, Any]], scope: Scope) -> set[str]:
    """What ``follow_node_tenants`` reads beyond the node's pods, from ``cluster``."""
    run = CollectionRun(asyncio.Semaphore(1))
    pods = [o for o in cluster if o["kind"] == "Pod" and o["spec"].get("nodeName") == "w3"]
    for pod in pods:
        run.add(pod)
    reader = ListingReader(cluster)
    asyncio.run(follow_node_tenants(reader, run, NODE, pods, scope))  # type: ignore[arg-type]
    return {f"{k}/{ns}/{name}" for k, ns, name in run.objects if k != "Pod" or ns != "data"}


def test_the_live_walk_reads_the_tenants_and_their_callers() -> None:
    cluster = _objects([{"name": "PGHOST", "value": "db.data"}])
    elsewhere = _deployment("reports", "bi", [{"name": "DB_HOST", "value": "db.data"}])
    assert _walked([*cluster, elsewhere], Scope.unrestricted()) == {
        "StatefulSet/data/db",
        "Service/data/db",
        "Deployment/data/shop",
        "Deployment/bi/reports",
    }
    # A scope of its own namespace: the callers there only.
    assert "Deployment/bi/reports" not in _walked(
        [*cluster, elsewhere], Scope("data", cluster_wide=False)
    )
