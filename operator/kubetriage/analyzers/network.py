"""The network rule: traffic inside the cluster that is routed nowhere or blocked. A Service
whose selector matches no pod (near-miss labels named), whose targetPort the pods do not
expose, or that refuses connections although its endpoints are ready; a Service the
workload fails to call that has nothing behind it. (A NetworkPolicy that denies the
workload's traffic while its connections time out: ``kubetriage.analyzers.policy_denials``.)

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import (
    caller,
    dependency_hits,
    own_services,
    refusing_services,
    service_fact,
)
from kubetriage.analyzers.log_signatures import (
    addresses_in,
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.support import (
    item,
    service_source,
    workload_ref,
)
from kubetriage.dns_errors import DNS_LOG
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects as _selects
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a network finding is, by the evidence that earns it."""

    alerting_selects_nothing: float = 0.85  # the alerting Service matches no pod, none to compare
    near_miss: float = 0.9  # the workload's Service matches no pod; a label nearly matches
    selects_nothing: float = 0.8  # ... and no label nearly matches
    wrong_port: float = 0.7  # its targetPort is not a port its ready pods declare
    # ... a named one: the endpoints controller cannot resolve it, so no endpoint is listed
    # although the pods are ready (the empty endpoints confirm it).
    unresolved_named_port: float = 0.85
    unbacked: float = 0.8  # a Service the workload fails to call matches no pod
    refused_remapped: float = 0.8  # ready endpoints refuse; the Service sends to another port
    refused: float = 0.6  # ready endpoints refuse the calls


CONFIDENCE: Final = _Confidence()
# How alike a selector value and a pod's label value must be (difflib ratio) to be one
# value misspelt.
SIMILAR_LABEL = 0.6


def labels_alike(value: str, other: str) -> bool:
    """Whether two label values are one value misspelt: alike by ``SIMILAR_LABEL``, and not
    one the other with whole words added ("valkey-cart" is another app than "cart", however
    long the suffix both names share)."""
    if value == other:
        return True
    words, other_words = value.split("-"), other.split("-")
    shorter, longer = sorted((words, other_words), key=len)
    if len(shorter) < len(longer) and any(
        longer[i : i + len(shorter)] == shorter for i in range(len(longer) - len(shorter) + 1)
    ):
        return False
    return SequenceMatcher(None, other, value).ratio() >= SIMILAR_LABEL


def _selector_mismatch(svc: ServiceEvidence, pods: list[PodEvidence]) -> list[str]:
    """Selector entries no pod carries, with the near-miss value a pod has instead."""
    misses: list[str] = []
    for key, value in svc.selector.items():
        values = {p.labels.get(key) for p in pods} - {None}
        if value in values:
            continue
        close = [v for v in values if v and labels_alike(value, v)]
        if close:
            misses.append(f"{key}={value} but pods have {key}={sorted(close)[0]}")
        elif values:
            misses.append(f"{key}={value} but pods have {key}={sorted(v for v in values if v)[0]}")
        else:
            misses.append(f"{key}={value} but no pod has label {key}")
    return misses


def _related(svc: ServiceEvidence, evidence: Evidence, pods: list[PodEvidence]) -> bool:
    workload = workload_ref(evidence)
    if workload is not None and (svc.name == workload.name or workload.name in svc.name):
        return True
    if evidence.target is not None and evidence.target.kind == "Service":
        return evidence.target.name == svc.name
    shared = 0
    for key, value in svc.selector.items():
        for pod in pods:
            other = pod.labels.get(key)
            if other is not None and labels_alike(value, other):
                shared += 1
                break
    return shared > 0 and shared == len(svc.selector)


def _target_ports(svc: ServiceEvidence) -> list[str]:
    return [p.target for p in svc.ports if p.target is not None]


