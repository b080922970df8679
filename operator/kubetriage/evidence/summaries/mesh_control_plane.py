"""What a service mesh's control plane owes an incident: the certificates and configuration
of the sidecars that say they cannot get them. Pure.

Istio's sidecar agent gets its workload certificate from istiod, the mesh's CA, and Envoy
gets its configuration from istiod over xDS. A certificate lives 24 hours by default and is
renewed by the agent well before it expires, so a control plane that is gone for hours
shows first in the sidecars' own words: the agent's "ca request failed" and "failed to warm
certificate", Envoy's "config stream to xds-grpc closed". Then mutual TLS fails between
workloads once their certificates expire, and new pods never become ready. An SRE who reads
those lines asks *who should have signed the certificate* and reads the control plane's
state (``kubetriage.evidence.summaries.reconcilers``). So does one who sees a workload in the
mesh (its pods run the sidecar) fail: the control plane's health is the first thing checked,
and a control plane that is down weighs less without the sidecars' words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# A sidecar's words for a control plane it cannot reach for its certificate or config.
CONTROL_PLANE_UNREACHABLE: Final = re.compile(
    r"(?i)failed to warm certificate|\bca request failed|config stream to xds-grpc closed"
)

SIDECAR: Final = "istio-proxy"  # the container Istio injects into every meshed pod
MESHED: Final = f"runs the mesh's sidecar {SIDECAR}"


def meshed(pod: JsonDict) -> bool:
    """Whether ``pod`` runs Istio's sidecar (a container, or a native sidecar init container)."""
    spec = as_dict(pod.get("spec"))
    containers = dicts(spec.get("containers")) + dicts(spec.get("initContainers"))
    return any(c.get("name") == SIDECAR for c in containers)


def owed_by_mesh(pods: Iterable[JsonDict], tails: Iterable[LogTail]) -> list[tuple[JsonDict, str]]:
    """The pods waiting on the mesh's control plane: those whose sidecar says it cannot reach
    it (``cut_off_pods``), else those that run the sidecar at all (with ``MESHED``)."""
    pod_list = list(pods)
    return cut_off_pods(pod_list, tails) or [(p, MESHED) for p in pod_list if meshed(p)]


def cut_off_pods(pods: Iterable[JsonDict], tails: Iterable[LogTail]) -> list[tuple[JsonDict, str]]:
    """The pods among ``pods`` a log tail of which says the mesh's control plane cannot be
    reached, each with the last line saying so (a certificate line over a config line)."""
    by_name = {(_ns(p), _name(p)): p for p in pods}
    found: dict[tuple[str, str], tuple[JsonDict, str]] = {}
    for tail in tails:
        pod = by_name.get((tail.namespace, tail.pod))
        said = [line for line in tail.lines if CONTROL_PLANE_UNREACHABLE.search(line)]
        if pod is None or not said:
            continue
        line = next((s for s in reversed(said) if "certificate" in s.lower()), said[-1])
        key = (tail.namespace, tail.pod)
        if key not in found or "certificate" in line.lower():
            found[key] = (pod, line)
    return list(found.values())
