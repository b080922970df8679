"""The network rule: traffic inside the cluster that is routed nowhere or blocked. A Service
whose selector matches no pod (near-miss labels named), whose targetPort the pods do not
expose, or that refuses connections although its endpoints are ready; a Service the
workload fails to call that has nothing behind it; a NetworkPolicy that denies the
workload's traffic while its connections time out.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import (
    TIMEOUT_LOG,
    caller,
    dependency_hits,
    own_services,
    refusing_services,
    service_fact,
)
from kubetriage.analyzers.support import (
    DNS_LOG,
    DNS_RESOLVER_FAILURE,
    grep_logs,
    hosts_in,
    item,
    service_for_host,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import (
    Evidence,
    IngressControllerEvidence,
    PodEvidence,
    ServiceEvidence,
)
from kubetriage.models.findings import Finding
from kubetriage.models.objects import service_selects as _selects
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, Flow, ingress_verdict


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
    deny_all: float = 0.8  # a NetworkPolicy on the workload's pods has no ingress (egress) rule
    dns_fails_bonus: float = 0.05  # ... it denies egress and name lookups fail
    guards_timeouts: float = 0.75  # a policy fences a Service the workload times out calling
    selects_timeouts: float = 0.55  # a policy selects the workload's pods; connections time out
    timeouts_bonus: float = 0.05  # connections time out behind the policy
    policy_cap: float = 0.9  # the most a NetworkPolicy finding claims
    # The backend pods of an Ingress are isolated for ingress and no rule admits the pods of
    # the Ingress's controller (read through its IngressClass): every request is dropped.
    controller_blocked: float = 0.86
    # The workload's lookups of an ExternalName Service end in "no such name" (the resolver
    # answered): the external host it points to does not exist (any more), so the alias is
    # what must change; above the generic reading of name-resolution errors as a failing
    # dependency (0.78-0.83), which holds when the host exists but does not answer.
    external_name_unresolved: float = 0.86
    # An Ingress routes to a port (name or number) its backend Service does not have: the
    # controller cannot build the route whatever the pods do, and rolling the pods back does
    # not give the Service its port back (so above change correlation's 0.88).
    ingress_port_missing: float = 0.9
    # Calls to a Service with ready endpoints time out only from the workload's pods on one
    # (Ready) node, while its replicas on other nodes are ready: same template, same callee,
    # so that node's service routing (kube-proxy, CNI) is the difference, not the callee
    # (above escalating to the callee, 0.8).
    one_node_cannot_reach: float = 0.82


CONFIDENCE: Final = _Confidence()
# How alike a selector value and a pod's label value must be (difflib ratio) to be one
# value misspelt.
SIMILAR_LABEL = 0.6


def _selector_mismatch(svc: ServiceEvidence, pods: list[PodEvidence]) -> list[str]:
    """Selector entries no pod carries, with the near-miss value a pod has instead."""
    misses: list[str] = []
    for key, value in svc.selector.items():
        values = {p.labels.get(key) for p in pods} - {None}
        if value in values:
            continue
        close = [
            v for v in values if v and SequenceMatcher(None, v, value).ratio() >= SIMILAR_LABEL
        ]
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
            if other is not None and SequenceMatcher(None, other, value).ratio() >= SIMILAR_LABEL:
                shared += 1
                break
    return shared > 0 and shared == len(svc.selector)


def _target_ports(svc: ServiceEvidence) -> list[str]:
    ports: list[str] = []
    for text in svc.ports:
        match = re.search(r"->([\w-]+)", text)
        if match:
            ports.append(match.group(1))
    return ports


def check_network(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    ready_pods = [
        p
        for p in evidence.pods
        if p.phase == "Running" and all(c.ready for c in p.containers if not c.init)
    ]
    for svc in evidence.services:
        if svc.type == "ExternalName" or not svc.selector:
            continue
        ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
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
            miss_facts = [item(f"service/{svc.namespace}/{svc.name}", m) for m in misses[:3]]
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
        declared = " ".join(
            dict.fromkeys(c_port for p in selected for c in p.containers for c_port in c.ports)
        )
        wrong = [
            t
            for t in _target_ports(svc)
            if declared and not re.search(rf"(^|[\s:]){re.escape(t)}([/:\s]|$)", declared)
        ]
        # A named targetPort no pod declares leaves the Service with no endpoint at all.
        unresolved = (
            bool(wrong) and svc.ready_endpoints == 0 and not any(t.isdigit() for t in wrong)
        )
        if wrong and (svc.ready_endpoints != 0 or unresolved):
            ports = item(f"service/{svc.namespace}/{svc.name}", f"ports {', '.join(svc.ports)}")
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
    findings.extend(_policy_findings(evidence))
    findings.extend(_ingress_controller_blocked(evidence))
    findings.extend(_external_name_unresolved(evidence))
    findings.extend(_ingress_ports_missing(evidence))
    findings.extend(_one_node_cannot_reach(evidence))
    return findings


def _unbacked_dependencies(evidence: Evidence, reported: set[str]) -> list[Finding]:
    """Services the workload fails to call whose selector matches no pod at all: traffic is
    routed nowhere (a selector typo, or labels changed under it)."""
    own = own_services(evidence)
    candidates = [
        s
        for s in evidence.services
        if s.selector and s.matching_pods == 0 and s.name not in own and s.name not in reported
    ]
    findings: list[Finding] = []
    seen: set[str] = set()
    for hit in dependency_hits(evidence):
        for host in hosts_in(hit.line):
            svc = service_for_host(host, candidates)
            if svc is None or svc.name in seen:
                continue
            seen.add(svc.name)
            call, fact = item(hit.source, hit.line), service_fact(svc)
            ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
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
                    ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name),
                    {"service": svc.name},
                )
            )
    return findings


def _refused_by_ready_endpoints(evidence: Evidence, reported: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, (svc, hit) in refusing_services(evidence).items():
        if name in reported:
            continue
        remapped = [p for p in svc.ports if _remaps_port(p)]
        ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
        ready = svc.ready_endpoints or 0
        refused = item(hit.source, hit.line)
        ports = item(f"service/{svc.namespace}/{svc.name}", f"ports {', '.join(svc.ports)}")
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
                            f"It maps {prose.listing(svc.ports)}"
                            + (", sending traffic to another port" if remapped else ""),
                            ports,
                        ),
                    ],
                ),
                [refused, service_fact(svc), ports],
                Action.FIX_NETWORK,
                ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name),
                {"service": svc.name},
            )
        )
    return findings


def _remaps_port(text: str) -> bool:
    """Whether a rendered Service port ("80:80->8080/TCP") sends to a different port."""
    match = re.match(r"^(?:[\w-]+:)?(?P<port>\d+)->(?P<target>[\w-]+)", text)
    if match is None:
        match = re.match(r"^(?:[\w-]+:)?(?P<port>\d+)(?::\d+)?->(?P<target>[\w-]+)", text)
    return match is not None and match["port"] != match["target"]


def _policy_findings(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    timeouts = grep_logs(evidence.logs, TIMEOUT_LOG, limit=10)
    dns_failures = grep_logs(evidence.logs, DNS_LOG, limit=5)
    timeout_services: set[str] = set()
    for hit in timeouts:
        for host in hosts_in(hit.line):
            svc = service_for_host(host, evidence.services)
            if svc is not None:
                timeout_services.add(svc.name)
    for policy in evidence.network_policies:
        ref = ObjectRef(kind="NetworkPolicy", namespace=policy.namespace, name=policy.name)
        source = f"networkpolicy/{policy.namespace}/{policy.name}"
        policy_fact = item(
            source,
            f"podSelector {prose.selector(policy.pod_selector)}; types "
            f"{','.join(policy.policy_types)}; " + "; ".join(policy.rules[:3]),
        )
        facts = [policy_fact]
        confidence = 0.0
        why = ""
        guarded = [
            s
            for s in evidence.services
            if s.name in timeout_services
            and s.namespace == policy.namespace
            and s.selector
            and all(s.selector.get(k) == v for k, v in policy.pod_selector.items())
        ]
        if policy.selects_target and "Ingress" in policy.policy_types and policy.ingress_rules == 0:
            confidence, why = CONFIDENCE.deny_all, "denies all ingress to the workload's pods"
        elif (
            policy.selects_target and "Egress" in policy.policy_types and (policy.egress_rules == 0)
        ):
            confidence, why = CONFIDENCE.deny_all, "denies all egress from the workload's pods"
            if dns_failures:
                facts.append(item(dns_failures[0].source, dns_failures[0].line))
                confidence += CONFIDENCE.dns_fails_bonus
        elif guarded and "Ingress" in policy.policy_types:
            confidence = CONFIDENCE.guards_timeouts
            why = f"restricts ingress to {guarded[0].name}, which the workload times out calling"
        elif policy.selects_target and timeouts:
            confidence = CONFIDENCE.selects_timeouts
            why = "selects the workload's pods while its connections time out"
        if not confidence:
            continue
        because = [
            prose.claim(
                f"{prose.obj(ref)} applies to "
                f"{prose.selector(policy.pod_selector, empty='every pod in its namespace')} "
                f"({', '.join(policy.policy_types)}) with "
                f"{prose.count(policy.ingress_rules, 'ingress rule')} and "
                f"{prose.count(policy.egress_rules, 'egress rule')}",
                policy_fact,
            )
        ]
        if len(facts) > 1:
            because.append(prose.claim("Name lookups fail behind it", facts[1]))
        if timeouts:
            timeout = item(timeouts[0].source, timeouts[0].line)
            facts.append(timeout)
            confidence += CONFIDENCE.timeouts_bonus
            because.append(prose.claim("Connections time out, as dropped packets do", timeout))
        findings.append(
            make_finding(
                "network",
                Category.NETWORK,
                min(confidence, CONFIDENCE.policy_cap),
                prose.narrative(
                    f"{prose.obj(ref)} {why}",
                    "allow the traffic the workload needs",
                    because=because,
                ),
                facts,
                Action.FIX_NETWORK,
                ref,
                {"networkPolicy": policy.name},
            )
        )
    return findings


def _external_name_unresolved(evidence: Evidence) -> list[Finding]:
    """An ExternalName Service is a DNS alias (CNAME) of another host: when the workload's
    lookups of it are answered "no such name" (not timed out), that host does not resolve and
    the Service points at nothing."""
    externals = [s for s in evidence.services if s.type == "ExternalName" and s.external_name]
    if not externals:
        return []
    for hit in grep_logs(evidence.logs, DNS_LOG, limit=20):
        if DNS_RESOLVER_FAILURE.search(hit.line):
            continue  # the resolver failed to answer: cluster DNS, not the alias
        for svc in [service_for_host(h, externals) for h in hosts_in(hit.line)] + [
            s for s in externals if _names_service(hit.line, s)
        ]:
            if svc is None:
                continue
            ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
            lookup = item(hit.source, hit.line)
            alias = item(
                f"service/{svc.namespace}/{svc.name}",
                f"type ExternalName: an alias of {svc.external_name}",
            )
            return [
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.external_name_unresolved,
                    prose.narrative(
                        f"{prose.obj(ref)} points at {svc.external_name}, which does not resolve",
                        "point it at a host that exists",
                        because=[
                            prose.claim(
                                f"{prose.obj(ref)} is an alias of {svc.external_name}", alias
                            ),
                            prose.claim(
                                f"Lookups of it from {caller(evidence)} are answered with no "
                                "such name, so every call fails before it is sent",
                                lookup,
                            ),
                        ],
                    ),
                    [lookup, alias],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            ]
    return []


def _ingress_ports_missing(evidence: Evidence) -> list[Finding]:
    """An Ingress naming a port its backend Service does not have (renamed or removed by a
    chart upgrade, say): the Service no longer offers what the route needs."""
    findings: list[Finding] = []
    for controller in evidence.ingress_controllers:
        for name, port in controller.unknown_ports.items():
            svc = next((s for s in evidence.services if s.name == name), None)
            if svc is None:
                continue
            ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
            ingress = ObjectRef(kind="Ingress", namespace=svc.namespace, name=controller.ingress)
            route = item(
                f"ingress/{svc.namespace}/{controller.ingress}",
                f"routes to Service {svc.name} port {port}",
            )
            ports = item(f"service/{svc.namespace}/{svc.name}", f"ports {', '.join(svc.ports)}")
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.ingress_port_missing,
                    prose.narrative(
                        f"{prose.obj(ingress)} routes to port {port} of {prose.obj(ref)}, "
                        "which has no such port",
                        f"restore port {port} on {svc.name}",
                        because=[
                            prose.claim(f"{prose.obj(ingress)} names port {port}", route),
                            prose.claim(
                                f"{prose.obj(ref)} has no port {port}, so the ingress "
                                "controller cannot route to its pods",
                                ports,
                            ),
                        ],
                    ),
                    [route, ports],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            )
    return findings


def _pod_ready(pod: PodEvidence) -> bool:
    return pod.phase == "Running" and all(c.ready for c in pod.containers if not c.init)


def _one_node_cannot_reach(evidence: Evidence) -> list[Finding]:
    """The workload's pods on one node time out calling a Service that has ready endpoints,
    while its pods on the other nodes are ready: the node's data plane drops the traffic."""
    services = [*evidence.services, *(d.service for d in evidence.dependencies if d.service)]
    failing: dict[str, tuple[PodEvidence, str, str]] = {}
    for pod in evidence.pods:
        if pod.node is None or _pod_ready(pod):
            continue
        logs = [log for log in evidence.logs if log.pod == pod.name]
        for hit in grep_logs(logs, TIMEOUT_LOG, limit=10):
            for host in hosts_in(hit.line):
                svc = service_for_host(host, services)
                if svc is not None and (svc.ready_endpoints or 0) > 0:
                    failing.setdefault(pod.name, (pod, hit.line, svc.name))
    failing_nodes = {pod.node for pod, _, _ in failing.values() if pod.node}
    healthy = [p for p in evidence.pods if _pod_ready(p) and p.node not in failing_nodes]
    unexplained = [p for p in evidence.pods if not _pod_ready(p) and p.name not in failing]
    if len(failing_nodes) != 1 or not healthy or unexplained:
        return []
    node_name = next(iter(failing_nodes))
    node = next((n for n in evidence.nodes if n.name == node_name), None)
    if node is None or node.ready != "True":
        return []  # a node that reports trouble is the node rules' to judge
    pod, line, callee = next(iter(failing.values()))
    ref = ObjectRef(kind="Node", name=node_name)
    timeout = item(f"logs/{pod.name}", line)
    others = item(
        f"pod/{healthy[0].namespace}/{healthy[0].name}",
        f"ready on node {healthy[0].node}",
    )
    return [
        make_finding(
            "network",
            Category.NETWORK,
            CONFIDENCE.one_node_cannot_reach,
            prose.narrative(
                f"Pods on {prose.obj(ref)} cannot reach {callee}",
                "drain the node and repair its service routing",
                because=[
                    prose.claim(
                        f"Calls to {callee}, which has ready endpoints, time out from the pods "
                        f"on node {node_name}",
                        timeout,
                    ),
                    prose.claim(
                        "The same workload's pods on other nodes are ready, so the callee "
                        "and the workload are fine and the node's kube-proxy or CNI drops the "
                        "traffic",
                        others,
                    ),
                ],
            ),
            [timeout, others],
            Action.DRAIN_NODE,
            ref,
            {"node": node_name},
        )
    ]


