"""The cloud controller manager that Ready nodes wait on, as a hop of the dependency walk.

A kubelet started with an external cloud provider registers its node with the taint
``node.cloudprovider.kubernetes.io/uninitialized``, and only the cloud controller manager
removes it, once the cloud's API has told it the node's provider ID, addresses and zone. When
the scheduler names that taint for the incident's Pending pods and Ready nodes still carry it,
the room exists but waits on that controller: an SRE reads its logs (a refused login to the
cloud stops every node's initialization) and the credentials it signs in with.

The controller is recognised by structure, whatever its chart calls it: a DaemonSet or
Deployment whose pod template tolerates the uninitialized taint by its key (it must run before
any node is initialized) and whose containers take the ``--cloud-provider`` flag of the
Kubernetes cloud-provider framework every cloud controller manager is built on. Its
credentials are the Secret its cloud config names (the vSphere, OpenStack and similar configs'
``secretName``/``secretNamespace``, ``secret-name``/``secret-namespace`` keys) in a ConfigMap it
mounts, else the one Secret its pod template reads.

Pure; the collector (``kubetriage.evidence.cluster_lookups.cloud_controllers``) lists the
workloads only when a node waits, the builder (``summaries.dependencies``) reads the same
functions over the objects it has.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import yaml

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.index import referenced_config
from kubetriage.evidence.raw import as_str
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import route_source
from kubetriage.models.objects import JsonDict, as_dict, dicts
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import DependencyRoute

# The taint a kubelet with ``--cloud-provider=external`` registers its node with, removed by
# the cloud controller manager's node controller when it initializes the node.
UNINITIALIZED_TAINT: Final = "node.cloudprovider.kubernetes.io/uninitialized"
# The kinds a cloud controller manager runs as.
CONTROLLER_KINDS: Final = ("DaemonSet", "Deployment")
# The flag of the cloud-provider framework (k8s.io/cloud-provider) every such manager takes.
_PROVIDER_FLAG: Final = re.compile(r"^--cloud-provider(?:=|$)")
# A cloud config's reference to its credentials Secret, in YAML (vSphere) or INI (vSphere's
# and OpenStack's legacy ``[Global]`` section) form.
_YAML_KEYS: Final = ("secretName", "secretNamespace")
_INI_KEY: Final = re.compile(r'(?im)^\s*secret-(name|namespace)\s*=\s*"?([a-z0-9.-]+)"?\s*$')
_MAX_SECRETS: Final = 3


def _scheduler_words(pods: Iterable[JsonDict], events: Iterable[JsonDict]) -> list[str]:
    """What the scheduler says of the Pending pods: their PodScheduled=False messages and
    the FailedScheduling events about them."""
    pending = {
        (_ns(p), _name(p)): p for p in pods if as_dict(p.get("status")).get("phase") == "Pending"
    }
    words = [
        str(c.get("message") or "")
        for p in pending.values()
        for c in dicts(as_dict(p.get("status")).get("conditions"))
        if c.get("type") == "PodScheduled" and c.get("status") == "False"
    ]
    for event in events:
        involved = as_dict(event.get("involvedObject"))
        key = (str(involved.get("namespace") or _ns(event)), str(involved.get("name")))
        if event.get("reason") == "FailedScheduling" and key in pending:
            words.append(str(event.get("message") or ""))
    return words


def waiting_nodes(
    pods: Iterable[JsonDict], nodes: Iterable[JsonDict], events: Iterable[JsonDict]
) -> list[str]:
    """The Ready nodes still carrying the uninitialized taint, when the scheduler names that
    taint as keeping the Pending pods off."""
    if not any(UNINITIALIZED_TAINT in w for w in _scheduler_words(pods, events)):
        return []
    waiting = []
    for node in nodes:
        tainted = any(
            t.get("key") == UNINITIALIZED_TAINT
            for t in dicts(as_dict(node.get("spec")).get("taints"))
        )
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in dicts(as_dict(node.get("status")).get("conditions"))
        )
        if tainted and ready:
            waiting.append(_name(node))
    return sorted(waiting)


def _template(workload: JsonDict) -> JsonDict:
    return as_dict(as_dict(as_dict(workload.get("spec")).get("template")).get("spec"))


def is_cloud_controller(workload: JsonDict) -> bool:
    """A workload that tolerates the uninitialized taint by its key and runs the
    cloud-provider framework (its ``--cloud-provider`` flag)."""
    spec = _template(workload)
    tolerates = any(t.get("key") == UNINITIALIZED_TAINT for t in dicts(spec.get("tolerations")))
    flagged = any(
        isinstance(word, str) and _PROVIDER_FLAG.match(word)
        for c in dicts(spec.get("containers"))
        for word in [*(c.get("command") or []), *(c.get("args") or [])]
    )
    return tolerates and flagged


def _yaml_secret(value: Any) -> tuple[str, str | None] | None:
    """The (name, namespace) of the first mapping in a parsed YAML config that names a
    Secret by ``secretName`` (with ``secretNamespace`` when given)."""
    if isinstance(value, dict):
        named = as_str(value.get(_YAML_KEYS[0]))
        if named:
            return named, as_str(value.get(_YAML_KEYS[1]))
        for inner in value.values():
            if (found := _yaml_secret(inner)) is not None:
                return found
    return None


def _config_secret(text: str) -> tuple[str, str | None] | None:
    """The credentials Secret a cloud config text names, YAML or INI."""
    if "secretName" not in text and "secret-name" not in text:
        return None
    keys = {k.lower(): v for k, v in _INI_KEY.findall(text)}
    if "name" in keys:
        return keys["name"], keys.get("namespace")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return _yaml_secret(parsed)


def config_map_credentials(config_map: JsonDict) -> list[JsonDict]:
    """The Secrets a ConfigMap's values name as a cloud config's credentials (``name``, and
    ``namespace`` when given): what the collector keeps of its values
    (``credentialSecrets``), or the same of a ConfigMap as written."""
    kept = config_map.get("credentialSecrets")
    if isinstance(kept, list):
        return [k for k in kept if isinstance(k, dict)]
    found: list[JsonDict] = []
    for text in as_dict(config_map.get("data")).values():
        if isinstance(text, str) and (named := _config_secret(text)) is not None:
            found.append({"name": named[0], **({"namespace": named[1]} if named[1] else {})})
    return found[:_MAX_SECRETS]


def credentials_secret(
    workload: JsonDict, config_map: Callable[[str, str], JsonDict | None]
) -> ObjectRef | None:
    """The Secret holding the controller's cloud credentials: the one its mounted cloud
    config names, else the only Secret its pod template reads."""
    namespace = _ns(workload)
    used = referenced_config(_template(workload))
    for kind, name in sorted(used):
        held = config_map(namespace, name) if kind == "ConfigMap" else None
        for named in config_map_credentials(held or {}):
            where = as_str(named.get("namespace")) or namespace
            return ObjectRef(kind="Secret", namespace=where, name=str(named.get("name")))
    secrets = sorted(name for kind, name in used if kind == "Secret")
    if len(secrets) == 1:
        return ObjectRef(kind="Secret", namespace=namespace, name=secrets[0])
    return None


def mounted_config_maps(workload: JsonDict) -> list[str]:
    """The ConfigMaps the controller's pod template uses (where its cloud config is)."""
    return sorted(
        name for kind, name in referenced_config(_template(workload)) if kind == "ConfigMap"
    )


def cloud_controller_hosts(
    pods: Sequence[JsonDict], objects_of: Callable[[str], Sequence[JsonDict]]
) -> list[ServiceHost]:
    """The cloud controller managers the Pending pods wait on (``waiting_nodes``), each
    reached by the first node it has not initialized, with its credentials Secret."""
    nodes = waiting_nodes(pods, objects_of("Node"), objects_of("Event"))
    if not nodes:
        return []
    config_maps = {(_ns(c), _name(c)): c for c in objects_of("ConfigMap")}
    hosts = []
    for kind in CONTROLLER_KINDS:
        for workload in objects_of(kind):
            if not is_cloud_controller(workload):
                continue
            secret = credentials_secret(workload, lambda ns, n: config_maps.get((ns, n)))
            hosts.append(
                ServiceHost(
                    name=_name(workload),
                    namespace=_ns(workload),
                    port=None,
                    source=route_source(f"node {nodes[0]} {UNINITIALIZED_TAINT}"),
                    kind=kind,
                    route=DependencyRoute(
                        kind="cloud-controller", node=nodes[0], credentials=secret
                    ),
                )
            )
    return hosts
