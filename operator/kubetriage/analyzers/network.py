"""Traffic analyzers: a failing dependency the workload calls (dependency-failure), traffic
blocked or misrouted inside the cluster (network), and expired TLS certificates.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence. Hosts found in
log lines, env values and blackbox probe targets are matched against the Services in the
evidence (their DNS names and ExternalName targets) to name the object at fault.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from difflib import SequenceMatcher

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import (
    CERT_LOG,
    DEPENDENCY_LOG,
    DNS_LOG,
    DNS_RESOLVER_FAILURE,
    FAILURE_WORDS,
    LogHit,
    event_fact,
    grep_logs,
    hosts_in,
    item,
    metrics_named,
    pod_source,
    service_for_host,
    timestamp,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import (
    Evidence,
    GenericObjectEvidence,
    MetricSummary,
    PodEvidence,
    ServiceEvidence,
)
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.objects import service_selects as _selects
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

_TIMEOUT_LOG = re.compile(
    r"(?i)(i/o timeout|context deadline exceeded|connect(ion)? timed? ?out|ETIMEDOUT|"
    r"timed? ?out (while |after )?(connecting|dialing|waiting))"
)
CLUSTER_DNS_NAMES = frozenset({"kube-dns", "coredns"})
_CLUSTER_SERVICE_HOST = re.compile(
    r"^(?P<name>[a-z0-9]([a-z0-9-]*[a-z0-9])?)\.(?P<namespace>[a-z0-9]([a-z0-9-]*[a-z0-9])?)"
    r"\.svc(\.|$)"
)
_REFUSED = re.compile(r"(?i)(connection refused|ECONNREFUSED|connect: refused)")
_TLS_NAME = re.compile(r"(?i)(tls|cert|x509|ssl)")
_BARE_HOST = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+\.?$", re.IGNORECASE)
_INSTANCE = re.compile(r'instance="(?P<instance>[^"]+)"')


def _own_services(evidence: Evidence) -> set[str]:
    """Services that front the workload's own pods: failures there are not a dependency."""
    return {
        s.name
        for s in evidence.services
        if any(_selects(s.selector, p.labels) for p in evidence.pods)
    }


# A response the workload itself served ("Completed 500 Internal Server Error in 12ms",
# '"GET /x HTTP/1.1" 500'): its own error, not a call to something else that failed.
_SERVED_5XX = re.compile(
    r"(?i)(\b(completed|responded|returned|sent)\s+5\d\d\b|HTTP/\d(\.\d)?\"?\s+5\d\d\b)"
)
_CALL_FAILED = re.compile(
    r"(?i)(refused|reset|timed? ?out|timeout|no such host|unreachable|upstream|could not connect|"
    r"unable to connect|failed to connect|dial |lookup )"
)


def _dependency_hits(evidence: Evidence) -> list[LogHit]:
    return [
        h
        for h in grep_logs(evidence.logs, DEPENDENCY_LOG, limit=40)
        if FAILURE_WORDS.search(h.line)
        and not (_SERVED_5XX.search(h.line) and not _CALL_FAILED.search(h.line))
    ]


def _probe_instance(metric: MetricSummary) -> str | None:
    if "instance" in metric.labels:
        return metric.labels["instance"]
    match = _INSTANCE.search(metric.query)
    return match["instance"] if match else None


# --- dependency-failure -------------------------------------------------------------------


def _uncollected_services(evidence: Evidence, hits: list[LogHit]) -> list[ServiceEvidence]:
    """Services in other namespaces that failing calls name by their cluster DNS name
    (``name.namespace.svc...``): the name alone identifies the Service even when the evidence
    did not collect that namespace. Names in the workload's own namespace are not trusted,
    since its Services were collected and an absent one does not exist."""
    local = {p.namespace for p in evidence.pods} | {s.namespace for s in evidence.services}
    known = {(s.namespace, s.name) for s in evidence.services}
    found: dict[tuple[str, str], ServiceEvidence] = {}
    for hit in hits:
        for host in hosts_in(hit.line):
            match = _CLUSTER_SERVICE_HOST.match(host)
            if match is None:
                continue
            key = (match["namespace"], match["name"])
            if key in known or match["namespace"] in local or key in found:
                continue
            found[key] = ServiceEvidence(name=match["name"], namespace=match["namespace"])
    return list(found.values())


