"""Alert groups to Incident writes (kubetriage.receiver.state): names and namespace choice,
target/severity/title from labels, merging repeated notifications by fingerprint, the
bound on stored alerts with the omitted count, resolution and re-fire transitions, and the
idempotence of a retried batch. Pure: real payload models, no cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest

from kubetriage.alerts import incident_name
from kubetriage.crd import build_incident_crd
from kubetriage.models.incident import Alert, AlertGroupStatus
from kubetriage.receiver.payload import parse_payload
from kubetriage.receiver.state import (
    TRACEPARENT_ANNOTATION,
    Notification,
    group_notification,
    new_incident,
    placement,
    plan_write,
    should_create,
    valid_traceparent,
)
from kubetriage.tenancy import Tenancy
from tests.integration.alertmanager_fixtures import crashloop_labels, webhook_alert, webhook_payload

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
GROUP = {"alertname": "KubePodCrashLooping", "namespace": "exports"}
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _note(
    alerts: list[dict[str, Any]], *, at: int = 0, trace: str | None = None, **kw: Any
) -> Notification:
    body = webhook_payload(alerts, group_labels=kw.pop("group_labels", GROUP), **kw)
    return Notification(
        payload=parse_payload(json.dumps(body).encode()),
        received_at=T0 + timedelta(seconds=at),
        traceparent=trace,
    )


def _pod(name: str, **kw: Any) -> dict[str, Any]:
    return webhook_alert(crashloop_labels(pod=name), **kw)


def _apply(existing: dict[str, Any] | None, write: Any) -> dict[str, Any]:
    """What the API server holds after the write (merge patch semantics, one level deep)."""
    body = new_incident("n", "ns", write) if existing is None else json.loads(json.dumps(existing))
    if write.spec_patch:
        body["spec"].update(write.spec_patch["spec"])
    status = body.setdefault("status", {})
    for key, value in write.status_patch.items():
        if key == "alertGroup":
            group = {**status.get("alertGroup", {}), **value}
            status["alertGroup"] = {k: v for k, v in group.items() if v is not None}
        else:
            status[key] = value
    return body


def test_name_and_namespace_come_from_the_group_labels() -> None:
    note = _note([_pod("a")])
    where = placement(note.payload, incident_namespace="kubetriage")
    assert where.name == incident_name("KubePodCrashLooping", note.payload.group_key)
    assert where.name.startswith("kubepodcrashlooping-")
    assert where.namespaces == ("exports", "kubetriage")
    # The alerts of the group do not change the name; an alert from another namespace moves
    # the group to the cluster-scope namespace, where the Incident is also looked up first.
    other = _note([_pod("b"), webhook_alert({"alertname": "X", "namespace": "other"})])
    moved = placement(other.payload, incident_namespace="kubetriage")
    assert moved.name == where.name
    assert moved.namespaces == ("kubetriage", "exports")
    assert not moved.create_fallback


def test_namespace_is_where_the_target_lives_whichever_label_says_it() -> None:
    """Issue 10: a group label namespace=web with an alert whose target is kube-system's
    coredns made a web Incident about kube-system; exported_namespace names the target's
    namespace in target resolution, so it decides the placement too."""
    coredns = webhook_alert(
        {"alertname": "X", "namespace": "web", "exported_namespace": "kube-system", "pod": "c"}
    )
    note = _note([coredns], group_labels={"alertname": "X", "namespace": "web"})
    where = placement(note.payload, incident_namespace="kubetriage")
    assert where.namespaces[0] == "kubetriage"
    grouped = _note([coredns], group_labels={"alertname": "X", "exported_namespace": "kube-system"})
    where = placement(grouped.payload, incident_namespace="kubetriage")
    assert where.namespaces == ("kube-system", "kubetriage")


def test_a_label_target_outside_the_incidents_namespace_is_not_written() -> None:
    coredns = webhook_alert({"alertname": "X", "namespace": "kube-system", "pod": "coredns-1"})
    note = _note([coredns], group_labels={"alertname": "X"})
    kept = plan_write(None, [note], batch_id="b", scope=Tenancy().scope("kubetriage"))
    assert kept.spec.target is None
    allowed = Tenancy(frozenset({"kubetriage"})).scope("kubetriage")
    written = plan_write(None, [note], batch_id="b", scope=allowed)
    assert written.spec.target is not None
    assert written.spec.target.namespace == "kube-system"


@pytest.mark.parametrize(
    ("group_labels", "watched", "namespaces"),
    [
        ({"alertname": "NodeDown"}, None, ("kubetriage",)),
        ({"alertname": "A", "namespace": "exports"}, ["payments"], ("kubetriage",)),
        ({"alertname": "A", "namespace": "exports"}, ["exports"], ("exports", "kubetriage")),
        ({"alertname": "A", "namespace": "Not_A_Namespace"}, None, ("kubetriage",)),
        ({"alertname": "A", "namespace": "kubetriage"}, None, ("kubetriage",)),
    ],
)
def test_namespace_falls_back_to_the_incident_namespace(
    group_labels: dict[str, str], watched: list[str] | None, namespaces: tuple[str, ...]
) -> None:
    note = _note([_pod("a")], group_labels=group_labels)
    where = placement(note.payload, incident_namespace="kubetriage", watched=watched)
    assert where.namespaces == namespaces


def test_group_without_alertname_label_gets_a_stable_name() -> None:
    note = _note([_pod("a")], group_labels={"namespace": "exports"})
    assert placement(note.payload, incident_namespace="k").name.startswith("alertgroup-")


def test_first_notification_fields() -> None:
    alert = _pod(
        "csv-exporter-1",
        annotations={
            "summary": "Pod is crash looping.",
            "description": "it restarts",
            "runbook_url": "https://runbooks/x",
        },
    )
    write = plan_write(None, [_note([alert], trace=TRACE)], batch_id="b1")
    spec = write.spec_patch["spec"] if write.spec_patch else {}
    assert spec["title"] == "KubePodCrashLooping: Pod is crash looping."
    assert spec["severity"] == "warning"
    assert spec["source"] == "alertmanager"
    assert spec["description"] == "it restarts"
    assert spec["target"] == {
        "kind": "Pod",
        "name": "csv-exporter-1",
        "namespace": "exports",
        "apiVersion": "v1",
    }
    stored = spec["alerts"][0]
    assert stored["annotations"]["runbook_url"] == "https://runbooks/x"
    assert "endsAt" not in stored  # firing: Alertmanager's moving endsAt is not kept
    assert stored["fingerprint"]
    body = new_incident("n", "exports", write)
    assert body["metadata"]["annotations"] == {TRACEPARENT_ANNOTATION: TRACE}
    group = write.alert_group
    assert (group.notifications, group.firing, group.resolved, group.omitted) == (1, 1, 0, 0)
    assert group.first_seen == group.last_seen == T0
    assert write.transition is None


def test_weak_job_label_is_not_a_target_but_a_strong_label_is() -> None:
    job_only = webhook_alert(
        {
            "alertname": "HighErrorRate",
            "namespace": "shop",
            "job": "checkout",
            "severity": "critical",
        }
    )
    write = plan_write(None, [_note([job_only])], batch_id="b")
    assert write.spec.target is None
    assert write.spec.severity.value == "critical"
    deployment = webhook_alert({"alertname": "X", "namespace": "shop", "deployment": "checkout"})
    target = plan_write(None, [_note([deployment])], batch_id="b").spec.target
    assert target is not None
    assert (target.kind, target.namespace, target.name) == ("Deployment", "shop", "checkout")
    node = webhook_alert({"alertname": "KubeNodeNotReady", "node": "worker-3"})
    target = plan_write(None, [_note([node])], batch_id="b").spec.target
    assert target is not None
    assert (target.kind, target.name) == ("Node", "worker-3")


def test_traceparent_must_be_well_formed() -> None:
    assert valid_traceparent(TRACE.upper()) == TRACE
    assert valid_traceparent("00-zz-b7ad6b7169203331-01") is None
    assert valid_traceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") is None
    assert valid_traceparent(None) is None


def test_repeat_notification_updates_counts_but_not_the_spec() -> None:
    first = plan_write(None, [_note([_pod("a")])], batch_id="b1")
    incident = _apply(None, first)
    # Alertmanager re-sends the same group; only endsAt and the receive time differ.
    again = _note([_pod("a", ends_at=T0 + timedelta(minutes=4))], at=60)
    second = plan_write(incident, [again], batch_id="b2")
    assert second.spec_patch is None  # no spec change, so no re-diagnosis
    assert second.alert_group.notifications == 2
    assert second.alert_group.first_seen == T0
    assert second.alert_group.last_seen == T0 + timedelta(seconds=60)


def test_new_alerts_merge_by_fingerprint() -> None:
    incident = _apply(None, plan_write(None, [_note([_pod("a")])], batch_id="b1"))
    batch = [_note([_pod("a"), _pod("b")], at=10), _note([_pod("b"), _pod("c")], at=20)]
    write = plan_write(incident, batch, batch_id="b2")
    assert write.spec_patch is not None
    pods = sorted(a["labels"]["pod"] for a in write.spec_patch["spec"]["alerts"])
    assert pods == ["a", "b", "c"]
    assert write.alert_group.notifications == 3  # coalesced, still counted one by one
    assert write.alert_group.firing == 3


def test_a_retried_batch_is_not_counted_twice() -> None:
    incident = _apply(None, plan_write(None, [_note([_pod("a")])], batch_id="b1"))
    batch = [_note([_pod("a")], at=5)]
    once = _apply(incident, plan_write(incident, batch, batch_id="b2"))
    twice = plan_write(once, batch, batch_id="b2")
    assert twice.alert_group.notifications == 2
    assert plan_write(once, batch, batch_id="b3").alert_group.notifications == 3


def test_alerts_are_bounded_and_the_rest_counted() -> None:
    def alert(i: int, severity: str, status: str = "firing") -> dict[str, Any]:
        labels = {**crashloop_labels(pod=f"p{i}"), "severity": severity}
        return webhook_alert(labels, status=status, starts_at=T0 + timedelta(seconds=i))

    alerts = [alert(i, "warning") for i in range(8)]
    alerts += [alert(100, "critical"), alert(101, "info", "resolved")]
    write = plan_write(None, [_note(alerts)], batch_id="b1", max_alerts=4)
    kept = [a.labels["pod"] for a in write.spec.alerts]
    # the critical one, then the newest warnings; the resolved info alert is dropped
    assert set(kept) == {"p100", "p7", "p6", "p5"}
    assert write.alert_group.omitted == 6
    assert len(write.alert_group.omitted_fingerprints) == 6
    # Nothing is lost over time: stored + omitted counts every distinct alert once.
    incident = _apply(None, write)
    more = plan_write(
        incident,
        [_note([alert(8, "warning"), alert(1, "warning")], at=5)],
        batch_id="b2",
        max_alerts=4,
    )
    assert len(more.spec.alerts) + more.alert_group.omitted == 11


def test_resolution_then_refire_reopens_the_same_incident() -> None:
    incident = _apply(None, plan_write(None, [_note([_pod("a")])], batch_id="b1"))
    incident["status"]["phase"] = "Diagnosed"
    ended = T0 + timedelta(minutes=7)
    resolved = _note([_pod("a", status="resolved", ends_at=ended)], at=500)
    assert not should_create([resolved])
    write = plan_write(incident, [resolved], batch_id="b2")
    assert write.transition == "resolve"
    assert write.status_first  # Resolved before the spec change: no re-diagnosis
    assert write.status_patch["phase"] == "Resolved"
    conditions = {c["type"]: c for c in write.status_patch["conditions"]}
    assert conditions["Resolved"]["status"] == "True"
    assert write.alert_group.resolved_at == ended
    assert write.alert_group.firing == 0
    incident = _apply(incident, write)
    assert incident["spec"]["alerts"][0]["endsAt"] == "2026-11-26T10:07:00Z"

    refire = _note([_pod("a", starts_at=T0 + timedelta(hours=1))], at=4000)
    write = plan_write(incident, [refire], batch_id="b3")
    assert write.transition == "reopen"
    assert write.status_first  # away from Resolved before the spec change: re-diagnosis
    assert write.status_patch["phase"] == "Pending"
    conditions = {c["type"]: c for c in write.status_patch["conditions"]}
    assert conditions["Reopened"]["status"] == "True"
    assert conditions["Resolved"]["status"] == "False"
    assert write.alert_group.reopened == 1
    assert write.status_patch["alertGroup"]["resolvedAt"] is None
    assert write.spec_patch is not None  # the alert is firing again: the spec changes


def test_coalesced_fire_resolve_fire_is_not_a_transition() -> None:
    incident = _apply(None, plan_write(None, [_note([_pod("a")])], batch_id="b1"))
    incident["status"]["phase"] = "Diagnosed"
    batch = [_note([_pod("a", status="resolved", ends_at=T0)], at=1), _note([_pod("a")], at=2)]
    write = plan_write(incident, batch, batch_id="b2")
    assert write.transition is None
    assert write.alert_group.notifications == 3


def test_status_dump_is_valid_for_the_crd_and_nothing_is_pruned() -> None:
    group = AlertGroupStatus(
        group_key="{}:{}",
        receiver="kubetriage",
        notifications=3,
        first_seen=T0,
        last_seen=T0,
        firing=1,
        resolved=2,
        omitted=1,
        omitted_fingerprints=["abc"],
        truncated=0,
        reopened=1,
        resolved_at=T0,
        last_batch="x",
    ).dump_k8s()
    schema = build_incident_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    declared = schema["properties"]["status"]["properties"]["alertGroup"]
    jsonschema.validate(group, declared)
    assert set(group) == set(declared["properties"])


def test_group_notification_matches_what_alertmanager_sends() -> None:
    """The replay helper builds the same groupKey Alertmanager 0.25 sends for a root route
    grouped by alertname and namespace (format checked against a real notification in
    tests/integration/test_receiver_alertmanager.py)."""
    alert = Alert(labels=crashloop_labels(), annotations={"summary": "s"}, starts_at=T0)
    note = group_notification([alert], received_at=T0)
    assert note.payload.group_key == ('{}:{alertname="KubePodCrashLooping", namespace="exports"}')
    write = plan_write(None, [note], batch_id="b")
    assert write.spec.alerts[0].labels == alert.labels
    where = placement(note.payload, incident_namespace="kubetriage")
    assert where.namespaces[0] == "exports"
