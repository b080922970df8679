"""Small pure views over evidence used by more than one adapter."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence

# At most this many hosts go into a probe query's regex.
MAX_DEPENDENCY_HOSTS = 16

# A Service's cluster DNS name: "name.namespace.svc" and whatever cluster domain follows.
CLUSTER_SERVICE_HOST = re.compile(
    r"^(?P<name>[a-z0-9]([a-z0-9-]*[a-z0-9])?)\.(?P<namespace>[a-z0-9]([a-z0-9-]*[a-z0-9])?)"
    r"\.svc(\.|$)"
)


def service_host_forms(host: str) -> list[str]:
    """The names a Service host also goes by: a caller writes the full
    ``name.ns.svc.cluster.local`` while a probe of the same Service may name it
    ``name.ns.svc`` or ``name.ns``. Other hosts have only their own name."""
    match = CLUSTER_SERVICE_HOST.match(host.lower().rstrip("."))
    if match is None:
        return [host]
    short = f"{match['name']}.{match['namespace']}"
    return list(dict.fromkeys([host, f"{short}.svc", short]))


def dependency_hosts(evidence: Evidence) -> list[str]:
    """Hosts the workload depends on, as blackbox probes would name them: ExternalName
    targets and hosts of URLs in plain env values (a Service's in every form of its name)."""
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
                    hosts.extend(service_host_forms(host))
    return sorted(set(hosts))[:MAX_DEPENDENCY_HOSTS]


def callee_workloads(evidence: Evidence) -> list[ObjectRef]:
    """The workloads behind the Services the workload calls, as the evidence followed them,
    and the clients a server closed as slow consumers, and the controllers reconciling the
    incident's custom resources: whose own throttling can be why the calls are slow, the
    clients cannot keep up or the resources are not reconciled; and the proxies and caches in
    front of its Services (``CallerEvidence.fronts``) and the proxies of the Gateways and
    waypoints its traffic crosses (``Evidence.gateway_proxies``), whose throttling stalls
    every request before it reaches the workload."""
    found: list[ObjectRef] = []
    for dep in evidence.dependencies:
        if dep.workload is not None and dep.workload not in found:
            found.append(dep.workload)
    for client in evidence.slow_consumers:
        if client.ref not in found:
            found.append(client.ref)
    for reconciler in evidence.reconcilers:
        if reconciler.role == "resource-controller" and reconciler.workload not in found:
            found.append(reconciler.workload)
    for caller in evidence.callers:
        if caller.fronts() and caller.ref not in found:
            found.append(caller.ref)
    for proxy in evidence.gateway_proxies:
        if proxy.workload is not None and proxy.workload not in found:
            found.append(proxy.workload)
    return found[:10]


def tenant_pods(evidence: Evidence) -> list[ObjectRef]:
    """The pods of the workloads on the incident's Node (``Evidence.node_tenants``): whose
    own series of the resource a node-level alert names say which of them uses it up."""
    return [
        ObjectRef(kind="Pod", namespace=tenant.ref.namespace, name=pod)
        for tenant in evidence.node_tenants
        for pod in tenant.pods
    ]


def volume_claims(evidence: Evidence) -> list[ObjectRef]:
    """The PersistentVolumeClaims the workload's pods and its callees' pods mount, and those
    of the caches in front of its Services: a callee that fails because its volume is full
    shows it only in its claim's volume stats, and so does a cache that can store nothing."""
    found: list[ObjectRef] = []
    claims: list[tuple[str | None, str]] = [
        (claim.namespace, claim.name)
        for claim in [
            *evidence.pvcs,
            *(v.claim for dep in evidence.dependencies for v in dep.volumes),
        ]
    ]
    claims += [(c.ref.namespace, name) for c in evidence.callers for name in c.claims]
    for namespace, name in claims:
        ref = ObjectRef(kind="PersistentVolumeClaim", namespace=namespace, name=name)
        if namespace and ref not in found:
            found.append(ref)
    return found[:10]
