"""What stands behind an admission webhook's failing calls, read from its backend:

- a backend that crashes at start on the content of a Secret it mounts (a plugged-in CA or
  key bundle it refuses): the summary keeps the backend's log lines naming a file of a
  Secret mount, and the analyzer fixes that Secret instead of escalating a crash. Near
  misses: a crash whose lines name no file of a mounted Secret (a ConfigMap's, a path that
  merely shares the mount's prefix), a backend killed for its memory;
- calls that time out while the backend has ready endpoints and its containers are heavily
  throttled by their CPU limit: raise its CPU. Near misses: a lightly throttled backend, a
  backend with no ready endpoint, a refused call."""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.summaries.webhooks import failure_of
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.object_evidence import ConfigMount
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import (
    analyze,
    assert_leads,
    by_category,
    deployment,
    event,
    evidence,
    log,
    metric,
    naming,
    service,
)

NO_ENDPOINTS = (
    'failed calling webhook "inject.mesh.example.io": failed to call webhook: '
    'Post "https://mesh-control.mesh.svc:443/inject?timeout=10s": '
    'no endpoints available for service "mesh-control"'
)
SERVICE = ObjectRef(kind="Service", namespace="mesh", name="mesh-control")
BACKEND = ObjectRef(kind="Deployment", namespace="mesh", name="mesh-control")
BLOCKED = ObjectRef(kind="ReplicaSet", namespace="claims", name="claims-api-6d8c7b9f45")
CA_SECRET = ObjectRef(kind="Secret", namespace="mesh", name="plugged-ca")
READ_CA = "info using plugged-in signing key at etc/plugged-ca/ca-key.pem"
REFUSED = (
    "Error: failed to create CA: cannot verify the cert with the provided root chain: "
    "x509: certificate signed by unknown authority"
)


def _hook(*lines: str, message: str = NO_ENDPOINTS) -> WebhookEvidence:
    return WebhookEvidence(
        name="inject.mesh.example.io",
        failure=failure_of(message),
        message=message,
        blocked=[BLOCKED],
        count=19,
        configuration=ObjectRef(kind="MutatingWebhookConfiguration", name="mesh-injector"),
        failure_policy="Fail",
        service=SERVICE,
        log_lines=list(lines),
    )


def _backend(*mounts: ConfigMount, last: str = "Error", ready: int = 0) -> DependencyEvidence:
    trouble = PodTrouble(
        pod="mesh-control-1",
        container="discovery",
        waiting="CrashLoopBackOff",
        restarts=11,
        last_terminated=last,
    )
    return DependencyEvidence(
        ref=SERVICE,
        named_by=naming("event ReplicaSet/x FailedCreate"),
        service=service("mesh-control", "mesh", ready=ready, matching=2),
        workload=BACKEND,
        failing_pods=[] if ready else [trouble],
        secret_mounts=list(mounts),
        mounted_secrets=[m.name for m in mounts if m.kind == "Secret"],
    )


def _analyzed(hook: WebhookEvidence, backend: DependencyEvidence, *metrics: Any) -> Any:
    ev = evidence(
        workload=deployment("claims-api", namespace="claims"),
        events=[event("FailedCreate", hook.message, name=BLOCKED.name, kind="ReplicaSet")],
        webhooks=[hook],
        dependencies=[backend],
        metrics=list(metrics),
    )
    return analyze(ev)


CA_MOUNT = ConfigMount(path="/etc/plugged-ca", kind="Secret", name="plugged-ca")


def test_a_backend_crashing_on_a_file_of_a_mounted_secret_is_fixed_at_that_secret() -> None:
    findings = _analyzed(_hook(READ_CA, REFUSED), _backend(CA_MOUNT))
    assert_leads(findings, Category.CONFIG_MISSING, Action.FIX_CONFIG, CA_SECRET)


@pytest.mark.parametrize(
    ("lines", "mount"),
    [
        # Its last words name no file at all.
        ((REFUSED,), CA_MOUNT),
        # The file named is a ConfigMap's, not a Secret's.
        (
            ("info reading mesh config at etc/istio/config/mesh", REFUSED),
            ConfigMount(path="/etc/istio/config", kind="ConfigMap", name="mesh"),
        ),
        # A path that only shares the mount's prefix is another directory.
        (("info using signing key at etc/plugged-ca-old/ca-key.pem", REFUSED), CA_MOUNT),
    ],
)
def test_a_crash_naming_no_file_of_a_mounted_secret_stays_the_webhooks_crash(
    lines: tuple[str, ...], mount: ConfigMount
) -> None:
    findings = _analyzed(_hook(*lines), _backend(mount))
    assert_leads(findings, Category.CRASH_LOOP, Action.ESCALATE, BACKEND)
    assert not by_category(findings, Category.CONFIG_MISSING)


