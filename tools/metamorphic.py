#!/usr/bin/env python3
"""Write a metamorphic copy of a case set: one named, semantics-preserving transform applied
to every case, so replaying the copy next to the original shows which diagnoses depend on
how a case happens to be written rather than on what it means.

An SRE's conclusion does not change when a team suffixes its names, labels its pods with the
recommended ``app.kubernetes.io/name`` key instead of ``app``, when ``kubectl`` lists objects in
another order, when an unrelated healthy workload runs next door, or when the control plane
also writes EndpointSlices. Any case whose answer changes under a transform is a brittleness
defect in the analyzers (or in the transform: check it first).

Transforms (each a pure function over the parsed case dict; the expected answer is rewritten
with the objects, so the copy is scored the same way):

- ``identity``: parse and dump only (the control: must change nothing).
- ``suffix-names``: every application namespace and namespaced object name gets a suffix,
  everywhere it occurs as a whole name (metadata, selectors, references, label values, DNS
  names, metric and alert labels, logs and their keys, the expected target). Derived names
  keep their shape (``checkout-q7-<hash>-<id>``). Images, label keys, container and port
  names, cluster-scoped objects and the cluster's own namespaces stay.
- ``labels-recommended``: the label keys ``app`` and ``app.kubernetes.io/name`` swapped in
  every label map and selector (and kube-state-metrics' ``label_app`` series labels).
- ``shuffle``: cluster objects in a seeded random order; each pod template's containers,
  every ``ports`` list and each env list without ``$(VAR)`` references reversed.
- ``noise``: a healthy unrelated Deployment, its ReplicaSet, Pods, Service, Endpoints,
  routine events and memory/CPU series added in a namespace of their own.
- ``endpointslices``: for each Endpoints object, the EndpointSlice the control plane writes
  next to it (the collector reads Endpoints; a real cluster holds both).

Not provided: rewriting core/v1 Events as events.k8s.io/v1. The collector lists core/v1
Events, which the API server always serves (it converts events written through either API),
so the form an Event was written in never reaches the product.

Usage: metamorphic.py TRANSFORM SOURCE_DIR DEST_DIR
       (then: kubetriage eval DEST_DIR --llm none --json > COPY.json)
       metamorphic.py compare SOURCE.json COPY.json   (the cases whose answer changed)
"""

from __future__ import annotations

import copy
import json
import random
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

Case = dict[str, Any]

