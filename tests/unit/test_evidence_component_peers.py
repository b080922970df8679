"""Checks two reads of the dependency walk as the builder summarises it:

- the other components of a followed callee's own release that its trouble lines name by
  their word (``component_peers.component_hosts``): ``temporal-frontend`` saying "history
  client encountered error" leads to ``temporal-history``; a line at info level, a workload
  of another release ending in the same word, a short word and a callee of one-part name do
  not;
- the ConfigMaps a pod's command line names (``index.configs_named_in_args``): a controller's
  ``--configmap NAME`` configures it as much as a mounted one, so the hosts that ConfigMap
  names are its callees; a name that is only part of an argument is not.

Everything is real: raw manifests, log tails and ``build_evidence``; the live walk's next hop
reads through ``ListingReader``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.component_peers import component_hosts, release_prefix
from kubetriage.evidence.dependency_walk import DependencyWalk
from kubetriage.evidence.index import configs_named_in_args
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.models.base import ObjectRef
from kubetriage.tenancy import Scope
from tests.support.built import built, deployment_manifest
from tests.support.evidence import named
from tests.support.listing import ListingReader

LIMITS = EvidenceLimits()
WORKER = ObjectRef(kind="Deployment", namespace="orders", name="orders-worker")
_HISTORY_FAILS = (
    '{"level":"warn","msg":"history client encountered error","error":"shard status unknown"}\n'
)
_HISTORY_FINE = '{"level":"info","msg":"history client connected","shards":512}\n'


def _app(
    name: str, namespace: str, *, env: dict[str, str] | None = None, args: list[str] | None = None
) -> list[dict[str, Any]]:
    """Deployment, Service and one pod ``<namespace>/<name>`` (app=<name>)."""
    container: dict[str, Any] = {
        "name": "c",
        "image": f"{name}:2",
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    if args:
        container["args"] = args
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-5d8f7c9b6d-abcde",
            "namespace": namespace,
            "labels": {"app": name, "pod-template-hash": "5d8f7c9b6d"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": f"{name}-5d8f7c9b6d", "controller": True}
            ],
        },
        "spec": {"containers": [container]},
        "status": {"phase": "Running"},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}},
    }
    workload = deployment_manifest(name, namespace, container, metadata={"uid": f"{name}-uid"})
    return [workload, pod, service]


def _temporal(*others: str) -> list[dict[str, Any]]:
    """orders-worker calls temporal-frontend; the release runs history (and ``others``)."""
    objects = _app(
        "orders-worker",
        "orders",
        env={"TEMPORAL_ADDRESS": "temporal-frontend.temporal.svc.cluster.local:7233"},
    )
    objects += _app("temporal-frontend", "temporal")
    for name in ("temporal-history", *others):
        objects.append(deployment_manifest(name, "temporal", ("c", "server:1")))
    return objects


def _tails(frontend_said: str) -> list[Any]:
    worker = "WARN Failed to respond to workflow task. Error shard status unknown\n"
    return [
        tail_from_text("orders", "orders-worker-5d8f7c9b6d-abcde", "c", worker, limits=LIMITS),
        tail_from_text(
            "temporal",
            "temporal-frontend-5d8f7c9b6d-abcde",
            "c",
            frontend_said,
            limits=LIMITS,
            source="dependency",
        ),
    ]


def _names(objects: list[dict[str, Any]], said: str) -> list[str]:
    ev = built(objects, WORKER, logs=_tails(said))
    return [d.ref.name for d in ev.dependencies if d.ref is not None]


def test_a_callees_trouble_naming_its_release_component_leads_to_that_workload() -> None:
    assert _names(_temporal(), _HISTORY_FAILS) == ["temporal-frontend", "temporal-history"]


def test_a_callee_at_ease_is_not_walked_to_its_components() -> None:
    assert _names(_temporal(), _HISTORY_FINE) == ["temporal-frontend"]


def test_only_the_component_its_trouble_names_is_followed() -> None:
    assert _names(_temporal("temporal-matching"), _HISTORY_FAILS) == [
        "temporal-frontend",
        "temporal-history",
    ]


def test_component_words_name_only_workloads_of_the_callees_own_release() -> None:
    line = (named("log temporal/temporal-frontend-x/c"), "ERROR history client failed")
    workloads = [
        deployment_manifest("payments-history", "temporal", ("c", "i:1")),  # another release
        deployment_manifest("temporal-db", "temporal", ("c", "i:1")),  # word too short
        deployment_manifest("temporal-frontend", "temporal", ("c", "i:1")),  # itself
        deployment_manifest("temporal-history", "temporal", ("c", "i:1")),
    ]
    found = component_hosts("temporal-frontend", "temporal", [line], workloads)
    assert [(h.kind, h.namespace, h.name) for h in found] == [
        ("Deployment", "temporal", "temporal-history")
    ]
    # Near misses: the words "db" and "frontend" in trouble name nothing; a one-part name
    # has no release to share.
    said = (named("log temporal/temporal-frontend-x/c"), "ERROR db and frontend failed")
    assert component_hosts("temporal-frontend", "temporal", [said], workloads) == []
    assert component_hosts("frontend", "temporal", [line], workloads) == []
    assert release_prefix("frontend") is None
    assert release_prefix("temporal-frontend") == "temporal"


def _controller(args: list[str], config: str) -> list[dict[str, Any]]:
    """A workflow controller told its ConfigMap by ``args``; the ConfigMap ``config`` names
    the artifact store's Service in another namespace."""
    store = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config, "namespace": "argo"},
        "data": {"artifactRepository": "s3:\n  endpoint: minio.artifacts.svc.cluster.local:9000\n"},
    }
    return [*_app("workflow-controller", "argo", args=args), store, *_app("minio", "artifacts")]


