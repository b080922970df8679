"""Builders for ``Evidence`` objects used by the analyzer tests (``make.*``).

Each builder returns a real pydantic model with the defaults a healthy Deployment would show,
so a test states only what is broken. ``analyze`` runs the real analyzer registry and fails the
test if any analyzer raised.

The test modules import every builder from here; the builders of one kind live in modules
beside it, which this one uses: ``evidence_time`` (``NOW``, ``ago``), ``pods`` (containers,
their states, probes and ports; pods), ``workloads`` (Deployments, revisions, rollouts),
``networking`` (Services, NetworkPolicies), ``signals`` (Events, logs, metrics),
``naming_sources`` (naming sources in a walk's own words) and ``analysis`` (running the
analyzers, asserting on findings). Here: whole ``Evidence`` objects and the checkout
scenario most tests share. A new builder goes into the module of its kind and into
``__all__`` here, so tests keep one import (``from tests.support import evidence as make``).
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import ContainerEvidence, LogTail
from tests.support.analysis import analyze, assert_leads, assert_ranks_below, by_category, top
from tests.support.evidence_time import NOW, ago
from tests.support.naming_sources import named, naming
from tests.support.networking import external_service, network_policy, service, service_port
from tests.support.pods import (
    app_pod,
    container,
    crash_looping,
    exec_probe,
    http_probe,
    pod,
    port,
    running,
    tcp_probe,
    terminated,
    waiting,
)
from tests.support.signals import error_ratio, event, log, metric
from tests.support.workloads import deployment, revision, rollout_change, rollout_revisions

__all__ = [
    "CHECKOUT_POD",
    "NOW",
    "ago",
    "alert",
    "analyze",
    "app_evidence",
    "app_pod",
    "assert_leads",
    "assert_ranks_below",
    "by_category",
    "checkout_evidence",
    "checkout_log",
    "container",
    "crash_looping",
    "deployment",
    "error_ratio",
    "event",
    "evidence",
    "exec_probe",
    "external_service",
    "http_probe",
    "log",
    "metric",
    "named",
    "naming",
    "network_policy",
    "pod",
    "port",
    "revision",
    "rollout_change",
    "rollout_revisions",
    "running",
    "service",
    "service_port",
    "tcp_probe",
    "terminated",
    "top",
    "waiting",
]

# The one pod of ``checkout_evidence`` (and of most tests about the checkout Deployment).
CHECKOUT_POD = "checkout-7d9f6c8b5-abcde"


def checkout_log(text: str) -> LogTail:
    """The log of container ``app`` of ``CHECKOUT_POD``."""
    return log(CHECKOUT_POD, "app", text)


def alert(**labels: str) -> AlertEvidence:
    return AlertEvidence(labels=labels, starts_at=ago(6), status="firing")


def evidence(**fields: Any) -> Evidence:
    fields.setdefault("collected_at", NOW)
    return Evidence(**fields)


def checkout_evidence(*containers: ContainerEvidence, **fields: Any) -> Evidence:
    """Evidence about the ``checkout`` Deployment and its one pod ``CHECKOUT_POD`` running
    ``containers`` (default: a healthy ``app``), plus ``fields`` (what the test breaks:
    logs, services, policies...; ``workload`` replaces the healthy Deployment)."""
    fields.setdefault("workload", deployment())
    return evidence(pods=[pod(CHECKOUT_POD, *(containers or [container("app")]))], **fields)


def app_evidence(
    pod_name: str,
    *containers: ContainerEvidence,
    namespace: str = "shop",
    logs: str | None = None,
    **fields: Any,
) -> Evidence:
    """Evidence about a Deployment and its one pod ``pod_name`` (see ``app_pod``) running
    ``containers``; ``logs`` is what the first container logged. ``workload`` replaces the
    default Deployment (named after the app, two replicas, all ready)."""
    the_pod = app_pod(pod_name, *containers, namespace=namespace)
    app = the_pod.labels["app"]
    fields.setdefault("workload", deployment(app, namespace))
    if logs is not None:
        fields["logs"] = [log(pod_name, the_pod.containers[0].name, logs, namespace=namespace)]
    return evidence(pods=[the_pod], **fields)
