"""NetworkPolicy flow analysis: when the workload's calls time out or its DNS lookups fail,
evaluate whether the policies of the namespaces involved allow those flows at all
(``kubetriage.networkpolicy``), and name the policy that blocks one.

Flows checked: DNS (UDP 53 to the cluster DNS in kube-system) when lookups fail, and each
dependency the workload's failing calls name (egress from its pods; ingress at the callee
when the callee's namespace policies are in the evidence). A blocked flow is a network
finding aimed at the blocking NetworkPolicy (fix-network); how a flow is judged and the
policy named is ``kubetriage.analyzers.policy_verdicts``'s.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.allow_policies import misaimed_allow
from kubetriage.analyzers.ambient_tunnel import HBONE_PORT, tunnelled
from kubetriage.analyzers.base import Analyzer
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG, addresses_in
from kubetriage.analyzers.policy_verdicts import (
    blocked,
    blocked_to_service,
    pod_endpoint,
    policy_finding,
)
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
    pod_source,
)
from kubetriage.dns_errors import DNS_LOG, resolver_addresses
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects
from kubetriage.models.vocabulary import Category
from kubetriage.networkpolicy import (
    Endpoint,
    Flow,
    cluster_dns,
)


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a network-policy finding is, by the flow the policies leave no rule for."""

    dns_blocked: float = 0.87  # lookups fail and no rule allows DNS to kube-system
    # Lookups fail at a link-local resolver the failing lines name (a node-local DNS cache,
    # a cloud metadata resolver: no pod holds it) and no rule admits UDP 53 to that address.
    resolver_blocked: float = 0.87
    dependency_blocked: float = 0.84  # calls fail and no rule allows the flow to a dependency
    # A scaler's ScaledObject is not Ready and no rule allows the flow from the pods running
    # it to the source its trigger names.
    scaler_blocked: float = 0.84
    # Calls time out dialing one pod's own address and no rule admits that exact flow (from
    # the pod that logged it, on the port it dialled): the flow itself is evaluated.
    address_blocked: float = 0.86
    # Lookups of a headless Service whose answer outgrows a UDP packet fail, and the policies
    # admit DNS to the cluster DNS over UDP but not over TCP, where the truncated answer is
    # asked again (``_truncated_dns_flows``).
    dns_tcp_blocked: float = 0.84


CONFIDENCE: Final = _Confidence()

# Calls that vanish into a dropped flow time out (they are not refused).
DROPPED_TIMEOUT = re.compile(r"(?i)(timed? ?out|timeout|deadline exceeded|ETIMEDOUT)")


def _sources(evidence: Evidence) -> list[Endpoint]:
    """The workload's pods as flow sources (distinct label sets, with their pods' IPs)."""
    seen: list[dict[str, str]] = []
    ips: dict[int, list[str]] = {}
    for pod in evidence.pods:
        if pod.labels and pod.labels not in seen:
            seen.append(pod.labels)
        if pod.labels:
            known = ips.setdefault(seen.index(pod.labels), [])
            known += [ip for ip in pod.ips if ip not in known]
    if not seen and evidence.workload is not None and evidence.workload.selector:
        seen.append(evidence.workload.selector)
    namespace = (
        evidence.pods[0].namespace
        if evidence.pods
        else (evidence.workload.ref.namespace if evidence.workload else None)
    )
    if namespace is None:
        return []
    labels = evidence.namespace_labels.get(namespace, {})
    return [
        Endpoint(
            namespace=namespace,
            labels=s,
            namespace_labels=labels,
            ips=tuple(ips.get(i, [])),
        )
        for i, s in enumerate(seen[:3])
    ]


def _behind_service(
    evidence: Evidence, address: str
) -> tuple[PodEvidence, ServiceEvidence | None] | None:
    """The pod holding ``address``, or else the first pod behind the Service whose virtual
    address it is (kube-proxy rewrites that address to one of them before any policy sees
    the packet), with that Service; None when no known pod stands behind it."""
    for pod in evidence.pods:
        if address in pod.ips:
            return pod, None
    for service in evidence.services:
        if service.cluster_ip != address or not service.selector:
            continue
        for pod in evidence.pods:
            if pod.namespace == service.namespace and service_selects(service.selector, pod.labels):
                return pod, service
    return None


