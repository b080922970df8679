"""Checks the load balancer in front of the ingress controller: the LoadBalancer Service whose
address the incident's Ingress publishes (``Evidence.front_balancers``), read by the ingress
walk, summarised by the builder and reasoned about by two rules:

- ``externalTrafficPolicy: Local`` with every ready endpoint on nodes where no
  load-balancer speaker (MetalLB) runs: nothing announces the address. Near misses: the
  ``Cluster`` policy, a speaker on one endpoint's node, no speaker at all (a cloud load
  balancer), a LoadBalancer Service with another address.
- A client's write of its spec or annotations just before the symptom began. Near misses: a
  write hours before, one well after the onset, a controller's or a status write.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, the analyzer
registry, and the walk's step over a reader that lists by equality selector as the API does.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.ingress_walk import follow_front_balancers
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support.built import built
from tests.support.evidence import NOW, analyze, assert_leads
from tests.support.listing import ListingReader

INGRESS = ObjectRef(kind="Ingress", namespace="intranet", name="wiki")
SERVICE = ObjectRef(kind="Service", namespace="edge", name="controller")
CONTROLLER = {"app": "controller"}
VIP = "10.80.0.240"


def _ingress(address: str = VIP) -> Any:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "wiki", "namespace": "intranet"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "wiki.example", "http": {"paths": [{"path": "/"}]}}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": address}]}},
    }


def _balancer(
    policy: str = "Local",
    address: str = VIP,
    name: str = "controller",
    managed: list[dict[str, Any]] | None = None,
) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "edge", "managedFields": managed or []},
        "spec": {
            "type": "LoadBalancer",
            "selector": CONTROLLER,
            "externalTrafficPolicy": policy,
            "healthCheckNodePort": 31882,
            "ports": [{"name": "http", "port": 80, "appProtocol": "http"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": address}]}},
    }


def _pod(name: str, namespace: str, labels: dict[str, str], node: str) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _controllers(*nodes: str) -> list[Any]:
    return [_pod(f"controller-{i}", "edge", CONTROLLER, n) for i, n in enumerate(nodes)]


def _speakers(*nodes: str) -> list[Any]:
    labels = {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "speaker"}
    return [_pod(f"speaker-{i}", "metallb-system", labels, n) for i, n in enumerate(nodes)]


def _write(minutes_ago: float, manager: str = "helm", **extra: Any) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": "Update",
        "time": (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fieldsV1": {
            "f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {"f:appProtocol": {}}}}
        },
        **extra,
    }


def _alert(minutes_ago: float = 20) -> Alert:
    return Alert(
        status="firing",
        labels={"alertname": "BlackboxProbeFailed"},
        starts_at=NOW - timedelta(minutes=minutes_ago),
    )


def _findings(objects: list[Any], name: str, *, alert_ago: float = 20) -> list[Any]:
    ev = built(objects, INGRESS, alerts=[_alert(alert_ago)])
    return [f for f in analyze(ev).findings if f.analyzer == name]


def test_local_endpoints_where_no_speaker_runs_leave_the_address_unannounced() -> None:
    objects = [_ingress(), _balancer(), *_controllers("edge-1", "edge-2"), *_speakers("w-1")]
    ev = built(objects, INGRESS, alerts=[_alert()])
    (balancer,) = ev.front_balancers
    assert balancer.service == SERVICE
    assert balancer.addresses == [VIP]
    assert balancer.endpoint_nodes == ["edge-1", "edge-2"]
    assert balancer.announcing_nodes == ["w-1"]
    assert balancer.app_protocols == {"http": "http"}
    first = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, SERVICE)
    assert first.analyzer == "front-balancer-unannounced"


def test_a_cluster_policy_a_shared_node_or_no_speaker_is_no_unannounced_address() -> None:
    name = "front-balancer-unannounced"
    cluster = [_ingress(), _balancer("Cluster"), *_controllers("edge-1"), *_speakers("w-1")]
    assert _findings(cluster, name) == []
    shared = [_ingress(), _balancer(), *_controllers("edge-1", "w-1"), *_speakers("w-1")]
    assert _findings(shared, name) == []
    cloud = [_ingress(), _balancer(), *_controllers("edge-1")]
    assert _findings(cloud, name) == []


def test_a_balancer_with_another_address_is_not_in_front_of_the_ingress() -> None:
    objects = [_ingress(), _balancer(address="10.80.0.99"), *_controllers("e"), *_speakers("w")]
    assert built(objects, INGRESS, alerts=[_alert()]).front_balancers == []


def test_a_client_edit_of_the_balancer_just_before_the_onset_is_what_to_roll_back() -> None:
    objects = [_ingress(), _balancer("Cluster", managed=[_write(26)]), *_controllers("e")]
    ev = built(objects, INGRESS, alerts=[_alert(20)])
    (balancer,) = ev.front_balancers
    assert (balancer.spec_writer, balancer.written_fields) == ("helm", ["ports.appProtocol"])
    first = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, SERVICE)
    assert first.analyzer == "front-balancer-edited"
    assert "appProtocol" in first.summary


def test_old_late_controller_or_status_writes_are_no_edit_before_the_onset() -> None:
    name = "front-balancer-edited"
    for write in (
        _write(180),  # hours before the symptom
        _write(5),  # fifteen minutes after it began
        _write(26, manager="cloud-controller-manager"),
        _write(26, subresource="status"),
    ):
        objects = [_ingress(), _balancer("Cluster", managed=[write]), *_controllers("e")]
        assert _findings(objects, name) == [], write


def _walked(cluster: list[Any], scope: Scope) -> tuple[set[str], ListingReader]:
    run = CollectionRun(asyncio.Semaphore(1))
    run.add(_ingress())
    reader = ListingReader(cluster)
    walk = follow_front_balancers(reader, run, "intranet", [], INGRESS, scope)  # type: ignore[arg-type]
    asyncio.run(walk)
    return {f"{k}/{name}" for k, _, name in run.objects if k != "Ingress"}, reader


def test_the_walk_reads_the_balancer_its_pods_and_with_a_local_policy_the_speakers() -> None:
    other = _balancer("Cluster", address="10.0.0.9", name="other")
    cluster = [_balancer(), other, *_controllers("e"), *_speakers("w")]
    found, _ = _walked(cluster, Scope.unrestricted())
    assert found == {"Service/controller", "Pod/controller-0", "Pod/speaker-0"}
    # Near misses: the Cluster policy needs no speaker; a scope confined to the namespace
    # reads nothing of the controller's.
    found, reader = _walked(
        [_balancer("Cluster"), *_controllers("e"), *_speakers("w")], Scope.unrestricted()
    )
    assert found == {"Service/controller", "Pod/controller-0"}
    assert all("speaker" not in selector for _, _, selector in reader.asked)
    found, reader = _walked(cluster, Scope("intranet", cluster_wide=False))
    assert found == set()
    assert reader.asked == []
