"""Checks that where a text named a dependency is carried as data: each constructor's fields
and display words, that deciders read the fields (a log line of the caller's own pod, an env
variable of a given purpose, a Warning event of one of its pods), and that the walk's pairs
carry them from the objects read (``pod_texts``, ``event_texts``, ``log_texts``), never to
be parsed back from the words.

Real: ``kubetriage.models.naming``, the walk's text readers in
``kubetriage.evidence.dependencies`` over synthetic API-shaped dicts, and
``kubetriage.evidence.node_hosts.source_node``.
"""

from __future__ import annotations

from kubetriage.evidence.dependencies import env_host, event_texts, log_texts, pod_texts
from kubetriage.evidence.node_hosts import source_node
from kubetriage.models.naming import (
    args_source,
    config_map_source,
    env_source,
    event_source,
    log_source,
    route_source,
    trigger_source,
)
from kubetriage.models.object_evidence import LogTail


def test_each_constructor_keeps_its_facts_and_its_words() -> None:
    log = log_source("shop", "api-7d9-x", "app")
    assert (log.kind, log.namespace, log.pod, log.container) == ("log", "shop", "api-7d9-x", "app")
    assert log.text == "log shop/api-7d9-x/app"
    env = env_source("Deployment", "api", "DB_URL")
    assert (env.kind, env.owner_kind, env.owner, env.variable) == (
        "env",
        "Deployment",
        "api",
        "DB_URL",
    )
    assert env.text == "Deployment api env DB_URL"
    assert args_source("pod", "api-1").text == "pod api-1 args"
    event = event_source("Pod", "api-1", "FailedMount")
    assert (event.owner_kind, event.owner, event.reason) == ("Pod", "api-1", "FailedMount")
    assert event.text == "event Pod/api-1 FailedMount"
    assert config_map_source("api-config").owner == "api-config"
    assert trigger_source("ScaledObject", "api", "redis").text == "ScaledObject api redis trigger"
    assert str(route_source("backend of Ingress shop/web")) == "backend of Ingress shop/web"


def test_a_log_source_is_the_log_of_one_container_only() -> None:
    log = log_source("shop", "api-1", "app")
    assert log.is_log_of("shop", "api-1", "app")
    assert not log.is_log_of("shop", "api-1", "sidecar")
    assert not log.is_log_of("other", "api-1", "app")
    # Words that look like a log line's are not one.
    assert not route_source("log shop/api-1/app").is_log_of("shop", "api-1", "app")


def test_the_walks_readers_say_where_each_text_was_read() -> None:
    pod = {
        "metadata": {"name": "api-1", "namespace": "shop"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "args": ["--upstream=http://ledger:8080"],
                    "env": [{"name": "CACHE_HOST", "value": "redis"}],
                }
            ]
        },
    }
    texts = pod_texts([pod], None)
    assert [s for s, _ in texts] == [
        env_source("pod", "api-1", "CACHE_HOST"),
        args_source("pod", "api-1"),
    ]
    event = {
        "type": "Warning",
        "reason": "FailedMount",
        "message": "driver name x not found",
        "involvedObject": {"kind": "Pod", "name": "api-1"},
    }
    assert event_texts([event, {**event, "type": "Normal"}]) == [
        (event_source("Pod", "api-1", "FailedMount"), "driver name x not found")
    ]
    tail = LogTail(namespace="shop", pod="api-1", container="app", lines=["a", "b", "c"])
    assert log_texts([tail], last=2) == [
        (log_source("shop", "api-1", "app"), "b"),
        (log_source("shop", "api-1", "app"), "c"),
    ]


def test_an_env_host_needs_an_env_source_whose_variable_names_an_address() -> None:
    assert [h.name for h in env_host(env_source("pod", "api-1", "CACHE_HOST"), "redis")] == [
        "redis"
    ]
    # The same words in another kind of source, or a variable that is no address: none.
    assert env_host(route_source("pod api-1 env CACHE_HOST"), "redis") == []
    assert env_host(env_source("pod", "api-1", "LOG_LEVEL"), "debug") == []


def test_a_source_is_placed_on_a_node_only_as_a_log_line_of_a_pod_there() -> None:
    nodes = {("shop", "api-1"): "node-a"}
    assert source_node(log_source("shop", "api-1", "app"), nodes) == "node-a"
    assert source_node(log_source("shop", "api-2", "app"), nodes) is None
    assert source_node(event_source("Pod", "api-1", "Failed"), nodes) is None


def test_pod_texts_read_the_env_a_container_takes_from_configmaps() -> None:
    """``envFrom`` (each key under its prefix) and ``configMapKeyRef`` set env variables as
    ``env`` does: with the ConfigMaps at hand, their queue and topic values are env texts of
    those variables; a ConfigMap of another namespace, or a key that holds no queue, is not."""
    container = {
        "name": "worker",
        "envFrom": [{"configMapRef": {"name": "worker-config"}, "prefix": "CELERY_"}],
        "env": [
            {
                "name": "REPLY_TOPIC",
                "valueFrom": {"configMapKeyRef": {"name": "topics", "key": "replies_topic"}},
            }
        ],
    }
    pod = {
        "metadata": {"name": "worker-1", "namespace": "jobs"},
        "spec": {"containers": [container]},
    }
    config_maps = {
        ("jobs", "worker-config"): {"data": {"QUEUES": "exports,mail", "CONCURRENCY": "4"}},
        ("jobs", "topics"): {"data": {"replies_topic": "order.replies"}},
        ("other", "worker-config"): {"data": {"QUEUES": "elsewhere"}},
    }
    assert pod_texts([pod], None, config_maps) == [
        (env_source("pod", "worker-1", "REPLY_TOPIC"), "order.replies"),
        (env_source("pod", "worker-1", "CELERY_QUEUES"), "exports,mail"),
    ]
    assert pod_texts([pod], None) == []
