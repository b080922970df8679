"""Admission webhooks that failed the incident's creates and updates, summarised. Pure.

The API server reports a webhook it could not call in the events of the object it was
creating or changing (``FailedCreate`` on a ReplicaSet, StatefulSet or Job): ``Internal error
occurred: failed calling webhook "<name>": failed to call webhook: Post "https://<svc>.<ns>
.svc:443/<path>": <why>``. The webhook's configuration (Validating- or
MutatingWebhookConfiguration, cluster-scoped) holds its ``failurePolicy`` and the Service it
calls; the cert-manager Certificates of that Service's namespace and the certificate lines of
its pods' logs say which certificate it serves.

A custom resource's controller reports a webhook it could not call in its own logs only, not
in an event of the object: a custom resource that stays not Ready while a webhook intercepting
writes to its API group (``failurePolicy`` not ``Ignore``) has no ready endpoint makes that
webhook a suspect (``WebhookEvidence.observed`` False). Either way the webhook's Service is
summarised with the pods, workload and events behind it (``WebhookEvidence.backend``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from kubetriage.evidence.dependency_summary import summarise_dependency
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import api_group, as_dict, as_list, as_str, clip_text, dicts, ref_of
from kubetriage.evidence.summaries.dependencies import DEPENDENCY_KINDS
from kubetriage.evidence.summaries.generic import generic_summary
from kubetriage.evidence.summaries.network import network_policy_summary, service_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence, WebhookFailure
from kubetriage.models.naming import route_source
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, service_selects
from kubetriage.models.objects import meta as _meta
from kubetriage.models.relations import DependencyEvidence
from kubetriage.tls_errors import classify_tls_failure

WEBHOOK_CONFIGURATION_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")

# The API server's words for a webhook call it could not make (apiserver/pkg/admission).
FAILED_CALL = re.compile(r'failed calling webhook \\?"(?P<name>[^"\\]+)\\?"')

# Why the call failed when it was not the certificate (``kubetriage.tls_errors`` decides
# that first), in the words of Go's net and net/http and of the API server's proxy; the first
# match wins.
_UNREACHABLE: tuple[tuple[WebhookFailure, re.Pattern[str]], ...] = (
    # ... and the aggregator's, for an APIService (MissingEndpoints).
    (
        "no-endpoints",
        re.compile(r"(?i)no endpoints available for service|have no addresses with port name"),
    ),
    ("refused", re.compile(r"(?i)connection refused")),
    (
        "timeout",
        re.compile(
            r"(?i)context deadline exceeded|i/o timeout|Client\.Timeout exceeded|"
            r"timeout awaiting response headers|no route to host"
        ),
    ),
)

# Log lines of a webhook's backend about its own certificate.
_CERT_LINE = re.compile(r"(?i)(x509|certificate|tls|secret)")
# A client-go error naming a Secret: 'secrets "name" is forbidden' / 'secrets "name" not found'.
_SECRET_NAMED = re.compile(r'secrets? \\?"(?P<name>[a-z0-9][a-z0-9.-]*)\\?"')
# cert-manager's cainjector: the Certificate whose CA goes into the caBundle.
INJECT_CA_FROM = "cert-manager.io/inject-ca-from"
# How many log lines of the backend are kept, and how many Secrets named.
_MAX_LINES = 5
_MAX_SECRETS = 3
# Writes a webhook intercepts that a controller makes while it reconciles an object.
_WRITES = frozenset({"CREATE", "UPDATE", "*"})


def _group(obj: JsonDict) -> str:
    return api_group(as_str(obj.get("apiVersion")))


def _built_in(group: str) -> bool:
    """Kubernetes' own API groups (core, apps, batch, ..., *.k8s.io): their controllers
    report a webhook they could not call in an event of the object (``FailedCreate``)."""
    return "." not in group or group.endswith(".k8s.io")


def stuck_objects(objects: Iterable[JsonDict]) -> list[JsonDict]:
    """The custom resources among ``objects`` that are not Ready (Ready=False): their
    controllers' writes may be what a webhook rejects, said in the controllers' logs only."""
    return [
        obj
        for obj in objects
        if not _built_in(_group(obj))
        and any(
            c.get("type") == "Ready" and c.get("status") == "False"
            for c in dicts(as_dict(obj.get("status")).get("conditions"))
        )
    ]


def stuck_groups(objects: Iterable[JsonDict]) -> list[str]:
    """The API groups of ``stuck_objects(objects)``, each once."""
    return list(dict.fromkeys(_group(o) for o in stuck_objects(objects)))


def intercepting(configurations: Iterable[JsonDict], groups: Collection[str]) -> list[str]:
    """Names of the webhooks that reject writes (``failurePolicy`` not ``Ignore``) to objects
    of the API ``groups`` when they cannot be called, in configuration order."""
    names: list[str] = []
    if not groups:
        return names
    for configuration in configurations:
        for hook in dicts(configuration.get("webhooks")):
            name = as_str(hook.get("name"))
            if not name or name in names or hook.get("failurePolicy") == "Ignore":
                continue
            for rule in dicts(hook.get("rules")):
                rule_groups = {g for g in as_list(rule.get("apiGroups")) if isinstance(g, str)}
                writes = {o for o in as_list(rule.get("operations")) if isinstance(o, str)}
                if writes & _WRITES and ("*" in rule_groups or rule_groups & set(groups)):
                    names.append(name)
                    break
    return names


def failure_of(message: str) -> WebhookFailure:
    """Why a webhook call failed, from the API server's message: a certificate the API server
    refused (a certificate error names a timeout nowhere), else why it could not connect."""
    certificate = classify_tls_failure(message)
    if certificate is not None:
        return certificate
    return next((kind for kind, pattern in _UNREACHABLE if pattern.search(message)), "other")


def failing_webhook_names(events: Iterable[JsonDict]) -> list[str]:
    """The webhooks named by Warning events as failing a call, in order, deduplicated."""
    names: list[str] = []
    for event in events:
        if event.get("type") != "Warning":
            continue
        message = as_str(event.get("message")) or as_str(event.get("note")) or ""
        for match in FAILED_CALL.finditer(message):
            if match["name"] not in names:
                names.append(match["name"])
    return names


def configurations_naming(
    configurations: Iterable[JsonDict], names: Iterable[str]
) -> list[JsonDict]:
    """The webhook configurations holding one of the webhooks ``names``."""
    wanted = set(names)
    return [
        c
        for c in configurations
        if any(as_str(w.get("name")) in wanted for w in dicts(c.get("webhooks")))
    ]


def webhook_service(configuration: JsonDict, webhook_name: str) -> ObjectRef | None:
    """The Service a configuration's webhook calls (None: a URL webhook, or not there)."""
    for hook in dicts(configuration.get("webhooks")):
        if hook.get("name") != webhook_name:
            continue
        service = as_dict(as_dict(hook.get("clientConfig")).get("service"))
        name, namespace = as_str(service.get("name")), as_str(service.get("namespace"))
        if name and namespace:
            return ObjectRef(kind="Service", namespace=namespace, name=name)
    return None


