"""The policy denial rule: a NetworkPolicy on the workload's pods that shuts them off (no
ingress, or no egress, rule while no other policy selecting them has one: policies are
unioned, so an allow-list beside a default deny is the one to read), that fences a Service
the workload times out calling, or that selects the workload's pods while its connections
time out (dropped packets time out; they are not refused). Name lookups failing behind a
policy that denies egress, and connection timeouts, add weight. The finding is aimed at the
policy (fix-network); ``kubetriage.analyzers.policies`` evaluates the flows themselves.

Registered in ``kubetriage.analyzers.ANALYZERS`` right after the network rule
(``kubetriage.analyzers.network``), whose findings it shares; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import CONNECT_TIMEOUT_LOG, hosts_in, service_for_host
from kubetriage.analyzers.support import grep_logs, item
from kubetriage.dns_errors import DNS_LOG
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a policy denial finding is, by the evidence that earns it."""

    deny_all: float = 0.8  # a NetworkPolicy on the workload's pods has no ingress (egress) rule
    dns_fails_bonus: float = 0.05  # ... it denies egress and name lookups fail
    guards_timeouts: float = 0.75  # a policy fences a Service the workload times out calling
    selects_timeouts: float = 0.55  # a policy selects the workload's pods; connections time out
    timeouts_bonus: float = 0.05  # connections time out behind the policy
    policy_cap: float = 0.9  # the most a NetworkPolicy finding claims


CONFIDENCE: Final = _Confidence()


def _denies_all(evidence: Evidence, policy: NetworkPolicyEvidence, direction: str) -> bool:
    """Whether ``policy`` shuts the workload's pods off in ``direction``: it selects them, is
    of that type, has no rule for it, and no other policy selecting them has one either.
    Policies are unioned, so a default deny beside an allow-list for the same pods denies
    only what the allow-list leaves out; the allow-list is the one to read, not the deny."""

    def rules(p: NetworkPolicyEvidence) -> int:
        return p.ingress_rules if direction == "Ingress" else p.egress_rules

    if not policy.selects_target or direction not in policy.policy_types or rules(policy):
        return False
    return not any(
        other.selects_target and direction in other.policy_types and rules(other)
        for other in evidence.network_policies
        if other.namespace == policy.namespace
    )


def check_policy_denials(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    timeouts = grep_logs(evidence.logs, CONNECT_TIMEOUT_LOG, limit=10)
    dns_failures = grep_logs(evidence.logs, DNS_LOG, limit=5)
    timeout_services: set[str] = set()
    for hit in timeouts:
        if DNS_LOG.search(hit.line):
            continue  # a lookup that timed out: the host it names was never dialled
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
        if _denies_all(evidence, policy, "Ingress"):
            confidence, why = CONFIDENCE.deny_all, "denies all ingress to the workload's pods"
        elif _denies_all(evidence, policy, "Egress"):
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


POLICY_DENIAL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("policy-denial", (Category.NETWORK,), check_policy_denials),
)