def _address_flows(evidence: Evidence, failing: list[LogHit]) -> list[Finding]:
    """Timeouts dialling a pod's own address (consul, a headless Service) or a Service's
    virtual address (the pods behind it receive the flow), logged by any pod of the evidence,
    the workload's or a callee's: the flow from that pod to the pod holding (or behind) that
    address, on the port dialled (or the ports the Service lands on), is evaluated exactly."""
    by_name = {(pod.namespace, pod.name): pod for pod in evidence.pods}
    for hit in failing:
        if not DROPPED_TIMEOUT.search(hit.line):
            continue
        source = by_name.get((hit.log.namespace, hit.log.pod))
        if source is None:
            continue
        for address, port in addresses_in(hit.line):
            behind = _behind_service(evidence, address)
            if behind is None or behind[0] is source:
                continue
            destination, service = behind
            flow = Flow(
                source=pod_endpoint(evidence, source),
                destination=pod_endpoint(evidence, destination),
                port=port,
            )
            symptom = "The workload's calls fail the way dropped packets do"
            if service is None:
                verdict = blocked(evidence, flow)
                held = f"holds {address}, dialled on port {port} by pod {source.name}"
            else:
                symptom = f"Pod {source.name}'s calls to it fail the way dropped packets do"

                verdict = blocked_to_service(evidence, replace(flow, port=None), service)
                held = (
                    f"is behind Service {service.namespace}/{service.name} ({address}), "
                    f"dialled on port {port} by pod {source.name}"
                )
            if verdict is None:
                continue
            flow_fact = item(pod_source(destination), held)
            return [
                policy_finding(
                    evidence,
                    verdict,
                    f"the calls to port {port} that time out",
                    [item(hit.source, hit.line), flow_fact],
                    CONFIDENCE.address_blocked,
                    symptom=symptom,
                )
            ]
    return []