SUFFIX = "q7"
CONTOUR_HASH = "da39a3ee5e"
SEED = 20261120
# Namespaces of the cluster's own components and widely used add-ons: their names are how
# an SRE recognises them, so they stay.
KEPT_NAMESPACES = re.compile(
    r"^(kube-|default$|cert-manager|istio|linkerd|ingress-nginx|monitoring|gatekeeper"
    r"|kyverno|keda|flux|argocd|calico|tigera|cilium|karpenter|external-secrets|vault"
    r"|velero|openshift|gke-|gmp-|aks-|amazon-|aws-|azure-|prometheus|observability|logging"
    r"|knative|strimzi|crossplane|longhorn|rook|metallb|traefik|contour|projectcontour"
    r"|reloader|sealed-secrets|cnpg|elastic-system)"
)
KEPT_NAMES = frozenset(
    {"kubernetes", "default", "kube-root-ca.crt", "kube-dns", "coredns", "metrics-server"}
)
# Kinds whose names derive from another object's (a pod from its ReplicaSet, an Event from
# its object): they are renamed through their owner's prefix, which keeps their shape.
DERIVED_KINDS = frozenset(
    {
        "Event",
        "Pod",
        "ReplicaSet",
        "ControllerRevision",
        "EndpointSlice",
        "Job",
        "PersistentVolumeClaim",
        "CertificateRequest",
        "Order",
        "Challenge",
        "Lease",
    }
)
# Words too common in ordinary text to be renamed wherever they occur: objects so named are
# renamed where a value is exactly the name, a DNS name or a host:port, never inside prose.
COMMON_WORDS = frozenset(
    {
        "data", "status", "spec", "metadata", "labels", "name", "namespace", "value",
        "items", "type", "kind", "events", "ready", "image", "ports", "port", "selector",
        "template", "containers", "config", "app", "web", "api", "worker", "server",
        "client", "main", "redis", "cache", "mysql", "postgres", "postgresql", "kafka",
        "nginx", "frontend", "backend", "proxy", "queue", "jobs", "db", "database", "mongo",
        "mongodb", "envoy", "gateway", "auth", "search", "memcached", "rabbitmq", "zookeeper",
        "elasticsearch", "etcd", "vault", "consul", "minio", "grafana", "loki", "tempo",
        "jaeger", "prometheus", "alertmanager", "cassandra", "clickhouse", "nats", "storage",
        "cron", "batch", "admin", "metrics", "logs", "test", "prod", "staging", "dev", "www",
        "http", "https", "grpc", "tls", "ingress", "egress", "secret", "token", "user", "users",
        "order", "orders", "payment", "payments", "cart", "shop", "store", "email", "mail",
    }
)  # fmt: skip
# Keys whose string values are never object names (software, API shapes, container names).
SKIPPED_KEYS = frozenset(
    {
        "image",
        "imageID",
        "apiVersion",
        "kind",
        "container",
        "containerName",
        "containerID",
        "fieldPath",
    }
)
# Keys whose values come from an API's vocabulary: a common word there is not a name.
VOCABULARY_KEYS = frozenset(
    {"type", "protocol", "scheme", "reason", "component", "operator", "effect", "mode", "phase"}
)
# Lists whose items' ``name`` is local to their object, not a reference to another object.
LOCAL_NAME_LISTS = frozenset(
    {
        "containers",
        "initContainers",
        "ephemeralContainers",
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
        "ports",
        "volumes",
        "volumeMounts",
        "volumeDevices",
        "env",
        "volumeClaimTemplates",
        "conditions",
    }
)
NAME_CHARS = "A-Za-z0-9_-"
_CONTAINER_BEFORE = re.compile(r"(?i)container(?:s\{|\s+|=\"?|:\s*\"?)$")


# --- shared helpers --------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _objects(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [o for o in case.get("cluster") or [] if isinstance(o, dict)]


def _map_strings(
    value: Any, rewrite: Callable[[str, tuple[str, ...]], str], path: tuple[str, ...] = ()
) -> Any:
    """``value`` with every string leaf rewritten by ``rewrite(text, path)``; keys stay."""
    if isinstance(value, str):
        return rewrite(value, path)
    if isinstance(value, list):
        return [_map_strings(v, rewrite, (*path, "[]")) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, rewrite, (*path, str(k))) for k, v in value.items()}
    return value


# --- suffix-names ------------------------------------------------------------------------


def _kept_namespace(namespace: str) -> bool:
    return bool(KEPT_NAMESPACES.match(namespace))


def _referenced_names(obj: Mapping[str, Any]) -> list[str]:
    """Names an object refers to that may belong to objects the case does not hold: its
    owners, the prefix it was generated from, the object an Event is about."""
    meta = _meta(obj)
    found = [ref.get("name") for ref in meta.get("ownerReferences") or [] if isinstance(ref, dict)]
    found.append(str(meta.get("generateName") or "").rstrip("-"))
    for key in ("involvedObject", "regarding"):
        ref = obj.get(key)
        if isinstance(ref, dict):
            found.append(ref.get("name"))
    return [n for n in found if isinstance(n, str) and n]


def _derive(name: str, roots: Mapping[str, str]) -> str | None:
    """A derived name renamed through the longest root it starts with (``checkout-7d9f``)
    or, for a claim of a replicated pod, the root it holds before an ordinal
    (``data-minio-0``)."""
    for root in sorted(roots, key=len, reverse=True):
        if name.startswith(root + "-") or name.startswith(root + "."):
            return roots[root] + name[len(root) :]
    for root in sorted(roots, key=len, reverse=True):
        match = re.fullmatch(rf"(.+-){re.escape(root)}(-\d+)", name)
        if match:
            return match.group(1) + roots[root] + match.group(2)
    return None


