"""Checks the mesh protocol rule (``kubetriage.analyzers.mesh_protocols``): a Service port
declared HTTP (name prefix or appProtocol) in front of a server-first protocol, in a mesh,
is fixed at the Service; the look-alikes stay silent (a tcp- port, an HTTP port on an HTTP
server, the same Service outside a mesh). Likewise a port declared plain HTTP (HTTP/1.1 at
the sidecar) in front of a container port named for gRPC or HTTP/2; a port declared grpc or
http2 there, a grpc-web port, or no mesh stay silent. Also the Service summary's declared protocols,
from raw objects through ``ObjectIndex``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.summaries.network import service_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodPort
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

MYSQL = ObjectRef(kind="Service", namespace="db", name="mysql")


def _calls(declared: str, port: PodPort, mesh: bool = True) -> Evidence:
    containers = [make.container("app")] + ([make.container("istio-proxy")] if mesh else [])
    callee = make.service(
        "mysql",
        "db",
        ready=1,
        matching=1,
        ports=[make.service_port(port.number or 0, port.name, declared)],
        pod_ports=[port],
        declared_protocols=[declared],
    )
    return make.evidence(
        pods=[make.pod("checkout-7d9f6c8b5-abcde", *containers)],
        workload=make.deployment(),
        dependencies=[
            DependencyEvidence(service=callee, named_by=naming("Deployment checkout env DB_HOST"))
        ],
    )


def test_http_declared_port_in_front_of_mysql_in_a_mesh_is_fixed_at_the_service() -> None:
    finding = assert_leads(
        analyze(_calls("http-mysql", PodPort(number=3306, name="mysql"))),
        Category.NETWORK,
        Action.FIX_NETWORK,
        MYSQL,
    )
    assert finding.analyzer == "network"
    assert any("http-mysql" in e.fact for e in finding.evidence)


def test_app_protocol_http_on_a_well_known_server_first_port_is_found() -> None:
    finding = assert_leads(
        analyze(_calls("http", PodPort(number=27017, name=None))),
        Category.NETWORK,
        Action.FIX_NETWORK,
        MYSQL,
    )
    assert "server-first" in finding.summary


def test_tcp_ports_http_servers_and_no_mesh_are_left_alone() -> None:
    for evidence in (
        _calls("tcp-mysql", PodPort(number=3306, name="mysql")),
        _calls("http-web", PodPort(number=8080, name="http")),
        _calls("http-mysql", PodPort(number=3306, name="mysql"), mesh=False),
    ):
        assert not any("server-first" in f.summary for f in analyze(evidence).findings)


def test_http_declared_port_in_front_of_a_grpc_port_in_a_mesh_is_fixed_at_the_service() -> None:
    finding = assert_leads(
        analyze(_calls("http", PodPort(number=9090, name="grpc"))),
        Category.NETWORK,
        Action.FIX_NETWORK,
        MYSQL,
    )
    assert "HTTP/2-only" in finding.summary
    assert "'grpc'" in finding.summary
    assert any("grpc 9090" in e.fact for e in finding.evidence)


def test_http2_capable_declarations_grpc_web_and_no_mesh_leave_grpc_ports_alone() -> None:
    for evidence in (
        _calls("grpc", PodPort(number=9090, name="grpc")),
        _calls("http2", PodPort(number=9090, name="grpc")),
        _calls("grpc-api", PodPort(number=9090, name="h2c")),
        _calls("http", PodPort(number=8080, name="grpc-web")),
        _calls("http", PodPort(number=9090, name="grpc"), mesh=False),
    ):
        assert not any("HTTP/2-only" in f.summary for f in analyze(evidence).findings)


def test_summary_declares_app_protocol_else_the_port_name() -> None:
    svc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mysql", "namespace": "db"},
        "spec": {
            "selector": {"app": "mysql"},
            "ports": [
                {"name": "http-mysql", "port": 3306, "targetPort": 3306},
                {"name": "metrics", "port": 9104, "appProtocol": "http"},
                {"port": 33060},
            ],
        },
    }
    summary = service_summary(ObjectIndex([svc], Notes()), svc, (), EvidenceLimits())
    assert summary.declared_protocols == ["http-mysql", "http", ""]
