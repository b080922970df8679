"""The walk to the ingress controller: from the Ingresses of the incident's namespace that
serve its pods, to their IngressClass and to that controller's pods, wherever they run
(usually a namespace of their own), only for an Incident the tenancy rule lets read other
namespaces and cluster-scoped objects (the cluster-scope namespaces).

Called by ``KubeEvidenceCollector`` once the namespace's Ingresses and Services are read;
which Ingresses, which class and which pod labels are decided by the pure helpers of
``kubetriage.evidence.summaries.ingress``, the reads go through the same ``KubeReader`` and
``CollectionRun`` as the rest of the walk.

Before the walk, ``probed_ingress`` finds the Ingress serving the host a probe alert names
(``targets.probed_hosts``), among the Ingresses the tenancy rule lets read, so that the
collector can take it as the target (``targets.with_probed``). Without such an Ingress, the
Gateway API route serving the host (or attached to a Gateway the alert names) leads to its
backend Service, and an Istio Gateway serving the host to the Certificate of its
``credentialName`` (``kubetriage.evidence.summaries.gateway_routes``).

The Gateway API's counterpart of the ingress controller: the proxy pods of the Gateways that
the namespace's routes serving the incident's pods attach to, in any namespace
(``follow_gateway_proxies``; ``kubetriage.evidence.summaries.gateway_proxies``).

In front of the controller: the LoadBalancer Service whose address those Ingresses (or the
target Ingress) publish, the pods it selects and, when it keeps traffic on its endpoints'
nodes, the load-balancer speakers that announce it (``follow_front_balancers``;
``kubetriage.evidence.summaries.front_balancers``).
"""

from __future__ import annotations

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.summaries.front_balancers import (
    SPEAKER_LABELS,
    front_ingresses,
    fronting_balancers,
    published_addresses,
    speaker_pods,
)
from kubetriage.evidence.summaries.gateway_proxies import (
    GATEWAY_NAME,
    in_ambient_mesh,
    proxy_pods,
    proxy_selectors,
    served_gateways,
    served_waypoints,
)
from kubetriage.evidence.summaries.gateway_routes import (
    ISTIO_GATEWAY_API,
    ROUTE_APIS,
    ROUTE_KINDS,
    backend_refs,
    credential_target,
    gateway_names,
    matching_routes,
    routed_service,
    served_credential,
)
from kubetriage.evidence.summaries.ingress import (
    MAX_CONTROLLER_PODS,
    controller_of,
    controller_pod_labels,
    controller_pods,
    ingress_class_name,
    served_ingresses,
    serving_ingress,
    settings_config,
)
from kubetriage.evidence.targets import probed_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, selector_query
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope

# The backend Services of the matching routes read to tell which one does not resolve.
MAX_ROUTE_BACKENDS = 8
# The Services listed to find the one whose load-balancer address an Ingress publishes.
MAX_LISTED_SERVICES = 500


def _in_run(run: CollectionRun, kind: str, namespace: str) -> list[JsonDict]:
    return [obj for (k, ns, _), obj in run.objects.items() if k == kind and ns == namespace]


async def probed_ingress(
    reader: KubeReader, run: CollectionRun, alerts: list[Alert], scope: Scope
) -> ObjectRef | None:
    """The Ingress serving the host a probe alert names, of those ``scope`` may read (every
    namespace's when it may read the cluster's objects); else the backend Service of the
    Gateway API route serving that host or attached to a Gateway an alert names; else the
    Certificate (or Secret) of the TLS credential an Istio Gateway serves the host with.
    None when no alert names a URL or a Gateway."""
    hosts, gateways = probed_hosts(alerts), gateway_names(alerts)
    if not hosts and not gateways:
        return None
    where = None if scope.may_read(None) else scope.namespace
    listed = (
        await reader.list_of(run, "Ingress", where, what="list Ingresses of probed hosts")
        if hosts
        else []
    )
    found = serving_ingress([i for i in listed if scope.may_read(_ns(i))], hosts)
    if found is None:
        found = await _routed_service(reader, run, hosts, gateways, where, scope)
    if found is None and hosts:
        found = await _served_credential(reader, run, hosts, where, scope)
    return found if found is not None and scope.may_target(found) else None


