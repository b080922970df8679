"""A neighbour whose trouble starts with the alert: the one workload of the incident's
namespace, outside the incident's own workload and application, whose pods began restarting
repeatedly (OOM kills, crashes) shortly before the alert fired. Pure: the collector finds it
among the namespace's pods it has listed (``kubetriage.evidence.sibling_walk``) and the
builder summarises it as a sibling (``kubetriage.evidence.summaries.siblings``).

An SRE paged for errors or latency on a workload that is healthy, whose errors name no
callee, looks over its namespace for what began failing when the symptom did: a cache or a
helper restarted four times in the last hour, ready again now, behind a caller whose errors
only say a request failed. What began long before (a pod that has restarted every few
minutes for days) is chronic and does not explain a page that began now; two neighbours that
both began are not one explanation, so none is kept then.

When the restarts began is estimated from the pod's own status: its last run (from one
start to the next, back-off included) and its restart count. Had it restarted at that pace
since long before the alert, its count would be far higher; so the count times that pace,
back from the last exit, is the earliest the repeated restarts can have begun.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from kubetriage.evidence.raw import as_dict, as_int, as_time, dicts
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, pod_workload
from kubetriage.models.objects import meta as _meta

# Trouble that began within this long before the alert fired (or since) starts with it.
STARTS_WITH_ALERT: Final = timedelta(hours=1)
# Restarts that make a repeated fault, not one exit.
MIN_RESTARTS: Final = 2


def restarts_began(pod: JsonDict, now: datetime) -> datetime | None:
    """When the pod's repeated restarts began, at the earliest: for a container restarted
    at least MIN_RESTARTS times whose last run ended within STARTS_WITH_ALERT of ``now``, its
    last exit minus its restart count times the length of its last run (not before the pod
    was created); None for a pod that does not restart repeatedly now."""
    created = as_time(_meta(pod).get("creationTimestamp"))
    found: list[datetime] = []
    for status in dicts(as_dict(pod.get("status")).get("containerStatuses")):
        restarts = as_int(status.get("restartCount")) or 0
        last = as_dict(as_dict(status.get("lastState")).get("terminated"))
        started, ended = as_time(last.get("startedAt")), as_time(last.get("finishedAt"))
        if restarts < MIN_RESTARTS or started is None or ended is None or ended > now:
            continue
        if now - ended > STARTS_WITH_ALERT:
            continue
        running = as_time(as_dict(as_dict(status.get("state")).get("running")).get("startedAt"))
        pace = (running if running is not None and running >= ended else ended) - started
        began = ended - restarts * pace
        found.append(max(began, created) if created is not None else began)
    return min(found, default=None)


def fresh_neighbour(
    pods: Iterable[JsonDict], own: tuple[str, str] | None, onset: datetime, now: datetime
) -> tuple[str, str] | None:
    """(kind, name) of the one workload among ``pods``' owners, other than ``own``, whose
    pods' repeated restarts began within STARTS_WITH_ALERT before ``onset`` (the alert);
    None when no workload's did, or more than one's. Restarts that can only have begun after
    the alert fired followed the trouble rather than caused it."""
    found: set[tuple[str, str]] = set()
    for pod in pods:
        owner = pod_workload(pod)
        if owner is None or owner == own:
            continue
        began = restarts_began(pod, now)
        if began is not None and onset - STARTS_WITH_ALERT <= began <= onset:
            found.add(owner)
    return found.pop() if len(found) == 1 else None


def alert_onset(alerts: Iterable[Alert], now: datetime) -> datetime:
    """When the incident began: its earliest alert's start, else ``now``."""
    return min((a.starts_at for a in alerts if a.starts_at is not None), default=now)
