"""A callee that only passes its own callee's failure along: the caller's failing calls name
a followed dependency whose pods are all up and ready, while that dependency's own log lines
report failing calls to another Service the evidence followed one hop further (named by its
DNS name, or the outside host an ExternalName Service points at), and it did not roll out
right before the caller's errors (then its release is the change). An SRE hands the incident
to the owner of the hop that fails, not of the healthy one relaying its errors: a payments
service answering 502 because its card acquirer answers 503 is not the payments team's
outage.

Pure; used by ``dependency_failure`` once it has named the Service the caller's calls fail
on.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetriage.analyzers.calls import failing_calls, own_services
from kubetriage.analyzers.dependencies import rolled_out_before_onset
from kubetriage.analyzers.log_signatures import hosts_in, service_for_host
from kubetriage.analyzers.support import item, same_service
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence


@dataclass(frozen=True, slots=True)
class Relay:
    """The healthy callee that passes the failure on (``via``), the Service its own failing
    calls name (``service``) and those calls as evidence."""

    via: ServiceEvidence
    service: ServiceEvidence
    calls: list[EvidenceItem]

    def via_ref(self) -> ObjectRef:
        return self.via.ref()


def relayed_failure(evidence: Evidence, svc: ServiceEvidence) -> Relay | None:
    """The Service one hop behind ``svc`` that its own failing calls name, when ``svc``'s
    pods are all up (none failing, none restarted, its replicas all ready); None otherwise,
    or when its failing calls name no other followed Service."""
    dependency = next((d for d in evidence.dependencies if same_service(d.service, svc)), None)
    if dependency is None or not _serving(dependency):
        return None
    if rolled_out_before_onset(evidence, dependency):
        # Its own release right before is what changed: its new calls fail, not its callee.
        return None
    others = [
        d.service
        for d in evidence.dependencies
        if d.service is not None and not same_service(d.service, svc)
    ]
    calls: dict[tuple[str, str], list[EvidenceItem]] = {}
    behind: dict[tuple[str, str], ServiceEvidence] = {}
    for hit in failing_calls(dependency.logs):
        for host in hosts_in(hit.line):
            found = service_for_host(host, others)
            if found is not None:
                key = (found.namespace, found.name)
                behind[key] = found
                calls.setdefault(key, []).append(item(hit.source, hit.line))
                break
    if not calls:
        return None
    key = max(calls, key=lambda k: len(calls[k]))
    return Relay(via=svc, service=behind[key], calls=calls[key])


def failing_upstream(evidence: Evidence, dependency: DependencyEvidence) -> EvidenceItem | None:
    """A line of a serving ``dependency``'s own logs reporting a failing call of its own, to
    a host that is not the incident's workload: it answers errors because what it calls
    fails, for every caller alike. None when its pods are not all up, when it rolled out
    right before the onset (its release is the change), or when its own calls do not fail."""
    if not _serving(dependency) or rolled_out_before_onset(evidence, dependency):
        return None
    own = own_services(evidence)
    for hit in failing_calls(dependency.logs):
        hosts = hosts_in(hit.line)
        if hosts and not any(host.split(".", 1)[0] in own for host in hosts):
            return item(hit.source, hit.line)
    return None


def _serving(dependency: DependencyEvidence) -> bool:
    """Its pods run, none restarted, and every desired replica is ready (both known)."""
    return (
        dependency.pods > 0
        and not dependency.failing_pods
        and not dependency.restarted_pods
        and dependency.desired_replicas is not None
        and not dependency.short_of_ready()
    )
