"""The dependency-failure rule: the workload's calls to something else fail. The failing log
lines, env values and blackbox probe targets are matched against the Services in the
evidence (their DNS names and ExternalName targets) to name the Service at fault, handed to
its owner (escalate); failing calls that name no Service are ``unnamed_calls``' (the cluster
DNS Service's, else ``unknown`` escalated at the workload). A callee that failed once and came
back before the alert, every failing call to it written before it was back and no cause in
evidence (``recovery.recovered_callee``), is no failing dependency: no finding.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import (
    caller,
    dependency_hits,
    failure_kind,
    followed_services,
    own_services,
    probe_instance,
    refusing_services,
    service_fact,
    services_elsewhere,
)
from kubetriage.analyzers.configured_callees import configured_callees
from kubetriage.analyzers.dependencies import rolled_out_before_onset
from kubetriage.analyzers.log_signatures import CONNECT_TIMEOUT_LOG, hosts_in, service_for_host
from kubetriage.analyzers.metrics import throttled_callees
from kubetriage.analyzers.recovery import recovered_callee
from kubetriage.analyzers.relayed_failures import relayed_failure
from kubetriage.analyzers.support import (
    item,
    metrics_named,
    same_service,
    service_source,
)
from kubetriage.analyzers.unnamed_calls import unnamed_call_findings
from kubetriage.analyzers.worker_timeouts import waiting_worker_timeouts
from kubetriage.dns_errors import DNS_NO_SUCH_NAME, DNS_RESOLVER_FAILURE
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a dependency-failure finding is, by the evidence that earns it; the caps leave
    the network rule above it where the Service itself is at fault."""

    named: float = 0.8  # failing calls in the logs name the Service
    env_only: float = 0.75  # calls fail, and the configuration names only this Service
    env_among: float = 0.6  # ... names it among several
    probes_only: float = 0.65  # only blackbox probes of the Service fail
    probes_bonus: float = 0.1  # its probes fail as well as the calls
    healthy_caller_bonus: float = 0.03  # the caller's own pods are ready and not restarting
    unbacked_cap: float = 0.6  # the Service selects no pod: nothing behind it
    refused_cap: float = 0.65  # its ready endpoints refuse: its targetPort is wrong
    fenced_cap: float = 0.7  # calls time out into a Service a NetworkPolicy guards
    throttled_cap: float = 0.7  # the pods behind it are CPU-throttled: their limit is why
    cap: float = 0.93  # the most a named dependency claims
    # The Service's workload rolled out right before the caller's errors began, the caller
    # unchanged since: its release is what changed, and rolling it back (dependency-change,
    # 0.78) is the fix; handing it to its owner stays an alternative below that.
    released_cap: float = 0.75
    # Every failing call to it is a lookup the cluster DNS answered "no such name" for a
    # Service name the evidence could not read: that Service does not exist, so the name the
    # caller uses is wrong (its configuration), not a server behind it down.
    no_such_service_cap: float = 0.6


CONFIDENCE: Final = _Confidence()