def _link_local(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_link_local
    except ValueError:
        return False


def _resolver_flows(
    evidence: Evidence, sources: list[Endpoint], dns_failures: list[LogHit]
) -> list[Finding]:
    """Lookups sent to a link-local resolver (NodeLocal DNSCache's 169.254.20.10, a cloud
    metadata resolver) reach no pod: a policy rule naming the cluster DNS pods or their
    namespace never admits them, only an ipBlock holding that address does. The address is
    the one the failing lines name, so the flow evaluated is the one that failed."""
    for hit in dns_failures:
        for address in resolver_addresses(hit.line):
            if not _link_local(address):
                continue
            resolver = Endpoint(namespace="", labels={}, ips=(address,), address_only=True)
            for source in sources:
                verdicts = [
                    blocked(evidence, Flow(source, resolver, port=53, protocol=protocol))
                    for protocol in ("UDP", "TCP")
                ]
                verdict = verdicts[0]
                if verdict is not None and all(verdicts):
                    return [
                        policy_finding(
                            evidence,
                            verdict,
                            "DNS (port 53) to the link-local resolver the pods query",
                            [item(hit.source, hit.line)],
                            CONFIDENCE.resolver_blocked,
                            symptom="The workload's lookups to that resolver time out",
                        )
                    ]
    return []


# A DNS answer over UDP is cut at 512 bytes (RFC 1035 4.2.1) unless EDNS0 raises that limit,
# and the resolver asks again over TCP (RFC 7766). A headless Service answers one A record of
# about 16 bytes per ready pod: past this many ready pods its answer no longer fits.
UDP_ANSWER_RECORDS = 28


def _truncated_dns_flows(
    evidence: Evidence, sources: list[Endpoint], dns_failures: list[LogHit]
) -> list[Finding]:
    """Lookups of a headless Service with more ready pods than a UDP answer holds fail, while
    the policies admit DNS to the cluster DNS over UDP but leave no rule for TCP port 53: the
    answer comes back truncated, the resolver's retry over TCP is dropped, and only the large
    names fail (small answers still fit in UDP)."""
    large = [
        d
        for d in evidence.dependencies
        if d.service is not None
        and d.service.headless
        and (d.ready_replicas or 0) > UDP_ANSWER_RECORDS
    ]
    dns = cluster_dns(evidence.namespace_labels.get("kube-system"))
    for hit in dns_failures:
        for dependency in large:
            assert dependency.service is not None
            if not re.search(rf"\b{re.escape(dependency.service.name)}\b", hit.line):
                continue
            for source in sources:
                udp = blocked(evidence, Flow(source, dns, port=53, protocol="UDP"))
                tcp = blocked(evidence, Flow(source, dns, port=53, protocol="TCP"))
                if udp is not None or tcp is None:
                    continue
                answer = item(
                    f"service/{dependency.service.namespace}/{dependency.service.name}",
                    f"headless: one A record per ready pod, "
                    f"{prose.count(dependency.ready_replicas or 0, 'ready pod')}",
                )
                return [
                    policy_finding(
                        evidence,
                        tcp,
                        "DNS over TCP (port 53 to kube-system), needed for answers too large "
                        "for UDP",
                        [item(hit.source, hit.line), answer],
                        CONFIDENCE.dns_tcp_blocked,
                        symptom="Lookups of the large headless Service fail; smaller ones resolve",
                    )
                ]
    return []


def check_policy_flows(evidence: Evidence) -> list[Finding]:
    if not evidence.network_policies:
        return []
    sources = _sources(evidence)
    findings: list[Finding] = []
    dns_failures = grep_logs(evidence.logs, DNS_LOG, limit=3)
    findings += _resolver_flows(evidence, sources, dns_failures)
    if not findings:
        findings += _truncated_dns_flows(evidence, sources, dns_failures)
    if dns_failures and not findings:
        for source in sources:
            dns = cluster_dns(evidence.namespace_labels.get("kube-system"))
            verdict = blocked(
                evidence, Flow(source=source, destination=dns, port=53, protocol="UDP")
            )
            if verdict is not None:
                fact = item(dns_failures[0].source, dns_failures[0].line)
                findings.append(
                    policy_finding(
                        evidence,
                        verdict,
                        "DNS (UDP 53 to kube-system)",
                        [fact],
                        CONFIDENCE.dns_blocked,
                    )
                )
                break
    failing = grep_logs(evidence.logs, DEPENDENCY_LOG, limit=20)
    if not failing:
        return findings
    findings += _address_flows(evidence, failing)
    for dependency in evidence.dependencies:
        service, ref = dependency.service, dependency.ref
        if service is not None and service.selector:
            destination = Endpoint(
                namespace=service.namespace,
                labels=service.selector,
                namespace_labels=evidence.namespace_labels.get(service.namespace, {}),
                service_ips=(service.cluster_ip,) if service.cluster_ip else (),
            )
        elif not dependency.followed and ref is not None and ref.namespace:
            # Not readable here: its pods' labels are unknown, so only a denial that no pod
            # of its namespace escapes counts.
            destination = Endpoint(
                namespace=ref.namespace,
                labels=None,
                namespace_labels=evidence.namespace_labels.get(ref.namespace, {}),
            )
        else:
            continue
        named_in_logs = any(s.kind == "log" for s in dependency.named_by)
        if not named_in_logs and not DROPPED_TIMEOUT.search(" ".join(h.line for h in failing)):
            continue
        for source in sources:
            flow = Flow(source=source, destination=destination)
            verdict = blocked_to_service(evidence, flow, service)
            if verdict is None:
                continue
            what = f"traffic to namespace {destination.namespace}" + (
                f" ({ref.name})" if ref is not None else ""
            )
            fact = item("dependency", f"{what} named by {dependency.named_by[0].text}")
            tunnel = [
                item(
                    "ambient mesh",
                    f"both ends in the Istio ambient mesh: the flow reaches port {HBONE_PORT}",
                )
                for _ in [tunnelled(flow)]
                if _ is not None
            ]
            findings.append(
                policy_finding(
                    evidence,
                    verdict,
                    what,
                    [fact, item(failing[0].source, failing[0].line), *tunnel],
                    CONFIDENCE.dependency_blocked,
                    misaimed=misaimed_allow(evidence, flow, service)
                    if verdict.direction == "ingress"
                    else None,
                    destination=destination,
                )
            )
            break
    return findings


POLICY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("network-policy", (Category.NETWORK,), check_policy_flows),
)
