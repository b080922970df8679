"""Where the operator's requests went on the local control plane, from the apiserver's audit
log: the operator's own ServiceAccount (so its requests stand apart from kubectl's), its
requests by verb and resource, and each Incident's way through the operator.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path

from tests.support.audit_log import AuditEvent
from tests.support.cluster import LocalCluster

OPERATOR_USER = "system:serviceaccount:default:bench-operator"


def operator_token(cluster: LocalCluster) -> Path:
    """A ServiceAccount bound to cluster-admin for the operator, so the audit log tells its
    requests apart from kubectl's (the chart's least-privilege RBAC is tested in e2e)."""
    cluster.kubectl("create", "serviceaccount", "bench-operator", "-n", "default")
    cluster.kubectl(
        "create",
        "clusterrolebinding",
        "bench-operator",
        "--clusterrole=cluster-admin",
        "--serviceaccount=default:bench-operator",
    )
    token = cluster.kubectl("create", "token", "bench-operator", "--duration=2h").stdout.strip()
    return cluster.kubeconfig_with_token(cluster.workdir / "operator.kubeconfig", token)


def audit_profile(
    cluster: LocalCluster, window: tuple[float, float]
) -> list[tuple[str, int, float]]:
    """(verb resource[/subresource], requests, summed server-side seconds) of the operator."""
    count: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    for event in cluster.audit_events():
        if event.user != OPERATOR_USER or not window[0] <= event.received <= window[1]:
            continue
        what = event.resource + (f"/{event.subresource}" if event.subresource else "")
        key = f"{event.verb} {what or event.uri.split('?')[0]}"
        count[key] += 1
        seconds[key] += event.completed - event.received
    return [(k, n, seconds[k]) for k, n in count.most_common()]


# Each Incident's way through the operator, from the audit log's timestamps (server side).
TIMELINE = (
    "created -> Investigating write received (waiting for a diagnosis slot, Kopf's queue)",
    "Investigating status write (server time)",
    "Investigating written -> re-read sent (evidence calls, pipeline)",
    "re-read sent -> Diagnosed written (re-read, Diagnosed status write)",
    "Diagnosed written -> Kopf's own patch written (progress, last-handled annotations)",
    "created -> Kopf's patch written (the whole way)",
)


def incident_timeline(cluster: LocalCluster, namespace: str) -> list[tuple[str, float, float]]:
    """(step, median s, p95 s) over the Incidents of a burst in ``namespace``: create is
    kubectl's request; the operator writes Investigating, re-reads the Incident, writes
    Diagnosed (status patches), and Kopf then patches its annotations."""
    events: defaultdict[str, list[AuditEvent]] = defaultdict(list)
    for event in cluster.audit_events():
        if event.resource == "incidents" and event.namespace == namespace and event.name:
            events[event.name].append(event)
    steps: list[list[float]] = [[] for _ in TIMELINE]
    for seen in events.values():
        ours = sorted((e for e in seen if e.user == OPERATOR_USER), key=lambda e: e.received)
        created = next((e for e in seen if e.verb == "create"), None)
        writes = [e for e in ours if e.verb == "patch" and e.subresource == "status"]
        reread = [e for e in ours if e.verb == "get" and not e.subresource]
        kopf_patch = [e for e in ours if e.verb == "patch" and not e.subresource]
        if created is None or len(writes) < 2 or not reread or not kopf_patch:
            continue  # not (yet) through the whole way: left out
        first, last = writes[0], writes[-1]
        marks = (
            first.received - created.completed,
            first.completed - first.received,
            reread[0].received - first.completed,
            last.completed - reread[0].received,
            kopf_patch[-1].completed - last.completed,
            kopf_patch[-1].completed - created.completed,
        )
        for values, mark in zip(steps, marks, strict=True):
            values.append(mark)
    return [
        (label, statistics.median(values), sorted(values)[int(0.95 * (len(values) - 1))])
        for label, values in zip(TIMELINE, steps, strict=True)
        if values
    ]
