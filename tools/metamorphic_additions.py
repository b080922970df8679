"""The ``noise`` and ``endpointslices`` transforms (see ``tools/metamorphic.py``): objects
added that must not change the answer, a healthy unrelated workload or the EndpointSlices a
real control plane writes next to Endpoints."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tools.metamorphic_case import SUFFIX, Case, meta_of, objects_of

# --- noise ---------------------------------------------------------------------------------

NOISE_NS = "ledger-archive"
NOISE_APP = "statement-renderer"
NOISE_HASH = "5c8f7b9d4"
NOISE_PODS = ("x7k2p", "m4q9z")


def _noise_objects(node: str | None) -> list[dict[str, Any]]:
    labels = {"app": NOISE_APP, "pod-template-hash": NOISE_HASH}
    template: dict[str, Any] = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "containers": [
                {
                    "name": "renderer",
                    "image": "registry.example.com/ledger/statement-renderer:3.4.1",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "256Mi"},
                        "limits": {"memory": "512Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
                }
            ]
        },
    }
    dep_uid, rs_uid = "6f1c2a9e-0b1d-4c6e-9a51-2d7e3c4b5a61", "8d2e4f60-3a1b-4e7c-b2d9-5f6a7b8c9d02"
    rs_name = f"{NOISE_APP}-{NOISE_HASH}"
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NOISE_NS}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": NOISE_APP,
                "namespace": NOISE_NS,
                "uid": dep_uid,
                "generation": 4,
                "labels": {"app": NOISE_APP},
                "annotations": {"deployment.kubernetes.io/revision": "4"},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": NOISE_APP}},
                "template": copy.deepcopy(template),
            },
            "status": {
                "observedGeneration": 4,
                "replicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
                "updatedReplicas": 2,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": NOISE_NS,
                "uid": rs_uid,
                "labels": dict(labels),
                "annotations": {"deployment.kubernetes.io/revision": "4"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": NOISE_APP,
                        "uid": dep_uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": dict(labels)},
                "template": copy.deepcopy(template),
            },
            "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NOISE_APP, "namespace": NOISE_NS},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.201.17",
                "selector": {"app": NOISE_APP},
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
    ]
    addresses = []
    for i, suffix in enumerate(NOISE_PODS):
        pod = f"{rs_name}-{suffix}"
        ip = f"10.244.7.{21 + i}"
        spec = copy.deepcopy(template["spec"])
        if node:
            spec["nodeName"] = node
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod,
                    "namespace": NOISE_NS,
                    "uid": f"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4{i}",
                    "labels": dict(labels),
                    "creationTimestamp": "2026-11-18T08:12:00Z",
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": rs_name,
                            "uid": rs_uid,
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": spec,
                "status": {
                    "phase": "Running",
                    "podIP": ip,
                    "startTime": "2026-11-18T08:12:00Z",
                    "conditions": [
                        {"type": "Ready", "status": "True"},
                        {"type": "ContainersReady", "status": "True"},
                    ],
                    "containerStatuses": [
                        {
                            "name": "renderer",
                            "ready": True,
                            "started": True,
                            "restartCount": 0,
                            "image": "registry.example.com/ledger/statement-renderer:3.4.1",
                            "state": {"running": {"startedAt": "2026-11-18T08:12:09Z"}},
                        }
                    ],
                },
            }
        )
        addresses.append(
            {"ip": ip, "targetRef": {"kind": "Pod", "name": pod, "namespace": NOISE_NS}}
        )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": NOISE_APP, "namespace": NOISE_NS},
            "subsets": [{"addresses": addresses, "ports": [{"name": "http", "port": 8080}]}],
        }
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{NOISE_APP}.187a9c2f1b3d4e5f", "namespace": NOISE_NS},
            "involvedObject": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": NOISE_APP,
                "namespace": NOISE_NS,
            },
            "reason": "ScalingReplicaSet",
            "message": f"Scaled up replica set {rs_name} to 2",
            "type": "Normal",
            "count": 1,
            "firstTimestamp": "2026-11-18T08:12:00Z",
            "lastTimestamp": "2026-11-18T08:12:00Z",
            "source": {"component": "deployment-controller"},
        }
    )
    return objects


def noise(case: Case) -> Case:
    """A healthy unrelated workload, its events and series added in a namespace of its own."""
    out = copy.deepcopy(case)
    nodes = [meta_of(o).get("name") for o in objects_of(out) if o.get("kind") == "Node"]
    node = next((n for n in nodes if isinstance(n, str)), None)
    out["cluster"] = [*objects_of(out), *_noise_objects(node)]
    metrics = out.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("series"), list):
        samples = 121 if str(metrics.get("interval", "1m")) == "30s" else 61
        for i, suffix in enumerate(NOISE_PODS):
            pod = f"{NOISE_APP}-{NOISE_HASH}-{suffix}"
            labels = f'namespace="{NOISE_NS}",pod="{pod}",container="renderer"'
            metrics["series"] += [
                {
                    "series": f"container_memory_working_set_bytes{{{labels}}}",
                    "values": f"{210000000 + i * 4000000}+0x{samples - 1}",
                },
                {
                    "series": f"container_cpu_usage_seconds_total{{{labels}}}",
                    "values": f"{5000 + i * 300}+3x{samples - 1}",
                },
            ]
    return out


# --- endpointslices ------------------------------------------------------------------------


SERVICE_NAME = "kubernetes.io/service-name"


def _slice_for(endpoints: Mapping[str, Any]) -> dict[str, Any]:
    meta = meta_of(endpoints)
    name, namespace = str(meta.get("name", "")), meta.get("namespace")
    items: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = []
    for subset in endpoints.get("subsets") or []:
        if not isinstance(subset, dict):
            continue
        for port in subset.get("ports") or []:
            if isinstance(port, dict) and port not in ports:
                ports.append({k: v for k, v in port.items() if k in {"name", "port", "protocol"}})
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(key) or []:
                if not isinstance(address, dict):
                    continue
                item: dict[str, Any] = {
                    "addresses": [address.get("ip")],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                }
                if "targetRef" in address:
                    item["targetRef"] = address["targetRef"]
                if "nodeName" in address:
                    item["nodeName"] = address["nodeName"]
                items.append(item)
    metadata: dict[str, Any] = {
        "name": f"{name}-{SUFFIX}slc",
        "labels": {
            SERVICE_NAME: name,
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        },
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Service", "name": name, "controller": True}
        ],
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": "IPv4",
        "endpoints": items,
        "ports": ports,
    }


def endpointslices(case: Case) -> Case:
    """Each Endpoints object joined by the EndpointSlice the control plane writes for it."""
    out = copy.deepcopy(case)
    objects = objects_of(out)
    have = {
        (
            meta_of(o).get("namespace"),
            (meta_of(o).get("labels") or {}).get("kubernetes.io/service-name"),
        )
        for o in objects
        if o.get("kind") == "EndpointSlice"
    }
    added = [
        _slice_for(o)
        for o in objects
        if o.get("kind") == "Endpoints"
        and (meta_of(o).get("namespace"), meta_of(o).get("name")) not in have
    ]
    out["cluster"] = [*objects, *added]
    return out