def check_dependency(evidence: Evidence) -> list[Finding]:
    # Workers killed past their timeout while the CPU idled waited on a call; their lines name
    # no host, so they only point at a Service the configuration names.
    waited = [] if (logged := dependency_hits(evidence)) else waiting_worker_timeouts(evidence)
    hits = logged or waited
    own = own_services(evidence, hits)
    # A lookup the resolver never answered ("lookup x on 10.96.0.10:53: i/o timeout") never
    # reached the host it names: such lines blame the resolver, not a Service they mention.
    answered = [h for h in hits if not DNS_RESOLVER_FAILURE.search(h.line)]
    candidates = [s for s in evidence.services if s.name not in own]
    # A followed dependency is a candidate wherever it lives: the caller names it in its env
    # or config, and the evidence read its Service (another namespace, an egress gateway).
    candidates += [
        s
        for s in followed_services(evidence)
        if s.name not in own and not any(same_service(s, c) for c in candidates)
    ]
    candidates += [
        s
        for s in services_elsewhere(evidence, [h for hit in hits for h in hosts_in(hit.line)])
        if not any(same_service(s, c) for c in candidates)
    ]
    # service name -> facts, with a score for how directly each names the service
    named: dict[str, list[EvidenceItem]] = defaultdict(list)
    named_lines: dict[str, list[str]] = defaultdict(list)
    probes_down: dict[str, list[EvidenceItem]] = defaultdict(list)
    by_name = {s.name: s for s in candidates}

    for hit in answered:
        for host in hosts_in(hit.line):
            svc = service_for_host(host, candidates)
            if svc is not None:
                named[svc.name].append(item(hit.source, hit.line))
                named_lines[svc.name].append(hit.line)
                break
    # env values name it, else the failing containers' own set-up lines do
    via_env = configured_callees(evidence, candidates, answered)
    for metric in metrics_named(evidence, "probe_success"):
        instance = probe_instance(metric)
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
        confidence = CONFIDENCE.named
    elif answered and via_env:
        ranked = sorted(
            via_env,
            key=lambda n: (n in probes_down, by_name[n].type == "ExternalName"),
            reverse=True,
        )
        chosen = ranked[0]
        only = len(via_env) == 1 or chosen in probes_down
        confidence = CONFIDENCE.env_only if only else CONFIDENCE.env_among
    elif probes_down:
        chosen = next(iter(probes_down))
        confidence = CONFIDENCE.probes_only
    findings: list[Finding] = []
    if chosen is not None:
        svc = by_name[chosen]
        lines = named_lines.get(chosen) or [h.line for h in answered]
        if recovered_callee(evidence, svc, lines) is not None:
            # It failed once and came back before the alert, with no cause in evidence: the
            # errors were the restart's; nothing to hand its owner as a failing dependency.
            return []
        # A callee that is up and only passes on its own callee's failure: that one fails.
        relay = relayed_failure(evidence, svc) if named.get(chosen) else None
        if relay is not None:
            svc = relay.service
        if chosen in probes_down and (named or hits):
            confidence += CONFIDENCE.probes_bonus
        if _workload_healthy(evidence):
            confidence += CONFIDENCE.healthy_caller_bonus
        if svc.selector and svc.matching_pods == 0:
            confidence = min(confidence, CONFIDENCE.unbacked_cap)
        if _no_such_service(evidence, svc, named.get(chosen, [])):
            confidence = min(confidence, CONFIDENCE.no_such_service_cap)
        if chosen in refusing_services(evidence):
            confidence = min(confidence, CONFIDENCE.refused_cap)
        if any(
            same_service(d.service, svc) and rolled_out_before_onset(evidence, d)
            for d in evidence.dependencies
        ):
            confidence = min(confidence, CONFIDENCE.released_cap)
        if policy_guards(evidence, svc) and any(
            CONNECT_TIMEOUT_LOG.search(f.fact)
            for f in (relay.calls if relay is not None else named.get(chosen, []))
        ):
            confidence = min(confidence, CONFIDENCE.fenced_cap)
        if any(same_service(d.service, svc) for d, *_ in throttled_callees(evidence)):
            confidence = min(confidence, CONFIDENCE.throttled_cap)
        facts = [*named.get(chosen, []), *probes_down.get(chosen, []), *via_env.get(chosen, [])]
        if relay is not None:
            facts[1:1] = relay.calls[:2]
        if not named.get(chosen):
            facts[:0] = [item(h.source, h.line) for h in hits[:2]]
        described = service_fact(svc)
        facts.append(described)
        owner = next((v for k, v in svc.annotations.items() if "owner" in k.lower()), None)
        owner_fact = item(service_source(svc), f"owner: {owner}")
        if owner:
            facts.append(owner_fact)
        ref = svc.ref()
        calls = named.get(chosen, [])
        kind = failure_kind(" ".join(f.fact for f in calls) or " ".join(h.line for h in hits))
        because: list[Claim] = []
        if calls:
            because.append(
                prose.claim(
                    f"{caller(evidence, hits)} logs {kind} when it calls {chosen}", *calls[:2]
                )
            )
        elif hits:
            because.append(
                prose.claim(
                    f"{caller(evidence, hits)} logs {kind}, and its configuration points at "
                    f"{svc.name}",
                    *facts[:2],
                    *via_env.get(chosen, [])[:1],
                )
            )
        if relay is not None:
            because.append(
                prose.claim(
                    f"{prose.obj(relay.via_ref())} has every pod ready, and its own calls to "
                    f"{svc.name} fail",
                    *relay.calls[:2],
                )
            )
        if probes_down.get(chosen):
            because.append(
                prose.claim(f"Blackbox probes of {svc.name} fail as well", *probes_down[chosen][:2])
            )
        failing = [
            item(service_source(svc), f"pod {prose.pod_trouble(p)}")
            for d in evidence.dependencies
            if same_service(d.service, svc)
            for p in d.failing_pods[:2]
        ]
        if failing:
            facts[1:1] = failing
            because.append(prose.claim("Its own pods are not serving", *failing))
        else:
            because.append(prose.claim(_service_claim(svc), described))
        if owner:
            because.append(prose.claim(f"Its owner is {owner}", owner_fact))
        elif _workload_healthy(evidence):
            because.append(prose.claim("The caller's own pods are ready and not restarting"))
        if relay is not None:
            via = prose.obj(relay.via_ref())
            problem = f"Calls from {caller(evidence, hits)} fail where {via} calls {prose.obj(ref)}"
        elif calls or hits:
            problem = f"Calls from {caller(evidence, hits)} to {prose.obj(ref)} fail with {kind}"
        else:
            problem = f"{prose.obj(ref)} is down: its blackbox probes fail"
        findings.append(
            make_finding(
                "dependency-failure",
                Category.DEPENDENCY_FAILURE,
                min(confidence, CONFIDENCE.cap),
                prose.narrative(
                    problem,
                    "escalate to its owner",
                    aside=f"it points at {svc.external_name}" if svc.external_name else "",
                    because=because[:4],
                ),
                facts,
                Action.ESCALATE,
                svc.ref(),
                {"service": svc.name},
            )
        )
        return findings
    if not hits or waited:
        return []
    return unnamed_call_findings(evidence, hits)