def test_a_backend_killed_for_memory_is_not_blamed_on_the_secret_its_logs_name() -> None:
    findings = _analyzed(_hook(READ_CA), _backend(CA_MOUNT, last="OOMKilled"))
    assert_leads(findings, Category.OOM_KILLED, Action.INCREASE_MEMORY, BACKEND)


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    return {"name": name, **({"namespace": namespace} if namespace else {})}


def _objects() -> list[dict[str, Any]]:
    hook = {
        "name": "inject.mesh.example.io",
        "failurePolicy": "Fail",
        "clientConfig": {"service": {"name": "mesh-control", "namespace": "mesh"}},
    }
    pod_spec = {
        "containers": [
            {
                "name": "discovery",
                "image": "example/discovery:1.24",
                "volumeMounts": [{"name": "ca", "mountPath": "/etc/plugged-ca"}],
            }
        ],
        "volumes": [{"name": "ca", "secret": {"secretName": "plugged-ca"}}],
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("claims-api", "claims"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "claims-api"}}},
            "status": {"replicas": 2, "readyReplicas": 2},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": _meta("claims-api-6d8c7b9f45.1", "claims"),
            "type": "Warning",
            "reason": "FailedCreate",
            "count": 19,
            "lastTimestamp": "2026-11-20T09:58:00Z",
            "message": "Error creating: Internal error occurred: " + NO_ENDPOINTS,
            "involvedObject": {"kind": "ReplicaSet", "namespace": "claims", "name": BLOCKED.name},
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": _meta("mesh-injector"),
            "webhooks": [hook],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("mesh-control", "mesh"),
            "spec": {"selector": {"app": "mesh-control"}, "ports": [{"port": 443}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**_meta("mesh-control-1", "mesh"), "labels": {"app": "mesh-control"}},
            "spec": pod_spec,
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "discovery",
                        "ready": False,
                        "restartCount": 11,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
                    }
                ],
            },
        },
    ]


def test_the_summary_keeps_the_backends_lines_naming_a_file_of_a_mounted_secret() -> None:
    unrelated = "info serving on :15017"
    backend_log = log(
        "mesh-control-1",
        "discovery",
        f"{unrelated}\n{READ_CA}\n{REFUSED}\n",
        namespace="mesh",
        source="webhook",
    )
    target = ObjectRef(kind="Deployment", namespace="claims", name="claims-api")
    (hook,) = built(_objects(), target, logs=[backend_log]).webhooks
    # The line naming /etc/plugged-ca is kept with the certificate lines; the rest is not.
    assert hook.log_lines == [READ_CA, REFUSED]


_POST = (
    'failed calling webhook "inject.mesh.example.io": failed to call webhook: '
    'Post "https://mesh-control.mesh.svc:443/inject?timeout=10s": '
)
TIMEOUT = _POST + "context deadline exceeded"
REFUSED_CALL = _POST + "dial tcp 10.96.4.2:443: connect: connection refused"


def _throttled(share: float, pod: str = "mesh-control-6c8f9d7b54-7wq4x") -> Any:
    return metric(
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total...",
        name="callee_cpu_throttled_ratio",
        labels={"namespace": "mesh", "pod": pod, "container": "discovery"},
        first=0.02,
        last=share,
    )


def test_a_webhook_timing_out_on_a_heavily_throttled_backend_gets_more_cpu() -> None:
    findings = _analyzed(_hook(message=TIMEOUT), _backend(ready=2), _throttled(0.9))
    assert_leads(findings, Category.CPU_THROTTLING, Action.INCREASE_CPU, BACKEND)


@pytest.mark.parametrize(
    ("message", "ready", "share"),
    [
        (TIMEOUT, 2, 0.3),  # lightly throttled: not why it answers too late
        (TIMEOUT, 0, 0.9),  # no ready endpoint: the call has nowhere to go
        (REFUSED_CALL, 2, 0.9),  # refused: nothing listens, slowness is not it
    ],
)
def test_no_cpu_finding_unless_a_ready_backend_is_heavily_throttled_and_times_out(
    message: str, ready: int, share: float
) -> None:
    findings = _analyzed(_hook(message=message), _backend(ready=ready), _throttled(share))
    assert not by_category(findings, Category.CPU_THROTTLING)


def test_another_workloads_throttling_is_not_the_backends() -> None:
    other = _throttled(0.9, pod="mesh-gateway-5d8c7b9f6-hx2vp")
    findings = _analyzed(_hook(message=TIMEOUT), _backend(ready=2), other)
    assert not by_category(findings, Category.CPU_THROTTLING)
