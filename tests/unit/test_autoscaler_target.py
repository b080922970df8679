"""Checks ``AutoscalerEvidence.scales``, the one rule for "this HPA scales that workload" that
the capacity, saturation-by-load and autoscaler-blind-spot analyzers share.

Real: the evidence model; no I/O.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import AutoscalerEvidence

WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")


def _hpa(target: ObjectRef | None, namespace: str = "shop") -> AutoscalerEvidence:
    return AutoscalerEvidence(name="web", namespace=namespace, target=target, max_replicas=10)


def test_an_autoscaler_scales_the_workload_its_target_names_in_its_namespace() -> None:
    assert _hpa(ObjectRef(kind="Deployment", name="web")).scales(WEB)
    assert _hpa(ObjectRef(kind="Deployment", name="web")).scales(
        ObjectRef(kind="Deployment", name="web")
    )


def test_another_kind_name_or_namespace_is_not_scaled() -> None:
    assert not _hpa(ObjectRef(kind="StatefulSet", name="web")).scales(WEB)
    assert not _hpa(ObjectRef(kind="Deployment", name="api")).scales(WEB)
    assert not _hpa(ObjectRef(kind="Deployment", name="web"), namespace="other").scales(WEB)


def test_an_autoscaler_without_a_target_scales_nothing() -> None:
    assert not _hpa(None).scales(WEB)
