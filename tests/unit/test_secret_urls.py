"""Checks the broker a workload reaches through a URL it takes from a Secret: its variable (or
the Secret's key) says the protocol (``AMQP_URL``), its own lines speak of that connection
("amqp connection blocked"), and the one Service of the cluster serving that protocol's port
is followed as its dependency, with that broker's other callers (the consumers naming it).
Near misses: lines that never mention the protocol, two Services serving it, a headless
Service, a URL written in the template (named as any host is), a variable of another kind.

Real: ``secret_url_hosts`` and ``build_evidence`` (via ``tests.support.built``); Secret data is
never part of the input.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.secret_urls import secret_url_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource, log_source
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import log

BLOCKED = '{"level":40,"msg":"amqp connection blocked","reason":"low on memory"}'
TARGET = ObjectRef(kind="Deployment", namespace="orders", name="api")


def _publisher(env: dict[str, Any] | None = None) -> dict[str, Any]:
    variable = env or {
        "name": "AMQP_URL",
        "valueFrom": {"secretKeyRef": {"name": "api-amqp", "key": "url"}},
    }
    return deployment_manifest(
        "api", "orders", {"name": "api", "image": "api:7", "env": [variable]}
    )


def _broker(name: str = "mq", port: int = 5672, **spec: Any) -> dict[str, Any]:
    service = service_manifest(name, "messaging", {"app": name}, port=port)
    service["spec"].update(spec)
    return service


def _lines(text: str) -> list[tuple[NamingSource, str]]:
    return [(log_source("orders", "api-abc", "api"), text)]


def _hosts(services: list[dict[str, Any]], text: str = BLOCKED, **kw: Any) -> list[str]:
    found = secret_url_hosts([], _publisher(**kw), _lines(text), services)
    return [f"{h.namespace}/{h.name}:{h.port}" for h in found]


def test_the_one_amqp_service_is_the_broker_a_secret_url_names() -> None:
    services = [_broker(), service_manifest("web", "orders", {"app": "web"}, port=80)]
    assert _hosts(services) == ["messaging/mq:5672"]
    [host] = secret_url_hosts([], _publisher(), _lines(BLOCKED), services)
    assert host.source is not None
    assert (host.source.variable, host.source.secret) == ("AMQP_URL", "api-amqp")


def test_lines_that_never_speak_of_the_protocol_name_no_broker() -> None:
    assert _hosts([_broker()], text='{"msg":"order created"}') == []


def test_two_services_serving_the_protocol_cannot_be_told_apart() -> None:
    assert _hosts([_broker(), _broker("other-mq")]) == []


def test_a_headless_service_is_not_the_broker_clients_connect_to() -> None:
    assert _hosts([_broker(clusterIP="None")]) == []


def test_a_port_named_for_the_protocol_serves_it() -> None:
    broker = _broker(port=15000)
    broker["spec"]["ports"][0]["name"] = "amqp"
    assert _hosts([broker]) == ["messaging/mq:None"]


def test_the_secrets_key_may_say_the_protocol_when_the_variable_does_not() -> None:
    env = {"name": "BROKER", "valueFrom": {"secretKeyRef": {"name": "mq", "key": "amqp-url"}}}
    assert _hosts([_broker()], env=env) == ["messaging/mq:5672"]


def test_a_variable_of_another_kind_names_no_broker() -> None:
    env = {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "token"}}}
    assert _hosts([_broker()], env=env) == []


def test_a_url_written_in_the_template_is_not_this_rules() -> None:
    env = {"name": "AMQP_URL", "value": "amqp://mq.messaging:5672"}
    assert _hosts([_broker()], env=env) == []


def _consumer() -> dict[str, Any]:
    env = [{"name": "RABBITMQ__HOST", "value": "mq.messaging.svc.cluster.local"}]
    return deployment_manifest(
        "worker", "billing", {"name": "worker", "image": "worker:4", "env": env}
    )


def test_the_broker_is_followed_with_its_consumers_as_its_other_callers() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-abc", "namespace": "orders", "labels": {"app": "api"}},
        "spec": _publisher()["spec"]["template"]["spec"],
    }
    broker_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "mq-0", "namespace": "messaging", "labels": {"app": "mq"}},
        "spec": {"containers": [{"name": "rabbitmq", "image": "rabbitmq:3.13"}]},
    }
    ev = built(
        [_publisher(), pod, _broker(), broker_pod, _consumer()],
        TARGET,
        logs=[log("api-abc", "api", BLOCKED, namespace="orders")],
    )
    [dependency] = [d for d in ev.dependencies if d.service is not None]
    assert dependency.service is not None
    assert (dependency.service.namespace, dependency.service.name) == ("messaging", "mq")
    assert [c.ref.name for c in dependency.callers] == ["worker"]
