"""The walk to the callers: from the Services that front the incident's pods to the
Deployments whose pod template names one of them, in the incident's namespace, or in every
namespace for an Incident the tenancy rule lets read them all (the cluster-scope namespaces),
with each caller's ReplicaSets (its rollout history) and the Services it names besides
the incident's with their pods (``follow_caller_caches``: what it reads through).

Called by ``KubeEvidenceCollector`` once the namespace's Services are read; which Services and
which Deployments are decided by the pure helpers of ``kubetriage.evidence.callers`` and
``kubetriage.evidence.shared_callers`` (that ``build_evidence`` uses as well), the reads go
through the same ``KubeReader`` and ``CollectionRun`` as the rest of the walk. Only the
callers found are kept in the run.

Also the walk to a queue's consumers (``find_queue_consumer``): an alert about a queue whose
namespace (the broker's) runs none of its consumers is about the one workload, in whatever
namespace the Incident may read, whose pod template names the queue (its own env and args,
and the queues the ConfigMaps it takes env from hold), the ScaledJob whose trigger measures
it, or the workload a ScaledObject measuring it scales
(``kubetriage.evidence.targets.consumer_elsewhere`` decides, as the builder does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.caller_caches import named_services as cache_hosts
from kubetriage.evidence.callers import (
    MAX_CALLERS,
    callee_services,
    configured_by,
    find_callers,
    find_config_callers,
    find_named_clients,
)
from kubetriage.evidence.dependencies import event_texts, log_texts
from kubetriage.evidence.host_peers import failing_hosts, find_host_peers
from kubetriage.evidence.host_routes import HOST_ROUTE_KINDS
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.queue_consumers import CONSUMER_KINDS, alert_queues, consumer_elsewhere
from kubetriage.evidence.queue_peers import queue_peers
from kubetriage.evidence.quota_peers import find_quota_peers, throttled_scopes
from kubetriage.evidence.raw import as_dict, listed
from kubetriage.evidence.reader import KubeReader, strip_config_map
from kubetriage.evidence.secret_urls import secret_url_hosts
from kubetriage.evidence.shared_callers import caller_log_requests, named_services, secret_clients
from kubetriage.evidence.summaries.scalers import SCALED_JOB_API, SCALED_OBJECT_API
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, selector_query
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


async def follow_callers(
    reader: KubeReader,
    run: CollectionRun,
    namespace: str,
    pods: list[JsonDict],
    workload: JsonDict | None,
    scope: Scope,
    limits: EvidenceLimits,
) -> None:
    """Read the Deployments that name the Services of ``pods``, those that name a Service
    the incident's workload names (the other callers of its dependencies; the builder keeps
    those of the dependencies it followed) and those that name an outside host its failing
    calls name (``host_peers``) or a cloud quota its throttled calls draw on (``quota_peers``),
    with their ReplicaSets, and the
    log tails of the first pod of each of those other callers (``caller_log_requests``)."""
    read = [o for (k, _, _), o in run.objects.items() if k == "Service"]
    services = callee_services([s for s in read if _ns(s) == namespace], pods)
    shared = named_services(read, pods, workload)
    # ... and the broker it reaches through a Secret-sourced URL its lines speak of.
    lines = log_texts(t for t in run.logs if t.source == "scope" and t.namespace == namespace)
    lines += event_texts(o for (k, _, _), o in run.objects.items() if k == "Event")
    brokers = {(h.namespace, h.name) for h in secret_url_hosts(pods, workload, lines, read)}
    shared += [s for s in read if (_ns(s), _name(s)) in brokers and s not in shared]
    # The outside hosts its failing calls name: who else calls them (``host_peers``).
    hosts = failing_hosts(pods, workload, run.logs)
    # The cloud quotas its throttled calls name: who else draws on them (``quota_peers``).
    quotas = throttled_scopes(pods, workload, run.logs)
    if not (services or shared or hosts or quotas) or not reader.readable("Deployment"):
        return
    where = None if scope.may_read(None) else namespace
    listed = await reader.list_of(
        run,
        "Deployment",
        where,
        what=f"list Deployments in {where or 'every namespace'} (callers)",
    )
    own = [workload] if workload is not None else []
    # The Ingresses and routes of its namespace: callers that reach it by its public host.
    routes = [
        o for (k, ns, _), o in run.objects.items() if k in HOST_ROUTE_KINDS and ns == namespace
    ]
    found = find_callers(listed, services, own, routes) if services else []
    # The clients the incident's own error lines name (an identity provider's clientId).
    found += [(c, s, []) for c, s, _ in find_named_clients(listed, services, run.logs, own)]
    if services and reader.readable("ConfigMap"):
        # The gateways and proxies a mounted file routes to it (their ConfigMaps' hosts).
        wanted = configured_by(listed, own)
        await asyncio.gather(
            *(
                reader.read(run, "ConfigMap", ns, name)
                for ns, name in wanted
                if ("ConfigMap", ns, name) not in run.objects
            )
        )
        config_maps = [o for (k, _, _), o in run.objects.items() if k == "ConfigMap"]
        fronting = find_config_callers(listed, services, config_maps, own)
        found += fronting
        # The proxies and caches in front of it: their pods, whose restarts empty a cache.
        await asyncio.gather(*(_front_pods(reader, run, c) for c, _, _ in fronting))
    # What its own callers read through (a cache emptied by a restart loads it).
    await follow_caller_caches(reader, run, [(c, s) for c, s, _ in found][:MAX_CALLERS])
    sharing: list[JsonDict] = []
    # A Job (a backfill, an export) may load a shared dependency as well.
    jobs = (
        await reader.list_of(run, "Job", where, what=f"list Jobs in {where or 'every namespace'}")
        if shared and reader.readable("Job")
        else []
    )
    for dependency in shared:
        # The other callers of a dependency it names: who else loads a shared database.
        callers = find_callers([*listed, *jobs], [dependency], own)
        room = MAX_CALLERS - len(callers)
        callers += [(c, db, []) for c, db, _ in secret_clients(listed, [dependency], own, room)]
        found += callers
        sharing += [c for c, _, _ in callers]
    unique = {(_ns(c), _name(c)): c for c, _, _ in found}
    unique |= {(_ns(c), _name(c)): c for c, _, _ in find_host_peers(listed, hosts, own)}
    unique |= {(_ns(c), _name(c)): c for c, _, _ in find_quota_peers(listed, quotas, own)}
    await asyncio.gather(
        *(read_history(reader, run, c) for c in unique.values() if c.get("kind") != "Job")
    )
    for job in (c for c in sharing if c.get("kind") == "Job"):
        run.add(job)
    # Does an unchanged one fail on it too? Then the dependency is at fault, not a release.
    others = {(_ns(c), _name(c)): c for c in sharing}
    await asyncio.gather(*(_own_words(reader, run, c, limits) for c in others.values()))


async def _front_pods(reader: KubeReader, run: CollectionRun, caller: JsonDict) -> None:
    """The pods of ``caller`` (by its selector), read into ``run``."""
    selector = selector_query((caller.get("spec") or {}).get("selector") or {})
    if selector is None or not reader.readable("Pod"):
        return
    for pod in await reader.list_of(
        run,
        "Pod",
        _ns(caller),
        what=f"list pods of proxy {caller.get('kind')} {_ns(caller)}/{_name(caller)}",
        label_selector=selector,
    ):
        run.add(pod)


async def _own_words(
    reader: KubeReader, run: CollectionRun, caller: JsonDict, limits: EvidenceLimits
) -> None:
    """The pods of ``caller`` (by its selector) and the tails ``caller_log_requests`` picks
    among them, read into ``run`` marked ``dependency`` (a tail already read is not read
    again)."""
    selector = selector_query((caller.get("spec") or {}).get("selector") or {})
    if selector is None or not reader.readable("Pod"):
        return
    pods = await reader.list_of(
        run,
        "Pod",
        _ns(caller),
        what=f"list pods of caller {caller.get('kind')} {_ns(caller)}/{_name(caller)}",
        label_selector=selector,
    )
    for pod in pods:
        run.add(pod)
    have = {(t.namespace, t.pod, t.container, t.previous) for t in run.logs}
    await asyncio.gather(
        *(
            reader.log(run, ns, pod, c, previous=prev, source="dependency")
            for ns, pod, c, prev in caller_log_requests(caller, pods, limits)
            if (ns, pod, c, prev) not in have
        )
    )


async def read_history(reader: KubeReader, run: CollectionRun, caller: JsonDict) -> None:
    """The caller itself and its ReplicaSets, read into ``run``."""
    run.add(caller)
    selector = selector_query((caller.get("spec") or {}).get("selector") or {})
    if selector is None:
        return
    await reader.add_listed(
        run,
        "ReplicaSet",
        _ns(caller),
        what=f"list ReplicaSets of caller Deployment {_ns(caller)}/{_name(caller)}",
        label_selector=selector,
    )


async def find_queue_consumer(
    reader: KubeReader, run: CollectionRun, chosen: ObjectRef, alerts: list[Alert], scope: Scope
) -> tuple[ObjectRef, JsonDict] | None:
    """The consumer of the queue the alerts name, and its object, when ``chosen`` is a
    namespace that runs none of them; looked for only where every namespace may be read."""
    if chosen.kind != "Namespace" or not alert_queues(alerts) or not scope.may_read(None):
        return None
    pods = await reader.list_of(run, "Pod", chosen.name, what=f"list pods in {chosen.name}")
    workloads: list[JsonDict] = []
    for kind in CONSUMER_KINDS:
        if reader.readable(kind):
            workloads += await reader.list_of(
                run, kind, None, what=f"list {kind}s in every namespace (queue consumers)"
            )
    # A ScaledJob's Jobs consume the queue its triggers measure, running or not; a
    # ScaledObject's target consumes the queue its triggers measure.
    for api in (SCALED_JOB_API, SCALED_OBJECT_API):
        workloads += await reader.custom_list(run, None, api)
    # The ConfigMaps their env comes from name queues too (``envFrom``: ``CELERY_QUEUES``);
    # only what ``strip_config_map`` keeps of them is seen.
    config_maps: list[JsonDict] = []
    if reader.listable_everywhere("ConfigMap"):
        what = "list ConfigMaps in every namespace (queues in queue consumers' env)"
        listed_maps = await reader.list_of(run, "ConfigMap", None, what=what)
        config_maps = [strip_config_map(cm) for cm in listed_maps]
    found = consumer_elsewhere(alerts, chosen, pods, workloads, config_maps)
    if found is None or not scope.may_target(found):
        return None
    obj = listed(workloads, found)
    if obj is None:
        return None
    run.add(obj)
    # The queue's other workloads (its producers), with their rollouts.
    peers = queue_peers(alerts, workloads, config_maps, obj)
    await asyncio.gather(*(read_history(reader, run, peer) for peer, _, _ in peers))
    return found, obj


async def follow_caller_caches(
    reader: KubeReader, run: CollectionRun, callers: Iterable[tuple[JsonDict, JsonDict]]
) -> None:
    """Read the Services each (caller, callee Service) pair's caller names besides the
    callee, and the pods those Services select, into ``run`` (``caller_caches``)."""
    if not reader.listable("Pod"):
        return
    wanted = {
        key: None
        for caller, callee in callers
        for key in cache_hosts(caller, (_ns(callee), _name(callee)))
    }
    services = await asyncio.gather(
        *(reader.read(run, "Service", namespace, name) for namespace, name in wanted)
    )
    for service in services:
        if service is None:
            continue
        labels = as_dict(as_dict(service.get("spec")).get("selector"))
        selector = selector_query({"matchLabels": labels})
        if selector is None:
            continue
        await reader.add_listed(
            run,
            "Pod",
            _ns(service),
            what=f"list pods of Service {_ns(service)}/{_name(service)} (a caller's cache)",
            label_selector=selector,
        )