def _env_hosts(value: str) -> list[str]:
    """Hosts an env value names: URLs and host:port, or the whole value when it is a bare
    DNS name (``DB_HOST=orders-db.sales.svc``)."""
    found = hosts_in(value)
    if not found and _BARE_HOST.match(value.strip()):
        found = [value.strip().lower().rstrip(".")]
    return found


def check_dependency(evidence: Evidence) -> list[Finding]:
    own = _own_services(evidence)
    hits = _dependency_hits(evidence)
    candidates = [s for s in evidence.services if s.name not in own]
    candidates += _uncollected_services(evidence, hits)
    # service name -> facts, with a score for how directly each names the service
    named: dict[str, list[EvidenceItem]] = defaultdict(list)
    via_env: dict[str, list[EvidenceItem]] = defaultdict(list)
    probes_down: dict[str, list[EvidenceItem]] = defaultdict(list)
    by_name = {s.name: s for s in candidates}

    for hit in hits:
        for host in hosts_in(hit.line):
            svc = service_for_host(host, candidates)
            if svc is not None:
                named[svc.name].append(item(hit.source, hit.line))
                break
    for pod in evidence.pods:
        for container in pod.containers:
            for var, value in container.env.items():
                for host in _env_hosts(value):
                    svc = service_for_host(host, candidates)
                    if svc is not None:
                        via_env[svc.name].append(
                            item(pod_source(pod), f"{container.name} env {var}={value}")
                        )
    if evidence.workload is not None:
        for container in evidence.workload.containers:
            for var, value in container.env.items():
                for host in _env_hosts(value):
                    svc = service_for_host(host, candidates)
                    if svc is not None and not via_env[svc.name]:
                        via_env[svc.name].append(
                            item(evidence.workload.ref.display(), f"env {var}={value}")
                        )
    for metric in metrics_named(evidence, "probe_success"):
        instance = _probe_instance(metric)
        if instance is None or metric.last is None or metric.last >= 1:
            continue
        for host in hosts_in(instance) or [instance]:
            svc = service_for_host(host, candidates)
            if svc is not None:
                was_up = metric.max is not None and metric.max >= 1
                probes_down[svc.name].append(
                    item(
                        "metrics",
                        f"probe_success for {instance} is {metric.last:g}"
                        + (" (was 1 earlier)" if was_up else ""),
                    )
                )

    chosen: str | None = None
    confidence = 0.0
    if named:
        chosen = max(named, key=lambda n: (len(named[n]), n in probes_down))
        confidence = 0.8
    elif hits and via_env:
        ranked = sorted(
            via_env,
            key=lambda n: (n in probes_down, by_name[n].type == "ExternalName"),
            reverse=True,
        )
        chosen = ranked[0]
        confidence = 0.75 if len(via_env) == 1 or chosen in probes_down else 0.6
    elif probes_down:
        chosen = next(iter(probes_down))
        confidence = 0.65
    findings: list[Finding] = []
    if chosen is not None:
        svc = by_name[chosen]
        if chosen in probes_down and (named or hits):
            confidence += 0.1
        if _workload_healthy(evidence):
            confidence += 0.03
        if svc.selector and svc.matching_pods == 0:
            confidence = min(confidence, 0.6)  # nothing behind it: the network rule's case
        if chosen in _refusing_services(evidence):
            confidence = min(confidence, 0.65)  # ready pods refuse: the Service's port is wrong
        if _policy_guards(evidence, svc) and any(
            _TIMEOUT_LOG.search(f.fact) for f in named.get(chosen, [])
        ):
            confidence = min(confidence, 0.7)  # timeouts into a fenced service: network
        facts = [*named.get(chosen, []), *probes_down.get(chosen, []), *via_env.get(chosen, [])]
        if not named.get(chosen):
            facts[:0] = [item(h.source, h.line) for h in hits[:2]]
        service_fact = _service_fact(svc)
        facts.append(service_fact)
        owner = next((v for k, v in svc.annotations.items() if "owner" in k.lower()), None)
        owner_fact = item(f"service/{svc.namespace}/{svc.name}", f"owner: {owner}")
        if owner:
            facts.append(owner_fact)
        ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
        calls = named.get(chosen, [])
        kind = _failure_kind(" ".join(f.fact for f in calls) or " ".join(h.line for h in hits))
        because: list[Claim] = []
        if calls:
            because.append(
                prose.claim(f"{_who(evidence)} logs {kind} when it calls {svc.name}", *calls[:2])
            )
        elif hits:
            because.append(
                prose.claim(
                    f"{_who(evidence)} logs {kind}, and its configuration points at {svc.name}",
                    *facts[:2],
                    *via_env.get(chosen, [])[:1],
                )
            )
        if probes_down.get(chosen):
            because.append(
                prose.claim(f"Blackbox probes of {svc.name} fail as well", *probes_down[chosen][:2])
            )
        because.append(prose.claim(_service_claim(svc), service_fact))
        if owner:
            because.append(prose.claim(f"Its owner is {owner}", owner_fact))
        elif _workload_healthy(evidence):
            because.append(prose.claim("The caller's own pods are ready and not restarting"))
        if calls or hits:
            problem = f"Calls from {_who(evidence)} to {prose.obj(ref)} fail with {kind}"
        else:
            problem = f"{prose.obj(ref)} is down: its blackbox probes fail"
        findings.append(
            make_finding(
                "dependency-failure",
                Category.DEPENDENCY_FAILURE,
                min(confidence, 0.93),
                prose.narrative(
                    problem,
                    "escalate to its owner",
                    aside=f"it points at {svc.external_name}" if svc.external_name else "",
                    because=because[:4],
                ),
                facts,
                Action.ESCALATE,
                ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name),
                {"service": svc.name},
            )
        )
        return findings
    if not hits:
        return []
    dns = [h for h in hits if DNS_LOG.search(h.line)]
    dns_service = next((s for s in evidence.services if s.name in CLUSTER_DNS_NAMES), None)
    dns_hosts = {host for h in dns for host in hosts_in(h.line)}
    # The resolver failing to answer, or failing for several unrelated names, is the DNS
    # service's fault; a single name that does not exist is more likely the caller's config.
    resolver_down = any(DNS_RESOLVER_FAILURE.search(h.line) for h in dns) or len(dns_hosts) >= 2
    if dns and len(dns) == len(hits) and (resolver_down or dns_service is not None):
        if dns_service is not None:
            target = ObjectRef(
                kind="Service", namespace=dns_service.namespace, name=dns_service.name
            )
        else:
            # Not collected, but every mainstream distribution serves cluster DNS from this
            # Service (CoreDNS kept the name for compatibility).
            target = ObjectRef(kind="Service", namespace="kube-system", name="kube-dns")
        confidence = 0.7 if resolver_down else 0.55
    else:
        fallback = workload_ref(evidence)
        if fallback is None or fallback.kind not in ACTION_TARGET_KINDS[Action.ESCALATE]:
            return []
        target = fallback
        confidence = 0.5 if len(hits) >= 2 else 0.45
    quoted = [item(h.source, h.line) for h in hits[:4]]
    kind = _failure_kind(" ".join(h.line for h in hits))
    if target.kind == "Service":
        text = prose.narrative(
            f"{_who(evidence)} cannot resolve the names it calls",
            f"escalate to the owner of {prose.obj(target)}",
            because=[
                prose.claim(
                    f"{prose.count(len(hits), 'failing call')} in the logs, all of them DNS "
                    "lookups",
                    *quoted[:2],
                ),
                prose.claim(
                    "The resolver itself fails to answer, or fails for several unrelated names"
                    if resolver_down
                    else "The cluster DNS Service answers these lookups"
                ),
                prose.claim("Names that do not resolve make every call to them fail"),
            ],
        )
    else:
        text = prose.narrative(
            f"{_who(evidence)} fails to reach a dependency with {kind}",
            "escalate to the owner of that dependency",
            because=[
                prose.claim(
                    f"{prose.count(len(hits), 'failing call')} in the logs report {kind}",
                    *quoted[:2],
                ),
                prose.claim(
                    "No Service in the evidence matches the host it calls, so the dependency "
                    "is not named; its host is in the quoted lines"
                ),
            ],
        )
    findings.append(
        make_finding(
            "dependency-failure",
            Category.DEPENDENCY_FAILURE,
            confidence,
            text,
            quoted,
            Action.ESCALATE,
            target,
            {},
        )
    )
    return findings


