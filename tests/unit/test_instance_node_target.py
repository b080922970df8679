"""Checks that a node agent's alert, which names its node only by the scrape ``instance``
("<InternalIP>:9100") and carries the exporter's own namespace and pod, is about the Node
owning that address: the pure mapping (``evidence.instance_nodes``) on synthetic Nodes, then
whole synthetic incidents replayed offline through the snapshot evidence source (as goldens
are) and in an emulated cluster with the real collector (as eval is). Real: the builder, the
collector, the pipeline; the objects and labels are synthetic.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from kubetriage.evidence.instance_nodes import instance_addresses, node_at, own_target
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.golden import replay_offline


def _node(name: str, *addresses: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"addresses": [{"type": "InternalIP", "address": a} for a in addresses]},
    }


def _exporter_pod(node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "node-exporter-x1", "namespace": "monitoring"},
        "spec": {"nodeName": node, "containers": [{"name": "node-exporter", "image": "ne"}]},
        "status": {"phase": "Running"},
    }


def _labels(instance: str, **extra: str) -> dict[str, str]:
    return {
        "alertname": "NodeHighCPU",
        "namespace": "monitoring",
        "pod": "node-exporter-x1",
        "job": "node-exporter",
        "instance": instance,
        **extra,
    }


def test_an_address_instance_names_the_node_that_owns_it() -> None:
    nodes = [_node("w1", "10.0.0.1"), _node("w2", "10.0.0.2", "fd00::2")]
    assert node_at(nodes, instance_addresses([Alert(labels=_labels("10.0.0.2:9100"))])) == (
        ObjectRef(kind="Node", name="w2", api_version="v1")
    )
    v6 = instance_addresses([Alert(labels=_labels("[fd00::2]:9100"))])
    assert node_at(nodes, v6) is not None


def test_an_instance_relabelled_to_a_node_name_names_that_node() -> None:
    """kube-prometheus sets the exporter's ``instance`` to its node's name."""
    nodes = [_node("w1", "10.0.0.1"), _node("w2.dc1.example", "10.0.0.2")]
    for instance in ("w2.dc1.example", "w2.dc1.example:9100"):
        hosts = instance_addresses([Alert(labels=_labels(instance))])
        assert node_at(nodes, hosts) == ObjectRef(
            kind="Node", name="w2.dc1.example", api_version="v1"
        )


def test_host_names_node_labels_and_shared_addresses_name_no_node() -> None:
    # A host name no Node bears (a Service, another machine) names no node.
    assert (
        node_at([_node("w1", "10.0.0.1")], instance_addresses([Alert(labels=_labels("w2:9100"))]))
        is None
    )
    assert instance_addresses([Alert(labels=_labels("Not A Host:9100"))]) == []
    assert instance_addresses([Alert(labels=_labels("http://10.0.0.2:8080/health"))]) == []
    assert instance_addresses([Alert(labels=_labels("10.0.0.2:9100", node="w2"))]) == []
    twins = [_node("a", "10.0.0.9"), _node("b", "10.0.0.9")]
    assert node_at(twins, ["10.0.0.9"]) is None
    assert node_at([_node("w1", "10.0.0.1")], ["10.9.9.9"]) is None


def test_an_incidents_own_target_is_kept() -> None:
    alerts = [Alert(labels=_labels("10.0.0.2:9100"))]
    exporter = ObjectRef(kind="Pod", name="node-exporter-x1", namespace="monitoring")
    assert not own_target(exporter, alerts)  # what the alert's labels name
    assert not own_target(None, alerts)
    assert own_target(ObjectRef(kind="Deployment", name="api", namespace="shop"), alerts)


def _case(tmp_path: Path, instance: str) -> Path:
    case = {
        "id": "instance-node",
        "alert": {"labels": _labels(instance), "startsAgo": "5m"},
        "cluster": [
            _node("ip-10-1-1-1.internal", "10.1.1.1"),
            _node("ip-10-1-1-2.internal", "10.1.1.2"),
            _exporter_pod("ip-10-1-1-2.internal"),
        ],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def test_the_node_is_the_target_offline(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, "10.1.1.2:9100")).evidence.target
    assert target is not None
    assert (target.kind, target.name) == ("Node", "ip-10-1-1-2.internal")


def test_a_node_name_instance_is_the_target_offline(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, "ip-10-1-1-2.internal")).evidence.target
    assert target is not None
    assert (target.kind, target.name) == ("Node", "ip-10-1-1-2.internal")


def test_an_unknown_address_leaves_the_exporter_offline(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, "10.7.7.7:9100")).evidence.target
    assert target is not None
    assert target.kind == "Pod"


def test_the_collector_lists_nodes_for_it(tmp_path: Path) -> None:
    """The same incident in an emulated cluster with the real operator: the collector lists
    the Nodes, takes the one owning the address and notes no missing target."""
    case = load_case(_case(tmp_path, "10.1.1.2:9100") / "case.yaml")
    outcome = asyncio.run(replay_case(case, Settings()))
    assert outcome.diagnosis is not None
    assert "Node ip-10-1-1-2.internal" in outcome.diagnosis.summary
    assert "not found" not in str(outcome.status)
