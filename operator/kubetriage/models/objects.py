"""Reading raw Kubernetes objects (JSON as the API serves them): metadata, owner references
and label selectors; and dropping nulls from an object bound for a merge patch. One helper
per concept, shared by the evidence builder, the evidence collector, the analyzers, the
remediation planner and the status patches. Pure; tolerant of malformed input (a missing or
mistyped field reads as absent, never raises).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]

# The Deployment controller numbers each ReplicaSet it creates with this annotation.
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"
# ``kubectl rollout restart`` stamps this pod-template annotation with the time.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def as_dict(value: Any) -> JsonDict:
    """``value`` when an API object's field is a mapping, else empty."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when an API object's field is a list, else empty."""
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[JsonDict]:
    """The mappings of a list field (a malformed item is skipped)."""
    return [item for item in as_list(value) if isinstance(item, dict)]


def meta(obj: Mapping[str, Any]) -> JsonDict:
    """``metadata``, or an empty dict when it is missing or not an object."""
    return as_dict(obj.get("metadata"))


def name(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name"))


def namespace(obj: Mapping[str, Any]) -> str:
    """The namespace, "" for a cluster-scoped object."""
    value = meta(obj).get("namespace")
    return value if isinstance(value, str) else ""


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in as_dict(meta(obj).get("labels")).items() if isinstance(v, str)}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in as_dict(meta(obj).get("annotations")).items() if isinstance(v, str)}


# --- ownership ------------------------------------------------------------------------------


def controller_ref(obj: Mapping[str, Any], *, controller_only: bool = False) -> JsonDict | None:
    """The controlling ownerReference (or the first one when none is marked controller, unless
    ``controller_only``), as ``kubectl`` and the controllers read ownership."""
    refs = [r for r in meta(obj).get("ownerReferences") or [] if isinstance(r, dict)]
    for ref in refs:
        if ref.get("controller") is True:
            return ref
    return refs[0] if refs and not controller_only else None


def controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Whether ``owner`` controls ``obj``: its controller reference names the owner's kind and
    name, and its uid when both sides carry one (a same-named successor is someone else)."""
    ref = controller_ref(obj)
    if ref is None:
        return False
    if ref.get("kind") != owner.get("kind") or ref.get("name") != meta(owner).get("name"):
        return False
    uid, owner_uid = ref.get("uid"), meta(owner).get("uid")
    return not (uid and owner_uid and uid != owner_uid)


def pod_workload(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the workload controlling ``pod``: its DaemonSet or StatefulSet, or the
    Deployment behind its ReplicaSet (the ReplicaSet's name without the pod-template-hash, as
    the Deployment controller names it), found without reading the ReplicaSet."""
    owner = controller_ref(pod) or {}
    kind, name = owner.get("kind"), owner.get("name")
    if not isinstance(name, str):
        return None
    if kind in ("DaemonSet", "StatefulSet"):
        return str(kind), name
    template_hash = labels(pod).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return "Deployment", name[: -len(template_hash) - 1]
    return None


# --- label selectors ------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics: matchLabels and matchExpressions all hold.

    An empty selector matches everything (as a NetworkPolicy's ``podSelector: {}`` does).
    """
    for key, value in as_dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, dict):
            continue
        raw_key = expression.get("key")
        key = raw_key if isinstance(raw_key, str) else ""
        operator = expression.get("operator")
        values = [v for v in expression.get("values") or [] if isinstance(v, str)]
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Whether a pod's Ready condition is True (an endpoint of the Services selecting it)."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in dicts(as_dict(pod.get("status")).get("conditions"))
    )


def service_selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service's (equality-only) selector; a Service without one selects nothing (its
    Endpoints are managed by hand)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def endpoint_pods(endpoints: Mapping[str, Any]) -> list[str]:
    """The pods an Endpoints object's addresses (ready or not) name by ``targetRef``, each
    once: the backends of a Service without a selector, whose Endpoints another controller
    writes (Patroni's leader Service, an operator's primary Service)."""
    names: list[str] = []
    for subset in endpoints.get("subsets") or []:
        for key in ("addresses", "notReadyAddresses"):
            for address in as_dict(subset).get(key) or []:
                ref = as_dict(as_dict(address).get("targetRef"))
                if ref.get("kind") == "Pod" and isinstance(ref.get("name"), str):
                    names.append(ref["name"])
    return list(dict.fromkeys(names))


def ingress_backends(ingress: Mapping[str, Any]) -> list[str]:
    """The Services an Ingress sends traffic to (``spec.defaultBackend`` and every rule's
    paths, ``networking.k8s.io/v1``), each once, in the order the spec names them."""
    spec = as_dict(ingress.get("spec"))
    backends = [as_dict(spec.get("defaultBackend"))]
    for rule in spec.get("rules") or []:
        for path in as_dict(as_dict(rule).get("http")).get("paths") or []:
            backends.append(as_dict(as_dict(path).get("backend")))
    names = [as_dict(b.get("service")).get("name") for b in backends]
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))


def selector_query(selector: Mapping[str, Any]) -> str | None:
    """A LabelSelector as a ``labelSelector`` query string; None when it selects nothing."""
    parts = [f"{k}={v}" for k, v in sorted(as_dict(selector.get("matchLabels")).items())]
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, dict):
            continue
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(v for v in expression.get("values") or [] if isinstance(v, str))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or None


def without_nulls(value: Any) -> Any:
    """``value`` with every null field dropped, at any depth: in a JSON merge patch a null
    means "delete", so an object written whole must not carry any."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value