def _policy_guards(evidence: Evidence, svc: ServiceEvidence) -> bool:
    """Whether a NetworkPolicy in the Service's namespace selects the pods behind it."""
    return bool(svc.selector) and any(
        p.namespace == svc.namespace
        and all(svc.selector.get(k) == v for k, v in p.pod_selector.items())
        and "Ingress" in p.policy_types
        for p in evidence.network_policies
    )


# How calls fail, in the words of a person reading the log lines.
_FAILURE_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_REFUSED, "connection refused"),
    (DNS_LOG, "name resolution errors"),
    (_TIMEOUT_LOG, "timeouts"),
    (
        re.compile(
            r"(?i)(not accepting commands|read-only|in recovery mode|too many (clients|"
            r"connections)|connection slots are reserved|ProgramLimitExceeded)"
        ),
        "the database refusing work",
    ),
    (re.compile(r"(?i)(connection reset|ECONNRESET|broken pipe)"), "connection resets"),
)
_HTTP_5XX = re.compile(r"(?i)(?:\b|status[=: ]+\"?|code[=: ]+\"?)(?P<code>5\d\d)\b")


def _failure_kind(text: str) -> str:
    for pattern, kind in _FAILURE_KINDS:
        if pattern.search(text):
            return kind
    match = _HTTP_5XX.search(text)
    if match:
        return f"HTTP {match['code']}"
    if re.search(r"(?i)(unavailable|bad gateway|no healthy upstream)", text):
        return "HTTP 5xx"
    return "errors"


