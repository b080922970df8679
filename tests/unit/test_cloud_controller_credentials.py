"""Checks the refused cloud controller rule: Pending pods the scheduler keeps off Ready nodes
that still carry the cloud provider's uninitialized taint lead the walk to the cloud
controller manager (a workload tolerating that taint by key and taking the cloud-provider
framework's ``--cloud-provider`` flag), with the credentials Secret its cloud config names;
when its tails say the cloud refuses its login, the fix is that Secret (config-missing), above
the unschedulable finding that would add nodes. Near misses: the controller's tails say
something else (a timeout), the scheduler does not name the taint (the nodes are full), a
workload tolerating the taint without the flag (a network operator) is no cloud controller,
and no credentials Secret is known.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, the analyzer
registry, the reader's ConfigMap stripping, and the live walk's ``cloud_controllers`` over a
scripted reader.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.cloud_controllers import (
    UNINITIALIZED_TAINT,
    cloud_controller_hosts,
    config_map_credentials,
    credentials_secret,
    waiting_nodes,
)
from kubetriage.evidence.cluster_lookups import cloud_controllers
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.reader import strip_config_map
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads, by_category
from tests.support.listing import ListingReader

APP = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
SECRET = ObjectRef(kind="Secret", namespace="kube-system", name="cloud-creds")
CCM = "cloud-controller-manager"
WAITING = (
    "0/5 nodes are available: 2 Insufficient cpu, 2 node(s) had untolerated taint "
    "{node.cloudprovider.kubernetes.io/uninitialized: true}, 1 node(s) had untolerated taint "
    "{node-role.kubernetes.io/control-plane: true}."
)
FULL = "0/5 nodes are available: 4 Insufficient cpu, 1 node(s) had untolerated taint {x: y}."
REFUSED = (
    "E1120 09:36:41.390215 1 connection.go:65] Failed to create govmomi client. err: "
    "ServerFaultCode: Cannot complete login due to an incorrect user name or password."
)
TIMEOUT = (
    "E1120 09:36:41.390215 1 connection.go:65] Failed to create govmomi client. err: "
    "Post https://vcenter.example/sdk: dial tcp 10.0.0.5:443: i/o timeout"
)
CLOUD_CONFIG = (
    "global:\n  secretName: cloud-creds\n  secretNamespace: kube-system\n  port: 443\n"
    "vcenter:\n  vc01:\n    server: vc01\n    datacenters: [DC1]\n"
)


def _node(name: str, *, tainted: bool) -> dict[str, Any]:
    taints = [{"key": UNINITIALIZED_TAINT, "value": "true", "effect": "NoSchedule"}]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"taints": taints if tainted else []},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def _pending(message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "checkout-6f9d-x1",
            "namespace": "shop",
            "labels": {"app": "checkout"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "checkout-6f9d",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "shop/checkout:1"}]},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                }
            ],
        },
    }


def _controller(*, flag: bool = True, config: str | None = "cloud-config") -> dict[str, Any]:
    args = ["--cloud-provider=vsphere", "--v=2"] if flag else ["--v=2"]
    template: dict[str, Any] = {
        "tolerations": [{"key": UNINITIALIZED_TAINT, "value": "true", "effect": "NoSchedule"}],
        "containers": [{"name": CCM, "image": "cloud-provider-vsphere:1.31", "args": args}],
    }
    if config is not None:
        template["volumes"] = [{"name": "config", "configMap": {"name": config}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": CCM, "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"component": CCM}},
            "template": {"metadata": {"labels": {"component": CCM}}, "spec": template},
        },
    }


def _controller_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{CCM}-x8r2p",
            "namespace": "kube-system",
            "labels": {"component": CCM},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": CCM, "controller": True}
            ],
        },
        "spec": {"nodeName": "cp-1", "containers": [{"name": CCM, "image": "x"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _config_map(text: str = CLOUD_CONFIG) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cloud-config", "namespace": "kube-system"},
        "data": {"vsphere.yaml": text},
    }


def _replica_set() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "checkout-6f9d",
            "namespace": "shop",
            "labels": {"app": "checkout"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "checkout",
                    "controller": True,
                }
            ],
        },
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "checkout"}}},
    }


def _objects(message: str = WAITING, controller: dict[str, Any] | None = None) -> list[Any]:
    return [
        deployment_manifest("checkout", "shop", ("app", "shop/checkout:1"), replicas=3),
        _replica_set(),
        _pending(message),
        _node("worker-1", tainted=False),
        _node("worker-3", tainted=True),
        _node("worker-4", tainted=True),
        controller or _controller(),
        _controller_pod(),
        _config_map(),
    ]


def _evidence(line: str, message: str = WAITING, controller: dict[str, Any] | None = None) -> Any:
    tail = tail_from_text(
        "kube-system", f"{CCM}-x8r2p", CCM, line, limits=EvidenceLimits(), source="dependency"
    )
    return built(_objects(message, controller), APP, logs=[tail])


def test_a_refused_cloud_login_points_at_the_secret_its_cloud_config_names() -> None:
    result = analyze(_evidence(REFUSED))
    finding = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET)
    assert finding.analyzer == "cloud-controller-credentials"
    assert "2 Ready nodes" in finding.summary
    assert by_category(result, Category.UNSCHEDULABLE), "the pending pods are still reported"


def test_a_controller_that_times_out_is_not_a_credentials_problem() -> None:
    result = analyze(_evidence(TIMEOUT))
    assert result.findings[0].category == Category.UNSCHEDULABLE
    assert not [f for f in result.findings if f.analyzer == "cloud-controller-credentials"]


def test_full_nodes_lead_nowhere_near_the_cloud_controller() -> None:
    evidence = _evidence(REFUSED, message=FULL)
    assert not [d for d in evidence.dependencies if d.routed("cloud-controller")]
    assert not [f for f in analyze(evidence).findings if f.category == Category.CONFIG_MISSING]


def test_no_known_credentials_keeps_the_rule_silent() -> None:
    evidence = _evidence(REFUSED, controller=_controller(config=None))
    routes = [r for d in evidence.dependencies for r in d.routed("cloud-controller")]
    assert routes
    assert routes[0].credentials is None
    assert not [f for f in analyze(evidence).findings if f.category == Category.CONFIG_MISSING]


def test_a_workload_tolerating_the_taint_without_the_cloud_provider_flag_is_not_followed() -> None:
    objects = {"Node": [_node("worker-3", tainted=True)], "DaemonSet": [_controller(flag=False)]}
    hosts = cloud_controller_hosts([_pending(WAITING)], lambda kind: objects.get(kind, []))
    assert hosts == []
    assert waiting_nodes([_pending(WAITING)], objects["Node"], []) == ["worker-3"]
    assert waiting_nodes([_pending(FULL)], objects["Node"], []) == []


def test_the_credentials_secret_from_ini_config_env_or_the_stripped_config_map() -> None:
    ini = _config_map('[Global]\nsecret-name = "vc-creds"\nsecret-namespace = "infra"\n')
    found = credentials_secret(_controller(), lambda ns, n: ini)
    assert found == ObjectRef(kind="Secret", namespace="infra", name="vc-creds")
    # The collector keeps only the names a cloud config gives, and reads them the same.
    assert config_map_credentials(strip_config_map(_config_map())) == config_map_credentials(
        _config_map()
    )
    # No cloud config naming one: the one Secret the template reads (a token in env).
    env = _controller(config=None)
    container = env["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "HCLOUD_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hcloud", "key": "t"}}}
    ]
    assert credentials_secret(env, lambda ns, n: None) == ObjectRef(
        kind="Secret", namespace="kube-system", name="hcloud"
    )


def _walked(message: str) -> list[Any]:
    run = CollectionRun(asyncio.Semaphore(1))
    pods = [_pending(message)]
    for obj in (*pods, _node("worker-3", tainted=True)):
        run.add(obj)
    reader = ListingReader([_controller(), _controller(flag=False), _config_map()])
    hosts = asyncio.run(cloud_controllers(reader, run, pods, Scope.unrestricted()))  # type: ignore[arg-type]
    return [(h.kind, h.name, h.route.credentials if h.route else None) for h in hosts]


def test_the_live_walk_lists_controllers_only_when_nodes_wait_on_one() -> None:
    assert _walked(WAITING) == [("DaemonSet", CCM, SECRET)]
    assert _walked(FULL) == []
