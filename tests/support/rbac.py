"""A small RBAC authorizer over rendered manifests: which (verb, group, resource, subresource,
namespace, name) requests a ServiceAccount's Roles and ClusterRoles allow. Mirrors the
Kubernetes RBAC rule matching (apiGroups, resources incl. "res/sub", verbs, resourceNames,
"*" wildcards). Used by the chart unit tests and by the e2e RBAC test, which checks it against
the real authorizer's decisions in the apiserver's audit log; no cluster involved here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]

# What every authenticated client may GET through the default system:discovery and
# system:public-info-viewer ClusterRoles; the chart does not need to grant these.
DEFAULT_NON_RESOURCE = ("/api", "/api/*", "/apis", "/apis/*", "/version", "/version/", "/openapi/*")


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def resource_path(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class Grant:
    """One PolicyRule in force: cluster-wide (namespace None) or in one namespace."""

    rule: Manifest
    namespace: str | None
    role: str


def _matches(patterns: list[str], value: str) -> bool:
    return "*" in patterns or value in patterns


def _resource_matches(patterns: list[str], request: Request) -> bool:
    full = request.resource_path
    for pattern in patterns:
        if pattern in ("*", full):
            return True
        if request.subresource and pattern == f"*/{request.subresource}":
            return True
        if pattern == f"{request.resource}/*" and request.subresource:
            return True
    return False


def _path_matches(patterns: list[str], path: str) -> bool:
    return any(p == path or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns)


def rule_allows(rule: Manifest, request: Request) -> bool:
    verbs = list(rule.get("verbs") or [])
    if not _matches(verbs, request.verb):
        return False
    if not request.resource:
        return _path_matches(list(rule.get("nonResourceURLs") or []), request.path)
    if "nonResourceURLs" in rule:
        return False
    if not _matches(list(rule.get("apiGroups") or []), request.group):
        return False
    if not _resource_matches(list(rule.get("resources") or []), request):
        return False
    names = list(rule.get("resourceNames") or [])
    return not names or (bool(request.name) and request.name in names)


def grants_for(docs: list[Manifest], namespace: str, service_account: str) -> list[Grant]:
    """Every rule bound to ``namespace/service_account`` by the rendered bindings."""

    def subject_matches(binding: Manifest) -> bool:
        return any(
            s.get("kind") == "ServiceAccount"
            and s.get("name") == service_account
            and s.get("namespace", binding["metadata"].get("namespace")) == namespace
            for s in binding.get("subjects") or []
        )

    cluster_roles = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ClusterRole"}
    roles = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d
        for d in docs
        if d.get("kind") == "Role"
    }
    grants: list[Grant] = []
    for binding in docs:
        kind = binding.get("kind")
        if kind not in ("ClusterRoleBinding", "RoleBinding") or not subject_matches(binding):
            continue
        ref = binding["roleRef"]
        bound_ns = None if kind == "ClusterRoleBinding" else binding["metadata"]["namespace"]
        if ref["kind"] == "ClusterRole":
            role = cluster_roles.get(ref["name"])
        else:
            role = roles.get((binding["metadata"]["namespace"], ref["name"]))
        if role is None:
            raise AssertionError(f"{kind} {binding['metadata']['name']} binds a missing role")
        grants += [
            Grant(rule=r, namespace=bound_ns, role=f"{role['kind']}/{ref['name']}")
            for r in role.get("rules") or []
        ]
    return grants


def allowed(grants: list[Grant], request: Request) -> bool:
    if (
        not request.resource
        and request.verb == "get"
        and _path_matches(list(DEFAULT_NON_RESOURCE), request.path)
    ):
        return True
    for grant in grants:
        # A namespaced binding never reaches cluster-scoped or all-namespaces requests.
        if grant.namespace is not None and grant.namespace != request.namespace:
            continue
        if rule_allows(grant.rule, request):
            return True
    return False
