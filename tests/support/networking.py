"""Networking evidence for analyzer tests: Service ports, ClusterIP and ExternalName
Services, NetworkPolicies.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import (
    ServiceEvidence,
    ServicePort,
)


def service_port(
    port: int,
    target: int | str | None = None,
    name: str | None = None,
    *,
    node_port: int | None = None,
    protocol: str = "TCP",
) -> ServicePort:
    """A Service port sending to ``target`` (a number or a container port's name)."""
    return ServicePort(
        port=port,
        target=None if target is None else str(target),
        protocol=protocol,
        name=name,
        node_port=node_port,
    )


def service(
    name: str,
    namespace: str = "shop",
    *,
    selector: dict[str, str] | None = None,
    ready: int | None = None,
    matching: int | None = None,
    **fields: Any,
) -> ServiceEvidence:
    """A ClusterIP Service selecting ``app=<name>`` (or ``selector``) with ``ready`` ready
    endpoints and ``matching`` pods matching its selector (None: not collected)."""
    return ServiceEvidence(
        name=name,
        namespace=namespace,
        selector={"app": name} if selector is None else selector,
        ready_endpoints=ready,
        matching_pods=matching,
        **fields,
    )


def external_service(
    name: str, host: str, namespace: str = "shop", **fields: Any
) -> ServiceEvidence:
    """An ExternalName Service: ``name`` in the cluster stands for ``host`` outside it."""
    return ServiceEvidence(
        name=name, namespace=namespace, type="ExternalName", external_name=host, **fields
    )


def network_policy(
    name: str,
    *rules: str,
    namespace: str = "shop",
    ingress_rules: int | None = None,
    selects_target: bool = True,
    policy_types: tuple[str, ...] = ("Ingress",),
    **fields: Any,
) -> NetworkPolicyEvidence:
    """A NetworkPolicy with its compact ``rules``; ``ingress_rules`` counts the rules that
    allow something (default: the rules other than ``ingress: deny all``)."""
    if ingress_rules is None:
        ingress_rules = sum(1 for rule in rules if rule != "ingress: deny all")
    return NetworkPolicyEvidence(
        name=name,
        namespace=namespace,
        policy_types=list(policy_types),
        ingress_rules=ingress_rules,
        selects_target=selects_target,
        rules=list(rules),
        **fields,
    )
