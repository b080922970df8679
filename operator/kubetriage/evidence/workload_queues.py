"""A batch queue's record of the Jobs it holds (Kueue's ``Workload``). Pure.

Kueue suspends every Job submitted to one of its LocalQueues and creates a ``Workload`` for
it (owned by the Job); only once the Workload's ClusterQueue has quota for the Job's requests
does Kueue reserve it (condition ``QuotaReserved``), admit it (``Admitted``) and unsuspend
the Job. A Job held that way has no pod at all: no Pending pod, no FailedScheduling event;
the Workload's ``QuotaReserved=False`` condition and its message (``insufficient quota for
nvidia.com/gpu in flavor ..., request > maximum capacity``) are where the queue says why.

The collector (``scope_reads.queued_runs``) lists the Workloads of the incident's namespace
and reads the Job each held one belongs to, with that Job's CronJob; the snapshot has them
among the case's objects. ``analyzers.queued_runs`` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from kubetriage.evidence.raw import as_dict, as_str, dicts
from kubetriage.models.objects import JsonDict

# Kueue's Workload: group, version, kind, plural.
WORKLOAD_API: Final = ("kueue.x-k8s.io", "v1beta1", "Workload", "workloads")

# The condition Kueue sets once the Workload's ClusterQueue reserved quota for it.
QUOTA_RESERVED: Final = "QuotaReserved"

# Held Workloads whose Jobs the collector reads, per namespace.
MAX_HELD: Final = 3


def is_queued_workload(obj: Mapping[str, object]) -> bool:
    """Whether ``obj`` is a Kueue Workload."""
    return obj.get("kind") == WORKLOAD_API[2] and (as_str(obj.get("apiVersion")) or "").startswith(
        f"{WORKLOAD_API[0]}/"
    )


def held(workload: JsonDict) -> bool:
    """Whether the queue holds the Workload: its quota is not reserved."""
    return any(
        c.get("type") == QUOTA_RESERVED and c.get("status") == "False"
        for c in dicts(as_dict(workload.get("status")).get("conditions"))
    )


def held_workloads(objects: Iterable[JsonDict]) -> list[JsonDict]:
    """The Kueue Workloads among ``objects`` that their queue holds, at most ``MAX_HELD``."""
    return [o for o in objects if is_queued_workload(o) and held(o)][:MAX_HELD]
