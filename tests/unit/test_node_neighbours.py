"""Node neighbours of healthy alerted pods: the DaemonSets on exactly their nodes that fail
there (a host-network proxy OOMKilled) or were replaced right before the alert, followed by
the walk and weighed by the analyzers; with near misses that must not fire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.node_neighbours import (
    check_node_neighbour_rollout,
    check_node_proxy_oom,
)
from kubetriage.evidence.node_neighbours import healthy_nodes, node_neighbour_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyRoute, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import NOW, ago, analyze, assert_leads

A, B, C = "node-a", "node-b", "node-c"
ALERT = NOW - timedelta(minutes=20)


def _stamp(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(
    name: str,
    node: str,
    *,
    owner: str | None = None,
    host_network: bool = False,
    ready: bool = True,
    created: float = 3000,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "kube-system" if owner else "shop",
        "creationTimestamp": _stamp(created),
    }
    if owner:
        meta["ownerReferences"] = [{"kind": "DaemonSet", "name": owner, "controller": True}]
    state: dict[str, Any] = (
        {"running": {}} if ready else {"waiting": {"reason": "CrashLoopBackOff"}}
    )
    status = {
        "phase": "Running",
        "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0, "state": state}],
    }
    spec = {"nodeName": node, "hostNetwork": host_network}
    return {"kind": "Pod", "metadata": meta, "spec": spec, "status": status}


APP = [_pod("web-1", A), _pod("web-2", B)]


def test_only_pods_that_all_run_ready_name_their_nodes() -> None:
    assert healthy_nodes(APP) == [A, B]
    assert healthy_nodes([*APP, _pod("web-3", C, ready=False)]) == []
    assert healthy_nodes([]) == []


def test_a_failing_host_network_agent_on_those_nodes_is_followed() -> None:
    pods = [
        _pod("proxy-a", A, owner="node-proxy", host_network=True, ready=False),
        _pod("proxy-c", C, owner="node-proxy", host_network=True, ready=False),
        _pod("exporter-a", A, owner="exporter", host_network=True),  # runs fine
        _pod("cache-a", A, owner="cache", ready=False),  # not on the host network
    ]
    hosts = node_neighbour_hosts(pods, [A, B], None)
    assert [(h.kind, h.name) for h in hosts] == [("DaemonSet", "node-proxy")]
    assert hosts[0].route == DependencyRoute(kind="node-neighbour", node=A)
    # The same agent failing only on a node the pods do not use.
    assert node_neighbour_hosts(pods[1:], [A, B], None) == []


def test_an_agent_replaced_on_every_node_shortly_before_the_alert_is_followed() -> None:
    fresh = [_pod(f"log-{n}", n, owner="log-agent", created=40) for n in (A, B)]
    hosts = node_neighbour_hosts(fresh, [A, B], ALERT)
    assert [h.name for h in hosts] == ["log-agent"]
    # Replaced on one of the two nodes only, long before, or after the alert: not followed.
    half = [fresh[0], _pod("log-b", B, owner="log-agent")]
    assert node_neighbour_hosts(half, [A, B], ALERT) == []
    old = [_pod(f"log-{n}", n, owner="log-agent", created=300) for n in (A, B)]
    assert node_neighbour_hosts(old, [A, B], ALERT) == []
    late = [_pod(f"log-{n}", n, owner="log-agent", created=5) for n in (A, B)]
    assert node_neighbour_hosts(late, [A, B], ALERT) == []


PROXY = ObjectRef(kind="DaemonSet", namespace="kube-system", name="node-proxy")


def _proxy(last: str, node: str = "worker-1") -> DependencyEvidence:
    return DependencyEvidence(
        workload=PROXY,
        routes=[DependencyRoute(kind="node-neighbour", node="worker-1")],
        pods=3,
        ready_replicas=2,
        failing_pods=[
            PodTrouble(
                pod="node-proxy-x",
                container="envoy",
                waiting="CrashLoopBackOff",
                restarts=8,
                last_terminated=last,
            )
        ],
        pod_nodes={"node-proxy-x": node, "node-proxy-y": "worker-2"},
    )


def test_an_oom_killed_proxy_on_the_pods_node_gets_more_memory() -> None:
    result = analyze(make.checkout_evidence(dependencies=[_proxy("OOMKilled")]))
    found = assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, PROXY)
    assert found.params == {"container": "envoy"}


def test_a_proxy_failing_otherwise_or_elsewhere_is_not_this_finding() -> None:
    assert check_node_proxy_oom(make.checkout_evidence(dependencies=[_proxy("Error")])) == []
    elsewhere = _proxy("OOMKilled", node="worker-9")
    assert check_node_proxy_oom(make.checkout_evidence(dependencies=[elsewhere])) == []


AGENT = ObjectRef(kind="DaemonSet", namespace="logging", name="log-agent")


def _agent(minutes: float, name: str = "log-agent") -> DependencyEvidence:
    ref = AGENT.model_copy(update={"name": name})
    return DependencyEvidence(
        workload=ref,
        routes=[DependencyRoute(kind="node-neighbour", node="worker-1")],
        pods=2,
        ready_replicas=2,
        pod_nodes={f"{name}-a": "worker-1"},
        changes=[
            ChangeEvidence(
                at=ago(minutes),
                kind="rollout",
                object=ref,
                aspects=["config"],
                from_revision=6,
                details=["pod template annotation checksum/config changed"],
            )
        ],
    )


def _slow(*agents: DependencyEvidence, **fields: Any) -> Any:
    fields.setdefault("alerts", [make.alert(alertname="CheckoutLatencyHigh")])
    return make.checkout_evidence(dependencies=list(agents), **fields)


def test_the_one_agent_rolled_out_under_unchanged_pods_is_rolled_back() -> None:
    result = analyze(_slow(_agent(30)))
    found = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)
    assert found.params == {"revision": "6"}


def test_no_rollback_for_two_agents_an_old_rollout_or_rising_traffic() -> None:
    assert check_node_neighbour_rollout(_slow(_agent(30), _agent(25, "metrics-agent"))) == []
    assert check_node_neighbour_rollout(_slow(_agent(60 * 5))) == []
    rising = make.metric(
        'sum(rate(http_requests_total{namespace="shop"}[5m]))',
        name="http_requests_total",
        first=100.0,
        last=400.0,
        changed_minutes_ago=10,
        trend="rising",
    )
    assert check_node_neighbour_rollout(_slow(_agent(30), metrics=[rising])) == []
