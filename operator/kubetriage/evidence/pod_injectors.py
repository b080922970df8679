"""The pod injectors behind clients a mesh admits no more: a mesh proxy's inbound policy that
denies a client for presenting no mesh identity (``refused_clients``, refusal "unmeshed")
names the pod at that address. A service mesh adds its proxy to a pod only when the pod is
created, through a mutating admission webhook on pod CREATE; a webhook that fails open
(``failurePolicy: Ignore``) lets the pod through without the proxy when it cannot be called,
and nothing reports that call's failure (no event, no rejected write). So the suspects for a
denied pod that runs no proxy are the mutating webhooks that fail open, intercept pod
creation and select that pod (``namespaceSelector`` over its Namespace's labels,
``objectSelector`` over its own), while their Service has no ready endpoint: what the webhook
walk reports as ``WebhookEvidence`` with ``observed`` False and the denied pods as
``blocked``.

Pure: the webhook walk (``kubetriage.evidence.webhook_walk``) lists the configurations and
reads the backends of ``pod_injectors``; ``build_evidence`` summarises them with
``injector_summaries``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_list, as_str, dicts, ref_of
from kubetriage.evidence.refused_clients import refused_addresses
from kubetriage.evidence.summaries.pods import pod_ips
from kubetriage.evidence.summaries.webhooks import service_backend, webhook_service
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, selector_matches
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import DependencyEvidence

_POD_CREATES = frozenset({"CREATE", "*"})


def unmeshed_pods(pods: Iterable[JsonDict], logs: Iterable[LogTail]) -> list[JsonDict]:
    """The pods at the addresses a mesh proxy's policy denied for presenting no identity."""
    denied = {address for address, _ in refused_addresses(logs, "unmeshed")}
    if not denied:
        return []
    return [p for p in pods if denied & set(pod_ips(as_dict(p.get("status"))))]


def _namespace_labels(namespaces: Iterable[JsonDict], name: str) -> dict[str, str]:
    """The Namespace's labels when it was read, else the one label the API server sets."""
    for namespace in namespaces:
        if _meta(namespace).get("name") == name:
            return _labels(namespace)
    return {"kubernetes.io/metadata.name": name}


def _creates_pods(hook: JsonDict) -> bool:
    for rule in dicts(hook.get("rules")):
        groups = {g for g in as_list(rule.get("apiGroups")) if isinstance(g, str)}
        operations = {o for o in as_list(rule.get("operations")) if isinstance(o, str)}
        resources = {r for r in as_list(rule.get("resources")) if isinstance(r, str)}
        if groups & {"", "*"} and operations & _POD_CREATES and resources & {"pods", "*"}:
            return True
    return False


def _selected(hook: JsonDict, pod: JsonDict, namespaces: Iterable[JsonDict]) -> bool:
    namespace = _namespace_labels(namespaces, _ns(pod))
    return selector_matches(as_dict(hook.get("namespaceSelector")), namespace) and (
        selector_matches(as_dict(hook.get("objectSelector")), _labels(pod))
    )


def pod_injectors(
    configurations: Iterable[JsonDict], pods: list[JsonDict], namespaces: Iterable[JsonDict] = ()
) -> list[tuple[JsonDict, JsonDict, list[JsonDict]]]:
    """(configuration, webhook, the ``pods`` it selects) of each mutating webhook that fails
    open (``failurePolicy: Ignore``), intercepts pod creation and selects one of ``pods``."""
    spaces = list(namespaces)
    found: list[tuple[JsonDict, JsonDict, list[JsonDict]]] = []
    for configuration in configurations:
        if configuration.get("kind") != "MutatingWebhookConfiguration":
            continue
        for hook in dicts(configuration.get("webhooks")):
            if hook.get("failurePolicy") != "Ignore" or not _creates_pods(hook):
                continue
            selected = [p for p in pods if _selected(hook, p, spaces)]
            if selected:
                found.append((configuration, hook, selected))
    return found


class InjectorBackend(NamedTuple):
    """A fail-open pod injector selecting some of the pods asked about (``pod_injectors``),
    with the Service it calls and what stands behind that Service, as read."""

    configuration: JsonDict
    name: str
    selected: list[JsonDict]
    service: ObjectRef
    backend: DependencyEvidence


def injector_backends(
    index: ObjectIndex,
    pods: list[JsonDict],
    unavailable: Collection[str],
    limits: EvidenceLimits,
) -> list[InjectorBackend]:
    """The fail-open pod injectors selecting one of ``pods`` whose Service is known and was
    read (``service_backend``), in configuration order."""
    found: list[InjectorBackend] = []
    for configuration, hook, selected in pod_injectors(
        index.kind("MutatingWebhookConfiguration"), pods, index.kind("Namespace")
    ):
        name = as_str(hook.get("name")) or ""
        service = webhook_service(configuration, name)
        backend = service_backend(index, service, unavailable, limits)
        if service is not None and backend is not None:
            found.append(InjectorBackend(configuration, name, selected, service, backend))
    return found


def injector_summaries(
    index: ObjectIndex,
    logs: Iterable[LogTail],
    unavailable: Collection[str],
    limits: EvidenceLimits,
) -> list[WebhookEvidence]:
    """The fail-open pod injectors selecting a pod a mesh policy denied as unmeshed, whose
    Service has no ready endpoint: the webhook the API server skipped when it created them."""
    pods = unmeshed_pods(index.kind("Pod"), logs)
    if not pods:
        return []
    found: list[WebhookEvidence] = []
    for injector in injector_backends(index, pods, unavailable, limits):
        service, backend = injector.service, injector.backend
        if backend.service is None or backend.service.ready_endpoints != 0:
            continue
        found.append(
            WebhookEvidence(
                name=injector.name,
                failure="no-endpoints",
                message=f"no ready endpoint for service {service.namespace}/{service.name}",
                blocked=[ref_of(p) for p in injector.selected][:3],
                configuration=ref_of(injector.configuration),
                failure_policy="Ignore",
                service=service,
                observed=False,
                backend=backend,
            )
        )
    return found[: limits.max_dependencies]