async def _served_credential(
    reader: KubeReader, run: CollectionRun, hosts: list[str], where: str | None, scope: Scope
) -> ObjectRef | None:
    """The Certificate (else the Secret) of the TLS credential an Istio Gateway serves a
    probed host with (``gateway_routes.served_credential``)."""
    listed = await reader.custom_list(run, where, ISTIO_GATEWAY_API)
    served = served_credential([g for g in listed if scope.may_read(_ns(g))], hosts)
    if served is None or not scope.may_read(served[0]):
        return None
    await reader.cert_manager_list(run, served[0], "Certificate", "certificates")
    return credential_target(_in_run(run, "Certificate", served[0]), *served)


async def _routed_service(
    reader: KubeReader,
    run: CollectionRun,
    hosts: list[str],
    gateways: set[str],
    where: str | None,
    scope: Scope,
) -> ObjectRef | None:
    """The backend Service of the Gateway API route serving a probed host or attached to a
    Gateway the alerts name (``gateway_routes.routed_service``)."""
    routes: list[JsonDict] = []
    for api in ROUTE_APIS:
        routes += await reader.custom_list(run, where, api)
    matched = matching_routes([r for r in routes if scope.may_read(_ns(r))], hosts, gateways)
    backends = list(dict.fromkeys((ns, name) for r in matched for ns, name, _ in backend_refs(r)))
    services: list[JsonDict] = []
    for namespace, name in backends[:MAX_ROUTE_BACKENDS]:
        if scope.may_read(namespace):
            found = await reader.read(run, "Service", namespace, name)
            services += [found] if found is not None else []
    return routed_service(matched, services, hosts, gateways)


async def follow_ingress_controllers(
    reader: KubeReader, run: CollectionRun, namespace: str, pods: list[JsonDict], scope: Scope
) -> None:
    """Add to ``run`` the IngressClasses of the Ingresses serving ``pods``, the pods of their
    controllers that ``scope`` may read, and the settings ConfigMap those pods name."""
    if not scope.may_read(None):
        # The IngressClass is cluster-scoped and the controller runs in a namespace of its
        # own: neither is this Incident's to read.
        return
    served = served_ingresses(
        _in_run(run, "Ingress", namespace), _in_run(run, "Service", namespace), pods
    )
    if not served:
        return
    names = {ingress_class_name(i) for i in served}
    classes: list[JsonDict] = []
    for name in sorted(n for n in names if n):
        found = await reader.read(run, "IngressClass", None, name)
        if found is not None:
            classes.append(found)
    if None in names:
        # No class named: the cluster's default class serves it.
        listed = await reader.list_of(run, "IngressClass", None, what="list IngressClasses")
        classes += [c for c in (run.add(c) for c in listed) if c is not None]
    controllers = {controller_of(c) for c in classes}
    for controller in sorted(c for c in controllers if c):
        labels = controller_pod_labels(controller)
        query = selector_query({"matchLabels": dict(labels)}) if labels else None
        if query is None:
            continue
        listed = await reader.list_of(
            run,
            "Pod",
            None,
            what=f"list pods of ingress controller {controller}",
            label_selector=query,
            limit=4 * MAX_CONTROLLER_PODS,
        )
        readable = [p for p in listed if scope.may_read(_ns(p))]
        controller_pods_found = controller_pods(readable, labels or {})
        for pod in controller_pods_found:
            run.add(pod)
        settings = next(
            (r for p in controller_pods_found if (r := settings_config(p)) is not None), None
        )
        if settings is not None and scope.may_read(settings.namespace):
            await reader.read(run, "ConfigMap", settings.namespace, settings.name)


async def follow_gateway_proxies(
    reader: KubeReader, run: CollectionRun, namespace: str, pods: list[JsonDict], scope: Scope
) -> None:
    """Add to ``run`` the proxy pods that ``scope`` may read of the Gateways the routes of
    ``namespace`` serving ``pods`` attach to, and of the Istio waypoints its Services use."""
    await _follow_waypoints(reader, run, pods, scope)
    if not scope.may_read(None):
        # The proxies run in a namespace of their own: not this Incident's to read.
        return
    routes = [obj for kind in ROUTE_KINDS for obj in _in_run(run, kind, namespace)]
    services = [obj for (kind, _, _), obj in run.objects.items() if kind == "Service"]
    for _, (gateway_ns, gateway) in served_gateways(routes, services, pods):
        listed: list[JsonDict] = []
        for where, labels in proxy_selectors(gateway_ns, gateway):
            listed += await reader.list_of(
                run,
                "Pod",
                where,
                what=f"list proxy pods of Gateway {gateway_ns}/{gateway}",
                label_selector=selector_query({"matchLabels": labels}),
                limit=4 * MAX_CONTROLLER_PODS,
            )
        readable = [p for p in listed if scope.may_read(_ns(p))]
        for pod in proxy_pods(readable, gateway_ns, gateway):
            run.add(pod)


