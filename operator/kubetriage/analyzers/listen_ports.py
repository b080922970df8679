"""Where a server says it listens, against where its probes are refused.

A server prints the address it listens on when it starts; the kubelet's probe events name the
port it dialled and was refused on. A failing pod whose server listens only on other ports
than that one, or on that port of the loopback address only (``127.0.0.1:3000``,
``localhost:5000``: reachable from inside the pod, while the kubelet dials the pod's IP), was
moved by what it runs (its image, args, env or configuration), not by its probe: the probe
still dials where the server used to listen. Used by the bad-rollout rule
(what the rollout changed moved the server), the probe rule (the probe is not the fault) and
change correlation (probe kills are then no cause of their own).

Pure functions of Evidence.
"""

from __future__ import annotations

import ipaddress
import re

from kubetriage.analyzers.pods import pod_events
from kubetriage.analyzers.support import grep_logs, item, log_source, logs_of
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import PodEvidence

# The port a server says it listens on, as servers print it when they start ("listening on
# :8080", "Server listening at http://0.0.0.0:3000", "Tomcat started on port(s): 8080",
# "Now listening on: http://[::]:5000", "serving on port 9000").
_LISTENING = re.compile(
    r"(?i)\b(?:listen(?:ing)?|serving|started (?:server )?on|bound to)\b[^\n]{0,60}?"
    r'(?:\bport(?:\(s\)|s)?"?\s*[:=]?\s*|:)(?P<port>\d{2,5})\b'
)
# The address in front of a port a server names ("http://127.0.0.1:3000", "localhost:5000",
# "[::1]:8080", "0.0.0.0:8080").
_BOUND = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{2,5})\b")
# A probe the kubelet could not connect to, with the port it dialled.
_PROBE_REFUSED = re.compile(
    r"(?i)probe failed:.*?:(?P<port>\d{2,5})\b.*\bconnect(?:ion)?:? (?:connection )?refused"
)


def loopback(host: str) -> bool:
    """Whether a host a server binds names the loopback interface only."""
    bare = host.strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def _hosts_on(lines: list[str], ports: set[int]) -> set[str | None]:
    """The hosts the listening lines name in front of any of ``ports`` (None: the line
    names the port with no host, ":8080", or on all addresses)."""
    hosts: set[str | None] = set()
    for line in lines:
        bound = [m for m in _BOUND.finditer(line) if int(m["port"]) in ports]
        hosts.update(m["host"] for m in bound)
        if not bound:
            hosts.add(None)
    return hosts


def serves_elsewhere(evidence: Evidence, pods: list[PodEvidence]) -> EvidenceItem | None:
    """A failing pod whose server says it listens on ports none of which is the port its
    probes are refused on, or on that port of the loopback address only."""
    for pod in pods:
        refused = {
            int(m["port"])
            for e in pod_events(evidence, pod)
            if (m := _PROBE_REFUSED.search(e.message))
        }
        if not refused:
            continue
        hits = grep_logs(logs_of(evidence, pod), _LISTENING, limit=5)
        listening = {int(hit.match["port"]) for hit in hits}
        if hits and not listening & refused:
            return item(
                log_source(hits[0].log),
                f"the server listens on port {', '.join(map(str, sorted(listening)))} while its "
                f"probes are refused on port {', '.join(map(str, sorted(refused)))}",
            )
        on_port = [hit.line for hit in hits if int(hit.match["port"]) in refused]
        hosts = _hosts_on(on_port, refused)
        if hosts and all(host is not None and loopback(host) for host in hosts):
            bound = ", ".join(sorted(h for h in hosts if h))
            return item(
                log_source(hits[0].log),
                f"the server listens on {bound} (inside the pod only) while its probes, which "
                f"dial the pod's IP, are refused on port {', '.join(map(str, sorted(refused)))}",
            )
    return None
