"""A KEDA scaler that fails on its own parameters or credentials while its
TriggerAuthentication takes them from Secret keys: the builder records which trigger
parameters come from which Secret key (``ScalerEvidence.secret_params``), and the scaler-auth
rule aims config-missing / fix-config at the Secret (the one whose parameter the error names,
else the one just written), but never when the scaler fails on reaching its source, and never
without a Secret behind the trigger.

Real: the pure builder (``summaries.scalers``, from raw ScaledObject, TriggerAuthentication,
Deployment and Event objects), the change timeline and the whole analyzer registry. The
objects are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW, analyze, assert_leads, by_category

NS = "billing"
WORKLOAD = ObjectRef(kind="Deployment", namespace=NS, name="worker", api_version="apps/v1")
ALERT = Alert(
    status="firing",
    labels={"alertname": "QueueBacklog", "namespace": NS, "deployment": "worker"},
    starts_at=NOW,
)
PARSE_ERROR = "error parsing rabbitmq metadata: no host setting given"
DIAL_ERROR = "dial tcp 10.0.4.12:5672: connect: connection refused"


def _scaled_object(auth: bool = True) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": "rabbitmq", "metadata": {"queueName": "jobs", "value": "20"}}
    if auth:
        trigger["authenticationRef"] = {"name": "worker-rabbitmq"}
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "worker", "namespace": NS},
        "spec": {"scaleTargetRef": {"name": "worker"}, "triggers": [trigger]},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "TriggerError"}]},
    }


def _trigger_auth(*targets: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "worker-rabbitmq", "namespace": NS},
        "spec": {
            "secretTargetRef": [
                {"parameter": parameter, "name": name, "key": key}
                for parameter, name, key in targets
            ]
        },
    }


def _event(message: str, reason: str = "KEDAScalerFailed", **involved: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"worker.{len(message)}", "namespace": NS},
        "involvedObject": {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "name": "worker",
            "namespace": NS,
            **involved,
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 40,
        "firstTimestamp": "2026-11-20T09:21:00Z",
        "lastTimestamp": "2026-11-20T09:59:00Z",
    }


def _secret_written(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.written", "namespace": NS},
        "involvedObject": {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "name": name,
            "namespace": NS,
        },
        "reason": "Updated",
        "message": "Updated Secret",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": "2026-11-20T09:20:40Z",
        "lastTimestamp": "2026-11-20T09:20:40Z",
    }


TWO_SECRETS = (("host", "worker-amqp", "amqp-url"), ("password", "worker-amqp-pass", "password"))


def _evidence(*objects: dict[str, Any], auth: bool = True) -> Evidence:
    """The worker (whose container reads the password Secret too, so that its writes are in
    the change timeline), its ScaledObject and ``objects``."""
    env = [
        {
            "name": "AMQP_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "worker-amqp-pass", "key": "password"}},
        }
    ]
    container = {"name": "worker", "image": "r.example/worker:3", "env": env}
    worker = deployment_manifest("worker", NS, container, replicas=2)
    return built([worker, _scaled_object(auth), *objects], WORKLOAD, alerts=[ALERT])


def test_the_builder_records_which_secret_keys_a_trigger_takes_its_parameters_from() -> None:
    ev = _evidence(_trigger_auth(*TWO_SECRETS))
    (scaler,) = ev.scalers
    assert [(p.parameter, p.secret, p.key) for p in scaler.secret_params] == list(TWO_SECRETS)
    assert scaler.ready is False
    assert _evidence(auth=False).scalers[0].secret_params == []


def test_a_parameter_error_aims_at_the_secret_of_the_parameter_it_names() -> None:
    ev = _evidence(_trigger_auth(*TWO_SECRETS), _event(PARSE_ERROR))
    first = assert_leads(
        analyze(ev),
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="Secret", namespace=NS, name="worker-amqp"),
    )
    assert "amqp-url" in first.summary


def test_a_login_refusal_naming_no_parameter_aims_at_the_secret_just_written() -> None:
    refused = "Exception (403) Reason: ACCESS_REFUSED - Login was refused using mechanism PLAIN"
    ev = _evidence(
        _trigger_auth(*TWO_SECRETS), _event(refused), _secret_written("worker-amqp-pass")
    )
    found = by_category(analyze(ev), Category.CONFIG_MISSING)
    assert found
    assert found[0].target == ObjectRef(kind="Secret", namespace=NS, name="worker-amqp-pass")


def test_a_scaler_that_cannot_reach_its_source_is_not_a_secret_problem() -> None:
    ev = _evidence(_trigger_auth(*TWO_SECRETS), _event(f"error getting metadata: {DIAL_ERROR}"))
    assert not [f for f in analyze(ev).findings if f.analyzer == "scaler-auth"]


def test_without_a_secret_behind_the_trigger_or_a_failure_event_nothing_is_said() -> None:
    plain = _evidence(_event(PARSE_ERROR), auth=False)
    assert not [f for f in analyze(plain).findings if f.analyzer == "scaler-auth"]
    quiet = _evidence(_trigger_auth(*TWO_SECRETS))
    assert not [f for f in analyze(quiet).findings if f.analyzer == "scaler-auth"]
    other = _evidence(_trigger_auth(*TWO_SECRETS), _event(PARSE_ERROR, name="other-worker"))
    assert not [f for f in analyze(other).findings if f.analyzer == "scaler-auth"]