def _proxy_cluster_names(case: Mapping[str, Any], roots: Mapping[str, str]) -> dict[str, str]:
    """The names proxies build from a Service's namespace, name and port, which they print
    in logs, metrics and alerts: Contour's ``ns_svc_port``, Traefik's ``ns-svc-port``."""
    found: dict[str, str] = {}
    for obj in _objects(case):
        meta = _meta(obj)
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if obj.get("kind") != "Service" or name not in roots:
            continue
        new_namespace = roots.get(namespace, namespace)
        for port in (obj.get("spec") or {}).get("ports") or []:
            for value in (port.get("name"), port.get("port")):
                if value is None:
                    continue
                for sep in ("_", "-"):
                    old = sep.join((namespace, name, str(value)))
                    found[old] = sep.join((new_namespace, roots[name], str(value)))
                # Contour appends a hash of the upstream's options (of none, most often).
                found[f"{namespace}_{name}_{value}_{CONTOUR_HASH}"] = (
                    f"{new_namespace}_{roots[name]}_{value}_{CONTOUR_HASH}"
                )
    return found


def name_mapping(case: Mapping[str, Any], suffix: str = SUFFIX) -> dict[str, str]:
    """Old name -> suffixed name, for the case's application namespaces, its namespaced
    objects, and (through the longest renamed prefix) the names derived from them."""
    roots: dict[str, str] = {}
    derived: list[str] = []
    claims: list[str] = []
    for obj in _objects(case):
        meta = _meta(obj)
        namespace, name = meta.get("namespace"), meta.get("name")
        kind = str(obj.get("kind") or "")
        if kind == "Namespace" and isinstance(name, str) and not _kept_namespace(name):
            roots[name] = f"{name}-{suffix}"
            continue
        if not isinstance(namespace, str) or not isinstance(name, str):
            continue  # cluster-scoped: nodes, classes, cluster roles keep their names
        if not _kept_namespace(namespace):
            roots[namespace] = f"{namespace}-{suffix}"
        if _kept_namespace(namespace) or name in KEPT_NAMES:
            continue
        derived.extend(_referenced_names(obj))
        owned = bool(meta.get("ownerReferences"))
        claim = kind == "PersistentVolumeClaim" and bool(re.search(r"-\d+$", name))
        if kind in DERIVED_KINDS and (owned or kind == "Event" or claim):
            derived.append(name)
            if claim and not owned:
                claims.append(name)
        else:
            roots[name] = f"{name}-{suffix}"
    target = (case.get("expect") or {}).get("target") or {}
    if isinstance(target.get("namespace"), str) and not _kept_namespace(target["namespace"]):
        roots.setdefault(target["namespace"], f"{target['namespace']}-{suffix}")
    # A name built on another's ("events-entity-operator" on the Kafka cluster "events", a
    # Helm release's objects on the release) keeps that shape: the prefix is renamed.
    shortest_first = sorted(roots, key=len)
    for name in sorted(roots, key=len, reverse=True):
        base = next((r for r in shortest_first if r != name and name.startswith(r + "-")), None)
        if base is not None:
            roots[name] = roots[base] + name[len(base) :]
    mapping = dict(roots)
    mapping.update(_proxy_cluster_names(case, roots))
    for name in derived:
        if name not in roots:
            new = _derive(name, roots)
            if new is not None:
                mapping[name] = new
            elif name in claims:
                mapping[name] = f"{name}-{suffix}"  # a claim of no replicated workload
    return mapping


def _common(name: str) -> bool:
    return name in COMMON_WORDS or len(name) < 4


