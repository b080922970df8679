"""Checks the node agent that programs the network of the nodes whose calls fail. Evidence
(``kubetriage.evidence.node_hosts``): ``connect_failing_nodes`` names the nodes whose pods'
own log lines fail to connect only while the workload's pods on another node were read and
connect (every node failing alike, or no other node read, names none); ``node_network_hosts``
follows a DaemonSet whose host-network pod on such a node does not run (a running one, a
pod-network one, or one on another node is not followed). Analyzer
(``node-network-agent-rollout``): such an agent that rolled out right before the alert leads
to rolling the DaemonSet back, above the callee's dependency-failure; one rolled out long
before, one whose pods run, and a DaemonSet named otherwise add nothing. Analyzer
(``node-network-agent-down``): such an agent down on the one failing node only, running on
the others and not rolled out before the calls failed, leads to draining that node; one that
rolled out right before, one down on every node it runs on, or one down on two failing nodes
adds nothing.

Real: the pure evidence functions over raw objects, the analyzer registry and ranking
(``tests.support.evidence.analyze``), the Evidence models. Synthetic: every object, log line
and time (Go's, Node.js's, the JVM's, PHP's, Python's and redis-rb's connect errors as they
print them).
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.node_network import CONFIDENCE, DOWN_NAME, NAME
from kubetriage.evidence.node_hosts import (
    CONNECT_FAILURE,
    connect_failing_nodes,
    node_network_hosts,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.naming import NamingSource
from kubetriage.models.relations import (
    NODE_NETWORK_SOURCE,
    DependencyEvidence,
    DependencyRoute,
    PodTrouble,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, named, naming

GO_TIMEOUT = (
    '{"level":"error","msg":"payment call failed","err":"Post \\"https://payments.payments.svc'
    ':8443/v2/authorize\\": dial tcp 172.20.91.14:8443: i/o timeout"}'
)
OK = '{"level":"info","msg":"payment authorized","ms":88}'
AGENT = ObjectRef(kind="DaemonSet", namespace="kube-system", name="kube-proxy")


def _pod(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"nodeName": node, **spec},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _agent_pod(node: str, *, running: bool = False, host_network: bool = True) -> dict[str, Any]:
    state = (
        {"running": {"startedAt": "2026-11-20T09:14:05Z"}}
        if running
        else {"waiting": {"reason": "CrashLoopBackOff"}}
    )
    return {
        "kind": "Pod",
        "metadata": {
            "name": f"kube-proxy-{node}",
            "namespace": "kube-system",
            "ownerReferences": [{"kind": "DaemonSet", "name": "kube-proxy", "controller": True}],
        },
        "spec": {"nodeName": node, "hostNetwork": host_network},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if running else "False"}],
            "containerStatuses": [
                {"name": "kube-proxy", "ready": running, "restartCount": 11, "state": state}
            ],
        },
    }


PODS = [_pod("checkout-a", "node-a"), _pod("checkout-b", "node-b")]


def _line(pod: str, text: str) -> tuple[NamingSource, str]:
    return (named(f"log shop/{pod}/checkout"), text)


def test_connections_failing_from_one_node_only_name_that_node() -> None:
    lines = [_line("checkout-a", GO_TIMEOUT), _line("checkout-b", OK)]
    assert connect_failing_nodes(lines, PODS) == [("node-a", named("log shop/checkout-a/checkout"))]


def test_connections_failing_from_every_node_read_name_none() -> None:
    everywhere = [_line("checkout-a", GO_TIMEOUT), _line("checkout-b", GO_TIMEOUT)]
    assert connect_failing_nodes(everywhere, PODS) == []
    only_one_read = [_line("checkout-a", GO_TIMEOUT)]
    assert connect_failing_nodes(only_one_read, PODS) == []


def test_the_connect_failures_of_mainstream_runtimes() -> None:
    failed = [
        GO_TIMEOUT,
        "dial tcp 10.0.0.5:5432: connect: connection refused",
        "dial tcp 10.0.0.5:5432: connect: no route to host",
        "Error: connect ETIMEDOUT 172.20.91.14:8443",
        "Error: connect ECONNREFUSED 10.0.0.5:6379",
        "java.net.SocketTimeoutException: connect timed out",
        "java.net.ConnectException: Connection refused",
    ]
    assert all(CONNECT_FAILURE.search(line) for line in failed)
    assert not CONNECT_FAILURE.search(OK)
    assert not CONNECT_FAILURE.search("read tcp 10.0.0.1:5000->10.0.0.5:80: i/o timeout")


def test_the_host_network_agent_not_running_on_a_failing_node_is_followed() -> None:
    failing = [("node-a", named("log shop/checkout-a/checkout"))]
    there = [_agent_pod("node-a"), _agent_pod("node-b")]
    [host] = node_network_hosts(there, failing)
    assert (host.kind, host.namespace, host.name) == ("DaemonSet", "kube-system", "kube-proxy")
    assert host.source == named(
        f"{NODE_NETWORK_SOURCE} of node node-a: log shop/checkout-a/checkout"
    )
    assert host.route == DependencyRoute(
        kind="node-network", node="node-a", seen_in=named("log shop/checkout-a/checkout")
    )


def test_a_running_agent_a_pod_network_one_or_another_nodes_is_not_followed() -> None:
    failing = [("node-a", named("log shop/checkout-a/checkout"))]
    assert node_network_hosts([_agent_pod("node-a", running=True)], failing) == []
    assert node_network_hosts([_agent_pod("node-a", host_network=False)], failing) == []
    assert node_network_hosts([_agent_pod("node-b")], failing) == []


# --- analyzer ---------------------------------------------------------------------------


def _agent(
    *, rolled_minutes_ago: float = 40, failing: bool = True, pressure: bool = False
) -> DependencyEvidence:
    trouble = PodTrouble(
        pod="kube-proxy-c2v9t", container="kube-proxy", waiting="CrashLoopBackOff", restarts=11
    )
    return DependencyEvidence(
        ref=AGENT,
        workload=AGENT,
        named_by=naming(
            "node node-a MemoryPressure"
            if pressure
            else f"{NODE_NETWORK_SOURCE} of node node-a: log shop/checkout-a/checkout"
        ),
        routes=[
            DependencyRoute(kind="node-pressure", node="node-a", condition="MemoryPressure")
            if pressure
            else DependencyRoute(
                kind="node-network", node="node-a", seen_in=named("log shop/checkout-a/checkout")
            )
        ],
        pods=4,
        failing_pods=[trouble] if failing else [],
        changes=[make.rollout_change(AGENT, 8, "command", minutes_ago=rolled_minutes_ago)],
    )


def _calls_failing(agent: DependencyEvidence) -> Evidence:
    tail = make.log("checkout-a", "checkout", GO_TIMEOUT)
    return make.checkout_evidence(
        dependencies=[agent],
        logs=[tail],
        alerts=[make.alert(alertname="CheckoutPaymentErrorsHigh")],
    )


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == NAME]


def test_an_agent_down_on_the_failing_nodes_since_its_rollout_is_rolled_back() -> None:
    first = assert_leads(
        analyze(_calls_failing(_agent())), Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT
    )
    assert first.analyzer == NAME
    assert first.confidence == CONFIDENCE.rolled_out_and_down
    assert first.params == {"revision": "8"}


def test_an_agent_rolled_out_long_before_is_not_the_change() -> None:
    assert _found(_calls_failing(_agent(rolled_minutes_ago=60 * 24 * 3))) == []


def test_an_agent_whose_pods_run_is_not_the_fault() -> None:
    assert _found(_calls_failing(_agent(failing=False))) == []


def test_a_daemonset_named_otherwise_is_not_this_rule() -> None:
    assert _found(_calls_failing(_agent(pressure=True))) == []


def test_the_connect_failures_of_php_python_and_ruby_clients() -> None:
    failed = [
        "production.ERROR: Connection timed out [tcp://redis.billing.svc.cluster.local:6379]",
        "SQLSTATE[HY000] [2002] Connection refused (Connection: mysql, SQL: select 1)",
        "ConnectionRefusedError: [Errno 111] Connection refused",
        "OSError: [Errno 113] No route to host",
        "Redis::CannotConnectError (Connection timed out connecting to redis-master:6379)",
    ]
    assert all(CONNECT_FAILURE.search(line) for line in failed)
    # Timeouts that do not say the connection was never made.
    assert not CONNECT_FAILURE.search("Net::ReadTimeout: Connection timed out after 30s")
    assert not CONNECT_FAILURE.search("cURL error 28: Operation timed out after 5001 ms")


def _down_agent(
    *,
    rolled_minutes_ago: float = 60 * 24 * 9,
    down_on: tuple[str, ...] = ("node-a",),
    failing_from: tuple[str, ...] = ("node-a",),
) -> DependencyEvidence:
    pods = {"kube-proxy-a": "node-a", "kube-proxy-b": "node-b", "kube-proxy-c": "node-c"}
    failing = [
        PodTrouble(pod=p, container="kube-proxy", waiting="CrashLoopBackOff", restarts=14)
        for p, n in pods.items()
        if n in down_on
    ]
    routes = [
        DependencyRoute(kind="node-network", node=n, seen_in=named(f"log shop/checkout-{n}/c"))
        for n in failing_from
    ]
    return DependencyEvidence(
        ref=AGENT,
        workload=AGENT,
        named_by=naming(f"{NODE_NETWORK_SOURCE} of node node-a: log shop/checkout-a/checkout"),
        routes=routes,
        pods=3,
        failing_pods=failing,
        pod_nodes=pods,
        changes=[make.rollout_change(AGENT, 4, "image", minutes_ago=rolled_minutes_ago)],
    )


def _down_found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == DOWN_NAME]


def test_an_agent_down_only_on_the_failing_node_and_unchanged_drains_that_node() -> None:
    node = ObjectRef(kind="Node", name="node-a")
    first = assert_leads(
        analyze(_calls_failing(_down_agent())), Category.NODE_FAILURE, Action.DRAIN_NODE, node
    )
    assert first.analyzer == DOWN_NAME
    assert first.confidence == CONFIDENCE.down_on_one_node


def test_an_agent_that_rolled_out_right_before_is_not_the_nodes_fault() -> None:
    ev = _calls_failing(_down_agent(rolled_minutes_ago=30))
    assert _down_found(ev) == []
    assert _found(ev)  # the rollout rule's case


def test_an_agent_down_on_every_node_or_on_two_failing_nodes_is_not_one_odd_node() -> None:
    everywhere = _down_agent(down_on=("node-a", "node-b", "node-c"))
    assert _down_found(_calls_failing(everywhere)) == []
    two = _down_agent(down_on=("node-a", "node-b"), failing_from=("node-a", "node-b"))
    assert _down_found(_calls_failing(two)) == []
