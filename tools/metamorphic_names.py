"""The ``suffix-names`` transform (see ``tools/metamorphic.py``): every application namespace
and namespaced object name suffixed, everywhere it occurs as a whole name."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from tools.metamorphic_case import (
    SUFFIX,
    Case,
    kept_namespace,
    map_strings,
    meta_of,
    objects_of,
)
from tools.rename_cases import GENERIC_WORDS

CONTOUR_HASH = "da39a3ee5e"
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
# They are the YAML keys and software names rename_cases never renames (less "default",
# which names the default namespace, kept anyway), plus more software and domain words.
COMMON_WORDS = (GENERIC_WORDS - {"default"}) | frozenset(
    {
        "postgresql", "db", "database", "mongo", "mongodb", "envoy", "gateway", "auth",
        "search", "memcached", "rabbitmq", "zookeeper", "elasticsearch", "etcd", "vault",
        "consul", "minio", "grafana", "loki", "tempo", "jaeger", "prometheus",
        "alertmanager", "cassandra", "clickhouse", "nats", "storage", "cron", "batch",
        "admin", "metrics", "logs", "test", "prod", "staging", "dev", "www", "http", "https",
        "grpc", "tls", "ingress", "egress", "secret", "token", "user", "users", "order",
        "orders", "payment", "payments", "cart", "shop", "store", "email", "mail",
        # Kubernetes' own words in its messages ("failed calling webhook", "the controller
        # manager", "the scheduler"), which components are also named after.
        "webhook", "controller", "scheduler", "operator", "agent", "exporter",
    }
)  # fmt: skip
# The recommended label naming the application (the software: "the name of the application",
# e.g. its chart's name), as against app.kubernetes.io/instance ("a unique name identifying
# the instance"): renaming a team's instances leaves it as it is, in labels and selectors.
APP_NAME_LABEL = "app.kubernetes.io/name"
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
        # A port number or a container port's name (a Service's targetPort, a probe's port).
        "port",
        "targetPort",
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
# Container names stay: "Container app failed liveness probe", "containers with unready
# status: [app sidecar]".
_CONTAINER_BEFORE = re.compile(r"(?i)(?:container(?:s\{|\s+|=\"?|:\s*\"?)|status: \[[^\]]*)$")
# A registry host: the first path segment of an image reference when it has a dot or a port.
_REGISTRY_HOST = re.compile(r"^(?:localhost|[^/]*[.:][^/]*)$")
# A DNS name of two or more labels, the last alphabetic: not an address, not a bare name.
_OUTSIDE_HOST = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$")


# --- suffix-names ------------------------------------------------------------------------


def _referenced_names(obj: Mapping[str, Any]) -> list[str]:
    """Names an object refers to that may belong to objects the case does not hold: its
    owners, the prefix it was generated from, the object an Event is about."""
    meta = meta_of(obj)
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
    for obj in objects_of(case):
        meta = meta_of(obj)
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
    for obj in objects_of(case):
        meta = meta_of(obj)
        namespace, name = meta.get("namespace"), meta.get("name")
        kind = str(obj.get("kind") or "")
        if kind == "Namespace" and isinstance(name, str) and not kept_namespace(name):
            roots[name] = f"{name}-{suffix}"
            continue
        if not isinstance(namespace, str) or not isinstance(name, str):
            continue  # cluster-scoped: nodes, classes, cluster roles keep their names
        if not kept_namespace(namespace):
            roots[namespace] = f"{namespace}-{suffix}"
        if kept_namespace(namespace) or name in KEPT_NAMES:
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
    if isinstance(target.get("namespace"), str) and not kept_namespace(target["namespace"]):
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
    mapping.update(_gone_pods(case, mapping))
    return mapping


def _gone_pods(case: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, str]:
    """The pods a metric series names that are no longer objects of the case (an old
    revision's, scaled away): named ``<ReplicaSet>-<5 characters>`` after a ReplicaSet the
    case holds, they are renamed with it, as a cluster would have named them."""
    replica_sets = {
        str(meta_of(obj).get("name"))
        for obj in objects_of(case)
        if obj.get("kind") == "ReplicaSet" and meta_of(obj).get("name") in mapping
    }
    found: dict[str, str] = {}
    metrics = case.get("metrics")
    for series in (metrics.get("series") or []) if isinstance(metrics, dict) else []:
        text = series.get("series") if isinstance(series, dict) else None
        for pod in re.findall(r'\bpod="([^"]+)"', text if isinstance(text, str) else ""):
            owner, _, tail = pod.rpartition("-")
            if pod not in mapping and owner in replica_sets and re.fullmatch(r"[a-z0-9]{5}", tail):
                found[pod] = f"{mapping[owner]}-{tail}"
    return found


def _common(name: str) -> bool:
    return name in COMMON_WORDS or len(name) < 4


def image_repositories(case: Mapping[str, Any]) -> frozenset[str]:
    """The repositories of the images the case's objects run, as free text quotes them: the
    path after the registry host when it has a slash (``acme/ledger-api``, in a pull error,
    a registry's log or its ``/v2/<repository>/manifests`` path), else ``name:tag``; and the
    registry host itself when it is outside the cluster DNS (``nexus.corp.example``: a pull
    error quotes it, an Ingress serves it). Images keep their names under ``suffix-names``,
    so these stay wherever they occur."""
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "image" and isinstance(item, str):
                    found.update(_repository_forms(item))
                else:
                    visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(case.get("cluster"))
    return frozenset(found)


def _repository_forms(image: str) -> list[str]:
    reference = image.split("@", 1)[0]
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:  # no tag ("host:5000/app" has a port, not a tag)
        repository, tag = reference, ""
    parts = repository.split("/")
    hosts: list[str] = []
    if len(parts) > 1 and _REGISTRY_HOST.match(parts[0]):
        host = parts[0].partition(":")[0]
        if _OUTSIDE_HOST.match(host) and ".svc" not in f"{host}.":
            hosts.append(host)
        parts = parts[1:]
    path = "/".join(parts)
    if "/" in path:
        return [path, *hosts]
    return [f"{path}:{tag}", *hosts] if tag else hosts


def rename_text(text: str, mapping: Mapping[str, str], kept: frozenset[str] = frozenset()) -> str:
    """Every whole-name occurrence renamed in one pass, longest names first. A name is
    delimited by anything but letters, digits, ``_`` and ``-``; common words are renamed only
    as a whole value, as the first label of a DNS name or as a host before a port. The
    strings in ``kept`` (image repositories) are left as they are wherever they occur."""
    if not mapping or not text:
        return text
    if text in mapping:
        return mapping[text]
    if kept and any(k in text for k in kept):
        pattern = "|".join(re.escape(k) for k in sorted(kept, key=len, reverse=True))
        pieces = re.split(f"({pattern})", text)
        return "".join(
            piece if index % 2 else _rename_names(piece, mapping)
            for index, piece in enumerate(pieces)
        )
    return _rename_names(text, mapping)


def _rename_names(text: str, mapping: Mapping[str, str]) -> str:
    if not text:
        return text

    def renamed(m: re.Match[str]) -> str:
        # "Container app failed liveness probe": the kubelet names containers, which stay.
        before = m.string[max(0, m.start() - 48) : m.start()]
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
            if m.group(1) in SKIPPED_KEYS or m.group(1) == "label_app_kubernetes_io_name"
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
    kept = image_repositories(case)

    def rewrite(text: str, path: tuple[str, ...]) -> str:
        if path and path[-1] in SKIPPED_KEYS:
            return text
        if path and path[-1] in VOCABULARY_KEYS and _common(text):
            return text  # "type: kafka" is a KEDA trigger, whatever a namespace is called
        if path and path[-1] == "generateName":
            return rename_text(text.rstrip("-"), mapping, kept) + "-"
        if len(path) >= 3 and path[-1] == "name" and path[-3] == "env":
            return _rename_env_name(text, mapping)
        if len(path) >= 3 and path[-1] == "name" and path[-3] in LOCAL_NAME_LISTS:
            return text
        if len(path) >= 2 and path[-2] == "labels" and path[-1] == "pod-template-hash":
            return text
        if path and path[-1] == APP_NAME_LABEL:
            return text
        return rename_text(text, mapping, kept)

    out = copy.deepcopy(case)
    for key in ("alert", "cluster", "expect"):
        if key in out:
            out[key] = map_strings(out[key], rewrite)
    if isinstance(out.get("logs"), dict):
        out["logs"] = {
            _rename_log_key(k, mapping): rename_text(v, mapping, kept) if isinstance(v, str) else v
            for k, v in out["logs"].items()
        }
    metrics = out.get("metrics")
    if isinstance(metrics, dict):
        for series in metrics.get("series") or []:
            if isinstance(series, dict) and isinstance(series.get("series"), str):
                series["series"] = _rename_series(series["series"], mapping)
    return out
