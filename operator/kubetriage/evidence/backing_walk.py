"""The reads behind one dependency: from a Service or workload the dependency walk
(``kubetriage.evidence.dependency_walk``) or another walk found, to the pods and ReplicaSets
behind it (a Service without a selector: the pods its Endpoints name), its Endpoints (or
EndpointSlices), the Nodes under its pods that are not ready, its workload (a StatefulSet or
DaemonSet owning its pods directly, with its ControllerRevisions) and their events, and, in
another namespace than the incident's, the
NetworkPolicies and autoscalers of its namespace; for a few of its pods (troubled first), their
log tails, the PersistentVolumeClaims they mount and the ConfigMaps they use.

``build_evidence`` summarises what was read
(``kubetriage.evidence.summaries.dependency_details``); the reads go through the same
``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.index import claim_names, referenced_config, sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import log_requests
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.evidence.reader import KubeReader, without_images
from kubetriage.evidence.settings_readers import settings_config_maps
from kubetriage.models.objects import JsonDict, controller_ref, endpoint_pods, selector_query
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# Workload kinds that own their pods directly (no ReplicaSet between them).
_DIRECT_OWNERS = frozenset({"StatefulSet", "DaemonSet"})


async def known_or_read(
    reader: KubeReader, run: CollectionRun, kind: str, namespace: str, name: str
) -> JsonDict | None:
    """The object as this run already has it, or read now when its kind is readable."""
    obj = run.objects.get((kind, namespace, name))
    if obj is None and reader.readable(kind):
        obj = await reader.read(run, kind, namespace, name)
    return obj


def _unready_pod_nodes(pods: list[JsonDict]) -> list[str]:
    """The nodes of the pods whose Ready condition is False, each once."""
    nodes: list[str] = []
    for pod in pods:
        conditions = dicts(as_dict(pod.get("status")).get("conditions"))
        unready = any(c.get("type") == "Ready" and c.get("status") == "False" for c in conditions)
        node = as_dict(pod.get("spec")).get("nodeName")
        if unready and isinstance(node, str) and node not in nodes:
            nodes.append(node)
    return nodes


class BackingWalk:
    """Reads what stands behind a dependency; one instance serves many incidents."""

    def __init__(self, reader: KubeReader, limits: EvidenceLimits) -> None:
        self._reader = reader
        self._limits = limits

    async def behind(self, run: CollectionRun, obj: JsonDict) -> None:
        """What stands behind a Service or workload another walk found (an admission
        webhook's Service, whose walk reads its own log tails): as ``follow`` reads it for a
        dependency in its own namespace, without the pods' tails."""
        await self.follow(run, obj, _ns(obj), own_words=False)

    async def follow(
        self, run: CollectionRun, obj: JsonDict, incident_namespace: str, *, own_words: bool = True
    ) -> list[JsonDict]:
        """Pods and ReplicaSets behind a dependency, its workload and their events, and, in
        another namespace, the NetworkPolicies that decide whether it accepts the call;
        returns the pods whose own words (log tails) were read."""
        namespace, spec = _ns(obj), obj.get("spec") or {}
        if namespace != incident_namespace:
            # The incident's namespace has both listed already: the NetworkPolicies that
            # decide whether the callee accepts the call, the autoscalers that size it.
            for kind, plural in (
                ("NetworkPolicy", "NetworkPolicies"),
                ("HorizontalPodAutoscaler", "HPAs"),
            ):
                await self._reader.add_listed(
                    run, kind, namespace, what=f"list {plural} in {namespace}"
                )
        if obj.get("kind") == "Service":
            selector = selector_query({"matchLabels": spec.get("selector") or {}})
        else:
            selector = selector_query(spec.get("selector") or {})
        what = f"{obj.get('kind')} {namespace}/{_name(obj)}"
        endpoints = None
        if obj.get("kind") == "Service":
            endpoints = run.objects.get(("Endpoints", namespace, _name(obj)))
            if endpoints is None:
                endpoints = await self._reader.read(run, "Endpoints", namespace, _name(obj))
            if (
                endpoints is None
                and spec.get("type") != "ExternalName"
                and self._reader.listable("EndpointSlice")
            ):
                # No Endpoints mirror (over 1000 endpoints, or a cluster that stopped
                # mirroring): the Service's EndpointSlices hold its ready endpoints. An
                # ExternalName Service is a DNS alias and has neither.
                await self._reader.add_listed(
                    run,
                    "EndpointSlice",
                    namespace,
                    what=f"list EndpointSlices of dependency {what}",
                    label_selector=f"kubernetes.io/service-name={_name(obj)}",
                )
        if selector is not None:
            pods, replica_sets = await asyncio.gather(
                *(
                    self._reader.list_of(
                        run,
                        listed,
                        namespace,
                        what=f"list {plural} of dependency {what}",
                        label_selector=selector,
                    )
                    for listed, plural in (("Pod", "pods"), ("ReplicaSet", "ReplicaSets"))
                )
            )
        elif endpoints is not None:
            # A Service without a selector: the pods its Endpoints name (Patroni, an operator).
            named = endpoint_pods(endpoints)[: self._limits.max_dependency_pods]
            read = [await known_or_read(self._reader, run, "Pod", namespace, n) for n in named]
            pods, replica_sets = [p for p in read if p is not None], []
        else:
            return []
        for item in pods + replica_sets:
            run.add(item)
        # The nodes under its pods that are not ready: a lone replica the node controller
        # marked not ready is down because its node is, which only the Node's status says.
        for node in _unready_pod_nodes(pods)[: self._limits.max_nodes]:
            if ("Node", "", node) not in run.objects:
                without_images(await self._reader.read(run, "Node", None, node) or {})
        # The workload behind it: a ReplicaSet's owner, or the pods' own controller (a
        # StatefulSet or DaemonSet owns its pods directly, with ControllerRevisions as history).
        owner = next((w for rs in replica_sets if (w := controller_ref(rs)) is not None), None)
        if owner is None:
            owner = next(
                (
                    w
                    for p in pods
                    if (w := controller_ref(p)) is not None and w.get("kind") in _DIRECT_OWNERS
                ),
                None,
            )
            if selector is None and owner is not None:
                # No Service selector: the revisions carry the owner's own selector labels.
                held = await known_or_read(
                    self._reader, run, str(owner.get("kind")), namespace, str(owner.get("name"))
                )
                selector = selector_query(((held or {}).get("spec") or {}).get("selector") or {})
            if (
                owner is not None
                and selector is not None
                and self._reader.listable("ControllerRevision")
            ):
                for revision in await self._reader.list_of(
                    run,
                    "ControllerRevision",
                    namespace,
                    what=f"list revisions of dependency {what}",
                    label_selector=selector,
                ):
                    run.add(revision)
        subjects = [(str(obj.get("kind")), _name(obj))]
        if (
            owner is not None
            and self._reader.readable(str(owner.get("kind")))
            and owner.get("name")
        ):
            subjects.append((str(owner["kind"]), str(owner["name"])))
            if run.objects.get((str(owner["kind"]), namespace, str(owner["name"]))) is None:
                await self._reader.read(run, str(owner["kind"]), namespace, str(owner["name"]))
        subjects += [("Pod", _name(p)) for p in pods[:3]]
        few = sort_pods(pods)[: self._limits.max_dependency_pods] if own_words else []
        if own_words:
            subjects += await self._pods_own_words(run, few)
        await asyncio.gather(
            *(self._reader.events_about(run, k, namespace, n) for k, n in subjects)
        )
        return few

    async def _pods_own_words(
        self, run: CollectionRun, pods: list[JsonDict]
    ) -> list[tuple[str, str]]:
        """Log tails of these few pods (troubled first), marked ``dependency``, the claims
        they mount and the ConfigMaps they use, read into ``run``; returns the claims as
        event subjects. A tail already read (one of the incident's own, or another
        dependency's) is not read again, as the case replay marks it
        (``kubetriage.replay.snapshot``)."""
        few = pods
        have = {(t.namespace, t.pod, t.container, t.previous) for t in run.logs}
        requests = [r for r in log_requests(few, [], self._limits) if r not in have]
        claims = list(dict.fromkeys((_ns(p), c) for p in few for c in claim_names(p)))
        # The ConfigMaps they use: an edit there changes the dependency with no rollout (the
        # cluster DNS's Corefile, a flag service's flags, a proxy's settings its args name);
        # the reader keeps when they were written, never their values.
        configs = sorted(
            {
                (_ns(p), name)
                for p in few
                for kind, name in referenced_config(p.get("spec") or {})
                if kind == "ConfigMap"
            }
            | {(_ns(p), n) for p in few for n in settings_config_maps(p.get("spec") or {}, _ns(p))}
        )
        await asyncio.gather(
            *(
                self._reader.log(run, ns, pod, c, previous=prev, source="dependency")
                for ns, pod, c, prev in requests
            ),
            *(
                known_or_read(self._reader, run, "PersistentVolumeClaim", ns, claim)
                for ns, claim in claims
            ),
            *(known_or_read(self._reader, run, "ConfigMap", ns, name) for ns, name in configs),
        )
        return [("PersistentVolumeClaim", claim) for _, claim in claims]
