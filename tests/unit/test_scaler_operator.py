"""A queue's consumer run by a KEDA ScaledJob, and the KEDA operator that runs its scalers:
an alert about the queue is about the ScaledJob whose trigger measures it (even with no Job
running), the ScaledJob's triggers are its scalers whatever their type, the operator's health
is summarised once a scaler scales the workload, and when every such scaler is run by an
operator whose pods all fail, the operator is the cause.

Real: ``kubetriage.evidence.triggers``, ``targets.consumer_elsewhere``, the pure builder
(``summaries.scaler_operator``, ``index.stamped_runs``), the analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.queue_consumers import consumer_elsewhere
from kubetriage.evidence.summaries.scaler_operator import operator_log_requests
from kubetriage.evidence.triggers import pod_template, trigger_queues
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW, analyze, assert_leads

APP_NS, OPERATOR_NS = "media", "keda"
SCALED_JOB = ObjectRef(
    kind="ScaledJob", namespace=APP_NS, name="transcoder", api_version="keda.sh/v1alpha1"
)
OPERATOR = ObjectRef(
    kind="Deployment", namespace=OPERATOR_NS, name="keda-operator", api_version="apps/v1"
)
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/111122223333/render-jobs"
UNSERVED = (
    "2026-11-20T09:58:40Z\tERROR\tcontroller-runtime.source\tif kind is a CRD, it should be "
    'installed before calling Start\t{"error": "no matches for kind \\"HorizontalPodAutoscaler'
    '\\" in version \\"autoscaling/v2beta2\\""}'
)
ALERT = Alert(
    status="firing",
    labels={"alertname": "QueueBacklog", "namespace": APP_NS, "queue_name": "render-jobs"},
    starts_at=NOW,
)


def _scaled_job(trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledJob",
        "metadata": {"name": SCALED_JOB.name, "namespace": APP_NS},
        "spec": {
            "jobTargetRef": {
                "template": {
                    "spec": {
                        "containers": [{"name": "worker", "image": "r.example/worker:2"}],
                        "restartPolicy": "Never",
                    }
                }
            },
            "triggers": [
                trigger
                or {
                    "type": "aws-sqs-queue",
                    "metadata": {"queueURL": QUEUE_URL, "queueLength": "2"},
                }
            ],
        },
    }


def _operator_pod(state: str = "crashing", namespace: str = OPERATOR_NS) -> dict[str, Any]:
    """The KEDA operator's pod (its chart's labels), running, crash-looping or unable to pull."""
    status: dict[str, Any] = {"name": "keda-operator", "ready": True, "restartCount": 0}
    status["state"] = {"running": {}}
    if state == "crashing":
        status.update(
            ready=False,
            restartCount=9,
            state={"waiting": {"reason": "CrashLoopBackOff"}},
            lastState={"terminated": {"exitCode": 1, "reason": "Error"}},
        )
    elif state == "pulling":
        status.update(ready=False, state={"waiting": {"reason": "ImagePullBackOff"}})
    ready = "True" if state == "running" else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "keda-operator-7c9d5-x2x9k",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "keda-operator", "pod-template-hash": "7c9d5"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "keda-operator-7c9d5"}
                | {"controller": True}
            ],
        },
        "spec": {"containers": [{"name": "keda-operator", "image": "ghcr.io/kedacore/keda:2.8.1"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": [status],
        },
    }


def _evidence(state: str = "crashing", *, words: bool = True) -> Evidence:
    pod = _operator_pod(state)
    logs = (
        [
            tail_from_text(
                OPERATOR_NS,
                pod["metadata"]["name"],
                "keda-operator",
                f"starting manager\n{UNSERVED}\n",
                previous=True,
                limits=EvidenceLimits(),
                source="dependency",
            )
        ]
        if words
        else []
    )
    return built([_scaled_job(), pod], None, logs=logs, alerts=[ALERT])


def test_trigger_metadata_names_the_queue_and_a_scaled_job_its_pod_template() -> None:
    assert trigger_queues(_scaled_job()["spec"]["triggers"][0]) == ["render-jobs"]
    kafka = {"type": "kafka", "metadata": {"topic": "orders", "consumerGroup": "billing"}}
    assert trigger_queues(kafka) == ["orders", "billing"]
    assert trigger_queues({"type": "cpu", "metadata": {"value": "60"}}) == []
    scaled = _scaled_job()
    assert pod_template(scaled) == scaled["spec"]["jobTargetRef"]["template"]
    deployment = deployment_manifest("api", APP_NS)
    assert pod_template(deployment) == deployment["spec"]["template"]


def test_a_queue_alert_is_about_the_scaled_job_whose_trigger_measures_it() -> None:
    chosen = ObjectRef(kind="Namespace", name=APP_NS)
    found = consumer_elsewhere([ALERT], chosen, [], [_scaled_job()])
    assert found is not None
    assert found.same_object(SCALED_JOB)
    other = _scaled_job({"type": "aws-sqs-queue", "metadata": {"queueURL": QUEUE_URL + "-dlq"}})
    assert consumer_elsewhere([ALERT], chosen, [], [other]) is None
    ev = _evidence()
    assert ev.target is not None
    assert ev.target.same_object(SCALED_JOB)
    # No Job is left: the ScaledJob is read as its own workload, its trigger as its scaler.
    assert ev.workload is not None
    assert ev.workload.ref.same_object(SCALED_JOB)
    (scaler,) = ev.scalers
    assert (scaler.trigger, scaler.queues) == ("aws-sqs-queue", ["render-jobs"])
    assert scaler.hosts == ["sqs.us-east-1.amazonaws.com"]
    assert scaler.reader_namespace == OPERATOR_NS


def test_the_operators_health_is_summarised_with_its_words_about_an_unserved_api() -> None:
    operator = _evidence().scaler_operator
    assert operator is not None
    assert operator.failing
    assert operator.workload == ObjectRef(
        kind="Deployment", namespace=OPERATOR_NS, name="keda-operator", api_version="apps/v1"
    )
    assert (operator.pods, operator.ready) == (1, 0)
    assert operator.troubles[0].waiting == "CrashLoopBackOff"
    assert len(operator.unserved) == 1
    assert "autoscaling/v2beta2" in operator.unserved[0]
    healthy = _evidence("running", words=False).scaler_operator
    assert healthy is not None
    assert not healthy.failing


def test_an_operator_crash_looping_on_an_unserved_api_is_the_cause() -> None:
    leader = assert_leads(analyze(_evidence()), Category.CRASH_LOOP, Action.FIX_IMAGE, OPERATOR)
    assert leader.analyzer == "scaler-operator"
    assert any("autoscaling/v2beta2" in e.fact for e in leader.evidence)


def test_without_its_words_the_operators_owner_is_asked_and_a_pull_is_an_image_fix() -> None:
    quiet = analyze(_evidence(words=False))
    assert_leads(quiet, Category.CRASH_LOOP, Action.ESCALATE, OPERATOR)
    pulling = analyze(_evidence("pulling", words=False))
    assert_leads(pulling, Category.IMAGE_PULL, Action.FIX_IMAGE, OPERATOR)


def _operator_findings(ev: Evidence) -> list[Any]:
    return [f for f in analyze(ev).findings if f.analyzer == "scaler-operator"]


def test_a_healthy_operator_adds_nothing() -> None:
    assert _operator_findings(_evidence("running", words=False)) == []


def test_a_failing_operator_that_runs_no_scaler_of_the_workload_adds_nothing() -> None:
    # The alerted Deployment is scaled by no ScaledObject: no scaler, no operator summary.
    api = deployment_manifest("api", APP_NS)
    ev = built([api, _operator_pod()], ObjectRef(kind="Deployment", namespace=APP_NS, name="api"))
    assert (ev.scalers, ev.scaler_operator) == ([], None)
    assert _operator_findings(ev) == []
    # Its scalers are run by other pods than the failing operator's.
    ev = _evidence()
    elsewhere = [s.model_copy(update={"reader_namespace": "keda-2"}) for s in ev.scalers]
    assert _operator_findings(ev.model_copy(update={"scalers": elsewhere})) == []


def test_the_walk_reads_the_previous_then_current_tail_of_a_troubled_operator() -> None:
    pod = _operator_pod()
    name = pod["metadata"]["name"]
    assert operator_log_requests([_operator_pod("running"), pod]) == [
        (OPERATOR_NS, name, "keda-operator", True),
        (OPERATOR_NS, name, "keda-operator", False),
    ]
    assert operator_log_requests([_operator_pod("running")]) == []