def rename_text(text: str, mapping: Mapping[str, str]) -> str:
    """Every whole-name occurrence renamed in one pass, longest names first. A name is
    delimited by anything but letters, digits, ``_`` and ``-``; common words are renamed only
    as a whole value, as the first label of a DNS name or as a host before a port."""
    if not mapping or not text:
        return text
    if text in mapping:
        return mapping[text]

    def renamed(m: re.Match[str]) -> str:
        # "Container app failed liveness probe": the kubelet names containers, which stay.
        before = m.string[max(0, m.start() - 16) : m.start()]
        if _CONTAINER_BEFORE.search(before):
            return m.group(0)
        return mapping[m.group(0)]

    strong = sorted((n for n in mapping if not _common(n)), key=len, reverse=True)
    weak = sorted((n for n in mapping if _common(n)), key=len, reverse=True)
    out = text
    if strong:
        pattern = "|".join(re.escape(n) for n in strong)
        out = re.sub(
            # A generated name's prefix ("cart-7d9f-") ends in a dash.
            rf"(?<![{NAME_CHARS}])(?:{pattern})(?![A-Za-z0-9_]|-[{NAME_CHARS}])",
            renamed,
            out,
        )
    if weak:
        pattern = "|".join(re.escape(n) for n in weak)
        # As a host: "redis.shop...", "redis:6379", "//redis/", or "svc.shop" (namespace).
        out = re.sub(
            rf"(?<![{NAME_CHARS}])({pattern})(?=\.[a-z]|:\d|/)"
            rf"|(?<==)({pattern})(?![.{NAME_CHARS}])"
            rf"|(?<=[a-z0-9]\.)({pattern})(?=[.:/\"'\s,]|$)",
            renamed,
            out,
        )
    return out


def _rename_series(series: str, mapping: Mapping[str, str]) -> str:
    return re.sub(
        r'(\w+)="((?:[^"\\]|\\.)*)"',
        lambda m: (
            m.group(0)
            if m.group(1) in SKIPPED_KEYS
            else f'{m.group(1)}="{rename_text(m.group(2), mapping)}"'
        ),
        series,
    )


def _rename_log_key(key: str, mapping: Mapping[str, str]) -> str:
    parts = key.split("/")
    if len(parts) != 3:
        return rename_text(key, mapping)
    namespace, pod, container = parts
    return f"{mapping.get(namespace, namespace)}/{mapping.get(pod, pod)}/{container}"


def _rename_env_name(name: str, mapping: Mapping[str, str]) -> str:
    """Env var names are local, except those a controller derives from an object's name:
    Stakater Reloader's ``STAKATER_<NAME>_CONFIGMAP`` / ``_SECRET``."""
    match = re.fullmatch(r"STAKATER_(\w+)_(CONFIGMAP|SECRET)", name)
    if not match:
        return name
    for old, new in mapping.items():
        if old.upper().replace("-", "_").replace(".", "_") == match.group(1):
            return f"STAKATER_{new.upper().replace('-', '_').replace('.', '_')}_{match.group(2)}"
    return name


def suffix_names(case: Case, suffix: str = SUFFIX) -> Case:
    """Every application namespace and object name suffixed consistently (see module doc)."""
    mapping = name_mapping(case, suffix)

    def rewrite(text: str, path: tuple[str, ...]) -> str:
        if path and path[-1] in SKIPPED_KEYS:
            return text
        if path and path[-1] in VOCABULARY_KEYS and _common(text):
            return text  # "type: kafka" is a KEDA trigger, whatever a namespace is called
        if path and path[-1] == "generateName":
            return rename_text(text.rstrip("-"), mapping) + "-"
        if len(path) >= 3 and path[-1] == "name" and path[-3] == "env":
            return _rename_env_name(text, mapping)
        if len(path) >= 3 and path[-1] == "name" and path[-3] in LOCAL_NAME_LISTS:
            return text
        if len(path) >= 2 and path[-2] == "labels" and path[-1] == "pod-template-hash":
            return text
        return rename_text(text, mapping)

    out = copy.deepcopy(case)
    for key in ("alert", "cluster", "expect"):
        if key in out:
            out[key] = _map_strings(out[key], rewrite)
    if isinstance(out.get("logs"), dict):
        out["logs"] = {
            _rename_log_key(k, mapping): rename_text(v, mapping) if isinstance(v, str) else v
            for k, v in out["logs"].items()
        }
    metrics = out.get("metrics")
    if isinstance(metrics, dict):
        for series in metrics.get("series") or []:
            if isinstance(series, dict) and isinstance(series.get("series"), str):
                series["series"] = _rename_series(series["series"], mapping)
    return out


