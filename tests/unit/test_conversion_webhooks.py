"""Checks CRD conversion webhooks behind a custom resource an alert names, and the certificate
rule they lead to.

Evidence side (``kubetriage.evidence.conversion_webhooks`` through the real builder): an alert
whose objects run no pod names a kind whose CRD converts through a webhook, and the webhook
backend's tail says a conversion of that kind failed on an expired certificate: a webhook
that fails closed, configured by the CRD, with those lines. Near misses: a CRD without a
conversion webhook, an alert naming another kind, and a backend tail with no failed
conversion.

Analyzer side (``kubetriage.analyzers.webhooks``): the expired conversion webhook certificate
is renewed at the TLS Secret its backend's pods mount (no cert-manager Certificate behind it).

Real: raw CRD, Deployment, Pod, Service and Secret manifests, the pure builder, and the whole
analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.conversion_webhooks import named_conversions
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads

TARGET = ObjectRef(kind="Namespace", name="analytics")
SECRET = ObjectRef(kind="Secret", namespace="pipelines", name="operator-webhook-tls")
FAILED = (
    "W1120 09:58:56.131552       1 reflector.go:561] failed to list *v1.DataPipeline: conversion "
    "webhook for batch.example.com/v1beta1, Kind=DataPipeline failed: Post "
    '"https://operator-webhook.pipelines.svc:443/convert?timeout=30s": tls: failed to verify '
    "certificate: x509: certificate has expired or is not yet valid: current time "
    "2026-11-20T09:58:56Z is after 2026-11-20T09:05:00Z"
)
ALERT = Alert(
    status="firing",
    labels={"alertname": "PipelineRunOverdue", "namespace": "analytics"},
    annotations={"description": "No Job for DataPipeline analytics/nightly started since 09:00."},
)


def _crd(webhook: bool = True) -> dict[str, Any]:
    conversion: dict[str, Any] = {"strategy": "None"}
    if webhook:
        service = {"namespace": "pipelines", "name": "operator-webhook", "path": "/convert"}
        conversion = {"strategy": "Webhook", "webhook": {"clientConfig": {"service": service}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "datapipelines.batch.example.com"},
        "spec": {
            "group": "batch.example.com",
            "names": {"kind": "DataPipeline", "plural": "datapipelines"},
            "conversion": conversion,
        },
    }


def _operator() -> list[dict[str, Any]]:
    labels = {"app": "operator"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "operator-webhook", "namespace": "pipelines"},
            "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 9443}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "operator-79c5d6f8b4-k8vnq",
                "namespace": "pipelines",
                "labels": labels,
            },
            "spec": {
                "containers": [
                    {
                        "name": "manager",
                        "image": "operator:1.9.2",
                        "volumeMounts": [{"name": "cert", "mountPath": "/tmp/serving-certs"}],
                    }
                ],
                "volumes": [{"name": "cert", "secret": {"secretName": SECRET.name}}],
            },
            "status": {"phase": "Running", "podIP": "10.42.3.58"},
        },
    ]


def _evidence(crd: dict[str, Any], line: str = FAILED, alert: Alert = ALERT) -> Evidence:
    logs = [
        make.log(
            "operator-79c5d6f8b4-k8vnq", "manager", line, namespace="pipelines", source="webhook"
        )
    ]
    return built([crd, *_operator()], TARGET, logs=logs, alerts=[alert])


def test_an_alert_naming_a_kind_picks_its_crds_conversion_webhook() -> None:
    texts = ["No Job for DataPipeline analytics/nightly started"]
    assert [c["metadata"]["name"] for c in named_conversions([_crd()], texts)] == [
        "datapipelines.batch.example.com"
    ]
    assert named_conversions([_crd(webhook=False)], texts) == []
    assert named_conversions([_crd()], ["No Job for DataPipelines started"]) == []


def test_a_failed_conversion_in_the_backends_log_is_a_failing_webhook() -> None:
    [hook] = _evidence(_crd()).webhooks
    assert (hook.name, hook.failure, hook.failure_policy, hook.count) == (
        "datapipelines.batch.example.com",
        "expired",
        "Fail",
        1,
    )
    assert hook.configuration is not None
    assert hook.configuration.kind == "CustomResourceDefinition"


def test_no_failed_conversion_in_the_backends_log_is_no_failing_webhook() -> None:
    assert _evidence(_crd(), line="INFO Serving webhook server").webhooks == []


def test_the_expired_conversion_certificate_is_renewed_at_the_secret_the_backend_mounts() -> None:
    found = assert_leads(
        analyze(_evidence(_crd())), Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, SECRET
    )
    assert found.summary.startswith("The conversion webhook certificate")


def test_silent_for_an_alert_that_names_another_kind() -> None:
    other = Alert(status="firing", labels={"namespace": "analytics"}, annotations={"summary": "x"})
    assert "admission-webhook" not in analyze(_evidence(_crd(), alert=other)).fired
