"""Realistic inputs for LLM-step tests: an OOM-killed checkout Deployment's evidence, the
analyzer finding for it, a similar past incident, and a valid model answer. Built from the
shared models, so a model change that breaks them breaks the tests loudly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    ContainerPort,
    ContainerState,
    EventEvidence,
    LogTail,
    MetricSummary,
    PodCondition,
    PodEvidence,
    ProbeSpec,
    RevisionEvidence,
    WorkloadEvidence,
)
from kubetriage.models.vocabulary import Action, Category

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DEPLOYMENT = ObjectRef(kind="Deployment", namespace="shop", name="checkout", api_version="apps/v1")
POD = "checkout-7d9f6c-x2x9k"


def app_container(**overrides: Any) -> ContainerEvidence:
    values: dict[str, Any] = {
        "name": "app",
        "image": "ghcr.io/example/checkout:1.4.2",
        "ready": False,
        "restart_count": 7,
        "state": ContainerState(state="waiting", reason="CrashLoopBackOff"),
        "last_state": ContainerState(
            state="terminated",
            reason="OOMKilled",
            exit_code=137,
            finished_at=NOW - timedelta(minutes=1),
        ),
        "requests": {"memory": "128Mi", "cpu": "100m"},
        "limits": {"memory": "256Mi"},
        "probes": [
            ProbeSpec(
                kind="readiness", handler="httpGet /ready :8080", mechanism="httpGet", port="8080"
            )
        ],
        "ports": [ContainerPort(number=8080)],
        "env": {"LOG_LEVEL": "info"},
        "args": ["--workers=4"],
    }
    values.update(overrides)
    return ContainerEvidence(**values)


def oom_evidence(
    *, log_lines: list[str] | None = None, events: list[EventEvidence] | None = None
) -> Evidence:
    lines = (
        log_lines
        if log_lines is not None
        else [
            "2026-11-20T09:58:01Z INFO exporting orders to csv batch=1",
            "2026-11-20T09:58:40Z INFO exporting orders to csv batch=2",
            "2026-11-20T09:59:02Z WARN heap at 240Mi",
        ]
    )
    default_events = [
        EventEvidence(
            type="Warning",
            reason="BackOff",
            message=f"Back-off restarting failed container app in pod {POD}",
            involved=ObjectRef(kind="Pod", namespace="shop", name=POD),
            count=12,
            last_seen=NOW - timedelta(seconds=30),
        ),
        EventEvidence(
            type="Normal",
            reason="Pulled",
            message='Container image "ghcr.io/example/checkout:1.4.2" already present',
            involved=ObjectRef(kind="Pod", namespace="shop", name=POD),
            count=7,
            last_seen=NOW - timedelta(minutes=2),
        ),
    ]
    return Evidence(
        collected_at=NOW,
        title="checkout pods restart",
        alerts=[
            AlertEvidence(
                labels={"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": POD},
                annotations={"summary": "Pod shop/checkout is crash looping"},
                starts_at=NOW - timedelta(minutes=5),
                status="firing",
            )
        ],
        target=DEPLOYMENT,
        workload=WorkloadEvidence(
            ref=DEPLOYMENT,
            desired_replicas=2,
            ready_replicas=1,
            available_replicas=1,
            updated_replicas=2,
            unavailable_replicas=1,
            containers=[app_container(ready=None, restart_count=0)],
            revision=3,
            generation=3,
            observed_generation=3,
        ),
        pods=[
            PodEvidence(
                name=POD,
                namespace="shop",
                phase="Running",
                node="node-a",
                owner=ObjectRef(kind="ReplicaSet", namespace="shop", name="checkout-7d9f6c"),
                conditions=[
                    PodCondition(type="Ready", status="False", reason="ContainersNotReady")
                ],
                containers=[app_container()],
            )
        ],
        events=events if events is not None else default_events,
        revisions=[
            RevisionEvidence(
                name="checkout-7d9f6c",
                revision=3,
                images={"app": "ghcr.io/example/checkout:1.4.2"},
                replicas=2,
                ready_replicas=1,
                current=True,
            )
        ],
        logs=[LogTail(namespace="shop", pod=POD, container="app", previous=True, lines=lines)],
        metrics=[
            MetricSummary(
                name="memory_working_set_vs_limit",
                query="container_memory_working_set_bytes / limit",
                labels={"pod": POD, "container": "app"},
                last=0.99,
                min=0.6,
                max=0.99,
                first=0.6,
                trend="rising",
                samples=60,
            )
        ],
    )


def oom_finding() -> Finding:
    return Finding(
        analyzer="oom",
        category=Category.OOM_KILLED,
        confidence=0.95,
        summary="container app was OOMKilled 7 times (limit 256Mi)",
        evidence=[EvidenceItem(source=f"pod/shop/{POD}", fact="lastState OOMKilled exit 137")],
        action=Action.INCREASE_MEMORY,
        target=DEPLOYMENT,
        params={"container": "app", "memory": "512Mi"},
    )


def similar_incident(resolution: str = "raised memory limit to 512Mi") -> SimilarIncident:
    return SimilarIncident(
        name="inc-2026-10-02-checkout",
        score=0.91,
        category=Category.OOM_KILLED,
        resolution=resolution,
        action=Action.INCREASE_MEMORY,
        namespace="shop",
        cluster="prod-eu",
    )


def valid_answer(**overrides: Any) -> dict[str, Any]:
    """A schema-valid answer as the model would send it (plain JSON types)."""
    values: dict[str, Any] = {
        "category": "oom-killed",
        "confidence": 0.9,
        "summary": "checkout's app container is OOMKilled: its 256Mi limit is too low.",
        "root_cause": "Working set rises to 99% of the 256Mi limit while exporting CSV.",
        "evidence": ["lastState OOMKilled exit 137", "memory at 99% of limit, rising"],
        "remediations": [
            {
                "action": "increase-memory",
                "target": {"kind": "Deployment", "namespace": "shop", "name": "checkout"},
                "rationale": "A 512Mi limit leaves headroom for the export batch.",
            }
        ],
        "disagrees_with_analyzers": None,
        "evidence_ids": ["I1"],
    }
    values.update(overrides)
    return values
