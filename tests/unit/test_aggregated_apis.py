"""Checks aggregated-API reasoning: an HPA whose ScalingActive condition says it cannot get a
metric names the API group serving it (by the reason's metric source and the metrics
client's words); the builder then summarises the APIServices of those groups that are not
Available, with why (the API server's call classified: an x509 failure, a timeout...) and the
Service they proxy to with the pods behind it; and the analyzer blames the serving
certificate's Secret when the call fails on the certificate, not the workload nor its load,
while a timeout or a refused call leaves the blind-autoscaler answer (scale out) alone
unless the backend says why (``test_aggregated_api_backends``).

Real: ``build_evidence`` on API-shaped dicts and the analyzer registry on Evidence models.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.summaries.aggregated_apis import metric_api_groups, unavailable_apis
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import AggregatedApiEvidence
from kubetriage.models.object_evidence import ConfigMount
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support.built import built, service_manifest
from tests.support.evidence import analyze, assert_leads, deployment, evidence, naming

_UNABLE = "the server is currently unable to handle the request"
CUSTOM_BLIND = (
    "the HPA was unable to compute the replica count: unable to get metric "
    "http_requests_per_second: unable to fetch metrics from custom metrics API: "
    f"{_UNABLE} (get pods.custom.metrics.k8s.io *)"
)
EXPIRED = (
    "failing or missing response from https://10.42.3.77:6443/apis/custom.metrics.k8s.io/"
    'v1beta1: Get "https://10.42.3.77:6443/apis/custom.metrics.k8s.io/v1beta1": tls: failed '
    "to verify certificate: x509: certificate has expired or is not yet valid: current time "
    "2026-11-20T09:59:31Z is after 2026-11-20T03:12:44Z"
)
TIMEOUT = (
    'failing or missing response from https://10.48.2.5:10250/apis/metrics.k8s.io/v1beta1: Get "'
    'https://10.48.2.5:10250/apis/metrics.k8s.io/v1beta1": context deadline exceeded '
    "(Client.Timeout exceeded while awaiting headers)"
)
ADAPTER = ObjectRef(kind="Service", namespace="monitoring", name="metrics-adapter")
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")


def _hpa(reason: str, message: str, *, status: str = "False") -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
        },
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "conditions": [
                {"type": "ScalingActive", "status": status, "reason": reason, "message": message}
            ],
        },
    }


def _api_service(group: str, *, available: str = "False", message: str = EXPIRED) -> Any:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"v1beta1.{group}"},
        "spec": {
            "group": group,
            "version": "v1beta1",
            "service": {"namespace": "monitoring", "name": "metrics-adapter", "port": 443},
        },
        "status": {
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "FailedDiscoveryCheck" if available == "False" else "Passed",
                    "message": message,
                }
            ]
        },
    }


def _web() -> list[dict[str, Any]]:
    labels = {"app": "web"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                },
            },
        }
    ]


def _adapter() -> list[dict[str, Any]]:
    labels = {"app": "metrics-adapter"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "metrics-adapter-7f9c-abcde",
            "namespace": "monitoring",
            "labels": labels,
        },
        "spec": {
            "containers": [
                {
                    "name": "adapter",
                    "image": "adapter:1",
                    "volumeMounts": [{"name": "serving", "mountPath": "/var/run/serving-cert"}],
                }
            ],
            "volumes": [{"name": "serving", "secret": {"secretName": "adapter-serving"}}],
        },
        "status": {"phase": "Running"},
    }
    return [service_manifest("metrics-adapter", "monitoring", labels, port=443), pod]


@pytest.mark.parametrize(
    ("reason", "message", "groups"),
    [
        ("FailedGetPodsMetric", CUSTOM_BLIND, ["custom.metrics.k8s.io"]),
        (
            "FailedGetResourceMetric",
            "failed to get cpu utilization: unable to fetch metrics from resource metrics API",
            ["metrics.k8s.io"],
        ),
        ("FailedGetExternalMetric", "unable to fetch metrics", ["external.metrics.k8s.io"]),
        # An adapter's own API group, named only by the request the client made.
        ("FailedGetObjectMetric", f"{_UNABLE} (get queues.metrics.example.io x)", None),
    ],
)
def test_an_hpa_that_cannot_get_a_metric_names_the_api_serving_it(
    reason: str, message: str, groups: list[str] | None
) -> None:
    expected = groups or ["custom.metrics.k8s.io", "metrics.example.io"]
    assert metric_api_groups([_hpa(reason, message)]) == expected


def test_an_hpa_that_scales_names_no_api() -> None:
    assert metric_api_groups([_hpa("ValidMetricFound", "ok", status="True")]) == []
    assert metric_api_groups([_hpa("ScalingDisabled", "scaling is disabled")]) == []


def test_only_the_unavailable_apiservices_of_those_groups_count() -> None:
    apis = [
        _api_service("custom.metrics.k8s.io"),
        _api_service("metrics.k8s.io"),
        _api_service("external.metrics.k8s.io", available="True", message="all checks passed"),
    ]
    kept = unavailable_apis(apis, ["custom.metrics.k8s.io", "external.metrics.k8s.io"])
    assert [a["spec"]["group"] for a in kept] == ["custom.metrics.k8s.io"]


def test_the_builder_summarises_the_apiservice_an_hpa_cannot_read() -> None:
    objects = [
        *_web(),
        _hpa("FailedGetPodsMetric", CUSTOM_BLIND),
        _api_service("custom.metrics.k8s.io"),
        _api_service("metrics.k8s.io"),  # unavailable too, but not what the HPA reads
        *_adapter(),
    ]
    (api,) = built(objects, WEB).aggregated_apis
    assert (api.name, api.group, api.reason, api.failure) == (
        "v1beta1.custom.metrics.k8s.io",
        "custom.metrics.k8s.io",
        "FailedDiscoveryCheck",
        "expired",
    )
    assert api.service == ADAPTER
    assert api.autoscalers == [
        ObjectRef(
            kind="HorizontalPodAutoscaler",
            namespace="shop",
            name="web",
            api_version="autoscaling/v2",
        )
    ]
    assert api.backend is not None
    assert "adapter-serving" in api.backend.mounted_secrets


def test_an_unavailable_apiservice_is_not_summarised_while_the_hpa_reads_its_metrics() -> None:
    objects = [
        *_web(),
        _hpa("ValidMetricFound", "the HPA was able to compute a replica count", status="True"),
        _api_service("custom.metrics.k8s.io"),
        *_adapter(),
    ]
    assert built(objects, WEB).aggregated_apis == []


def _evidence(api: AggregatedApiEvidence) -> Any:
    hpa = autoscalers.hpa(
        WEB,
        current=2,
        conditions=[autoscalers.blind("FailedGetPodsMetric", CUSTOM_BLIND)],
    )
    return evidence(
        target=WEB, workload=deployment("web"), autoscalers=[hpa], aggregated_apis=[api]
    )


def _api(failure: str, message: str, backend: DependencyEvidence | None) -> AggregatedApiEvidence:
    return AggregatedApiEvidence.model_validate(
        {
            "name": "v1beta1.custom.metrics.k8s.io",
            "group": "custom.metrics.k8s.io",
            "reason": "FailedDiscoveryCheck",
            "message": message,
            "failure": failure,
            "service": ADAPTER,
            "autoscalers": [
                ObjectRef(kind="HorizontalPodAutoscaler", namespace="shop", name="web")
            ],
            "backend": backend,
        }
    )


def _backend(**fields: Any) -> DependencyEvidence:
    return DependencyEvidence(service=None, named_by=naming("aggregated API"), **fields)


def test_an_expired_serving_certificate_of_the_metrics_api_is_renewed_in_its_secret() -> None:
    backend = _backend(
        secret_mounts=[ConfigMount(path="/var/run/serving-cert", kind="Secret", name="serving")]
    )
    found = assert_leads(
        analyze(_evidence(_api("expired", EXPIRED, backend))),
        Category.CERTIFICATE_EXPIRY,
        Action.RENEW_CERTIFICATE,
        ObjectRef(kind="Secret", namespace="monitoring", name="serving"),
    )
    assert found.analyzer == "aggregated-api"


def test_with_no_certificate_secret_in_view_the_apis_service_is_escalated() -> None:
    assert_leads(
        analyze(_evidence(_api("expired", EXPIRED, _backend()))),
        Category.CERTIFICATE_EXPIRY,
        Action.ESCALATE,
        ADAPTER,
    )


def test_a_metrics_api_that_times_out_is_no_certificate_problem() -> None:
    result = analyze(_evidence(_api("timeout", TIMEOUT, _backend())))
    assert not [f for f in result.findings if f.analyzer == "aggregated-api"]
