"""The node agent behind a host directory (a Unix socket) the incident's pods share with it:
followed like a callee when the pods log trouble on that node, never for a system path the
node's own agents all mount, an agent on another node, or pods that log nothing wrong."""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.socket_agents import (
    host_directories,
    node_socket_hosts,
    socket_failing_nodes,
)
from tests.support.evidence import named

BROKEN = "node-a"
FINE = "node-b"
SOCKETS = "/run/spire/agent-sockets"
EXPIRED = (
    "[2026-11-20 09:58:51.204][31][warning][config] StreamSecrets gRPC config stream to "
    "agent closed: 14, agent is not synchronized with the server"
)


def _host(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "hostPath": {"path": path, "type": "Directory"}}


def _pod(
    name: str, node: str, paths: list[str], *, owner: str | None = None, ns: str = "shop"
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [{"kind": "DaemonSet", "name": owner, "controller": True}]
    volumes = [_host(f"v{i}", p) for i, p in enumerate(paths)]
    return {"kind": "Pod", "metadata": meta, "spec": {"nodeName": node, "volumes": volumes}}


def _agent(name: str, node: str, paths: list[str]) -> dict[str, Any]:
    return _pod(f"{name}-{node[-1]}", node, paths, owner=name, ns="agents")


APP = [_pod("api-1", BROKEN, [SOCKETS]), _pod("api-2", FINE, [SOCKETS])]


def test_system_paths_are_no_shared_directory() -> None:
    pod = _pod("x", BROKEN, ["/var/log", "/proc", "/", "/var/lib/kubelet", "/run/", SOCKETS])
    assert host_directories(pod) == [SOCKETS]


def test_a_warning_of_a_pod_mounting_a_host_directory_names_its_node() -> None:
    lines = [
        (named("log shop/api-2/envoy"), "[info] all good"),
        (named("log shop/api-1/envoy"), EXPIRED),
        (named("log shop/api-1/envoy"), EXPIRED + " again"),
    ]
    assert socket_failing_nodes(lines, APP) == [(BROKEN, [SOCKETS], named("log shop/api-1/envoy"))]


def test_pods_without_a_host_directory_or_without_trouble_name_no_node() -> None:
    plain = [_pod("api-1", BROKEN, ["/var/log"])]
    assert socket_failing_nodes([(named("log shop/api-1/envoy"), EXPIRED)], plain) == []
    assert socket_failing_nodes([(named("log shop/api-1/envoy"), "[info] ok")], APP) == []
    assert socket_failing_nodes([(named("event Pod/api-1 Failed"), EXPIRED)], APP) == []


def test_the_agent_sharing_the_directory_on_that_node_is_followed() -> None:
    failing = socket_failing_nodes([(named("log shop/api-1/envoy"), EXPIRED)], APP)
    pods = [
        _agent("spire-agent", BROKEN, ["/run/spire"]),  # the directory above the socket's
        _agent("spire-agent", FINE, ["/run/spire"]),
        _agent("log-shipper", BROKEN, ["/var/log", "/var/lib/docker/containers"]),
        _agent("other-agent", BROKEN, ["/run/other"]),
        _pod("batch-1", BROKEN, [SOCKETS]),  # not a DaemonSet's pod
    ]
    hosts = node_socket_hosts(pods, failing)
    assert [(h.kind, h.namespace, h.name) for h in hosts] == [
        ("DaemonSet", "agents", "spire-agent")
    ]
    assert hosts[0].source is not None
    assert SOCKETS in hosts[0].source.text


def test_an_agent_on_another_node_or_sharing_only_a_system_path_is_not_followed() -> None:
    failing = socket_failing_nodes([(named("log shop/api-1/envoy"), EXPIRED)], APP)
    assert node_socket_hosts([_agent("spire-agent", FINE, [SOCKETS])], failing) == []
    logged = [_pod("api-1", BROKEN, ["/var/log/app"])]
    failing = socket_failing_nodes([(named("log shop/api-1/app"), EXPIRED)], logged)
    assert node_socket_hosts([_agent("log-shipper", BROKEN, ["/var/log"])], failing) == []
