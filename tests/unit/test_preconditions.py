"""Checks the evidence each category needs before it may be the diagnosis: for every
category, a synthetic Evidence holding one typical precondition is accepted and an Evidence
of a healthy running pod is not (``unknown`` needs nothing); and an answer citing evidence
ids the evidence does not have (a dependency's log tail included) is unconfirmed whatever its
category.

Real: ``kubetriage.preconditions`` over Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import ModelOpinion
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    ChangeEvidence,
    ConfigReference,
    ContainerEvidence,
    GenericObjectEvidence,
    LogTail,
    NodeEvidence,
    PodCondition,
    PVCEvidence,
    ServiceEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Category
from kubetriage.preconditions import NEEDS, category_supported, unconfirmed_reason
from tests.support import evidence as make
from tests.support.evidence import ago

POD = "checkout-7d9f6c8b5-a"


def _healthy() -> Evidence:
    return make.evidence(pods=[make.pod(POD, make.container())])


def _with_pod(*containers: ContainerEvidence, **fields: Any) -> Callable[[], Evidence]:
    return lambda: make.evidence(pods=[make.pod(POD, *containers, **fields)])


SUPPORTING: dict[Category, Callable[[], Evidence]] = {
    Category.OOM_KILLED: _with_pod(
        make.container(last_state=make.terminated("OOMKilled", 137), restarts=2)
    ),
    Category.CRASH_LOOP: _with_pod(
        make.container(restarts=4, state=make.waiting("CrashLoopBackOff"))
    ),
    Category.CONFIG_MISSING: _with_pod(
        make.container(),
        config_refs=[ConfigReference(kind="ConfigMap", name="flags", via="envFrom", exists=False)],
    ),
    Category.IMAGE_PULL: _with_pod(
        make.container(ready=False, state=make.waiting("ImagePullBackOff"))
    ),
    Category.PROBE_FAILURE: lambda: make.evidence(
        pods=[make.pod(POD, make.container(probes=[make.http_probe("liveness", "/h", 80)]))],
        events=[make.event("Unhealthy", "Liveness probe failed: HTTP 500", name=POD)],
    ),
    Category.UNSCHEDULABLE: _with_pod(make.container(ready=False), phase="Pending", node=None),
    Category.NODE_FAILURE: lambda: make.evidence(
        pods=[make.pod(POD, make.container())],
        nodes=[
            NodeEvidence(
                name="worker-1",
                ready="True",
                conditions=[PodCondition(type="DiskPressure", status="True")],
            )
        ],
    ),
    Category.STORAGE: lambda: make.evidence(
        pods=[make.pod(POD, make.container())],
        pvcs=[PVCEvidence(name="data", namespace="shop", phase="Pending")],
    ),
    Category.CPU_THROTTLING: lambda: make.evidence(
        pods=[make.pod(POD, make.container(limits={"cpu": "500m"}))],
        metrics=[make.metric("cpu_throttled_ratio", name="cpu_throttled_ratio", last=0.6)],
    ),
    Category.BAD_ROLLOUT: lambda: make.evidence(
        pods=[make.pod(POD, make.container())],
        revisions=[
            make.revision("b", 2, {"app": "a:2"}, current=True),
            make.revision("a", 1, {"app": "a:1"}),
        ],
    ),
    Category.DEPENDENCY_FAILURE: lambda: make.evidence(
        pods=[make.pod(POD, make.container())],
        logs=[make.log(POD, "app", "ERROR dial tcp payments:8080: connect: connection refused")],
    ),
    Category.RESOURCE_SATURATION: lambda: make.evidence(
        pods=[make.pod(POD, make.container())],
        autoscalers=[AutoscalerEvidence(name="checkout", namespace="shop", max_replicas=5)],
    ),
    Category.NETWORK: lambda: make.evidence(
        pods=[make.pod(POD, make.container())],
        services=[ServiceEvidence(name="checkout", namespace="shop")],
    ),
    Category.CERTIFICATE_EXPIRY: lambda: make.evidence(
        pods=[make.pod(POD, make.container())],
        other_objects=[
            GenericObjectEvidence(ref=ObjectRef(kind="Certificate", namespace="shop", name="tls"))
        ],
    ),
}


def test_every_category_has_a_check_and_says_what_it_needs() -> None:
    assert set(NEEDS) == set(Category)
    assert set(SUPPORTING) == set(Category) - {Category.UNKNOWN}


@pytest.mark.parametrize("category", sorted(SUPPORTING), ids=str)
def test_a_typical_precondition_supports_the_category(category: Category) -> None:
    assert category_supported(category, SUPPORTING[category]())


@pytest.mark.parametrize("category", sorted(SUPPORTING), ids=str)
def test_a_healthy_pod_supports_no_category(category: Category) -> None:
    assert not category_supported(category, _healthy())


def test_unknown_needs_nothing() -> None:
    assert category_supported(Category.UNKNOWN, make.evidence())


def test_a_recent_rollout_in_the_timeline_supports_bad_rollout() -> None:
    change = ChangeEvidence(
        at=ago(10), kind="rollout", object=ObjectRef(kind="Deployment", name="checkout")
    )
    assert category_supported(Category.BAD_ROLLOUT, make.evidence(changes=[change]))


def test_an_answer_citing_evidence_ids_that_do_not_exist_is_unconfirmed() -> None:
    oom = SUPPORTING[Category.OOM_KILLED]()
    answer = ModelOpinion(
        category=Category.OOM_KILLED, confidence=0.9, summary="s", cited=["[p1]", "I1"]
    )
    # Both ids exist (the first pod, the incident) and the category has its precondition.
    assert unconfirmed_reason(answer, oom, found=()) is None
    invented = answer.model_copy(update={"cited": ["P1", "P7", "Z2"]})
    reason = unconfirmed_reason(invented, oom, found=[Category.OOM_KILLED])
    assert reason is not None
    assert "P7, Z2" in reason
    # No citation at all: only the category's preconditions decide, as before.
    silent = answer.model_copy(update={"cited": []})
    assert unconfirmed_reason(silent, oom, found=()) is None
    assert "Pending pod" in (
        unconfirmed_reason(
            silent.model_copy(update={"category": Category.UNSCHEDULABLE}), oom, found=()
        )
        or ""
    )


def test_a_cited_log_line_of_a_dependency_resolves_to_its_tail() -> None:
    tail = LogTail(
        namespace="data", pod="orders-db-0", container="postgres", lines=["FATAL: disk full"]
    )
    callee = DependencyEvidence(
        service=ServiceEvidence(name="orders-db", namespace="data"), logs=[tail]
    )
    evidence = make.evidence(dependencies=[callee])
    answer = ModelOpinion(
        category=Category.DEPENDENCY_FAILURE, confidence=0.8, summary="s", cited=["D1", "[d1l1]"]
    )
    assert unconfirmed_reason(answer, evidence, found=()) is None
    invented = answer.model_copy(update={"cited": ["D1L1", "D1L2", "D2L1", "L1"]})
    assert "D1L2, D2L1, L1" in (unconfirmed_reason(invented, evidence, found=()) or "")
