"""Where the pod network takes its MTU, when transfers stall mid-response: an overlay (VXLAN,
IP-in-IP, Geneve, WireGuard) wraps each pod packet in a header of its own, so the pod
network's MTU must sit below the nodes' interface MTU by that much. Set equal (a CNI
migration that copied the host MTU, a value written for another network), small packets
pass and every full-size one between pods on different nodes is dropped on the wire: the
connection opens, a short answer arrives, and a large response stalls until the client gives
up. The server sees its client abort mid-write; a proxy times out reading the body.

An SRE who sees those stalls checks the overlay's MTU against the nodes' and, when it does
not leave the overhead, the CNI agent's setting: the DaemonSet's env var named for the MTU
(Calico's ``CNI_MTU``/``FELIX_VXLANMTU`` from ``calico-config``'s ``veth_mtu``, flannel's,
Cilium's), a ConfigMap key or a literal value.

Pure; the collector (``kubetriage.evidence.agent_walk``) lists the DaemonSets of every
namespace only when the incident's own lines say a transfer stalled mid-response
(``transfer_stalled``), and ``build_evidence`` summarises them with the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.logs import scope_says
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import OverlayMtuEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# A response that began and then stalled, as each side words it: Tomcat's client that went
# away while the body was written, nginx timing out reading a body whose headers came, a Go
# client whose TLS handshake (the certificate flight: the first full-size packets) never
# completed.
STALLED_TRANSFER: Final = re.compile(
    r"(?i)(ClientAbortException|upstream timed out \(110: [^)]*\) while reading upstream"
    r"|net/http: TLS handshake timeout)"
)
# An env var that sets an MTU: CNI_MTU, FELIX_VXLANMTU, FELIX_IPINIPMTU, MTU.
_MTU_ENV: Final = re.compile(r"(?i)(^|_)[A-Z]*MTU$")
MAX_SETTINGS: Final = 6


def transfer_stalled(logs: Iterable[LogTail]) -> bool:
    """Whether the incident's own lines (``scope`` tails) say a response stalled mid-transfer."""
    return scope_says(logs, STALLED_TRANSFER)


def _settings(daemonset: JsonDict) -> list[OverlayMtuEvidence]:
    ref = ObjectRef(kind="DaemonSet", namespace=_ns(daemonset), name=_name(daemonset))
    spec = _d(_d(_d(daemonset.get("spec")).get("template")).get("spec"))
    found: list[OverlayMtuEvidence] = []
    for container in [*_dicts(spec.get("initContainers")), *_dicts(spec.get("containers"))]:
        for env in _dicts(container.get("env")):
            name = env.get("name")
            if not isinstance(name, str) or not _MTU_ENV.search(name):
                continue
            source = _d(_d(env.get("valueFrom")).get("configMapKeyRef"))
            value = env.get("value")
            if source.get("name") and source.get("key"):
                setting = OverlayMtuEvidence(
                    ref=ref, env=name, config_map=str(source["name"]), key=str(source["key"])
                )
            elif isinstance(value, str) and value:
                setting = OverlayMtuEvidence(ref=ref, env=name, value=value)
            else:
                continue
            if setting not in found:
                found.append(setting)
    return found


def overlay_mtu_settings(index: ObjectIndex, logs: Iterable[LogTail]) -> list[OverlayMtuEvidence]:
    """The MTU settings of the DaemonSets of ``index``, at most ``MAX_SETTINGS``; none unless
    the incident's own lines say a transfer stalled mid-response (``transfer_stalled``)."""
    if not transfer_stalled(logs):
        return []
    found = [s for daemonset in index.kind("DaemonSet") for s in _settings(daemonset)]
    return found[:MAX_SETTINGS]
