"""Incident objects as a person or the receiver writes them (``kubectl apply``-able dicts),
and the pieces of a written status tests compare against, so a test states only its names,
its target and what it checks.
"""

from __future__ import annotations

from typing import Any

# The columns of ``kubectl get incidents`` (the CRD's printer columns), in order; ``-A`` adds
# NAMESPACE in front.
INCIDENT_COLUMNS = ("NAME", "PHASE", "SEVERITY", "CATEGORY", "CONFIDENCE", "TARGET", "AGE")


def incident(
    name: str,
    namespace: str,
    *,
    title: str | None = None,
    workload: str | None = None,
    kind: str = "Deployment",
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An Incident ``namespace/name`` about ``kind/workload`` in the same namespace (no
    target without ``workload``, no title without ``title``: a test of what the API server
    refuses); ``spec`` adds fields (``severity``, ``alerts``...) and ``status`` a status as
    the operator would have written it."""
    if title is not None:
        spec = {"title": title, **spec}
    if workload is not None:
        spec["target"] = {"kind": kind, "namespace": namespace, "name": workload}
    body: dict[str, Any] = {
        "apiVersion": "kubetriage.io/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return body


def checkout_restarting(**fields: Any) -> dict[str, Any]:
    """The Incident shop/checkout-oom, "checkout restarting", about Deployment
    shop/checkout; ``fields`` as for ``incident``."""
    return incident(
        "checkout-oom", "shop", title="checkout restarting", workload="checkout", **fields
    )


def raise_memory(namespace: str = "shop", workload: str = "checkout") -> dict[str, Any]:
    """The status's ``increase-memory`` remediation of ``Deployment namespace/workload``
    (to 1Gi), as the operator writes it."""
    return {
        "id": "r1",
        "action": "increase-memory",
        "title": f"Raise the memory limit of Deployment/{namespace}/{workload}",
        "target": {"kind": "Deployment", "namespace": namespace, "name": workload},
        "command": f"kubectl -n {namespace} set resources deployment/{workload} "
        "--limits=memory=1Gi",
        "risk": "low",
    }


def slack_memory_policy(namespace: str) -> str:
    """A RemediationPolicy (YAML) that lets Slack user ``U0APPROVER`` approve raising memory
    in ``namespace``."""
    return f"""
apiVersion: kubetriage.io/v1alpha1
kind: RemediationPolicy
rules:
  - actions: [increase-memory]
    namespaces: [{namespace}]
slackApprovers: [U0APPROVER]
"""