CONTROLLER = ObjectRef(kind="Deployment", namespace="argo", name="workflow-controller")


def _services(objects: list[dict[str, Any]]) -> list[str]:
    ev = built(objects, CONTROLLER)
    return [d.service.name for d in ev.dependencies if d.service is not None]


def test_a_configmap_named_on_the_command_line_names_the_pods_callees() -> None:
    assert _services(_controller(["--configmap", "wf-config"], "wf-config")) == ["minio"]
    assert _services(_controller(["--configmap=argo/wf-config"], "wf-config")) == ["minio"]


def test_a_configmap_the_command_line_does_not_name_is_not_read_for_callees() -> None:
    assert _services(_controller(["--configmap-prefix=wf-config-v2"], "wf-config")) == []
    assert _services(_controller(["--namespaced"], "wf-config")) == []


def test_configs_named_in_args_takes_whole_words_only() -> None:
    spec = {"containers": [{"name": "c", "command": ["ctl"], "args": ["--cm=ns/a-cfg,b-cfg"]}]}
    assert configs_named_in_args(spec, ["a-cfg", "b-cfg", "cfg", "c"]) == {"a-cfg", "b-cfg"}
    assert configs_named_in_args({"containers": [{"name": "c"}]}, ["a-cfg"]) == set()


def _walk_components(
    said: str, scope: Scope | None = None
) -> tuple[list[str], list[tuple[str, str | None, str]]]:
    """What the live walk's next hop finds among the components of a followed
    ``temporal-frontend`` whose tail says ``said``, and the lists it asked for."""
    objects = _temporal("temporal-matching")
    reader = ListingReader(objects)
    run = CollectionRun(asyncio.Semaphore(1))
    frontend = next(
        o
        for o in objects
        if o["kind"] == "Service" and o["metadata"]["name"] == "temporal-frontend"
    )
    pods = [o for o in objects if o["kind"] == "Pod" and o["metadata"]["namespace"] == "temporal"]
    lines = [(named("log temporal/temporal-frontend-5d8f7c9b6d-abcde/c"), said.strip())]
    walk = DependencyWalk(reader, LIMITS)  # type: ignore[arg-type]
    found = asyncio.run(walk._components(run, frontend, pods, lines, scope or Scope.unrestricted()))
    return [h.name for h in found], reader.asked


def test_the_live_walk_lists_a_troubled_callees_namespace_for_its_components() -> None:
    names, asked = _walk_components(_HISTORY_FAILS)
    assert names == ["temporal-history"]
    assert ("Deployment", "temporal", "") in asked


def test_the_live_walk_lists_nothing_for_a_callee_at_ease_or_out_of_reach() -> None:
    assert _walk_components(_HISTORY_FINE) == ([], [])
    assert _walk_components(_HISTORY_FAILS, Scope("orders", False)) == ([], [])
