"""KEDA ScaledJobs are read like ScaledObjects: a Job a ScaledJob created (its controller
owner) is scaled by it, its triggers are scalers whose sources and readers are summarised and
checked against NetworkPolicies, its events are read, and the live walk lists the KEDA
operator's pods by every label the offline builder recognises them by.

Real: ``kubetriage.evidence.summaries.scalers``, ``event_subjects`` over a real
``CollectionRun``, the collector's walk step over a recording reader, the pure builder and
the analyzer registry.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.event_subjects import event_subjects
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.scaler_walk import follow_scaler_operator
from kubetriage.evidence.summaries.scalers import (
    OPERATOR_LABELS,
    OPERATOR_SELECTORS,
    is_operator_pod,
    scalers_of,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads
from tests.unit.test_scaler_network_policy import (
    APP_NS,
    POLICY,
    SCALER_NS,
    _objects,
    _pod,
    _scaled_object,
)

JOB = ObjectRef(kind="Job", namespace=APP_NS, name="invoicer-7xq2m")


def _scaled_job() -> dict[str, Any]:
    """The ScaledObject's kafka trigger, on a ScaledJob that runs the invoicer as Jobs."""
    scaled = _scaled_object()
    scaled["kind"] = "ScaledJob"
    spec = scaled["spec"]
    del spec["scaleTargetRef"]
    spec["jobTargetRef"] = {
        "template": {"spec": {"containers": [{"name": "invoicer", "image": "r.example/i:1"}]}}
    }
    return scaled


def _job(owner: str = "invoicer") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": JOB.name,
            "namespace": APP_NS,
            "uid": "5b0c6a52-1d0e-4a51-9d1e-2f7b0f3c9a11",
            "labels": {"scaledjob.keda.sh/name": owner},
            "ownerReferences": [
                {
                    "apiVersion": "keda.sh/v1alpha1",
                    "kind": "ScaledJob",
                    "name": owner,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "selector": {
                "matchLabels": {
                    "batch.kubernetes.io/controller-uid": "5b0c6a52-1d0e-4a51-9d1e-2f7b0f3c9a11"
                }
            },
            "template": {"spec": {"containers": [{"name": "invoicer", "image": "r.example/i:1"}]}},
        },
        "status": {"active": 1},
    }


def _job_objects() -> list[dict[str, Any]]:
    """The network-policy scene with the invoicer run as a ScaledJob's Job instead."""
    kept = [o for o in _objects() if o["kind"] not in ("Deployment", "ScaledObject")]
    return [*kept, _scaled_job(), _job()]


def test_a_scaled_job_scales_the_jobs_it_created_and_itself() -> None:
    scaled = _scaled_job()
    assert scalers_of(_job(), [scaled]) == [scaled]
    assert scalers_of(_job(owner="other"), [scaled]) == []
    assert scalers_of(scaled, [scaled]) == [scaled]
    # A ScaledObject never scales a Job by name.
    assert scalers_of(_job(), [_scaled_object()]) == []


def test_a_scaled_jobs_scaler_whose_flow_a_policy_drops_leads_to_that_policy() -> None:
    ev = built(_job_objects(), JOB)
    (scaler,) = ev.scalers
    assert scaler.ref.same_object(ObjectRef(kind="ScaledJob", namespace=APP_NS, name="invoicer"))
    assert scaler.reader_namespace == SCALER_NS
    leader = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, POLICY)
    assert leader.narrative is not None
    assert "kafka scaler" in leader.narrative.problem


def test_the_collector_reads_the_events_of_the_jobs_scaled_job() -> None:
    run = CollectionRun(asyncio.Semaphore(1))
    run.add(_scaled_job())
    subjects = event_subjects(run, None, _job(), [], EvidenceLimits())
    assert ("ScaledJob", APP_NS, "invoicer") in subjects


class _RecordingReader:
    def __init__(self) -> None:
        self.selectors: list[str] = []

    async def add_listed(
        self, run: CollectionRun, kind: str, namespace: str | None, **kwargs: Any
    ) -> None:
        assert (kind, namespace) == ("Pod", None)
        self.selectors.append(kwargs["label_selector"])


def _listed(workload: dict[str, Any], scaling: dict[str, Any], scope: Scope) -> list[str]:
    reader = _RecordingReader()
    run = CollectionRun(asyncio.Semaphore(1))
    run.add(scaling)
    # Only the listing is exercised: no operator pod is added, so no tail is read.
    asyncio.run(follow_scaler_operator(reader, run, workload, scope))  # type: ignore[arg-type]
    return reader.selectors


def test_the_live_walk_lists_operator_pods_by_every_label_the_builder_knows() -> None:
    # Each selector finds pods the builder takes for the operator's, and every label is asked.
    for selector, (key, value) in zip(OPERATOR_SELECTORS, OPERATOR_LABELS, strict=True):
        assert is_operator_pod(_pod("keda-operator-1", SCALER_NS, {key: value}))
        assert selector == f"{key}={value}"
    listed = _listed(_job(), _scaled_job(), Scope.unrestricted())
    assert sorted(listed) == sorted(OPERATOR_SELECTORS)
    # Not for a workload nothing scales, nor under a scope that may not read every namespace.
    assert _listed(_job(owner="other"), _scaled_job(), Scope.unrestricted()) == []
    assert _listed(_job(), _scaled_job(), Scope(APP_NS, cluster_wide=False)) == []
