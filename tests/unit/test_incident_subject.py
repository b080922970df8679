"""What prose names as the incident's subject: the alert's target, unless the evidence was
built around a workload in its place; a CronJob whose latest run was read in its place (a
CronJob has no pods of its own) stays the subject, in an unknown's text and a finding's.

Real: ``incident_subject`` and ``explain_unknown`` on Evidence from tests/support/evidence.py.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.support import incident_subject
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import WorkloadEvidence
from kubetriage.unknown import explain_unknown
from tests.support.evidence import alert, container, deployment, evidence, pod

CRON = ObjectRef(kind="CronJob", namespace="reporting", name="nightly-export")
RUN = ObjectRef(kind="Job", namespace="reporting", name="nightly-export-29917560")


def _run_of_cron() -> WorkloadEvidence:
    return WorkloadEvidence(ref=RUN, controller=CRON)


def test_a_cronjob_target_read_through_its_run_stays_the_subject() -> None:
    ev = evidence(
        target=CRON, workload=_run_of_cron(), alerts=[alert(alertname="CronJobLastSuccessTooOld")]
    )
    assert incident_subject(ev) == CRON
    summary = prose.narrative_summary(explain_unknown(ev))
    assert "CronJob reporting/nightly-export" in summary
    assert RUN.name not in summary


def test_an_alert_about_one_run_names_that_run() -> None:
    ev = evidence(target=RUN, workload=_run_of_cron())
    assert incident_subject(ev) == RUN


def test_a_workload_read_in_place_of_its_service_or_pod_is_the_subject() -> None:
    service = ObjectRef(kind="Service", namespace="shop", name="checkout")
    workload = deployment()
    assert incident_subject(evidence(target=service, workload=workload)) == workload.ref
    assert incident_subject(evidence(target=service)) == service


def test_an_alert_naming_no_object_is_explained_on_the_one_workload_whose_pods_were_read() -> None:
    # An absent series' alert carries only its selector's labels; the pods read belong to one
    # Deployment, which the unknown's text then names (two owners: nothing is named).
    scraper = pod(
        "prometheus-0a1b2c3d4-x2k9q",
        container(),
        namespace="monitoring",
        replica_set="prometheus-0a1b2c3d4",
    )
    ev = evidence(alerts=[alert(alertname="KubeletDown")], pods=[scraper])
    summary = prose.narrative_summary(explain_unknown(ev))
    assert "Deployment monitoring/prometheus" in summary
    other = pod(
        "grafana-5f6e7d8c9-q7w2e",
        container(),
        namespace="monitoring",
        replica_set="grafana-5f6e7d8c9",
    )
    two = evidence(alerts=[alert(alertname="KubeletDown")], pods=[scraper, other])
    assert "the KubeletDown alert" in prose.narrative_summary(explain_unknown(two))
