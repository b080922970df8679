"""Checks that an event-driven autoscaler whose scaler cannot reach its metric source leads to
the NetworkPolicy that drops the flow: a KEDA ScaledObject's trigger metadata names the
source (a Kafka bootstrap Service in another namespace), the KEDA operator's pods run the
scaler from their own namespace, and the source namespace's policy admits only labelled
namespaces on that port. The near misses: a Ready ScaledObject, a namespace the policy
admits, another port left open, no operator pod read, a workload no ScaledObject scales.

Real: ``kubetriage.evidence.summaries.scalers``, ``event_subjects`` over a real
``CollectionRun``, the pure builder (``tests.support.built``) and the analyzer registry.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.event_subjects import event_subjects
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.summaries.scalers import scalers_of, trigger_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads

APP_NS, BROKER_NS, SCALER_NS = "billing", "queues", "autoscaling"
POLICY = ObjectRef(kind="NetworkPolicy", namespace=BROKER_NS, name="brokers-ingress")
TARGET = ObjectRef(kind="Deployment", namespace=APP_NS, name="invoicer")
BROKER_LABELS = {"app": "broker", "role": "member"}


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}},
    }


def _pod(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "r.example/c:1"}], "nodeName": "n1"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }


def _scaled_object(ready: str = "False", target: str = "invoicer") -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "invoicer", "namespace": APP_NS},
        "spec": {
            "scaleTargetRef": {"name": target},
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {
                        "bootstrapServers": f"bus-bootstrap.{BROKER_NS}.svc:9092",
                        "consumerGroup": "invoicer",
                        "topic": "invoices",
                    },
                }
            ],
        },
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "TriggerError"}]},
    }


def _failed() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "invoicer.failed", "namespace": APP_NS},
        "involvedObject": {"kind": "ScaledObject", "name": "invoicer", "namespace": APP_NS},
        "reason": "KEDAScalerFailed",
        "message": "error creating kafka client: dial tcp 10.9.0.4:9092: i/o timeout",
        "type": "Warning",
        "count": 40,
        "firstTimestamp": "2026-11-20T09:20:00Z",
        "lastTimestamp": "2026-11-20T09:59:00Z",
    }


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "bus-bootstrap", "namespace": BROKER_NS},
        "spec": {
            "selector": {"app": "broker"},
            "ports": [
                {"name": "plain", "port": 9092, "targetPort": 9092},
                {"name": "tls", "port": 9093, "targetPort": 9093},
            ],
        },
    }


def _policy(admitted: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "brokers-ingress", "namespace": BROKER_NS},
        "spec": {
            "podSelector": {"matchLabels": BROKER_LABELS},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "ports": [{"port": 9092}],
                    "from": [{"namespaceSelector": {"matchLabels": admitted}}],
                },
                {"ports": [{"port": 9093}]},
            ],
        },
    }


def _objects(
    *, ready: str = "False", admitted: dict[str, str] | None = None, operator: bool = True
) -> list[dict[str, Any]]:
    workload = deployment_manifest("invoicer", APP_NS, {"app": "invoicer"})
    objects = [
        workload,
        _pod("invoicer-abc-1", APP_NS, {"app": "invoicer"}),
        _scaled_object(ready),
        _failed(),
        _service(),
        _pod("broker-0", BROKER_NS, BROKER_LABELS),
        _policy(admitted or {"bus-access": "true"}),
        _namespace(APP_NS, **{"bus-access": "true"}),
        _namespace(BROKER_NS),
        _namespace(SCALER_NS),
    ]
    if operator:
        objects.append(_pod("keda-operator-1", SCALER_NS, {"app": "keda-operator"}))
    return objects


def _network_findings(objects: list[dict[str, Any]]) -> list[Any]:
    ev = built(objects, TARGET)
    return [f for f in analyze(ev).findings if f.category is Category.NETWORK]


def test_trigger_metadata_names_the_source_by_the_scalers_documented_keys() -> None:
    kafka = {"type": "kafka", "metadata": {"bootstrapServers": "a.q.svc:9092, b.q.svc:9092"}}
    assert trigger_hosts(kafka) == ["a.q.svc:9092", "b.q.svc:9092"]
    rabbit = {"type": "rabbitmq", "metadata": {"host": "amqp://user:pw@mq.q.svc:5672/vhost"}}
    assert trigger_hosts(rabbit) == ["mq.q.svc:5672"]  # no credentials kept
    postgres = {"type": "postgresql", "metadata": {"host": "db.data.svc", "port": "5432"}}
    assert trigger_hosts(postgres) == ["db.data.svc:5432"]
    assert trigger_hosts({"type": "cpu", "metadata": {"value": "60"}}) == []


def test_only_the_scaled_objects_of_the_workload_count() -> None:
    workload = deployment_manifest("invoicer", APP_NS, {"app": "invoicer"})
    assert scalers_of(workload, [_scaled_object()]) != []
    assert scalers_of(workload, [_scaled_object(target="other")]) == []
    assert scalers_of(None, [_scaled_object()]) == []


def test_a_scaler_whose_flow_a_policy_drops_leads_to_that_policy() -> None:
    ev = built(_objects(), TARGET)
    (scaler,) = ev.scalers
    assert scaler.reader_namespace == SCALER_NS
    assert scaler.source_labels == BROKER_LABELS
    leader = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, POLICY)
    assert leader.narrative is not None
    assert "kafka scaler" in leader.narrative.problem


def test_no_policy_finding_when_the_scaler_is_ready_or_admitted_or_unplaced() -> None:
    assert _network_findings(_objects(ready="True")) == []
    # The policy admits every namespace named "autoscaling" (its own name label).
    assert _network_findings(_objects(admitted={"kubernetes.io/metadata.name": SCALER_NS})) == []
    assert _network_findings(_objects(operator=False)) == []


def test_the_collector_reads_the_events_of_the_workloads_scaled_object() -> None:
    workload = deployment_manifest("invoicer", APP_NS, {"app": "invoicer"})
    run = CollectionRun(asyncio.Semaphore(1))
    run.add(_scaled_object())
    other = _scaled_object(target="other")
    other["metadata"]["name"] = "other"
    run.add(other)
    subjects = event_subjects(run, None, workload, [], EvidenceLimits())
    assert ("ScaledObject", APP_NS, "invoicer") in subjects
    assert ("ScaledObject", APP_NS, "other") not in subjects