def _who(evidence: Evidence) -> str:
    ref = workload_ref(evidence)
    return prose.obj(ref) if ref is not None else "the workload"


def _service_claim(svc: ServiceEvidence) -> str:
    ref = prose.obj(ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name))
    if svc.type == "ExternalName":
        return f"{ref} points outside the cluster at {svc.external_name}, so the fault is there"
    if svc.ready_endpoints is None and svc.matching_pods is None and not svc.selector:
        return f"{ref} lives in a namespace that was not collected, so its side is not visible"
    ready = svc.ready_endpoints or 0
    return f"{ref} has {prose.count(ready, 'ready endpoint')}"


def _workload_healthy(evidence: Evidence) -> bool:
    pods = [p for p in evidence.pods if p.containers]
    return bool(pods) and all(
        c.ready is not False and c.restart_count == 0
        for p in pods
        for c in p.containers
        if not c.init
    )


def _service_fact(svc: ServiceEvidence) -> EvidenceItem:
    if svc.type == "ExternalName":
        return item(
            f"service/{svc.namespace}/{svc.name}", f"ExternalName service -> {svc.external_name}"
        )
    if svc.ready_endpoints is None and svc.matching_pods is None and not svc.selector:
        return item(
            f"service/{svc.namespace}/{svc.name}",
            "named by its cluster DNS name; its namespace was not collected",
        )
    return item(
        f"service/{svc.namespace}/{svc.name}",
        f"selector {prose.selector(svc.selector)}, ready endpoints {svc.ready_endpoints}, "
        f"not ready {svc.not_ready_endpoints}",
    )


# --- network ------------------------------------------------------------------------------


