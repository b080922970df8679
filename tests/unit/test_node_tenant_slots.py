"""A node at its pod capacity: the one tenant whose other replicas wait Pending because
every node's pod slots are taken ("Too many pods") gets free capacity. Near misses: an alert
about another resource, a tenant Pending for CPU, two tenants waiting for slots, a workload
incident. The evidence side: a Node incident keeps its tenants' pods that no node took, with
the scheduler's words, and not those of other workloads or bound to a node.

Real: Evidence factories; ``build_evidence`` on API-shaped dicts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.analyzers.tenant_slots import check_tenant_slots
from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.node_tenant_walk import follow_node_tenants
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support import evidence as make
from tests.support.built import built
from tests.support.listing import ListingReader

NODE = ObjectRef(kind="Node", name="w3")
SEARCH = ObjectRef(kind="Deployment", namespace="search", name="api", api_version="apps/v1")
INDEXER = ObjectRef(kind="Deployment", namespace="search", name="indexer", api_version="apps/v1")
SLOTS = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Too many pods."
CPU = "0/3 nodes are available: 3 Insufficient cpu."


def _evidence(
    search: str | None = SLOTS,
    indexer: str | None = None,
    alertname: str = "KubeletTooManyPods",
    description: str = "Kubelet 'w3' is running at 100% of its Pod capacity.",
) -> Evidence:
    alert = make.alert(alertname=alertname, node="w3")
    alert = alert.model_copy(update={"annotations": {"description": description}})
    tenants = [
        NodeTenantEvidence(
            ref=SEARCH, pods=["api-7b6d9f5c84-c6nwq"], unplaced={"api-7b6d9f5c84-j5m7f": search}
        )
        if search is not None
        else NodeTenantEvidence(ref=SEARCH, pods=["api-7b6d9f5c84-c6nwq"]),
        NodeTenantEvidence(
            ref=INDEXER,
            pods=["indexer-5c6d7e8f9-q8mzt"],
            unplaced={"indexer-5c6d7e8f9-x2x9k": indexer} if indexer is not None else {},
        ),
    ]
    return make.evidence(target=NODE, alerts=[alert], node_tenants=tenants)


def test_the_tenant_waiting_for_pod_slots_gets_free_capacity() -> None:
    [finding] = check_tenant_slots(_evidence())
    assert (finding.category, finding.action, finding.target) == (
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        SEARCH,
    )


def test_near_miss_a_tenant_pending_for_cpu_is_not_short_of_slots() -> None:
    assert check_tenant_slots(_evidence(search=CPU)) == []
    # ... and beside it, the one waiting for slots is still named.
    [finding] = check_tenant_slots(_evidence(search=CPU, indexer=SLOTS))
    assert finding.target == INDEXER


def test_near_miss_two_tenants_waiting_for_slots_name_neither() -> None:
    assert check_tenant_slots(_evidence(indexer=SLOTS)) == []


def test_near_miss_an_alert_about_another_resource() -> None:
    ev = _evidence(alertname="NodeMemoryHighUtilization", description="Memory is filling up.")
    assert check_tenant_slots(ev) == []


def test_near_miss_a_workload_incident() -> None:
    ev = _evidence().model_copy(update={"target": SEARCH})
    assert check_tenant_slots(ev) == []


# --- the evidence side -------------------------------------------------------------------


def _pod(name: str, owner: str, node: str | None, scheduled: str | None) -> dict[str, Any]:
    conditions = (
        [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": scheduled,
            }
        ]
        if scheduled is not None
        else [{"type": "PodScheduled", "status": "True"}]
    )
    template_hash = name.split("-")[1]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "search",
            "labels": {"pod-template-hash": template_hash},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{owner}-{template_hash}",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]}
        | ({"nodeName": node} if node else {}),
        "status": {
            "phase": "Pending" if scheduled is not None else "Running",
            "conditions": conditions,
        },
    }


def test_a_node_incident_keeps_its_tenants_pods_that_no_node_took() -> None:
    objects = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w3"}, "status": {}},
        _pod("api-7b6d9f5c84-c6nwq", "api", "w3", None),
        _pod("api-7b6d9f5c84-j5m7f", "api", None, SLOTS),
        _pod("api-7b6d9f5c84-n0d3s", "api", "w1", None),
        # Another workload's Pending pod, not a tenant of this node.
        _pod("batch-9f8e7d6c5b-a1b2c", "batch", None, SLOTS),
    ]
    [tenant] = built(objects, NODE).node_tenants
    assert tenant.ref.name == "api"
    assert tenant.unplaced == {"api-7b6d9f5c84-j5m7f": SLOTS}


def test_the_live_walk_reads_the_tenants_pending_pods_only() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "search"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}},
    }
    here = _pod("api-7b6d9f5c84-c6nwq", "api", "w3", None)
    cluster = [
        deployment,
        here,
        _pod("api-7b6d9f5c84-j5m7f", "api", None, SLOTS),
        _pod("api-7b6d9f5c84-n0d3s", "api", "w1", None),
        _pod("batch-9f8e7d6c5b-a1b2c", "batch", None, SLOTS),
    ]
    run = CollectionRun(asyncio.Semaphore(1))
    run.add(here)
    reader = ListingReader(cluster)
    asyncio.run(
        follow_node_tenants(reader, run, NODE, [here], Scope.unrestricted())  # type: ignore[arg-type]
    )
    assert {name for kind, _, name in run.objects if kind == "Pod"} == {
        "api-7b6d9f5c84-c6nwq",
        "api-7b6d9f5c84-j5m7f",
    }
