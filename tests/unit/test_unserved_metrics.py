"""Checks unserved-metric reasoning: an HPA that cannot get its external metric because the
aggregated API, Available, answers it serves no such metric ("could not find the requested
resource") makes the builder summarise that APIService with the metric's name and the
ConfigMaps its adapter's pods mount; the analyzer then restores the rule in that ConfigMap
(config-missing), escalates to the adapter's Service when no single ConfigMap is in view,
and says nothing when the blind autoscaler scales another workload or the API is merely
slow (an Available API that times out is not summarised).

Real: ``build_evidence`` on API-shaped dicts and the analyzer registry on Evidence models.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import AggregatedApiEvidence
from kubetriage.models.object_evidence import ConfigMount
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support.built import built, service_manifest
from tests.support.evidence import analyze, assert_leads, deployment, evidence, naming

NOT_SERVED = (
    "the HPA was unable to compute the replica count: unable to get external metric "
    "shop/queue_lag/&LabelSelector{MatchLabels:map[string]string{queue: orders,},}: unable "
    "to fetch metrics from external metrics API: the server could not find the requested "
    "resource (get queue_lag.external.metrics.k8s.io)"
)
TIMED_OUT = (
    "the HPA was unable to compute the replica count: unable to get external metric "
    "shop/queue_lag/nil: unable to fetch metrics from external metrics API: the server is "
    "currently unable to handle the request (get queue_lag.external.metrics.k8s.io)"
)
ADAPTER = ObjectRef(kind="Service", namespace="monitoring", name="metrics-adapter")
RULES = ObjectRef(kind="ConfigMap", namespace="monitoring", name="adapter-rules")
WORKER = ObjectRef(kind="Deployment", namespace="shop", name="worker")


def _hpa(message: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "worker", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"},
            "minReplicas": 2,
            "maxReplicas": 12,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "queue_lag"},
                        "target": {"type": "AverageValue", "averageValue": "100"},
                    },
                }
            ],
        },
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "False",
                    "reason": "FailedGetExternalMetric",
                    "message": message,
                }
            ],
        },
    }


def _objects(message: str) -> list[dict[str, Any]]:
    labels = {"app": "metrics-adapter"}
    api = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
        "spec": {
            "group": "external.metrics.k8s.io",
            "version": "v1beta1",
            "service": {"namespace": "monitoring", "name": "metrics-adapter", "port": 443},
        },
        "status": {
            "conditions": [
                {"type": "Available", "status": "True", "reason": "Passed", "message": "ok"}
            ]
        },
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "metrics-adapter-6f4d-hq8v2",
            "namespace": "monitoring",
            "labels": labels,
        },
        "spec": {
            "containers": [
                {
                    "name": "adapter",
                    "image": "adapter:1",
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/adapter/"}],
                }
            ],
            "volumes": [{"name": "config", "configMap": {"name": "adapter-rules"}}],
        },
        "status": {"phase": "Running"},
    }
    worker = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "worker", "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "worker"}},
            "template": {
                "metadata": {"labels": {"app": "worker"}},
                "spec": {"containers": [{"name": "worker", "image": "worker:1"}]},
            },
        },
    }
    adapter = service_manifest("metrics-adapter", "monitoring", labels, port=443)
    return [worker, _hpa(message), api, adapter, pod]


def test_the_builder_summarises_an_available_api_that_serves_no_such_metric() -> None:
    (api,) = built(_objects(NOT_SERVED), WORKER).aggregated_apis
    assert (api.group, api.missing_metrics, api.service) == (
        "external.metrics.k8s.io",
        ["queue_lag"],
        ADAPTER,
    )
    assert api.backend is not None
    assert [(m.kind, m.name, m.path) for m in api.backend.config_mounts] == [
        ("ConfigMap", "adapter-rules", "/etc/adapter/")
    ]


def test_an_available_api_that_only_fails_to_answer_is_not_summarised() -> None:
    assert built(_objects(TIMED_OUT), WORKER).aggregated_apis == []


def _evidence(mounts: list[ConfigMount], target: ObjectRef = WORKER) -> Any:
    hpa = autoscalers.hpa(
        target,
        current=2,
        conditions=[autoscalers.blind("FailedGetExternalMetric", NOT_SERVED)],
    )
    api = AggregatedApiEvidence(
        name="v1beta1.external.metrics.k8s.io",
        group="external.metrics.k8s.io",
        reason="Passed",
        service=ADAPTER,
        autoscalers=[ObjectRef(kind="HorizontalPodAutoscaler", namespace="shop", name=hpa.name)],
        missing_metrics=["queue_lag"],
        backend=DependencyEvidence(named_by=naming("aggregated API"), config_mounts=mounts),
    )
    return evidence(
        target=WORKER,
        workload=deployment("worker"),
        autoscalers=[hpa],
        aggregated_apis=[api],
    )


_RULES_MOUNT = ConfigMount(path="/etc/adapter", kind="ConfigMap", name="adapter-rules")
_CA_MOUNT = ConfigMount(
    path="/var/run/secrets/kubernetes.io/serviceaccount", kind="ConfigMap", name="kube-root-ca.crt"
)


def test_the_rule_missing_from_the_adapters_configmap_is_restored() -> None:
    found = assert_leads(
        analyze(_evidence([_RULES_MOUNT, _CA_MOUNT])),
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        RULES,
    )
    assert found.analyzer == "unserved-metric"


def test_with_two_configmaps_mounted_the_adapters_service_is_escalated() -> None:
    other = ConfigMount(path="/etc/extra", kind="ConfigMap", name="adapter-extra")
    assert_leads(
        analyze(_evidence([_RULES_MOUNT, other])),
        Category.CONFIG_MISSING,
        Action.ESCALATE,
        ADAPTER,
    )


def test_an_autoscaler_of_another_workload_blind_on_it_says_nothing() -> None:
    other = ObjectRef(kind="Deployment", namespace="shop", name="reports")
    result = analyze(_evidence([_RULES_MOUNT], target=other))
    assert all(f.analyzer != "unserved-metric" for f in result.findings)
