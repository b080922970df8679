"""Event-driven autoscalers' scalers of the incident's workload, summarised. Pure.

KEDA scales a workload by a ``ScaledObject`` (keda.sh/v1alpha1) whose ``scaleTargetRef``
names it, and runs Jobs by a ``ScaledJob`` (its ``jobTargetRef`` a Job template; each Job it
creates has it as controller owner), read alike; each of its ``triggers`` is a scaler that
the KEDA operator runs, reading a metric (a consumer group's lag, a queue's length, a
query's result) from the source its trigger ``metadata`` names (the KEDA scalers' documented
keys, ``TRIGGER_HOST_KEYS``). When the operator cannot reach that source, the ScaledObject
turns ``Ready=False`` (TriggerError), its
events say ``KEDAScalerFailed``, the HPA KEDA made for it cannot get its external metric, and
the workload stays at whatever count it had: a consumer that never scales out. The flow
that fails is the operator's, not the workload's, so the operator's pods are found by the
labels KEDA's own manifests and chart set (``OPERATOR_LABELS``).

The collector (``kubetriage.evidence.kube``) and the builder share which ScaledObjects and
ScaledJobs matter (``scalers_of``) and which pods run the scalers (``OPERATOR_LABELS``: the
walk lists them by ``OPERATOR_SELECTORS``, the builder recognises them by ``is_operator_pod``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.raw import as_dict, as_str, dicts, kind_of, ready_status, ref_of
from kubetriage.evidence.triggers import scale_target, trigger_queues
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ScalerEvidence, ScalerSecretParam
from kubetriage.models.naming import NamingSource, trigger_source
from kubetriage.models.objects import JsonDict, controller_ref, labels, service_selects
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

SCALED_OBJECT_API: Final = ("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects")
SCALED_JOB_API: Final = ("keda.sh", "v1alpha1", "ScaledJob", "scaledjobs")
SCALER_APIS: Final = (SCALED_OBJECT_API, SCALED_JOB_API)
SCALER_KINDS: Final = frozenset(api[2] for api in SCALER_APIS)
# Where a trigger's ``authenticationRef`` takes its secret parameters from (namespaced; the
# cluster-wide ClusterTriggerAuthentication is not read).
TRIGGER_AUTH_API: Final = ("keda.sh", "v1alpha1", "TriggerAuthentication", "triggerauthentications")
# The labels of the KEDA operator's pods (its release manifests and Helm chart): a pod with
# either is one; the walk lists them by one label selector each.
OPERATOR_LABELS: Final = (("app.kubernetes.io/name", "keda-operator"), ("app", "keda-operator"))
OPERATOR_SELECTORS: Final = tuple(f"{key}={value}" for key, value in OPERATOR_LABELS)
# Trigger metadata keys naming the metric source's address, by trigger type (KEDA's scaler
# docs): a host, host:port, a URL, or a comma-separated list of them.
TRIGGER_HOST_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "kafka": ("bootstrapServers",),
    "apache-kafka": ("bootstrapServers",),
    "rabbitmq": ("host",),
    "redis": ("address", "host"),
    "redis-streams": ("address", "host"),
    "redis-cluster": ("addresses", "hosts"),
    "redis-cluster-streams": ("addresses", "hosts"),
    "postgresql": ("host",),
    "mysql": ("host",),
    "mongodb": ("host",),
    "cassandra": ("clusterIPAddress",),
    "couchdb": ("host",),
    "elasticsearch": ("addresses",),
    "prometheus": ("serverAddress",),
    "loki": ("serverAddress",),
    "influxdb": ("serverURL",),
    "metrics-api": ("url",),
    "nats-jetstream": ("natsServerMonitoringEndpoint",),
    "stan": ("natsServerMonitoringEndpoint",),
    "pulsar": ("adminURL",),
    "artemis-queue": ("managementEndpoint",),
    "activemq": ("managementEndpoint",),
    "etcd": ("endpoints",),
    "solr": ("host",),
    "aws-sqs-queue": ("queueURL",),
}
_MAX_HOSTS = 5


def scalers_of(workload: JsonDict | None, objects: Iterable[JsonDict]) -> list[JsonDict]:
    """The KEDA objects among ``objects`` that scale ``workload``: the ScaledObjects whose
    ``scaleTargetRef`` names it (its namespace, its name, and its kind when the reference says
    one; KEDA's default kind is Deployment), and the ScaledJob that is the workload or that
    created it (a Job's controller owner)."""
    if workload is None:
        return []
    found = []
    owner = controller_ref(workload, controller_only=True) or {}
    for obj in objects:
        if _ns(obj) != _ns(workload):
            continue
        if kind_of(obj) == "ScaledObject":
            if scale_target(obj) == (kind_of(workload), _name(workload)):
                found.append(obj)
        elif kind_of(obj) == "ScaledJob" and (
            (kind_of(workload) == "ScaledJob" and _name(obj) == _name(workload))
            or (owner.get("kind") == "ScaledJob" and owner.get("name") == _name(obj))
        ):
            found.append(obj)
    return found


def scaler_objects(index: ObjectIndex, namespace: str) -> list[JsonDict]:
    """The ScaledObjects and ScaledJobs of ``namespace`` in ``index``."""
    return [obj for kind in sorted(SCALER_KINDS) for obj in index.in_namespace(kind, namespace)]


def is_operator_pod(pod: JsonDict) -> bool:
    """Whether ``pod`` is one of the KEDA operator's (``OPERATOR_LABELS``)."""
    own = labels(pod)
    return any(own.get(key) == value for key, value in OPERATOR_LABELS)


def _address(value: str) -> str | None:
    """``host`` or ``host:port`` of one address: a URL's (credentials and path dropped) or
    a bare ``host[:port]``."""
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value if "://" in value else f"//{value}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname:
        return None
    return f"{parts.hostname}:{port}" if port else parts.hostname


def trigger_hosts(trigger: JsonDict) -> list[str]:
    """The addresses a trigger's metadata names for its source (``TRIGGER_HOST_KEYS``), with
    a separate ``port`` key joined to a bare host."""
    metadata = as_dict(trigger.get("metadata"))
    found: list[str] = []
    for key in TRIGGER_HOST_KEYS.get(as_str(trigger.get("type")) or "", ()):
        for value in (as_str(metadata.get(key)) or "").split(","):
            address = _address(value)
            port = as_str(metadata.get("port"))
            if address and ":" not in address and port and port.isdigit():
                address = f"{address}:{port}"
            if address and address not in found:
                found.append(address)
    return found[:_MAX_HOSTS]


def _source(
    index: ObjectIndex, namespace: str, hosts: list[str]
) -> tuple[ObjectRef, dict[str, str]] | None:
    """The Service the first resolvable host names (``name``, ``name.namespace``,
    ``name.namespace.svc...``; a bare name is in ``namespace``) and the labels of the first
    pod it selects."""
    for host in hosts:
        parts = host.partition(":")[0].split(".")
        if len(parts) > 2 and parts[2] != "svc":
            continue  # not a cluster Service name
        service_ns = parts[1] if len(parts) > 1 else namespace
        service = index.get("Service", service_ns, parts[0])
        raw = as_dict(as_dict(as_dict(service).get("spec")).get("selector"))
        selector = {k: v for k, v in raw.items() if isinstance(v, str)}
        if service is None or not selector:
            continue
        behind = index.in_namespace("Pod", service_ns)
        pod = next((p for p in behind if service_selects(selector, labels(p))), None)
        if pod is not None:
            return ref_of(service), labels(pod)
    return None


def secret_params(index: ObjectIndex, namespace: str, trigger: JsonDict) -> list[ScalerSecretParam]:
    """The parameters the trigger's TriggerAuthentication (its ``authenticationRef``, in
    ``namespace``) takes from Secret keys (``secretTargetRef``), when it was read."""
    ref = as_dict(trigger.get("authenticationRef"))
    if (as_str(ref.get("kind")) or TRIGGER_AUTH_API[2]) != TRIGGER_AUTH_API[2]:
        return []
    auth = index.get(TRIGGER_AUTH_API[2], namespace, as_str(ref.get("name")))
    found = []
    for target in dicts(as_dict(as_dict(auth).get("spec")).get("secretTargetRef")):
        parameter, secret, key = (as_str(target.get(k)) for k in ("parameter", "name", "key"))
        if parameter and secret and key:
            found.append(ScalerSecretParam(parameter=parameter, secret=secret, key=key))
    return found[:_MAX_HOSTS]


def scaler_summaries(
    index: ObjectIndex, workload: JsonDict | None, limit: int
) -> list[ScalerEvidence]:
    """The scalers of ``workload``'s ScaledObjects and ScaledJob (one per trigger, of any
    type: each is run by the operator), with the addresses and queues its metadata names,
    the Service its source is and a pod's labels behind it, and the namespace and labels of
    the first KEDA operator pod read; at most ``limit``."""
    if workload is None:
        return []
    operator = next((p for p in index.kind("Pod") if is_operator_pod(p)), None)
    found: list[ScalerEvidence] = []
    for obj in scalers_of(workload, scaler_objects(index, _ns(workload))):
        for trigger in dicts(as_dict(obj.get("spec")).get("triggers")):
            hosts = trigger_hosts(trigger)
            source = _source(index, _ns(obj), hosts)
            found.append(
                ScalerEvidence(
                    ref=ref_of(obj),
                    trigger=as_str(trigger.get("type")) or "",
                    hosts=hosts,
                    queues=trigger_queues(trigger),
                    ready=ready_status(obj),
                    reader_namespace=_ns(operator) if operator is not None else None,
                    reader_labels=labels(operator) if operator is not None else {},
                    source=source[0] if source is not None else None,
                    source_labels=source[1] if source is not None else {},
                    secret_params=secret_params(index, _ns(obj), trigger),
                )
            )
    return found[:limit]


def scaler_texts(
    workload: JsonDict | None, objects: Iterable[JsonDict]
) -> list[tuple[NamingSource, str]]:
    """(source, address) of the sources the workload's ScaledObjects and ScaledJob among
    ``objects`` read:
    names a dependency walk follows like an env value's (its Service, pods and policies)."""
    return [
        (trigger_source(kind_of(obj), _name(obj), str(as_str(trigger.get("type")))), host)
        for obj in scalers_of(workload, objects)
        for trigger in dicts(as_dict(obj.get("spec")).get("triggers"))
        for host in trigger_hosts(trigger)
    ]
