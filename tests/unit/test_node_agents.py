"""Checks node-agent reasoning: nodes hosting the incident's pods that report memory, disk or
PID pressure are named with when the pressure began; a DaemonSet whose pods there were
replaced shortly before that (its rollout) is followed as what changed on those nodes, while
one replaced long before, or after the pressure began, is not; and that agent's recent
rollout is the fix (roll it back) above draining one of the nodes it pressures.

Real: the pure helpers, ``build_evidence`` on API-shaped dicts and the analyzer registry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kubetriage.evidence.node_plugins import node_agent_hosts, pressured_nodes
from kubetriage.models.base import ObjectRef
from kubetriage.models.relations import DependencyRoute
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, controller_revision_manifest
from tests.support.evidence import NOW, analyze, assert_leads, by_category, named

AGENT = ObjectRef(kind="DaemonSet", namespace="logging", name="log-agent")
PRESSED = "node-a"
CALM = "node-b"
SINCE = NOW - timedelta(minutes=25)


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _node(name: str, *, pressure: bool) -> dict[str, Any]:
    conditions = [
        {
            "type": "MemoryPressure",
            "status": "True" if pressure else "False",
            "lastTransitionTime": _at(SINCE if pressure else NOW - timedelta(days=9)),
        },
        {"type": "Ready", "status": "True", "lastTransitionTime": _at(NOW - timedelta(days=9))},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": conditions},
    }


def _pod(name: str, node: str, created: datetime, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": fields.pop("namespace", "shop"),
        "labels": fields.pop("labels", {"app": "web"}),
        "creationTimestamp": _at(created),
    }
    if owner := fields.pop("owner", None):
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "controller": True, **owner}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i:1"}]},
        "status": fields.pop("status", {"phase": "Running"}),
    }


def _agent_pod(node: str, replaced_ago: timedelta, name: str = AGENT.name) -> dict[str, Any]:
    return _pod(
        f"{name}-{node[-1]}",
        node,
        NOW - replaced_ago,
        namespace=AGENT.namespace,
        labels={"app": name, "controller-revision-hash": "5d4f8b7c96"},
        owner={"kind": "DaemonSet", "name": name},
    )


def test_pressured_nodes_host_the_incidents_pods() -> None:
    nodes = [
        _node(PRESSED, pressure=True),
        _node(CALM, pressure=False),
        _node("node-c", pressure=True),
    ]
    pods = [_pod("web-1", PRESSED, NOW - timedelta(days=3)), _pod("web-2", CALM, NOW)]
    assert pressured_nodes(nodes, pods) == [(PRESSED, "MemoryPressure", SINCE)]


def test_only_an_agent_replaced_shortly_before_the_pressure_is_named() -> None:
    pressured = [(PRESSED, "MemoryPressure", SINCE)]
    pods = [
        _agent_pod(PRESSED, timedelta(minutes=70)),
        _agent_pod(PRESSED, timedelta(days=20), name="node-exporter"),
        _agent_pod(PRESSED, timedelta(minutes=5), name="restarted-after"),
        _agent_pod(CALM, timedelta(minutes=70), name="elsewhere"),
    ]
    hosts = node_agent_hosts(pods, pressured)
    assert [(h.kind, h.namespace, h.name, h.source) for h in hosts] == [
        ("DaemonSet", AGENT.namespace, AGENT.name, named(f"node {PRESSED} MemoryPressure"))
    ]
    assert [h.route for h in hosts] == [
        DependencyRoute(kind="node-pressure", node=PRESSED, condition="MemoryPressure")
    ]


def _revision(number: int, limits: dict[str, str], created: datetime) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": AGENT.name}},
        "spec": {
            "containers": [
                {"name": "agent", "image": f"agent:{number}", "resources": {"limits": limits}}
            ]
        },
    }
    return controller_revision_manifest(
        AGENT, number, template, created=created, labels={"app": AGENT.name}
    )


def _cluster(rolled_out_ago: timedelta) -> list[dict[str, Any]]:
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": AGENT.name, "namespace": AGENT.namespace},
        "spec": {
            "selector": {"matchLabels": {"app": AGENT.name}},
            "template": _revision(2, {}, NOW)["data"]["spec"]["template"],
        },
        "status": {"desiredNumberScheduled": 2, "numberReady": 2},
    }
    evicted = _pod(
        "web-7d9f6c8b5-ev001",
        PRESSED,
        NOW - timedelta(days=3),
        status={
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory. Threshold quantity: 100Mi, "
            "available: 90Mi. Container c was using 1200Mi, request is 1Gi, has larger "
            "consumption of memory. ",
        },
    )
    return [
        _node(PRESSED, pressure=True),
        _node(CALM, pressure=False),
        evicted,
        _pod("web-7d9f6c8b5-ok001", CALM, NOW - timedelta(days=3)),
        daemonset,
        _revision(1, {"memory": "256Mi"}, NOW - timedelta(days=40)),
        _revision(2, {}, NOW - rolled_out_ago),
        _agent_pod(PRESSED, rolled_out_ago - timedelta(minutes=1)),
        _agent_pod(CALM, rolled_out_ago - timedelta(minutes=3)),
    ]


def _evidence(rolled_out_ago: timedelta) -> Any:
    target = ObjectRef(kind="Pod", namespace="shop", name="web-7d9f6c8b5-ev001")
    return built(_cluster(rolled_out_ago), target)


def test_an_agent_rolled_out_before_its_nodes_pressure_is_rolled_back_not_the_node_drained() -> (
    None
):
    result = analyze(_evidence(timedelta(minutes=70)))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)
    assert first.params == {"revision": "1"}
    # Each pressured node still says so, too weakly to outvote the agent together.
    drained = by_category(result, Category.NODE_FAILURE)
    assert drained
    assert all(f.confidence <= 0.3 for f in drained)


def test_an_agent_replaced_long_before_the_pressure_leaves_it_to_the_node() -> None:
    result = analyze(_evidence(timedelta(days=3)))
    assert not by_category(result, Category.BAD_ROLLOUT)
    assert_leads(
        result, Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name=PRESSED)
    )
