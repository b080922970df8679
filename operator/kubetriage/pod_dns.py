"""A pod's DNS settings, as its spec states them, and which resolver they give it. Pure.

The kubelet writes a pod's /etc/resolv.conf from four fields of its spec (Kubernetes docs,
"DNS for Services and Pods"): ``dnsPolicy`` (``ClusterFirst`` when unset: the cluster DNS
Service, with the namespace's search path and ``ndots:5``), ``hostNetwork``, and
``dnsConfig`` (extra nameservers, searches and options such as ``ndots``, merged in). A pod
on the host network with ``ClusterFirst`` silently falls back to ``Default``, the node's own
resolv.conf, which knows no cluster name: such a pod must say ``ClusterFirstWithHostNet``.
``None`` takes only what ``dnsConfig`` lists.

Read by the pod summaries (what the analyzers see of a pod) and by the rollout diff (a
release that changes these fields changes how every lookup of the pod is resolved).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

CLUSTER_FIRST: Final = "ClusterFirst"
WITH_HOST_NET: Final = "ClusterFirstWithHostNet"
NODE_RESOLVER: Final = "Default"


def dns_policy(spec: Mapping[str, Any]) -> str:
    """The pod's ``dnsPolicy`` as the API server defaults it (``ClusterFirst``)."""
    policy = spec.get("dnsPolicy")
    return policy if isinstance(policy, str) and policy else CLUSTER_FIRST


def effective_policy(policy: str | None, host_network: bool) -> str:
    """The policy the kubelet applies: ``ClusterFirst`` on the host network is ``Default``."""
    policy = policy or CLUSTER_FIRST
    return NODE_RESOLVER if host_network and policy == CLUSTER_FIRST else policy


def resolves_via_node(policy: str | None, host_network: bool) -> bool:
    """Whether the pod's lookups go to the node's resolver rather than the cluster DNS (it
    cannot resolve cluster Service names)."""
    return effective_policy(policy, host_network) == NODE_RESOLVER


def dns_settings(spec: Mapping[str, Any]) -> dict[str, str]:
    """The DNS-deciding fields of a pod spec as display values, by field name: a rollout
    that changes any of them changes how the pod resolves every name."""
    settings = {
        "hostNetwork": "true" if spec.get("hostNetwork") is True else "false",
        "dnsPolicy": dns_policy(spec),
    }
    config = spec.get("dnsConfig")
    if isinstance(config, Mapping):
        for field in ("nameservers", "searches"):
            values = config.get(field)
            if isinstance(values, list) and values:
                settings[f"dnsConfig.{field}"] = ",".join(str(v) for v in values)
        options = config.get("options")
        for option in options if isinstance(options, list) else []:
            if isinstance(option, Mapping) and isinstance(option.get("name"), str):
                value = option.get("value")
                settings[f"dnsConfig.options.{option['name']}"] = (
                    "set" if value is None else str(value)
                )
    return settings