def check_network(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    ready_pods = [
        p
        for p in evidence.pods
        if p.phase == "Running" and all(c.ready for c in p.containers if not c.init)
    ]
    for svc in evidence.services:
        if svc.type == "ExternalName" or not svc.selector or svc.scaled_to_zero is not None:
            continue  # (a workload scaled to zero is the capacity rule's case)
        ref = svc.ref()
        same_ns = [p for p in evidence.pods if p.namespace == svc.namespace]
        no_pods = svc.matching_pods == 0 or (
            svc.matching_pods is None and not any(_selects(svc.selector, p.labels) for p in same_ns)
        )
        is_target = (
            evidence.target is not None
            and evidence.target.kind == "Service"
            and evidence.target.name == svc.name
            and evidence.target.namespace in (None, svc.namespace)
        )
        if is_target and svc.matching_pods == 0 and not same_ns:
            # The alerting Service itself routes nowhere; no pod evidence to compare with.
            fact = service_fact(svc)
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.alerting_selects_nothing,
                    prose.narrative(
                        f"{prose.obj(ref)} selects no pods",
                        "correct its selector",
                        aside=f"selector {prose.selector(svc.selector)}",
                        because=[
                            prose.claim(
                                f"The selector {prose.selector(svc.selector)} of "
                                f"{prose.obj(ref)} matches no pod, so it has no endpoints",
                                fact,
                            ),
                            prose.claim("Every connection to it fails until a pod matches"),
                        ],
                    ),
                    [fact],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            )
            continue
        if no_pods and same_ns and _related(svc, evidence, same_ns) and ready_pods:
            misses = _selector_mismatch(svc, same_ns)
            fact = service_fact(svc)
            miss_facts = [item(service_source(svc), m) for m in misses[:3]]
            because = [
                prose.claim(
                    f"{prose.obj(ref)} selects {prose.selector(svc.selector)}, which no pod "
                    "carries, so it "
                    "has no endpoints",
                    fact,
                )
            ]
            if misses:
                because.append(prose.claim(f"The selector asks for {misses[0]}", *miss_facts))
            because.append(
                prose.claim(
                    f"{prose.count(len(ready_pods), 'pod')} of the workload "
                    f"{prose.be(len(ready_pods))} ready, so correcting the selector restores "
                    "the endpoints"
                )
            )
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.near_miss if misses else CONFIDENCE.selects_nothing,
                    prose.narrative(
                        f"{prose.obj(ref)} selects no pods",
                        "correct its selector",
                        aside=misses[0] if misses else f"selector {prose.selector(svc.selector)}",
                        because=because,
                    ),
                    [fact, *miss_facts],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            )
            continue
        selected = [p for p in same_ns if _selects(svc.selector, p.labels)]
        if not selected or not all(p in ready_pods for p in selected):
            continue
        declared_ports = list(
            dict.fromkeys(c_port for p in selected for c in p.containers for c_port in c.ports)
        )
        declared = " ".join(p.text for p in declared_ports)
        wrong = [
            t
            for t in _target_ports(svc)
            if declared_ports and not any(p.answers(t) for p in declared_ports)
        ]
        # A named targetPort no pod declares leaves the Service with no endpoint at all.
        unresolved = (
            bool(wrong) and svc.ready_endpoints == 0 and not any(t.isdigit() for t in wrong)
        )
        if wrong and (svc.ready_endpoints != 0 or unresolved):
            ports = item(service_source(svc), f"ports {', '.join(svc.port_texts())}")
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.unresolved_named_port if unresolved else CONFIDENCE.wrong_port,
                    prose.narrative(
                        f"{prose.obj(ref)} sends traffic to port {prose.listing(wrong)}, which "
                        "its pods do not expose",
                        "correct its targetPort",
                        because=[
                            prose.claim(f"Its ports map to {prose.listing(wrong)}", ports),
                            prose.claim(f"Its pods declare {declared}", service_fact(svc)),
                            prose.claim(
                                "A named port no pod declares resolves to no endpoint, although "
                                "the pods are ready"
                                if unresolved
                                else "Connections to a port nothing listens on are refused"
                            ),
                        ],
                    ),
                    [service_fact(svc), ports],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            )
    findings.extend(_unbacked_dependencies(evidence, {f.target.name for f in findings}))
    findings.extend(_refused_by_ready_endpoints(evidence, {f.target.name for f in findings}))
    return findings


