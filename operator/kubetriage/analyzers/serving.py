"""Which containers of a pod are in its request path. A Service selecting the pod sends to
the container that declares the port each Service port targets; a service mesh proxy
intercepts that traffic; and a container that declares no port may still be a hop the served
one calls over localhost (PHP-FPM behind nginx, an app behind an auth proxy). Only a
well-known auxiliary agent (a log shipper, a metrics exporter, a config or secret reloader)
is known to be outside it: starved of CPU, it slows no request.

Called by the CPU-throttling rule; pure functions of an ``Evidence``.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage.models.evidence import Evidence
from kubetriage.models.images import repository_name
from kubetriage.models.object_evidence import ContainerEvidence, PodEvidence
from kubetriage.models.objects import service_selects

# Agents that run beside an application and take no part in its requests: log shippers,
# Prometheus exporters, config and secret reloaders, repository syncers. Matched against the
# container's name and its image's repository name.
AUXILIARY_AGENT: Final = re.compile(
    r"^(fluent-?bit|fluentd|promtail|filebeat|logrotate|vector-agent|"
    r"[a-z0-9-]+-exporter|(configmap|config|prometheus-config)-reloader?|configmap-reload|"
    r"vault-agent|git-sync)$"
)


def auxiliary_agent(container: ContainerEvidence) -> bool:
    """Whether ``container`` is a well-known agent outside any request path."""
    return any(
        AUXILIARY_AGENT.match(name) is not None
        for name in (container.name, repository_name(container.image))
    )


def served_containers(evidence: Evidence, pod: PodEvidence) -> set[str]:
    """The names of ``pod``'s containers that declare a port some Service selecting the pod
    targets; empty when no Service selects it or none of its targets is declared."""
    served: set[str] = set()
    for svc in evidence.services:
        if svc.namespace != pod.namespace or not service_selects(svc.selector, pod.labels):
            continue
        for port in svc.ports:
            target = port.target if port.target is not None else port.port
            if target is None:
                continue
            served |= {
                c.name
                for c in pod.containers
                if not c.init and any(p.answers(target) for p in c.ports)
            }
    return served


def off_request_path(evidence: Evidence, pod: PodEvidence, container: ContainerEvidence) -> bool:
    """Whether ``container`` is known to be outside the pod's request path: a well-known
    auxiliary agent beside another container that receives the Services' traffic."""
    served = served_containers(evidence, pod)
    return bool(served) and container.name not in served and auxiliary_agent(container)
