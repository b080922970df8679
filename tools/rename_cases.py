#!/usr/bin/env python3
"""Write a metamorphic copy of a case set: every application namespace and object name
replaced, consistently through the whole case (objects, logs, events, metric labels, the
alert), by a neutral token derived from it.

An SRE's diagnosis does not depend on what a team called its Deployment; ours should not
either. Replaying the copy next to the original (`kubetriage eval`) shows which diagnoses are
keyed on names: any case whose answer changes relies on a name rather than on Kubernetes
semantics. Names that carry meaning for everyone are kept: the cluster's own components and
namespaces (kube-system, cert-manager, istio-system, ingress-nginx...), generic words that
appear in YAML keys and images, and names with a dot (hosts, API groups, annotations). The
expected answer is renamed with the objects, so the copy is scored the same way.

Usage: rename_cases.py SOURCE_DIR DEST_DIR   (then: kubetriage eval DEST_DIR --llm none)
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

# Namespaces of the cluster's own components and widely used add-ons: their names are part
# of how an SRE recognises them, so they stay.
KEPT_NAMESPACES = re.compile(
    r"^(kube-|default$|cert-manager|istio|linkerd|ingress-nginx|monitoring|gatekeeper"
    r"|kyverno|keda|flux|argocd)"
)
KEPT_NAMES = frozenset(
    {
        "kube-dns",
        "coredns",
        "cert-manager",
        "metrics-server",
        "kube-proxy",
        "kube-root-ca.crt",
        "kubernetes",
        "ingress-nginx-controller",
        "prometheus-adapter",
        "istiod",
        "cluster-autoscaler",
    }
)
# Words that are also YAML keys, label values or image names: renaming them would rewrite
# the case's structure or its software, not its names.
GENERIC_WORDS = frozenset(
    {
        "data", "status", "spec", "metadata", "labels", "name", "namespace", "value",
        "items", "type", "kind", "events", "ready", "image", "ports", "port", "selector",
        "template", "containers", "config", "default", "app", "web", "api", "worker",
        "server", "client", "main", "redis", "cache", "mysql", "postgres", "kafka",
        "nginx", "frontend", "backend", "proxy", "queue", "jobs",
    }
)  # fmt: skip
# Kinds whose names derive from another object's (a pod from its ReplicaSet) or from the
# machine (nodes): renaming the owner renames their prefix already.
DERIVED_KINDS = frozenset(
    {
        "Event",
        "Node",
        "Namespace",
        "Pod",
        "ReplicaSet",
        "ControllerRevision",
        "EndpointSlice",
        "Job",
        "PersistentVolumeClaim",
        "CertificateRequest",
        "Order",
        "Challenge",
    }
)
MIN_NAME = 5  # shorter names are too likely to be ordinary words inside log lines


def token(name: str, prefix: str) -> str:
    """A DNS-label-valid neutral name, the same for the same input."""
    return prefix + hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:6]


def renames(case: Mapping[str, Any]) -> dict[str, str]:
    """Old name -> neutral token, for the case's application namespaces and objects."""
    found: dict[str, str] = {}
    for obj in case.get("cluster") or []:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace")
        if namespace and not KEPT_NAMESPACES.match(namespace):
            found[namespace] = token(namespace, "ns")
        name = meta.get("name")
        if not name or obj.get("kind", "") in DERIVED_KINDS or name in KEPT_NAMES:
            continue
        if namespace and KEPT_NAMESPACES.match(namespace):
            continue
        found[name] = token(name, "o")
    return {
        old: new
        for old, new in found.items()
        if len(old) >= MIN_NAME and old not in GENERIC_WORDS and "." not in old
    }


def rename_text(text: str, mapping: Mapping[str, str]) -> str:
    """Every whole-word occurrence renamed, longest names first (so a name containing another
    is renamed as itself)."""
    for old in sorted(mapping, key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])", mapping[old], text)
    return text


def rename_case_set(source: Path, dest: Path) -> list[Path]:
    """Write the renamed copy of each ``*/case.yaml`` under ``source`` into ``dest``."""
    written: list[Path] = []
    for case in sorted(source.glob("*/case.yaml")):
        text = case.read_text(encoding="utf-8")
        out = dest / case.parent.name / "case.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rename_text(text, renames(yaml.safe_load(text))), encoding="utf-8")
        written.append(out)
    return written


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    written = rename_case_set(Path(argv[0]), Path(argv[1]))
    print(f"{len(written)} cases renamed into {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