def _called_services(line: str, services: list[ServiceEvidence]) -> list[ServiceEvidence]:
    """The ``services`` a failing call names: by host name (``service_for_host``), or by the
    virtual address and port it dialed (``10.43.77.210:9000``, a client that resolved the
    name before the call failed), which only that Service holds; not in a failed lookup,
    whose address is the resolver's."""
    named = [s for host in hosts_in(line) if (s := service_for_host(host, services)) is not None]
    if DNS_LOG.search(line):
        return named  # the address a failed lookup names is its resolver's, not the callee's
    dialed = [
        s
        for ip, port in addresses_in(line)
        for s in services
        if s.cluster_ip == ip and port in s.port_numbers
    ]
    return named + [s for s in dialed if s not in named]


def _unbacked_dependencies(evidence: Evidence, reported: set[str]) -> list[Finding]:
    """Services the workload fails to call (by name, or by the virtual address it dialed)
    whose selector matches no pod at all: traffic is routed nowhere (a selector typo, or
    labels changed under it). Its callees in other
    namespaces count too (a gateway's backend, a Service named in env) when their endpoints
    were read and list none: a Service whose pods crash still lists them as not-ready
    endpoints, one that selects no pod has none."""
    own = own_services(evidence)
    services = {(s.namespace, s.name): s for s in evidence.services}
    for dependency in evidence.dependencies:
        callee = dependency.service
        if callee is not None and callee.ready_endpoints == 0 and not callee.not_ready_endpoints:
            services.setdefault((callee.namespace, callee.name), callee)
    candidates = [
        s
        for s in services.values()
        if s.selector
        and s.matching_pods == 0
        and s.scaled_to_zero is None
        and s.name not in own
        and s.name not in reported
    ]
    findings: list[Finding] = []
    seen: set[str] = set()
    for hit in dependency_hits(evidence):
        for svc in _called_services(hit.line, candidates):
            if svc.name in seen:
                continue
            seen.add(svc.name)
            call, fact = item(hit.source, hit.line), service_fact(svc)
            ref = svc.ref()
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.unbacked,
                    prose.narrative(
                        f"{prose.obj(ref)} selects no pods, so calls from {caller(evidence)} fail",
                        "correct its selector",
                        because=[
                            prose.claim(
                                f"{caller(evidence)} fails calling {prose.obj(ref)}",
                                call,
                            ),
                            prose.claim(
                                f"Its selector {prose.selector(svc.selector)} matches no pod, "
                                "so the calls are routed nowhere",
                                fact,
                            ),
                        ],
                    ),
                    [call, fact],
                    Action.FIX_NETWORK,
                    svc.ref(),
                    {"service": svc.name},
                )
            )
    return findings


def _refused_by_ready_endpoints(evidence: Evidence, reported: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, (svc, hit) in refusing_services(evidence).items():
        if name in reported:
            continue
        remapped = [p.text for p in svc.ports if p.remaps]
        ref = svc.ref()
        ready = svc.ready_endpoints or 0
        refused = item(hit.source, hit.line)
        ports = item(service_source(svc), f"ports {', '.join(svc.port_texts())}")
        findings.append(
            make_finding(
                "network",
                Category.NETWORK,
                CONFIDENCE.refused_remapped if remapped else CONFIDENCE.refused,
                prose.narrative(
                    f"{prose.obj(ref)} refuses connections although "
                    f"{prose.count(ready, 'endpoint')} {prose.be(ready)} ready",
                    "fix its targetPort",
                    because=[
                        prose.claim(f"Calls to {prose.obj(ref)} are refused", refused),
                        prose.claim(
                            f"Its {prose.count(ready, 'endpoint')} {prose.be(ready)} ready, so "
                            "the process runs but nothing listens where traffic is sent",
                            service_fact(svc),
                        ),
                        prose.claim(
                            f"It maps {prose.listing(svc.port_texts())}"
                            + (", sending traffic to another port" if remapped else ""),
                            ports,
                        ),
                    ],
                ),
                [refused, service_fact(svc), ports],
                Action.FIX_NETWORK,
                svc.ref(),
                {"service": svc.name},
            )
        )
    return findings


NETWORK_ANALYZERS: tuple[Analyzer, ...] = (Analyzer("network", (Category.NETWORK,), check_network),)
