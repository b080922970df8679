"""Checks ``troubled_neighbours``: the pods of other workloads in the incident's namespace on
the same node that do not serve (not Ready, waiting, a failed phase), troubled longest first;
healthy or finished pods, pods on other nodes, other namespaces and the scope's own workload
stay out. And that ``build_evidence`` hands them to the nodes of a workload's pods.

Real: ``ObjectIndex``, ``troubled_neighbours`` and ``build_evidence`` on API-shaped dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.summaries.neighbours import troubled_neighbours
from kubetriage.models.base import ObjectRef
from kubetriage.redaction import Anonymizer

NS = "search"
NODE = "wrk-7"


def _owned(kind: str, name: str, owner_kind: str | None, owner: str | None, **extra: Any) -> Any:
    meta: dict[str, Any] = {"name": name, "namespace": NS, "uid": f"uid-{name}"}
    if owner_kind and owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner_kind, "name": owner, "controller": True}
        ]
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, **extra}


def _app(name: str) -> list[Any]:
    selector = {"matchLabels": {"app": name}}
    return [
        _owned("Deployment", name, None, None, spec={"selector": selector}),
        _owned("ReplicaSet", f"{name}-5f9d7", "Deployment", name, spec={"selector": selector}),
    ]


def _pod(
    name: str,
    app: str,
    *,
    node: str = NODE,
    ready: str = "True",
    since: str = "2026-11-20T09:19:00Z",
    waiting: str | None = None,
    phase: str = "Running",
    namespace: str = NS,
) -> Any:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    pod = _owned("Pod", name, "ReplicaSet", f"{app}-5f9d7")
    pod["apiVersion"] = "v1"
    pod["metadata"]["namespace"] = namespace
    pod["metadata"]["labels"] = {"app": app}
    pod["spec"] = {"nodeName": node, "containers": [{"name": "c", "image": f"{app}:1"}]}
    pod["status"] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": since}],
        "containerStatuses": [{"name": "c", "ready": ready == "True", "state": state}],
    }
    return pod


def test_troubled_neighbours_are_other_workloads_not_serving_on_the_node() -> None:
    own = _pod("api-5f9d7-aaaaa", "api", ready="False")
    objects = [
        *_app("api"),
        *_app("ui"),
        *_app("cron"),
        own,
        _pod("api-5f9d7-bbbbb", "api", ready="False"),  # the scope's workload: not a neighbour
        _pod("ui-5f9d7-late1", "ui", ready="False", since="2026-11-20T09:41:00Z"),
        _pod("ui-5f9d7-early", "ui", ready="False", since="2026-11-20T09:19:00Z"),
        _pod("ui-5f9d7-crash", "ui", waiting="CrashLoopBackOff", ready="False"),
        _pod("ui-5f9d7-fine1", "ui"),
        _pod("ui-5f9d7-other", "ui", ready="False", node="wrk-3"),
        _pod("cron-5f9d7-done1", "cron", ready="False", phase="Succeeded"),
        _pod("ui-5f9d7-elsewh", "ui", ready="False", namespace="other"),
    ]
    index = ObjectIndex(objects, Notes())
    workload = index.get("Deployment", NS, "api")
    found = troubled_neighbours(index, NODE, NS, [own], workload)
    assert [(n.name, n.problem) for n in found] == [
        ("ui-5f9d7-crash", "CrashLoopBackOff"),
        ("ui-5f9d7-early", "not Ready"),
        ("ui-5f9d7-late1", "not Ready"),
    ]
    assert found[1].owner == ObjectRef(kind="Deployment", namespace=NS, name="ui")
    assert found[1].since == datetime(2026, 11, 20, 9, 19, tzinfo=UTC)


def test_the_evidence_gives_a_workloads_nodes_their_troubled_neighbours() -> None:
    objects = [
        *_app("api"),
        *_app("ui"),
        _pod("api-5f9d7-aaaaa", "api", ready="False"),
        _pod("ui-5f9d7-early", "ui", ready="False"),
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}, "status": {}},
    ]
    ev = build_evidence(
        objects,
        [],
        target=ObjectRef(kind="Deployment", namespace=NS, name="api"),
        alerts=[],
        title="KubeDeploymentRolloutStuck",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )
    assert [[n.name for n in node.troubled_neighbours] for node in ev.nodes] == [["ui-5f9d7-early"]]
    # Near miss: a namespace-wide incident has every pod in scope, so no neighbours.
    wide = build_evidence(
        objects,
        [],
        target=ObjectRef(kind="Namespace", name=NS),
        alerts=[],
        title="t",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )
    assert all(not node.troubled_neighbours for node in wide.nodes)


def test_a_neighbours_names_are_anonymized_like_the_incidents_own() -> None:
    objects = [
        *_app("api"),
        *_app("ui"),
        _pod("api-5f9d7-aaaaa", "api", ready="False"),
        _pod("ui-5f9d7-early", "ui", ready="False"),
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}, "status": {}},
    ]
    ev = build_evidence(
        objects,
        [],
        target=ObjectRef(kind="Deployment", namespace=NS, name="api"),
        alerts=[],
        title="t",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )
    anonymizer = Anonymizer()
    hidden = anonymizer.anonymize_evidence(ev)
    neighbour = hidden.nodes[0].troubled_neighbours[0]
    assert "ui-5f9d7-early" not in neighbour.model_dump_json()
    assert neighbour.owner is not None
    assert neighbour.owner.name != "ui"
    assert anonymizer.restore_model(hidden).nodes[0].troubled_neighbours[0].name == "ui-5f9d7-early"


def test_pods_sharing_a_node_name_it_once_in_the_evidence() -> None:
    # Five nodes fit in the evidence; pods sharing nodes must not use up the room twice.
    objects = [
        *_app("api"),
        *[_pod(f"api-5f9d7-{i}aaaa", "api", node=f"wrk-{i % 2}") for i in range(4)],
        *[
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"wrk-{i}"}, "status": {}}
            for i in range(2)
        ],
    ]
    ev = build_evidence(
        objects,
        [],
        target=ObjectRef(kind="Deployment", namespace=NS, name="api"),
        alerts=[],
        title="t",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )
    assert sorted(n.name for n in ev.nodes) == ["wrk-0", "wrk-1"]