def _names_service(line: str, svc: ServiceEvidence) -> bool:
    """Whether ``line`` names the Service as a host: ``name``, ``name.ns``, ``name.ns.svc...``."""
    name, namespace = re.escape(svc.name), re.escape(svc.namespace)
    return re.search(rf"(?<![\w.-]){name}(\.{namespace}(\.svc[\w.]*)?)?(?![\w-])", line) is not None


def _endpoint(
    evidence: Evidence, namespace: str, labels: dict[str, str], ips: list[str]
) -> Endpoint:
    return Endpoint(
        namespace=namespace,
        labels=labels,
        namespace_labels=evidence.namespace_labels.get(namespace, {}),
        ips=tuple(ips),
    )


def _ingress_controller_blocked(evidence: Evidence) -> list[Finding]:
    """An Ingress's controller whose pods the backend pods' NetworkPolicies do not admit:
    the requests it forwards are dropped (the controller answers 502/504)."""
    findings: list[Finding] = []
    for controller in evidence.ingress_controllers:
        if controller.namespace is None or not controller.labels:
            continue
        source = _endpoint(evidence, controller.namespace, controller.labels, controller.ips)
        for svc in evidence.services:
            if svc.name not in controller.backends or not svc.selector:
                continue
            selected = [
                p
                for p in evidence.pods
                if p.namespace == svc.namespace and _selects(svc.selector, p.labels)
            ]
            for pod in selected[:1]:
                destination = _endpoint(evidence, pod.namespace, pod.labels, pod.ips)
                verdict = ingress_verdict(
                    evidence.network_policies, Flow(source=source, destination=destination)
                )
                if verdict.allowed:
                    continue
                findings.append(_controller_finding(evidence, controller, svc, verdict.blocking))
                break
            if findings:
                return findings
    return findings


