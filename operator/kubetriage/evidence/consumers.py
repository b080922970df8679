"""The consumer a consumer-group alert is about, when it runs in another namespace.

A broker's exporter (kafka_exporter, Strimzi's, a NATS or RabbitMQ exporter) runs beside the
broker, so its lag series and the alerts on them carry the exporter's namespace, while the
consumers run in their teams' namespaces. An SRE reads the group's name and asks which
Deployment joins that group: the one whose pod template sets it (``group.id``,
``SPRING_KAFKA_CONSUMER_GROUP_ID=...``, ``--group=...``) or that is named after it.

Pure; used by the collector (``kubetriage.evidence.consumer_walk``, over the Deployments the
tenancy rule lets it list) and by the snapshot source (over a case's
objects), which then take the workload as the target before the exporter's bare namespace
(``targets.with_probed``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubetriage.evidence.dependencies import pod_texts
from kubetriage.evidence.targets import consumer_names
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The kinds that run consumers, as the collector lists them (across namespaces: Deployments,
# which it lists for the callers walk too).
CONSUMER_KINDS: tuple[str, ...] = ("Deployment",)

# The values one env value or arg holds: "a,b", "--group=a", "group.id=a".
_VALUE_SPLIT = re.compile(r"[\s,;]+")


def _values(text: str) -> set[str]:
    values: set[str] = set()
    for part in _VALUE_SPLIT.split(text.strip()):
        values.add(part)
        if "=" in part:
            values.add(part.rsplit("=", 1)[1])
    return {v.strip("'\"") for v in values if v}


def _joins(workload: JsonDict, groups: list[str]) -> bool:
    """Whether the workload is named after one of ``groups`` or its template sets one."""
    if _name(workload) in groups:
        return True
    return any(_values(text) & set(groups) for _, text in pod_texts([], workload))


def consuming_workload(workloads: Iterable[JsonDict], alerts: list[Alert]) -> ObjectRef | None:
    """The one Deployment that joins a consumer group the alerts name, in any
    namespace (``workloads`` are those the caller may read); None when the alerts name no
    group, or when none or several workloads join it (the namespace-wide view decides)."""
    groups = [g for a in alerts if a.status != "resolved" for g in consumer_names(a.labels)]
    if not groups:
        return None
    found = [
        w
        for w in workloads
        if str(w.get("kind")) in CONSUMER_KINDS and _name(w) and _joins(w, groups)
    ]
    if len(found) != 1:
        return None
    workload = found[0]
    return ObjectRef(
        kind=str(workload.get("kind")),
        namespace=_ns(workload),
        name=_name(workload),
        api_version="apps/v1",
    )
