"""The Istio ambient mesh as NetworkPolicies see it: between two pods enrolled in the
ambient data plane, ztunnel carries the traffic in an HBONE tunnel to port 15008 of the
destination pod and only then to the application's port inside it, so a policy enforced
on the host sees port 15008, not the port the client dialled (Istio docs, 'Ambient and
Kubernetes NetworkPolicy'). A policy written before the namespace joined the mesh, which
admits the application's port only, then drops every call between enrolled pods.

A pod is enrolled by the label ``istio.io/dataplane-mode: ambient`` on itself or on its
namespace; its own label with another value (``none``) opts it out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from kubetriage.networkpolicy import Endpoint, Flow

DATAPLANE_MODE: Final = "istio.io/dataplane-mode"
HBONE_PORT: Final = 15008


def enrolled(endpoint: Endpoint) -> bool:
    """Whether the pod (its labels, else its namespace's) is in the ambient data plane."""
    own = (endpoint.labels or {}).get(DATAPLANE_MODE)
    if own is not None:
        return own == "ambient"
    return endpoint.namespace_labels.get(DATAPLANE_MODE) == "ambient"


def tunnelled(flow: Flow) -> Flow | None:
    """The flow as the policies see it when both ends are enrolled: to the destination pod's
    HBONE port; None when either end is outside the ambient mesh."""
    if flow.source.address_only or flow.destination.address_only:
        return None
    if enrolled(flow.source) and enrolled(flow.destination):
        return replace(flow, port=HBONE_PORT, port_name=None)
    return None
