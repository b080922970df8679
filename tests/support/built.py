"""Evidence built by the real pure builder (``kubetriage.evidence.build.build_evidence``)
from raw Kubernetes objects or from a case, at the tests' fixed ``NOW``, and the raw objects
tests build it from, so a test states only the objects and fields it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import LogTail
from tests.support.evidence import NOW


def built(
    objects: Sequence[Any],
    target: ObjectRef | None,
    *,
    logs: Sequence[LogTail] = (),
    alerts: Sequence[Alert] = (),
    title: str = "t",
    limits: EvidenceLimits | None = None,
    **options: Any,
) -> Evidence:
    """``build_evidence`` over ``objects`` and ``logs`` about ``target`` at ``NOW``."""
    return build_evidence(
        list(objects),
        list(logs),
        target=target,
        alerts=list(alerts),
        title=title,
        description=None,
        now=NOW,
        limits=limits or EvidenceLimits(),
        **options,
    )


def case_alert(case: Case) -> Alert:
    """The case's alert, firing since its ``starts_ago`` before ``NOW``."""
    return Alert(
        status="firing",
        labels=case.alert.labels,
        annotations=case.alert.annotations,
        starts_at=NOW - parse_go_duration(case.alert.starts_ago),
    )


def case_logs(case: Case, limits: EvidenceLimits | None = None) -> list[LogTail]:
    """The case's container logs as the collector tails them."""
    tails = []
    for key, text in case.logs.items():
        namespace, pod, container = key.split("/")
        tails.append(
            tail_from_text(namespace, pod, container, text, limits=limits or EvidenceLimits())
        )
    return tails


def case_evidence(case: Case, objects: Sequence[Any] | None = None) -> Evidence:
    """The evidence the collector would gather for the case's alert (over ``objects``
    instead of the case's cluster when given)."""
    return built(
        case.cluster if objects is None else objects,
        None,
        logs=case_logs(case),
        alerts=[case_alert(case)],
        title=case.title,
    )


def service_manifest(
    name: str,
    namespace: str,
    selector: dict[str, str],
    *,
    port: int = 80,
    target_port: int | str = 8080,
) -> dict[str, Any]:
    """A ``v1`` Service selecting ``selector`` on one TCP port (a named ``target_port`` is
    a container port's name)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": selector, "ports": [{"port": port, "targetPort": target_port}]},
    }


def deployment_manifest(
    name: str,
    namespace: str | None,
    *containers: dict[str, Any] | tuple[str, str],
    labels: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An ``apps/v1`` Deployment (no namespace when ``namespace`` is None) whose selector
    and pod labels are ``labels`` (default ``app=<name>``) and whose pods run ``containers``
    (a container spec, or a ``(name, image)`` pair); ``metadata``, ``status`` and ``spec``
    (``replicas``...) add fields."""
    labels = labels or {"app": name}
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**meta, **(metadata or {})},
        "spec": {
            **spec,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": c[0], "image": c[1]} if isinstance(c, tuple) else c
                        for c in containers
                    ]
                },
            },
        },
    }
    if status is not None:
        body["status"] = status
    return body


def controller_revision_manifest(
    owner: ObjectRef,
    number: int,
    template: dict[str, Any],
    *,
    created: datetime | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An ``apps/v1`` ControllerRevision ``<owner>-<number>`` that ``owner`` (a DaemonSet or
    StatefulSet) controls, holding pod ``template``, created at ``created``."""
    metadata: dict[str, Any] = {
        "name": f"{owner.name}-{number}",
        "namespace": owner.namespace,
        "labels": labels or {},
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": owner.kind, "name": owner.name, "controller": True}
        ],
    }
    if created is not None:
        metadata["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": metadata,
        "revision": number,
        "data": {"spec": {"template": template}},
    }