def _controller_finding(
    evidence: Evidence,
    controller: IngressControllerEvidence,
    svc: ServiceEvidence,
    blocking: tuple[str, ...],
) -> Finding:
    ref = ObjectRef(kind="NetworkPolicy", namespace=svc.namespace, name=blocking[0])
    served = item(
        f"ingress/{svc.namespace}/{controller.ingress}",
        f"served by {controller.controller} (class {controller.ingress_class}); "
        f"{prose.count(controller.pods, 'controller pod')} in namespace {controller.namespace}",
    )
    isolated = item(
        f"networkpolicy/{svc.namespace}/{blocking[0]}",
        f"isolates ingress of the pods of Service {svc.name}; no rule of "
        f"{', '.join(blocking)} admits pods of namespace {controller.namespace}",
    )
    controller_ref = ObjectRef(kind="Ingress", namespace=svc.namespace, name=controller.ingress)
    return make_finding(
        "network",
        Category.NETWORK,
        CONFIDENCE.controller_blocked,
        prose.narrative(
            f"{prose.obj(ref)} blocks the ingress controller's traffic",
            f"admit namespace {controller.namespace}",
            aside=f"{prose.obj(controller_ref)} is served from namespace {controller.namespace}",
            because=[
                prose.claim(
                    f"{prose.obj(controller_ref)} is served by controller pods in namespace "
                    f"{controller.namespace}",
                    served,
                ),
                prose.claim(
                    f"No rule of the policies isolating the pods of {svc.name} admits them, so "
                    "every request the controller forwards is dropped",
                    isolated,
                ),
            ],
        ),
        [isolated, served],
        Action.FIX_NETWORK,
        ref,
        {"networkPolicy": blocking[0]},
    )


NETWORK_ANALYZERS: tuple[Analyzer, ...] = (Analyzer("network", (Category.NETWORK,), check_network),)
