"""What the metamorphic transforms (``tools/metamorphic.py``) share: the parsed case, the
suffix they add, the cluster's own namespaces (which they leave alone), and walks over a
case's objects and strings."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Case = dict[str, Any]

SUFFIX = "q7"
# Namespaces of the cluster's own components and widely used add-ons: their names are how
# an SRE recognises them, so they stay.
KEPT_NAMESPACES = re.compile(
    r"^(kube-|default$|cert-manager|istio|linkerd|ingress-nginx|monitoring|gatekeeper"
    r"|kyverno|keda|flux|argocd|calico|tigera|cilium|karpenter|external-secrets|vault"
    r"|velero|openshift|gke-|gmp-|aks-|amazon-|aws-|azure-|prometheus|observability|logging"
    r"|knative|strimzi|crossplane|longhorn|rook|metallb|traefik|contour|projectcontour"
    r"|reloader|sealed-secrets|cnpg|elastic-system)"
)


def meta_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def objects_of(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [o for o in case.get("cluster") or [] if isinstance(o, dict)]


def map_strings(
    value: Any, rewrite: Callable[[str, tuple[str, ...]], str], path: tuple[str, ...] = ()
) -> Any:
    """``value`` with every string leaf rewritten by ``rewrite(text, path)``; keys stay."""
    if isinstance(value, str):
        return rewrite(value, path)
    if isinstance(value, list):
        return [map_strings(v, rewrite, (*path, "[]")) for v in value]
    if isinstance(value, dict):
        return {k: map_strings(v, rewrite, (*path, str(k))) for k, v in value.items()}
    return value


def kept_namespace(namespace: str) -> bool:
    return bool(KEPT_NAMESPACES.match(namespace))