def _selector_mismatch(svc: ServiceEvidence, pods: list[PodEvidence]) -> list[str]:
    """Selector entries no pod carries, with the near-miss value a pod has instead."""
    misses: list[str] = []
    for key, value in svc.selector.items():
        values = {p.labels.get(key) for p in pods} - {None}
        if value in values:
            continue
        close = [v for v in values if v and SequenceMatcher(None, v, value).ratio() >= 0.6]
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
            if other is not None and SequenceMatcher(None, other, value).ratio() >= 0.6:
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
            fact = _service_fact(svc)
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    0.85,
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
            fact = _service_fact(svc)
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
                    0.9 if misses else 0.8,
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
        declared = " ".join(c_port for p in selected for c in p.containers for c_port in c.ports)
        wrong = [
            t
            for t in _target_ports(svc)
            if declared and not re.search(rf"(^|[\s:]){re.escape(t)}([/:\s]|$)", declared)
        ]
        if wrong and svc.ready_endpoints != 0:
            ports = item(f"service/{svc.namespace}/{svc.name}", f"ports {', '.join(svc.ports)}")
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    0.7,
                    prose.narrative(
                        f"{prose.obj(ref)} sends traffic to port {prose.listing(wrong)}, which "
                        "its pods do not expose",
                        "correct its targetPort",
                        because=[
                            prose.claim(f"Its ports map to {prose.listing(wrong)}", ports),
                            prose.claim(f"Its pods declare {declared}", _service_fact(svc)),
                            prose.claim("Connections to a port nothing listens on are refused"),
                        ],
                    ),
                    [_service_fact(svc), ports],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            )
    findings.extend(_unbacked_dependencies(evidence, {f.target.name for f in findings}))
    findings.extend(_refused_by_ready_endpoints(evidence, {f.target.name for f in findings}))
    findings.extend(_policy_findings(evidence))
    return findings