def _no_such_service(evidence: Evidence, svc: ServiceEvidence, calls: list[EvidenceItem]) -> bool:
    """Whether every failing call to ``svc`` is a lookup answered "no such name"
    (``DNS_NO_SUCH_NAME``) while the Service was not read: a name that does not exist."""
    read = [*evidence.services, *followed_services(evidence)]
    if not calls or any(same_service(svc, s) for s in read):
        return False
    return all(DNS_NO_SUCH_NAME.search(c.fact) for c in calls)


def policy_guards(evidence: Evidence, svc: ServiceEvidence) -> bool:
    """Whether a NetworkPolicy in the Service's namespace selects the pods behind it."""
    return bool(svc.selector) and any(
        p.namespace == svc.namespace
        and all(svc.selector.get(k) == v for k, v in p.pod_selector.items())
        and "Ingress" in p.policy_types
        for p in evidence.network_policies
    )


def _service_claim(svc: ServiceEvidence) -> str:
    ref = prose.obj(svc.ref())
    if svc.type == "ExternalName":
        return f"{ref} points outside the cluster at {svc.external_name}, so the fault is there"
    if svc.ready_endpoints is None and svc.matching_pods is None and not svc.selector:
        return f"{ref} lives in a namespace that was not collected, so its side is not visible"
    if svc.ready_endpoints is None:
        return f"{ref} selects its pods, but its endpoints were not read"
    return f"{ref} has {prose.ready_endpoints(svc.ready_endpoints)}"


def _workload_healthy(evidence: Evidence) -> bool:
    pods = [p for p in evidence.pods if p.containers]
    return bool(pods) and all(
        c.ready is not False and c.restart_count == 0
        for p in pods
        for c in p.containers
        if not c.init
    )


DEPENDENCY_FAILURE_ANALYZERS: tuple[Analyzer, ...] = (
    # It also hands unnamed failing calls over as unknown (not a category it covers).
    Analyzer("dependency-failure", (Category.DEPENDENCY_FAILURE,), check_dependency),
)
