"""Where a text that names a dependency was read, as data.

The evidence walk finds the Services and workloads an incident's workload calls in texts:
its log lines, env values, args, Warning events, ConfigMaps, an alert's labels, or a route
the walk took (an Ingress's backend, a node agent, a registry). Deciders ask what kind of
text named a dependency (a log line of the caller itself, an env variable of a given
purpose, an event of one of the caller's own pods), so each source keeps those facts as
fields; ``text`` is only the words shown for it ("log shop/api-7d9/api", "pod api env
DB_URL") and is never parsed back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

NamingKind = Literal[
    "log",  # a container's log line: namespace, pod, container
    "env",  # an env value: the pod or workload, the variable
    "args",  # a command or args entry: the pod or workload
    "event",  # a Warning event: its object's kind and name, its reason
    "config-map",  # a ConfigMap's values: its name
    "trigger",  # an autoscaler's trigger (KEDA): the ScaledObject or ScaledJob
    "alert-label",  # an alert's label
    "route",  # reached by a route of the walk (``DependencyRoute``): text only
    "owner-spec",  # a value in the spec of the operator resource running the pods: its field
]


class NamingSource(BaseModel):
    """One text that named a dependency: its kind, the facts deciders use, its display."""

    model_config = ConfigDict(frozen=True)

    kind: NamingKind
    text: str
    # log: the pod's namespace, the pod and the container.
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    # env, args: "pod" or the workload's kind, and its name (the owner of the spec read).
    owner_kind: str | None = None
    owner: str | None = None
    # env: the variable's name.
    variable: str | None = None
    # env: the Secret the value is taken from (its data is never read).
    secret: str | None = None
    # event: the involved object's kind and name (``owner_kind``/``owner``), and the reason.
    reason: str | None = None

    def __str__(self) -> str:
        return self.text

    def is_log_of(self, namespace: str, pod: str, container: str) -> bool:
        """Whether this is a log line of that container."""
        return self.kind == "log" and (self.namespace, self.pod, self.container) == (
            namespace,
            pod,
            container,
        )


def source_texts(sources: Sequence[NamingSource], limit: int | None = None) -> list[str]:
    """The words shown for ``sources``, at most ``limit`` of them."""
    return [source.text for source in sources[:limit]]


def log_source(namespace: str, pod: str, container: str) -> NamingSource:
    """A log line of ``container`` in ``namespace``/``pod``."""
    return NamingSource(
        kind="log",
        text=f"log {namespace}/{pod}/{container}",
        namespace=namespace,
        pod=pod,
        container=container,
    )


def env_source(
    owner_kind: str, owner: str, variable: str, *, secret: str | None = None
) -> NamingSource:
    """An env value of a pod (``owner_kind`` "pod") or a workload's template; ``secret``:
    the Secret it is taken from, when the name it holds is read only from there."""
    return NamingSource(
        kind="env",
        text=f"{owner_kind} {owner} env {variable}" + (f" from Secret {secret}" if secret else ""),
        owner_kind=owner_kind,
        owner=owner,
        variable=variable,
        secret=secret,
    )


def args_source(owner_kind: str, owner: str) -> NamingSource:
    """A command or args entry of a pod (``owner_kind`` "pod") or a workload's template."""
    return NamingSource(
        kind="args", text=f"{owner_kind} {owner} args", owner_kind=owner_kind, owner=owner
    )


def event_source(kind: str, name: str, reason: str) -> NamingSource:
    """A Warning event of object ``kind``/``name``, with its reason."""
    return NamingSource(
        kind="event",
        text=f"event {kind}/{name} {reason}",
        owner_kind=kind,
        owner=name,
        reason=reason,
    )


def config_map_source(name: str, used_by: str | None = None) -> NamingSource:
    """The values of ConfigMap ``name``; ``used_by``: the words for the workload whose pods
    mount or read it ("Deployment edge"), when that is not the incident's own."""
    text = f"{used_by} ConfigMap {name}" if used_by else f"ConfigMap {name}"
    return NamingSource(kind="config-map", text=text, owner_kind="ConfigMap", owner=name)


def trigger_source(kind: str, name: str, trigger: str) -> NamingSource:
    """A ``trigger`` trigger of autoscaler object ``kind``/``name`` (a KEDA ScaledObject)."""
    return NamingSource(
        kind="trigger", text=f"{kind} {name} {trigger} trigger", owner_kind=kind, owner=name
    )


def alert_label_source(label: str) -> NamingSource:
    """An alert's label ``label``."""
    return NamingSource(kind="alert-label", text=f"alert label {label}")


def owner_spec_source(kind: str, name: str, field: str) -> NamingSource:
    """A value at ``field`` of the spec of operator resource ``kind``/``name``, which runs the
    incident's pods (a CloudNativePG Cluster's archive endpoint)."""
    return NamingSource(
        kind="owner-spec",
        text=f"{kind} {name} {field}",
        owner_kind=kind,
        owner=name,
        variable=field,
    )


def route_source(text: str) -> NamingSource:
    """A route of the walk, known by the words shown for it (its structure is the
    ``DependencyRoute`` the same producer sets)."""
    return NamingSource(kind="route", text=text)