def _unbacked_dependencies(evidence: Evidence, reported: set[str]) -> list[Finding]:
    """Services the workload fails to call whose selector matches no pod at all: traffic is
    routed nowhere (a selector typo, or labels changed under it)."""
    own = _own_services(evidence)
    candidates = [
        s
        for s in evidence.services
        if s.selector and s.matching_pods == 0 and s.name not in own and s.name not in reported
    ]
    findings: list[Finding] = []
    seen: set[str] = set()
    for hit in _dependency_hits(evidence):
        for host in hosts_in(hit.line):
            svc = service_for_host(host, candidates)
            if svc is None or svc.name in seen:
                continue
            seen.add(svc.name)
            call, fact = item(hit.source, hit.line), _service_fact(svc)
            ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    0.8,
                    prose.narrative(
                        f"{prose.obj(ref)} selects no pods, so calls from {_who(evidence)} fail",
                        "correct its selector",
                        because=[
                            prose.claim(
                                f"{_who(evidence)} fails calling {prose.obj(ref)}",
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


def _refusing_services(evidence: Evidence) -> dict[str, tuple[ServiceEvidence, LogHit]]:
    """Services that refuse connections although they have ready endpoints. A refusal (TCP
    reset) means the endpoint is up but nothing listens on the port traffic is sent to; with
    the pods behind it passing readiness, the process runs, so the Service sends to the wrong
    port (its targetPort). Timeouts and 5xx say nothing of the kind and are not counted."""
    own = _own_services(evidence)
    candidates = [
        s
        for s in evidence.services
        if s.selector and (s.ready_endpoints or 0) > 0 and s.name not in own
    ]
    found: dict[str, tuple[ServiceEvidence, LogHit]] = {}
    refused_only = True
    for hit in _dependency_hits(evidence):
        for host in hosts_in(hit.line):
            svc = service_for_host(host, candidates)
            if svc is None:
                continue
            if _REFUSED.search(hit.line):
                found.setdefault(svc.name, (svc, hit))
            else:
                refused_only = False
            break
    return found if refused_only else {}


def _refused_by_ready_endpoints(evidence: Evidence, reported: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, (svc, hit) in _refusing_services(evidence).items():
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
                0.8 if remapped else 0.6,
                prose.narrative(
                    f"{prose.obj(ref)} refuses connections although "
                    f"{prose.count(ready, 'endpoint')} {prose.be(ready)} ready",
                    "fix its targetPort",
                    because=[
                        prose.claim(f"Calls to {prose.obj(ref)} are refused", refused),
                        prose.claim(
                            f"Its {prose.count(ready, 'endpoint')} {prose.be(ready)} ready, so "
                            "the process runs but nothing listens where traffic is sent",
                            _service_fact(svc),
                        ),
                        prose.claim(
                            f"It maps {prose.listing(svc.ports)}"
                            + (", sending traffic to another port" if remapped else ""),
                            ports,
                        ),
                    ],
                ),
                [refused, _service_fact(svc), ports],
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
    timeouts = grep_logs(evidence.logs, _TIMEOUT_LOG, limit=10)
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
            confidence, why = 0.8, "denies all ingress to the workload's pods"
        elif (
            policy.selects_target and "Egress" in policy.policy_types and (policy.egress_rules == 0)
        ):
            confidence, why = 0.8, "denies all egress from the workload's pods"
            if dns_failures:
                facts.append(item(dns_failures[0].source, dns_failures[0].line))
                confidence += 0.05
        elif guarded and "Ingress" in policy.policy_types:
            confidence = 0.75
            why = f"restricts ingress to {guarded[0].name}, which the workload times out calling"
        elif policy.selects_target and timeouts:
            confidence, why = 0.55, "selects the workload's pods while its connections time out"
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
            confidence += 0.05
            because.append(prose.claim("Connections time out, as dropped packets do", timeout))
        findings.append(
            make_finding(
                "network",
                Category.NETWORK,
                min(confidence, 0.9),
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


# --- certificate-expiry -------------------------------------------------------------------


def _field(obj: GenericObjectEvidence, name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in obj.fields.items() if k.lower().split(".")[-1] == name), None)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def check_certificate(evidence: Evidence) -> list[Finding]:
    now = timestamp(evidence.collected_at)
    certificates = [o for o in evidence.other_objects if o.ref.kind == "Certificate"]
    findings: list[Finding] = []
    for cert in certificates:
        facts: list[EvidenceItem] = []
        confidence = 0.0
        source = f"certificate/{cert.ref.namespace}/{cert.ref.name}"
        not_after = _parse_time(_field(cert, "notAfter"))
        state = "is not Ready"
        if not_after is not None:
            seconds = timestamp(not_after) - now
            hours = seconds / 3600
            if hours <= 0:
                confidence = 0.95
                state = f"expired {prose.duration(seconds)} ago"
                facts.append(item(source, f"notAfter {not_after.isoformat()}: {state}"))
            elif hours <= 72:
                confidence = 0.75
                state = f"expires in {prose.duration(seconds)}"
                facts.append(item(source, f"notAfter {not_after.isoformat()}: {state}"))
        elif _field(cert, "expired") == "true":
            confidence = 0.95
            state = "has expired"
            facts.append(item(source, "certificate expired"))
        ready = next((c for c in cert.conditions if c.type == "Ready"), None)
        renewal: EvidenceItem | None = None
        if ready is not None and ready.status != "True":
            confidence = max(confidence, 0.8) + (0.03 if confidence else 0.0)
            renewal = item(source, f"Ready={ready.status} {ready.reason}: {ready.message}")
            facts.append(renewal)
        if not confidence:
            continue
        secret = _field(cert, "secretName")
        ref = ObjectRef(kind="Certificate", namespace=cert.ref.namespace, name=cert.ref.name)
        because = [prose.claim(f"{prose.obj(ref)} {state}", facts[0])]
        if renewal is not None and ready is not None:
            because.append(
                prose.claim(
                    f"Its renewal is failing: Ready={ready.status} ({ready.reason})", renewal
                )
            )
        because.append(
            prose.claim(
                "Clients reject the certificate once it has expired"
                + (f"; renewing it rewrites Secret {secret}" if secret else "")
            )
        )
        findings.append(
            make_finding(
                "certificate-expiry",
                Category.CERTIFICATE_EXPIRY,
                min(confidence, 0.97),
                prose.narrative(
                    f"{prose.obj(ref)} {state}",
                    "renew it" if renewal is None else "fix its issuer and renew it",
                    aside=f"Secret {secret}" if secret else "",
                    because=because,
                ),
                facts,
                Action.RENEW_CERTIFICATE,
                ObjectRef(kind="Certificate", namespace=cert.ref.namespace, name=cert.ref.name),
                {
                    "certificate": cert.ref.name,
                    **({"secret": s} if (s := _field(cert, "secretName")) else {}),
                },
            )
        )
    if findings:
        return findings
    hits = grep_logs(evidence.logs, CERT_LOG, limit=5)
    expiring: list[tuple[str, float]] = []
    for metric in metrics_named(
        evidence, "probe_ssl_earliest_cert_expiry", "certmanager_certificate_expiration"
    ):
        if metric.last is None:
            continue
        # Templates subtract time() already; a raw series is an absolute timestamp.
        remaining = metric.last if "time()" in metric.query else metric.last - now
        days = remaining / 86400
        if days <= 3:
            expiring.append((_probe_instance(metric) or metric.query, days))
    # The API server reports a webhook whose serving certificate expired in the events of
    # the object it could not create (FailedCreate on a ReplicaSet, for instance).
    event_hits = [e for e in evidence.events if CERT_LOG.search(e.message)]
    if not hits and not expiring and not event_hits:
        return []
    facts = [item(h.source, h.line) for h in hits[:3]]
    facts += [item("events", event_fact(e)) for e in event_hits[:2]]
    quoted = list(facts)
    facts += [
        item(
            "metrics",
            f"certificate of {i} "
            + (
                f"expires in {prose.duration(d * 86400)}"
                if d > 0
                else f"expired {prose.duration(d * 86400)} ago"
            ),
        )
        for i, d in expiring
    ]
    confidence = 0.85 if expiring and any(d <= 0 for _, d in expiring) else 0.8
    lines = [h.line for h in hits] + [e.message for e in event_hits]
    target, action = _certificate_target(evidence, lines, [i for i, _ in expiring])
    if target is None:
        return []
    if action is Action.ESCALATE:
        confidence -= 0.1  # someone else's certificate: we can only hand it over
    expired = bool(hits or event_hits) or any(d <= 0 for _, d in expiring)
    state = "has expired" if expired else "is about to expire"
    if target.kind == "Secret":
        problem = f"The certificate in {prose.obj(target)} {state}"
    elif target.kind == "Service":
        problem = f"The certificate served by {prose.obj(target)} {state}"
    else:
        problem = f"A certificate {prose.obj(target)} relies on {state}"
    because = []
    if quoted:
        because.append(prose.claim("TLS handshakes fail on an expired certificate", *quoted[:3]))
    if expiring:
        because.append(
            prose.claim("The certificate's expiry metric confirms it", *facts[len(quoted) :][:2])
        )
    if target.kind == "Secret":
        because.append(prose.claim(f"{prose.obj(target)} holds the certificate that failed"))
    elif target.kind == "Service":
        because.append(
            prose.claim(
                f"The failing calls go to {prose.obj(target)}, whose certificate this cluster "
                "cannot renew"
            )
        )
    else:
        because.append(prose.claim("No Service or Secret in the evidence holds the certificate"))
    return [
        make_finding(
            "certificate-expiry",
            Category.CERTIFICATE_EXPIRY,
            confidence,
            prose.narrative(
                problem,
                "renew it" if action is Action.RENEW_CERTIFICATE else "escalate to its owner",
                because=because,
            ),
            facts,
            action,
            target,
            {},
        )
    ]


def _certificate_target(
    evidence: Evidence, lines: list[str], instances: list[str]
) -> tuple[ObjectRef | None, Action]:
    """The Secret holding the certificate when the evidence names one (preferring the one
    mounted by the pods behind the Service that presents it), else that Service (escalate),
    else the workload."""
    hosts = [h for line in lines for h in hosts_in(line)]
    hosts += [h for i in instances for h in hosts_in(i) or [i]]
    services = list(evidence.services)
    services += [s for s in _hosted_services(evidence, hosts) if s not in services]
    presenting = [s for h in hosts if (s := service_for_host(h, services)) is not None]
    for svc in presenting:
        if svc.type == "ExternalName":
            # Someone else's certificate: hand it to the owner of that endpoint.
            return ObjectRef(
                kind="Service", namespace=svc.namespace, name=svc.name
            ), Action.ESCALATE
    for svc in presenting:
        secret = _serving_secret(evidence, svc) or _dependency_secret(evidence, svc)
        if secret is not None:
            return secret, Action.RENEW_CERTIFICATE
    for obj in evidence.other_objects:
        if obj.ref.kind == "Secret" and "tls" in (obj.fields.get("type", "") + obj.ref.name):
            return obj.ref, Action.RENEW_CERTIFICATE
    for obj in evidence.other_objects:
        if obj.ref.kind == "Ingress" and (secrets := obj.fields.get("tlsSecretNames")):
            return (
                ObjectRef(kind="Secret", namespace=obj.ref.namespace, name=secrets.split(",")[0]),
                Action.RENEW_CERTIFICATE,
            )
    if not presenting:
        # No called Service is named: the failing TLS is most likely the workload's own.
        for pod in evidence.pods:
            for ref in pod.config_refs:
                if ref.kind == "Secret" and _TLS_NAME.search(ref.name):
                    return (
                        ObjectRef(kind="Secret", namespace=pod.namespace, name=ref.name),
                        Action.RENEW_CERTIFICATE,
                    )
    for svc in presenting:
        return ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name), Action.ESCALATE
    workload = workload_ref(evidence)
    if workload is not None:
        return workload, Action.ESCALATE
    return None, Action.ESCALATE


def _hosted_services(evidence: Evidence, hosts: list[str]) -> list[ServiceEvidence]:
    """Services of other namespaces named by cluster DNS name (see ``_uncollected_services``)."""
    local = {p.namespace for p in evidence.pods} | {s.namespace for s in evidence.services}
    found: list[ServiceEvidence] = []
    for host in hosts:
        match = _CLUSTER_SERVICE_HOST.match(host)
        if match is None or match["namespace"] in local:
            continue
        svc = ServiceEvidence(name=match["name"], namespace=match["namespace"])
        if svc not in found:
            found.append(svc)
    return found


def _dependency_secret(evidence: Evidence, svc: ServiceEvidence) -> ObjectRef | None:
    """A TLS-looking Secret mounted by the pods of a followed dependency (any namespace)."""
    for dependency in evidence.dependencies:
        found = dependency.service
        if found is None or (found.namespace, found.name) != (svc.namespace, svc.name):
            continue
        for name in dependency.mounted_secrets:
            if _TLS_NAME.search(name):
                return ObjectRef(kind="Secret", namespace=svc.namespace, name=name)
    return None


def _serving_secret(evidence: Evidence, svc: ServiceEvidence) -> ObjectRef | None:
    """A TLS-looking Secret mounted by the pods the Service selects: its serving certificate."""
    for pod in evidence.pods:
        if pod.namespace != svc.namespace or not _selects(svc.selector, pod.labels):
            continue
        for ref in pod.config_refs:
            if ref.kind == "Secret" and _TLS_NAME.search(ref.name):
                return ObjectRef(kind="Secret", namespace=pod.namespace, name=ref.name)
    return None


NETWORK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("dependency-failure", (Category.DEPENDENCY_FAILURE,), check_dependency),
    Analyzer("network", (Category.NETWORK,), check_network),
    Analyzer("certificate-expiry", (Category.CERTIFICATE_EXPIRY,), check_certificate),
)
