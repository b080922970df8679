"""Small pure views over evidence used by more than one adapter."""

from __future__ import annotations

from urllib.parse import urlparse

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence


def dependency_hosts(evidence: Evidence) -> list[str]:
    """Hosts the workload depends on, as blackbox probes would name them: ExternalName
    targets and hosts of URLs in plain env values."""
    hosts: list[str] = []
    for service in evidence.services:
        if service.external_name:
            hosts.append(service.external_name)
    containers = [c for pod in evidence.pods for c in pod.containers]
    if evidence.workload:
        containers += evidence.workload.containers
    for container in containers:
        for value in container.env.values():
            if "://" in value:
                host = urlparse(value).hostname
                if host:
                    hosts.append(host)
    return sorted(set(hosts))[:10]


def callee_workloads(evidence: Evidence) -> list[ObjectRef]:
    """The workloads behind the Services the workload calls, as the evidence followed them."""
    found: list[ObjectRef] = []
    for dep in evidence.dependencies:
        if dep.workload is not None and dep.workload not in found:
            found.append(dep.workload)
    return found[:10]
