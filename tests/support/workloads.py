"""Workload evidence for analyzer tests: a Deployment (all replicas ready by default), its
revisions (ReplicaSets) and the timeline entry of a rollout.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ContainerEvidence,
    RevisionEvidence,
    WorkloadEvidence,
)
from tests.support.evidence_time import ago


def deployment(
    name: str = "checkout",
    namespace: str = "shop",
    *,
    replicas: int = 2,
    ready: int | None = None,
    containers: list[ContainerEvidence] | None = None,
    revision: int = 1,
    **fields: Any,
) -> WorkloadEvidence:
    ready_count = replicas if ready is None else ready
    return WorkloadEvidence(
        ref=ObjectRef(kind="Deployment", namespace=namespace, name=name),
        desired_replicas=replicas,
        ready_replicas=ready_count,
        available_replicas=ready_count,
        updated_replicas=replicas,
        unavailable_replicas=replicas - ready_count,
        selector={"app": name},
        containers=containers or [],
        revision=revision,
        **fields,
    )


def revision(
    name: str,
    number: int,
    images: dict[str, str],
    *,
    current: bool = False,
    ready: int = 0,
    created_minutes_ago: float = 60 * 24 * 30,
) -> RevisionEvidence:
    return RevisionEvidence(
        name=name,
        revision=number,
        images=images,
        replicas=ready,
        ready_replicas=ready,
        available_replicas=ready,
        created_at=ago(created_minutes_ago),
        current=current,
    )


def rollout_revisions(
    number: int,
    new: dict[str, str],
    old: dict[str, str],
    *,
    minutes_ago: float,
    ready: int = 0,
    old_ready: int = 0,
    names: tuple[str, str] = ("checkout-7d9f6c8b5", "checkout-5c6d7e8f9"),
) -> list[RevisionEvidence]:
    """Revision ``number`` (images ``new``, ``ready`` pods) rolled out ``minutes_ago`` over
    revision ``number - 1`` (images ``old``, ``old_ready`` pods, a month old); ``names``
    are the two ReplicaSets, new first."""
    return [
        revision(names[0], number, new, current=True, ready=ready, created_minutes_ago=minutes_ago),
        revision(names[1], number - 1, old, ready=old_ready),
    ]


def rollout_change(
    workload: ObjectRef, from_revision: int, *aspects: str, minutes_ago: float
) -> ChangeEvidence:
    """The timeline entry of ``workload``'s rollout from ``from_revision`` to the next one,
    ``minutes_ago``, changing ``aspects`` of the pod template ("image", "env", "probes"...)."""
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=workload,
        aspects=list(aspects),
        details=[f"revision {from_revision} -> {from_revision + 1}"],
        from_revision=from_revision,
        to_revision=from_revision + 1,
    )