def webhook_services(configurations: Iterable[JsonDict], names: Iterable[str]) -> list[ObjectRef]:
    """The Services the webhooks ``names`` call, by configuration then name, each once."""
    wanted = list(names)
    services: list[ObjectRef] = []
    for configuration in configurations_naming(configurations, wanted):
        for name in wanted:
            service = webhook_service(configuration, name)
            if service is not None and service not in services:
                services.append(service)
    return services


def _involved(event: JsonDict) -> ObjectRef | None:
    involved = as_dict(event.get("involvedObject")) or as_dict(event.get("regarding"))
    kind, name = as_str(involved.get("kind")), as_str(involved.get("name"))
    if not kind or not name:
        return None
    return ObjectRef(kind=kind, namespace=as_str(involved.get("namespace")), name=name)


def _injected_from(configuration: JsonDict) -> ObjectRef | None:
    annotations = as_dict(_meta(configuration).get("annotations"))
    namespace, _, name = (as_str(annotations.get(INJECT_CA_FROM)) or "").partition("/")
    if not namespace or not name:
        return None
    return ObjectRef(kind="Certificate", namespace=namespace, name=name)


def _backend_lines(
    logs: list[LogTail], namespace: str, secret_paths: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """Certificate lines of the backend's logs (newest last), and those naming a file under
    one of ``secret_paths`` (where its pods mount Secrets, without the leading slash: a
    process that refuses a key or CA bundle names the file it read), and the Secrets they
    name."""
    lines = [line for t in logs if t.namespace == namespace for line in t.lines]
    kept = [
        line
        for line in lines
        if _CERT_LINE.search(line) or any(f"{path}/" in line for path in secret_paths)
    ][-_MAX_LINES:]
    secrets: list[str] = []
    for line in kept:
        for match in _SECRET_NAMED.finditer(line):
            if match["name"] not in secrets:
                secrets.append(match["name"])
    return kept, secrets[:_MAX_SECRETS]


def _secret_paths(backend: DependencyEvidence | None) -> list[str]:
    """Where the backend's pods mount Secret volumes, without the leading slash."""
    if backend is None:
        return []
    return [p for m in backend.secret_mounts if m.kind == "Secret" if (p := m.path.strip("/"))]


def service_backend(
    index: ObjectIndex,
    service: ObjectRef | None,
    unavailable: Collection[str],
    limits: EvidenceLimits,
    source: str = "admission webhook",
) -> DependencyEvidence | None:
    """A Service another walk followed (a webhook's, an aggregated API's: ``source`` says
    which) with the pods, workload and events behind it, as read."""
    if service is None or not service.namespace:
        return None
    obj = index.get("Service", service.namespace, service.name)
    if obj is None:
        return None
    objects = [o for kind in DEPENDENCY_KINDS for o in index.in_namespace(kind, service.namespace)]
    summary = service_summary(index, obj, unavailable, limits)
    return summarise_dependency(summary, None, [route_source(source)], objects, limits)


@dataclass(frozen=True, slots=True)
class Landing:
    """Where the API server's call to a webhook lands: a backend pod's labels, the container
    port the Service forwards to, and the NetworkPolicies selecting that pod."""

    labels: dict[str, str]
    port: int | None
    port_name: str | None
    policies: list[NetworkPolicyEvidence]


def _hook_port(configuration: JsonDict | None, name: str) -> int:
    """The Service port a configuration's webhook calls (the API's default is 443)."""
    for hook in dicts((configuration or {}).get("webhooks")):
        if hook.get("name") == name:
            port = as_dict(as_dict(hook.get("clientConfig")).get("service")).get("port")
            return port if isinstance(port, int) else 443
    return 443


def _container_port(pod: JsonDict, target: object) -> tuple[int | None, str | None]:
    """A pod's container port a Service targetPort names (a number, or a port's name)."""
    for container in dicts(as_dict(pod.get("spec")).get("containers")):
        for port in dicts(container.get("ports")):
            number, name = port.get("containerPort"), as_str(port.get("name"))
            if target in (number, name) and isinstance(number, int):
                return number, name
    return (target, None) if isinstance(target, int) else (None, as_str(target))


def landing(
    index: ObjectIndex, service: ObjectRef, port: int, limits: EvidenceLimits
) -> Landing | None:
    """Where the call to ``service`` on ``port`` lands, from the objects read; None when no
    pod of the Service was read."""
    obj = index.get("Service", service.namespace or "", service.name)
    if obj is None:
        return None
    spec = as_dict(obj.get("spec"))
    selector = {k: v for k, v in as_dict(spec.get("selector")).items() if isinstance(v, str)}
    pods = [
        p
        for p in index.in_namespace("Pod", service.namespace or "")
        if service_selects(selector, as_dict(_meta(p).get("labels")))
    ]
    if not pods:
        return None
    ports = dicts(spec.get("ports"))
    chosen = next((p for p in ports if p.get("port") == port), ports[0] if ports else {})
    number, name = _container_port(pods[0], chosen.get("targetPort", chosen.get("port")))
    labels = {k: v for k, v in as_dict(_meta(pods[0]).get("labels")).items() if isinstance(v, str)}
    policies = [
        summary
        for p in index.in_namespace("NetworkPolicy", service.namespace or "")
        if (summary := network_policy_summary(p, [labels], limits)).selects_target
    ][: limits.max_network_policies]
    return Landing(labels, number, name, policies)


def _suspects(
    index: ObjectIndex,
    configurations: list[JsonDict],
    named: list[str],
    unavailable: Collection[str],
    limits: EvidenceLimits,
) -> list[WebhookEvidence]:
    """Webhooks no event names that intercept writes to a not-Ready custom resource's API
    group while their Service has no ready endpoint."""
    stuck = stuck_objects(o for objects in index.by_kind.values() for o in objects)
    groups = stuck_groups(stuck)
    found: list[WebhookEvidence] = []
    services = [s for c in configurations for n in named if (s := webhook_service(c, n))]
    for name in intercepting(configurations, groups):
        configuration = next(iter(configurations_naming(configurations, [name])))
        service = webhook_service(configuration, name)
        if name in named or service is None or service in services:
            continue
        backend = service_backend(index, service, unavailable, limits)
        if backend is None or backend.service is None or backend.service.ready_endpoints != 0:
            continue
        services.append(service)
        hook = next(h for h in dicts(configuration.get("webhooks")) if h.get("name") == name)
        rule_groups = {g for r in dicts(hook.get("rules")) for g in as_list(r.get("apiGroups"))}
        blocked = [ref_of(o) for o in stuck if "*" in rule_groups or _group(o) in rule_groups]
        found.append(
            WebhookEvidence(
                name=name,
                failure="no-endpoints",
                message=f"no ready endpoint for service {service.namespace}/{service.name}",
                blocked=blocked[:3],
                configuration=ref_of(configuration),
                failure_policy=as_str(hook.get("failurePolicy")),
                service=service,
                ca_injected_from=_injected_from(configuration),
                observed=False,
                backend=backend,
            )
        )
    return found


def webhook_summaries(
    index: ObjectIndex,
    logs: list[LogTail],
    now: datetime,
    limits: EvidenceLimits,
    unavailable: Collection[str] = (),
) -> list[WebhookEvidence]:
    """Every webhook a Warning event reports as failing a call, with its configuration,
    Service, what stands behind it, the Certificates of that Service's namespace and its
    backend's log lines (from ``logs``: the tails read of the webhooks' backends,
    ``LogTail.source == "webhook"``); then the suspects no event names (``_suspects``)."""
    events = [e for e in index.kind("Event") if e.get("type") == "Warning"]
    configurations = [c for kind in WEBHOOK_CONFIGURATION_KINDS for c in index.kind(kind)]
    found: list[WebhookEvidence] = []
    named = failing_webhook_names(events)[: limits.max_dependencies]
    for name in named:
        reporting = [e for e in events if name in (as_str(e.get("message")) or "")]
        newest = max(reporting, key=lambda e: as_str(e.get("lastTimestamp")) or "")
        message = as_str(newest.get("message")) or ""
        blocked = [ref for e in reporting if (ref := _involved(e)) is not None]
        count = sum(int(e.get("count") or 1) for e in reporting)
        configuration = next(iter(configurations_naming(configurations, [name])), None)
        service = webhook_service(configuration, name) if configuration is not None else None
        policy = None
        if configuration is not None:
            hook = next(h for h in dicts(configuration.get("webhooks")) if h.get("name") == name)
            policy = as_str(hook.get("failurePolicy"))
        backend = service_backend(index, service, unavailable, limits)
        certificates = []
        lines: list[str] = []
        secrets: list[str] = []
        if service is not None and service.namespace:
            certificates = [
                generic_summary(c, now, limits)
                for c in index.in_namespace("Certificate", service.namespace)
            ][: limits.max_other_objects]
            lines, secrets = _backend_lines(logs, service.namespace, _secret_paths(backend))
        where = (
            landing(index, service, _hook_port(configuration, name), limits)
            if service is not None and service.namespace
            else None
        )
        found.append(
            WebhookEvidence(
                name=name,
                failure=failure_of(message),
                message=clip_text(message, limits.max_string_length * 2) or "",
                blocked=list({r.display(): r for r in blocked}.values()),
                count=count,
                configuration=ref_of(configuration) if configuration is not None else None,
                failure_policy=policy,
                service=service,
                ca_injected_from=_injected_from(configuration) if configuration else None,
                certificates=certificates,
                secrets_named=secrets,
                log_lines=[clip_text(x, limits.max_log_line_bytes) or "" for x in lines],
                backend=backend,
                backend_labels=where.labels if where else {},
                backend_port=where.port if where else None,
                backend_port_name=where.port_name if where else None,
                policies=where.policies if where else [],
            )
        )
    suspects = _suspects(index, configurations, named, unavailable, limits)
    return found + suspects[: max(0, limits.max_dependencies - len(found))]
