"""Stable ids for the evidence the model is shown, and the check of the ids it cites.

Pure. ``kubetriage.llm.prompt`` starts each item of the evidence with its id (``[P2]`` the
second pod, ``[V1]`` the first event, ``[M3]`` the third metric, ``[D1L2]`` the second log tail
of the first dependency, ``[D1H1]`` its first HPA, ``[Z1]`` an autoscaler's scaler, ``[R1]``
what writes a missing Secret, ``[B1]`` another component of the application, ``[U1]`` the
controller an overdue Certificate or unresolved host waits on, ``[Y1]`` a
PodDisruptionBudget that holds a drain...); the model's answer lists
the ids its category rests on (``evidence_ids``);
``kubetriage.preconditions`` holds an answer citing an id the evidence does not have as an
unconfirmed hypothesis. An id is the item's position in its ``Evidence`` list, so it does
not depend on how much of the evidence a prompt budget let through, and the same evidence
always has the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized

from kubetriage.models.evidence import Evidence

INCIDENT = "I"
ALERT = "A"
WORKLOAD = "W"
POD = "P"
EVENT = "V"
CHANGE = "C"
DEPENDENCY = "D"
NODE = "N"
CLAIM = "K"
SERVICE = "S"
POLICY = "X"
AUTOSCALER = "H"
QUOTA = "Q"
CONFIG_MAP = "G"
OBJECT = "O"
METRIC = "M"
LOG = "L"
SCALER = "Z"
SECRET_WRITER = "R"
SIBLING = "B"
RECONCILER = "U"
DISRUPTION_BUDGET = "Y"


def tag(prefix: str, index: int) -> str:
    """The id of the ``index``-th (0-based) item of a kind: ``tag(POD, 0) == "P1"``."""
    return f"{prefix}{index + 1}"


def dependency_log_tag(dependency: int, tail: int) -> str:
    """The id of the ``tail``-th log tail of the ``dependency``-th dependency (both 0-based):
    ``dependency_log_tag(0, 1) == "D1L2"``, the dependency's id followed by the tail's."""
    return tag(DEPENDENCY, dependency) + tag(LOG, tail)


def dependency_autoscaler_tag(dependency: int, autoscaler: int) -> str:
    """The id of the ``autoscaler``-th HPA of the ``dependency``-th dependency (both 0-based):
    ``dependency_autoscaler_tag(0, 0) == "D1H1"``."""
    return tag(DEPENDENCY, dependency) + tag(AUTOSCALER, autoscaler)


def cite(prefix: str, index: int, line: str) -> str:
    """A rendered line starting with its item's id."""
    return f"[{tag(prefix, index)}] {line}"


def _tags(prefix: str, items: Sized) -> set[str]:
    return {tag(prefix, i) for i in range(len(items))}


def evidence_ids(evidence: Evidence) -> frozenset[str]:
    """Every id the evidence has, whether or not a prompt showed it."""
    ids = {tag(INCIDENT, 0)}
    if evidence.workload is not None:
        ids.add(tag(WORKLOAD, 0))
    for prefix, items in (
        (ALERT, evidence.alerts),
        (POD, evidence.pods),
        (EVENT, evidence.events),
        (CHANGE, evidence.changes),
        (DEPENDENCY, evidence.dependencies),
        (NODE, evidence.nodes),
        (CLAIM, evidence.pvcs),
        (SERVICE, evidence.services),
        (POLICY, evidence.network_policies),
        (AUTOSCALER, evidence.autoscalers),
        (QUOTA, evidence.quotas),
        (CONFIG_MAP, evidence.config_maps),
        (OBJECT, evidence.other_objects),
        (METRIC, evidence.metrics),
        (LOG, evidence.logs),
        (SCALER, evidence.scalers),
        (SECRET_WRITER, evidence.secret_writers),
        (SIBLING, evidence.siblings),
        (RECONCILER, evidence.reconcilers),
        (DISRUPTION_BUDGET, evidence.disruption_budgets),
    ):
        ids |= _tags(prefix, items)
    for index, dependency in enumerate(evidence.dependencies):
        ids |= {dependency_log_tag(index, tail) for tail in range(len(dependency.logs))}
        ids |= {dependency_autoscaler_tag(index, hpa) for hpa in range(len(dependency.autoscalers))}
    return frozenset(ids)


def normalized(cited: Iterable[str]) -> list[str]:
    """Cited ids as the model may write them (``"[P1]"``, ``" p1 "``), upper-cased and
    stripped of brackets, without duplicates."""
    result: list[str] = []
    for raw in cited:
        value = raw.strip().strip("[]").strip().upper()
        if value and value not in result:
            result.append(value)
    return result


def unknown_ids(cited: Iterable[str], evidence: Evidence) -> list[str]:
    """The cited ids the evidence does not have, in the order cited."""
    known = evidence_ids(evidence)
    return [value for value in normalized(cited) if value not in known]
