"""Checks the sticky-Service rule: a Service with ClientIP session affinity whose ready pods
carry uneven load (some busy, others almost idle) while a latency alert fires is a traffic
distribution problem of that Service (network, fix-network), for the workload's own Service
and for a followed callee's; a recent write to the affinity raises the confidence. Near
misses: no affinity, an even load, no alert of slow or failing requests, idle pods that are
not ready, a callee short of ready replicas. Also the builder reading spec.sessionAffinity
and its managedFields write, and the callee's per-pod CPU kept out of the workload's own.

Real: Evidence models from ``tests.support.evidence``, the real builder and the whole
analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.support import cpu_usage_jumps, metrics_named
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import ago, analyze, assert_leads, naming

OWN = ObjectRef(kind="Service", namespace="shop", name="checkout", api_version="v1")
PODS = [f"checkout-7d9f6c8b5-{s}" for s in ("aaaaa", "bbbbb", "ccccc", "ddddd")]
LATENCY = make.alert(alertname="CheckoutLatencyP99High")


def _service(affinity: str | None = "ClientIP", **fields: Any) -> ServiceEvidence:
    return ServiceEvidence(
        name="checkout",
        namespace="shop",
        selector={"app": "checkout"},
        ready_endpoints=4,
        session_affinity=affinity,
        **fields,
    )


def _cpu(pod: str, cores: float, name: str = "cpu_usage_cores", **labels: str) -> MetricSummary:
    return make.metric(
        f'sum by (pod, container) (rate(container_cpu_usage_seconds_total{{pod="{pod}"}}[5m]))',
        last=cores,
        first=cores,
        name=name,
        labels={"pod": pod, "container": "app", **labels},
    )


def _own(
    loads: tuple[float, ...] = (1.9, 1.8, 0.03, 0.02),
    *,
    service: ServiceEvidence | None = None,
    ready: tuple[bool, ...] = (True, True, True, True),
    alerts: list[Any] | None = None,
) -> Evidence:
    pods = [
        make.pod(name, make.container("app", ready=ok))
        for name, ok in zip(PODS, ready, strict=True)
    ]
    return make.evidence(
        workload=make.deployment(replicas=4),
        pods=pods,
        services=[service or _service()],
        metrics=[_cpu(p, v) for p, v in zip(PODS, loads, strict=True)],
        alerts=[LATENCY] if alerts is None else alerts,
    )


def _rule(ev: Evidence) -> list[Any]:
    return [f for f in analyze(ev).findings if f.analyzer == "sticky-service"]


def test_own_service_pinning_load_to_some_ready_pods_is_fixed_at_the_service() -> None:
    finding = assert_leads(analyze(_own()), Category.NETWORK, Action.FIX_NETWORK, OWN)
    assert finding.analyzer == "sticky-service"
    assert "checkout-7d9f6c8b5-ddddd 20m CPU" in " ".join(e.fact for e in finding.evidence)


def test_a_recent_write_to_the_affinity_raises_the_confidence() -> None:
    plain = _rule(_own())[0]
    written = _rule(_own(service=_service(affinity_written_at=ago(30))))[0]
    old = _rule(_own(service=_service(affinity_written_at=ago(60 * 24 * 30))))[0]
    assert written.confidence > plain.confidence == old.confidence


def test_no_affinity_even_load_or_no_alert_is_no_finding() -> None:
    assert not _rule(_own(service=_service(affinity=None)))
    assert not _rule(_own(loads=(1.0, 0.9, 1.1, 0.95)))
    assert not _rule(_own(alerts=[make.alert(alertname="KubePodNotReady")]))


def test_idle_pods_that_are_not_ready_are_not_pinned_away() -> None:
    assert not _rule(_own(loads=(1.9, 1.8, 0.0, 0.0), ready=(True, True, False, False)))


FRAUD = ObjectRef(kind="Deployment", namespace="fraud", name="scoring")
FRAUD_PODS = [f"scoring-6d8b7c5f9e-{s}" for s in ("aaaaa", "bbbbb", "ccccc")]


def _callee(ready: int = 3, loads: tuple[float, ...] = (1.0, 0.01, 0.01)) -> Evidence:
    dependency = DependencyEvidence(
        service=ServiceEvidence(
            name="scoring",
            namespace="fraud",
            selector={"app": "scoring"},
            ready_endpoints=ready,
            session_affinity="ClientIP",
        ),
        workload=FRAUD,
        named_by=naming("Deployment checkout env SCORING_URL"),
        desired_replicas=3,
        ready_replicas=ready,
        pods=3,
        pod_nodes=dict.fromkeys(FRAUD_PODS, "worker-1"),
    )
    metrics = [
        _cpu(p, v, name="callee_cpu_usage_cores", namespace="fraud")
        for p, v in zip(FRAUD_PODS, loads, strict=True)
    ]
    return make.checkout_evidence(dependencies=[dependency], metrics=metrics, alerts=[LATENCY])


def test_a_callee_service_pinning_its_callers_is_fixed_at_that_service() -> None:
    target = ObjectRef(kind="Service", namespace="fraud", name="scoring", api_version="v1")
    assert_leads(analyze(_callee()), Category.NETWORK, Action.FIX_NETWORK, target)


def test_a_callee_short_of_ready_replicas_is_left_to_other_rules() -> None:
    assert not _rule(_callee(ready=1))


def test_a_callees_cpu_is_never_the_workloads_own() -> None:
    ev = _callee(loads=(4.0, 0.01, 0.01))
    jumped = ev.metrics[0].model_copy(update={"first": 0.5})
    ev = ev.model_copy(update={"metrics": [jumped]})
    assert not metrics_named(ev, "container_cpu_usage_seconds_total")
    assert not cpu_usage_jumps(ev)


def _service_manifest(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "time": "2026-01-01T00:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:ports": {}, "f:selector": {}}},
                },
                {
                    "manager": "kubectl-patch",
                    "operation": "Update",
                    "time": "2026-11-20T09:30:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:sessionAffinity": {}}},
                },
            ],
        },
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def test_the_builder_reads_the_affinity_its_timeout_and_when_it_was_written() -> None:
    manifest = _service_manifest(
        sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}
    )
    ref = ObjectRef(kind="Service", namespace="shop", name="web", api_version="v1")
    svc = built([manifest], ref).services[0]
    assert (svc.session_affinity, svc.affinity_timeout_seconds) == ("ClientIP", 600)
    assert svc.affinity_written_at == ago(30)
    plain = built([_service_manifest(sessionAffinity="None")], ref).services[0]
    assert plain.session_affinity is None
    assert plain.affinity_written_at is None