async def _follow_waypoints(
    reader: KubeReader, run: CollectionRun, pods: list[JsonDict], scope: Scope
) -> None:
    """Add to ``run`` the proxy pods of the waypoints the Services selecting ``pods`` use
    (the Namespace read first when the scope may and the pods are in the ambient mesh:
    its label names the namespace's waypoint)."""
    own = {ns for p in pods if (ns := _ns(p)) and in_ambient_mesh(p)}
    if scope.may_read(None):
        for namespace in sorted(
            own - {name for kind, _, name in run.objects if kind == "Namespace"}
        ):
            await reader.read(run, "Namespace", None, namespace)
    namespaces = [obj for (kind, _, _), obj in run.objects.items() if kind == "Namespace"]
    services = [obj for (kind, _, _), obj in run.objects.items() if kind == "Service"]
    for _, (waypoint_ns, waypoint) in served_waypoints(namespaces, services, pods):
        if not scope.may_read(waypoint_ns):
            continue
        listed = await reader.list_of(
            run,
            "Pod",
            waypoint_ns,
            what=f"list proxy pods of waypoint {waypoint_ns}/{waypoint}",
            label_selector=selector_query({"matchLabels": {GATEWAY_NAME: waypoint}}),
            limit=4 * MAX_CONTROLLER_PODS,
        )
        for pod in proxy_pods(listed, waypoint_ns, waypoint):
            run.add(pod)


async def follow_front_balancers(
    reader: KubeReader,
    run: CollectionRun,
    namespace: str,
    pods: list[JsonDict],
    target: ObjectRef | None,
    scope: Scope,
) -> None:
    """Add to ``run`` the LoadBalancer Services whose address the Ingresses of ``namespace``
    serving ``pods`` (or the target Ingress) publish, the pods each selects and its events;
    with ``externalTrafficPolicy: Local``, the load-balancer speaker pods (MetalLB's), whose
    nodes are the only ones that can announce it."""
    if not scope.may_read(None):
        # The controller's Service is in a namespace of its own: not this Incident's.
        return
    ingresses = front_ingresses(
        _in_run(run, "Ingress", namespace), _in_run(run, "Service", namespace), pods, target
    )
    if not any(published_addresses(i) for i in ingresses):
        return
    listed = await reader.list_of(
        run,
        "Service",
        None,
        what="list Services for the load-balancer address of the Ingresses",
        limit=MAX_LISTED_SERVICES,
    )
    readable = [s for s in listed if scope.may_read(_ns(s))]
    for _, service in fronting_balancers(ingresses, readable):
        run.add(service)
        selector = {
            str(k): str(v) for k, v in ((service.get("spec") or {}).get("selector") or {}).items()
        }
        query = selector_query({"matchLabels": selector}) if selector else None
        if query is not None:
            for pod in await reader.list_of(
                run,
                "Pod",
                _ns(service),
                what=f"list pods of load-balancer Service {_ns(service)}/{_name(service)}",
                label_selector=query,
                limit=4 * MAX_CONTROLLER_PODS,
            ):
                run.add(pod)
        if (service.get("spec") or {}).get("externalTrafficPolicy") == "Local":
            await _speakers(reader, run, scope)


async def _speakers(reader: KubeReader, run: CollectionRun, scope: Scope) -> None:
    """Add to ``run`` the load-balancer speaker pods ``scope`` may read (``SPEAKER_LABELS``)."""
    if any(speaker_pods(o for (k, _, _), o in run.objects.items() if k == "Pod")):
        return
    for labels in SPEAKER_LABELS:
        listed = await reader.list_of(
            run,
            "Pod",
            None,
            what="list load-balancer speaker pods",
            label_selector=selector_query({"matchLabels": labels}),
            limit=64,
        )
        for pod in speaker_pods(p for p in listed if scope.may_read(_ns(p))):
            run.add(pod)
