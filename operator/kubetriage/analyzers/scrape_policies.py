"""The closed-scrape-port rule: a scrape-health alert (kube-prometheus ``TargetDown``, an
``up == 0`` rule) fires for a Service's job while the Service's pods are all ready and
serving, and the NetworkPolicies isolating those pods admit no peer at all on one of the
Service's ports: their rules list the ports the application's clients use and leave that
one out. Prometheus scrapes each pod at the Service port its ServiceMonitor names, so a
port closed to every client is a scrape that is dropped, whoever runs the scraper; the
application is fine and the honest fix is the policy (add the port, from the monitoring
namespace), not the workload.

Silent when the alert is not about scrape targets, when a pod behind the Service is not
ready (then the pods themselves fail, and the other rules speak), and when every port of the
Service is admitted by some rule (a port open to some namespaces but not the scraper's needs
the scraper's identity, which the evidence does not hold).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, service_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodPort, ServiceEvidence
from kubetriage.models.objects import service_selects
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, closed_port


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a closed-scrape-port finding is, by the evidence that earns it."""

    # A scrape-health alert for the Service's job, every pod behind it ready, and one of its
    # ports admitted from no peer by the policies isolating its pods, while another port is
    # admitted (the policy was written for these pods and left the port out).
    port_closed: float = 0.86


CONFIDENCE: Final = _Confidence()

# Alerts whose meaning is "Prometheus cannot scrape the job's targets": kube-prometheus'
# TargetDown and the common names of the same rule (awesome-prometheus-alerts).
_SCRAPE_ALERTS: Final = frozenset({"TargetDown", "PrometheusTargetMissing", "PrometheusTargetDown"})
# A hand-written rule on the scrape health series: ``up == 0`` / ``up{job="x"} == 0``.
_UP_IS_ZERO: Final = re.compile(r"(?<![\w.])up\s*(\{[^}]*\})?\s*==\s*0\b")


def _scrape_alert(alert: AlertEvidence) -> bool:
    if alert.labels.get("alertname") in _SCRAPE_ALERTS:
        return True
    return any(_UP_IS_ZERO.search(text) for text in alert.annotations.values())


def _scraped_services(evidence: Evidence, alert: AlertEvidence) -> list[ServiceEvidence]:
    """The Services the alert's job names (a ServiceMonitor's job and ``service`` label are
    the Service's name), else those selecting the incident's pods."""
    named = {alert.labels.get("service"), alert.labels.get("job")} - {None}
    chosen = [s for s in evidence.services if s.name in named and s.selector]
    if chosen:
        return chosen
    return [
        s
        for s in evidence.services
        if s.selector and any(service_selects(s.selector, p.labels) for p in evidence.pods)
    ]


def _port_label(port: PodPort) -> str:
    if port.name and port.number is not None:
        return f"{port.number} ({port.name})"
    return str(port.number) if port.number is not None else str(port.name)


def _closed(evidence: Evidence, svc: ServiceEvidence) -> tuple[list[PodPort], tuple[str, ...]]:
    """The Service's pod ports no rule admits from any peer, with the isolating policies;
    nothing when every port is admitted or none is (a deny-all shuts the clients out too)."""
    pod = next(
        (
            p
            for p in evidence.pods
            if p.namespace == svc.namespace and service_selects(svc.selector, p.labels)
        ),
        None,
    )
    if pod is None:
        return [], ()
    destination = Endpoint(
        namespace=pod.namespace,
        labels=pod.labels,
        namespace_labels=evidence.namespace_labels.get(pod.namespace, {}),
        ips=tuple(pod.ips),
    )
    closed: list[PodPort] = []
    policies: tuple[str, ...] = ()
    for port in svc.pod_ports:
        if port.number is None and port.name is None:
            continue
        blocking = closed_port(evidence.network_policies, destination, port.number, port.name)
        if blocking:
            closed.append(port)
            policies = blocking
    if not closed or len(closed) == len(svc.pod_ports):
        return [], ()
    return closed, policies


def check_closed_scrape_port(evidence: Evidence) -> list[Finding]:
    """Open the scrape port in the policy that isolates the Service's pods."""
    alert = next((a for a in evidence.alerts if _scrape_alert(a)), None)
    if alert is None:
        return []
    for svc in _scraped_services(evidence, alert):
        if not svc.ready_endpoints or svc.not_ready_endpoints:
            continue
        closed, policies = _closed(evidence, svc)
        if not closed:
            continue
        ref = ObjectRef(kind="NetworkPolicy", namespace=svc.namespace, name=policies[0])
        ports = prose.listing([_port_label(p) for p in closed])
        name = alert.labels.get("alertname", "the alert")
        fired = item("alert", f"{name} fires for job {alert.labels.get('job', svc.name)}")
        serving = item(
            service_source(svc),
            f"{prose.count(svc.ready_endpoints, 'ready endpoint')}, none not ready",
        )
        shut = item(
            f"networkpolicy/{svc.namespace}/{policies[0]}",
            f"isolates ingress of the pods of Service {svc.name}; no rule of "
            f"{', '.join(policies)} admits port {ports} from any peer",
        )
        text = prose.narrative(
            f"{prose.obj(ref)} closes scrape port {ports} of Service {svc.name}",
            f"admit port {ports} from the monitoring namespace",
            because=[
                prose.claim(f"{name} says Prometheus cannot scrape the job's targets", fired),
                prose.claim("Every pod behind the Service is ready and serving", serving),
                prose.claim(
                    "The policies isolating the pods admit their other ports but this one "
                    "from no peer, so every scrape is dropped",
                    shut,
                ),
            ],
        )
        return [
            make_finding(
                "scrape-policy",
                Category.NETWORK,
                CONFIDENCE.port_closed,
                text,
                [shut, fired, serving],
                Action.FIX_NETWORK,
                ref,
                {"networkPolicy": policies[0]},
            )
        ]
    return []


SCRAPE_POLICY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("scrape-policy", (Category.NETWORK,), check_closed_scrape_port),
)
