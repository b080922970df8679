"""Checks the one helper for "the Service a dependency is called through": a Service read
(``ServiceEvidence.ref``) is referenced by its own namespace and name, and a dependency's
Service is the one read, else the Service named but not readable, never a workload the walk
reached without a Service.

Real: ``kubetriage.models`` over synthetic evidence (``tests.support.evidence``).
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.relations import DependencyEvidence
from tests.support import evidence as make


def test_a_service_is_referenced_by_its_own_namespace_and_name() -> None:
    expected = ObjectRef(kind="Service", namespace="data", name="db")
    assert make.service("db", "data").ref() == expected


def test_the_service_read_is_the_one_called_through() -> None:
    dependency = DependencyEvidence(
        service=make.service("db", "data"),
        ref=ObjectRef(kind="Service", namespace="data", name="db"),
        workload=ObjectRef(kind="StatefulSet", namespace="data", name="db"),
    )
    assert dependency.service_ref() == ObjectRef(kind="Service", namespace="data", name="db")


def test_a_service_named_but_not_readable_is_still_the_one_called_through() -> None:
    named = ObjectRef(kind="Service", namespace="billing", name="ledger")
    dependency = DependencyEvidence(ref=named, followed=False)
    assert dependency.service_ref() == named


def test_a_workload_reached_without_a_service_has_none() -> None:
    workload = ObjectRef(kind="Deployment", namespace="shop", name="worker")
    assert DependencyEvidence(ref=workload, workload=workload).service_ref() is None
    assert DependencyEvidence().service_ref() is None
