"""Pod and container evidence for analyzer tests: container states, probes, declared ports,
containers (healthy by default, or crash-looping) and pods (owned by a ReplicaSet, Ready when
all their containers are).
"""

from __future__ import annotations

from typing import Any, Literal

from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    ContainerPort,
    ContainerState,
    PodCondition,
    PodEvidence,
    ProbeSpec,
)
from tests.support.evidence_time import ago


def running() -> ContainerState:
    return ContainerState(state="running", started_at=ago(60))


def waiting(reason: str, message: str | None = None) -> ContainerState:
    return ContainerState(state="waiting", reason=reason, message=message)


def terminated(reason: str | None, exit_code: int, message: str | None = None) -> ContainerState:
    return ContainerState(
        state="terminated",
        reason=reason,
        exit_code=exit_code,
        message=message,
        started_at=ago(5),
        finished_at=ago(1),
    )


def http_probe(
    kind: Literal["liveness", "readiness", "startup"], path: str, port: int | str, **fields: Any
) -> ProbeSpec:
    """An httpGet probe of ``path`` on ``port`` (a number or a container port's name)."""
    return ProbeSpec(
        kind=kind, handler=f"httpGet {path} :{port}", mechanism="httpGet", port=str(port), **fields
    )


def tcp_probe(
    kind: Literal["liveness", "readiness", "startup"], port: int | str, **fields: Any
) -> ProbeSpec:
    """A tcpSocket probe of ``port`` (a number or a container port's name)."""
    return ProbeSpec(
        kind=kind, handler=f"tcpSocket :{port}", mechanism="tcpSocket", port=str(port), **fields
    )


def exec_probe(
    kind: Literal["liveness", "readiness", "startup"], command: str, **fields: Any
) -> ProbeSpec:
    """An exec probe running ``command``."""
    return ProbeSpec(kind=kind, handler=f"exec {command}", mechanism="exec", **fields)


def port(number: int, name: str | None = None, protocol: str = "TCP") -> ContainerPort:
    """A port a container declares."""
    return ContainerPort(number=number, name=name, protocol=protocol)


def container(
    name: str = "app",
    image: str = "ghcr.io/example/app:1.0",
    *,
    ready: bool = True,
    restarts: int = 0,
    state: ContainerState | None = None,
    last_state: ContainerState | None = None,
    **fields: Any,
) -> ContainerEvidence:
    return ContainerEvidence(
        name=name,
        image=image,
        ready=ready,
        started=ready,
        restart_count=restarts,
        state=state or running(),
        last_state=last_state,
        **fields,
    )


def crash_looping(
    name: str = "app",
    image: str = "ghcr.io/example/app:1.0",
    *,
    restarts: int = 5,
    exit_code: int = 1,
    reason: str | None = "Error",
    **fields: Any,
) -> ContainerEvidence:
    """A container in CrashLoopBackOff whose last run ended with ``exit_code``."""
    return container(
        name,
        image,
        ready=False,
        restarts=restarts,
        state=waiting("CrashLoopBackOff"),
        last_state=terminated(reason, exit_code),
        **fields,
    )


def pod(
    name: str,
    *containers: ContainerEvidence,
    namespace: str = "shop",
    replica_set: str | None = "checkout-7d9f6c8b5",
    phase: str = "Running",
    node: str | None = "worker-1",
    labels: dict[str, str] | None = None,
    **fields: Any,
) -> PodEvidence:
    owner = (
        ObjectRef(kind="ReplicaSet", namespace=namespace, name=replica_set) if replica_set else None
    )
    ready = all(c.ready for c in containers)
    fields.setdefault(
        "conditions", [PodCondition(type="Ready", status="True" if ready else "False")]
    )
    fields.setdefault("created_at", ago(120))
    return PodEvidence(
        name=name,
        namespace=namespace,
        phase=phase,
        node=node,
        owner=owner,
        labels=labels if labels is not None else {"app": "checkout"},
        containers=list(containers) or [container()],
        **fields,
    )


def app_pod(
    name: str, *containers: ContainerEvidence, namespace: str = "shop", **fields: Any
) -> PodEvidence:
    """A pod named as a Deployment's pods are (``<app>-<hash>-<suffix>``): its ReplicaSet
    (``<app>-<hash>``) and its ``app`` label follow from the name."""
    replica_set = name.rsplit("-", 1)[0]
    labels = {"app": replica_set.rsplit("-", 1)[0]}
    return pod(
        name, *containers, namespace=namespace, replica_set=replica_set, labels=labels, **fields
    )