# --- labels-recommended --------------------------------------------------------------------

APP_KEYS = {"app": "app.kubernetes.io/name", "app.kubernetes.io/name": "app"}
# Dicts holding label maps: objects' labels, selectors (matchLabels, a Service's selector).
LABEL_MAP_KEYS = frozenset({"labels", "matchLabels"})


def _swap_keys(labels: Mapping[str, Any], vendor: frozenset[str]) -> dict[str, Any]:
    return {(k if v in vendor else APP_KEYS.get(k, k)): v for k, v in labels.items()}


def _vendor_values(case: Mapping[str, Any]) -> frozenset[str]:
    """The ``app`` label values of the cluster's own components (objects in its kept
    namespaces): their charts set those labels, not the team whose convention is varied."""
    return frozenset(
        str(v)
        for o in _objects(case)
        if _kept_namespace(str(_meta(o).get("namespace") or _meta(o).get("name") or ""))
        for k, v in (_meta(o).get("labels") or {}).items()
        if k in APP_KEYS
    )


def _swap_labels(
    value: Any, vendor: frozenset[str], parent: str = "", grandparent: str = ""
) -> Any:
    if isinstance(value, list):
        return [_swap_labels(v, vendor, parent, grandparent) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if (
            isinstance(item, dict)
            and all(isinstance(v, str) for v in item.values())
            and (
                key in LABEL_MAP_KEYS
                # A Service's spec.selector is a plain label map; others are LabelSelectors.
                or (key == "selector" and parent == "spec" and "matchLabels" not in item)
            )
        ):
            item = _swap_keys(item, vendor)
        values = value.get("values") or []
        if key == "key" and parent == "matchExpressions" and isinstance(item, str):
            item = item if vendor.intersection(map(str, values)) else APP_KEYS.get(item, item)
        out[key] = _swap_labels(item, vendor, key, parent)
    return out


def _swap_selector_text(text: str) -> str:
    """``app=x`` <-> ``app.kubernetes.io/name=x`` in a label selector string."""
    return re.sub(
        r"(?<![\w./-])(app\.kubernetes\.io/name|app)(?=\s*(?:=|!=|\s+in\s|\s+notin\s))",
        lambda m: APP_KEYS[m.group(1)],
        text,
    )


def labels_recommended(case: Case) -> Case:
    """The ``app`` and ``app.kubernetes.io/name`` label keys swapped everywhere."""
    out = copy.deepcopy(case)
    vendor = _vendor_values(case)
    cluster = []
    for obj in _objects(out):
        namespace = str(_meta(obj).get("namespace") or "")
        if _kept_namespace(namespace) or (
            obj.get("kind") == "Namespace" and _kept_namespace(str(_meta(obj).get("name")))
        ):
            cluster.append(obj)
            continue
        swapped = _swap_labels(obj, vendor)
        # Label selectors written as text: an HPA's metric selector, a Job's logs hint...
        cluster.append(
            _map_strings(
                swapped,
                lambda t, p: _swap_selector_text(t) if p and p[-1] == "selector" else t,
            )
        )
    out["cluster"] = cluster
    metrics = out.get("metrics")
    if isinstance(metrics, dict):
        for series in metrics.get("series") or []:
            if isinstance(series, dict) and isinstance(series.get("series"), str):
                series["series"] = re.sub(
                    r"\blabel_app(_kubernetes_io_name)?=",
                    lambda m: "label_app=" if m.group(1) else "label_app_kubernetes_io_name=",
                    series["series"],
                )
    return out


# --- shuffle -------------------------------------------------------------------------------


def _reverse_lists(value: Any, key: str = "") -> Any:
    if isinstance(value, list):
        items = [_reverse_lists(v) for v in value]
        if key in {"containers", "ports"}:
            items.reverse()
        if key == "env" and not any("$(" in str(v.get("value", "")) for v in items):
            items.reverse()
        return items
    if isinstance(value, dict):
        return {k: _reverse_lists(v, str(k)) for k, v in value.items()}
    return value


def shuffle(case: Case, seed: int = SEED) -> Case:
    """Objects in a seeded random order; containers, ports and env lists reversed."""
    out = copy.deepcopy(case)
    cluster = [_reverse_lists(o) for o in _objects(out)]
    random.Random(f"{seed}:{case.get('id', '')}").shuffle(cluster)
    out["cluster"] = cluster
    return out


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
    nodes = [_meta(o).get("name") for o in _objects(out) if o.get("kind") == "Node"]
    node = next((n for n in nodes if isinstance(n, str)), None)
    out["cluster"] = [*_objects(out), *_noise_objects(node)]
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
    meta = _meta(endpoints)
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
    objects = _objects(out)
    have = {
        (
            _meta(o).get("namespace"),
            (_meta(o).get("labels") or {}).get("kubernetes.io/service-name"),
        )
        for o in objects
        if o.get("kind") == "EndpointSlice"
    }
    added = [
        _slice_for(o)
        for o in objects
        if o.get("kind") == "Endpoints"
        and (_meta(o).get("namespace"), _meta(o).get("name")) not in have
    ]
    out["cluster"] = [*objects, *added]
    return out


# --- the tool ------------------------------------------------------------------------------


def identity(case: Case) -> Case:
    return copy.deepcopy(case)


TRANSFORMS: dict[str, Callable[[Case], Case]] = {
    "identity": identity,
    "suffix-names": suffix_names,
    "labels-recommended": labels_recommended,
    "shuffle": shuffle,
    "noise": noise,
    "endpointslices": endpointslices,
}


def transform_case_set(name: str, source: Path, dest: Path) -> list[Path]:
    """Write the transformed copy of each ``*/case.yaml`` under ``source`` into ``dest``."""
    transform = TRANSFORMS[name]
    written: list[Path] = []
    for case_file in sorted(source.glob("*/case.yaml")):
        case = yaml.safe_load(case_file.read_text(encoding="utf-8"))
        out = dest / case_file.parent.name / "case.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(transform(case), sort_keys=False, allow_unicode=True, width=4096)
        out.write_text(text, encoding="utf-8")
        written.append(out)
    return written


def _answer(result: Mapping[str, Any]) -> tuple[Any, ...]:
    """A replayed case's answer with the suffix taken off names, so a suffixed copy's answer
    compares equal to the original's."""
    target = result.get("target") or {}
    unsuffixed = {k: re.sub(rf"-{SUFFIX}(?=-|$)", "", str(v)) for k, v in target.items()}
    return (
        result.get("category"),
        result.get("action"),
        tuple(sorted(unsuffixed.items())),
        result.get("correct"),
    )


def changed_cases(base: Mapping[str, Any], copy_run: Mapping[str, Any]) -> list[str]:
    """Ids of the cases whose answer differs between two ``eval --json`` outputs."""
    before = {c["id"]: _answer(c) for c in base.get("cases") or []}
    return sorted(
        c["id"]
        for c in copy_run.get("cases") or []
        if c["id"] in before and _answer(c) != before[c["id"]]
    )


def names(transforms: Iterable[str] = TRANSFORMS) -> str:
    return ", ".join(transforms)


def main(argv: Sequence[str]) -> int:
    if len(argv) == 3 and argv[0] == "compare":
        runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in argv[1:]]
        changed = changed_cases(runs[0], runs[1])
        by_id = {c["id"]: c for c in runs[1]["cases"]}
        for case_id in changed:
            after = by_id[case_id]
            print(case_id, after["correct"], after["category"], after["action"], after["target"])
        print(f"{len(changed)} of {len(runs[1]['cases'])} answers changed")
        return 0
    if len(argv) != 3 or argv[0] not in TRANSFORMS:
        print(__doc__, file=sys.stderr)
        print(f"transforms: {names()}", file=sys.stderr)
        return 2
    written = transform_case_set(argv[0], Path(argv[1]), Path(argv[2]))
    print(f"{len(written)} cases written into {argv[2]} ({argv[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
