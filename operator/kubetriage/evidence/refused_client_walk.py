"""The walk to the clients a server names by address as it refuses them for lack of
connection slots or closes them as slow consumers
(``kubetriage.evidence.refused_clients.client_addresses``, over the incident's own and the
followed dependencies' log tails): the pod at each address (a list by ``status.podIP``,
in every namespace when the scope may read them all, else in the incident's), its ReplicaSet,
that ReplicaSet's Deployment and the Deployment's ReplicaSets (its rollout history).
``build_evidence`` summarises what was read.

Called by ``KubeEvidenceCollector`` once the logs are read; the reads go through the same
``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.reader import CollectionRun, KubeReader
from kubetriage.evidence.refused_clients import client_addresses
from kubetriage.models.objects import JsonDict, controller_ref, selector_query
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


async def follow_refused_clients(
    reader: KubeReader, run: CollectionRun, namespace: str, scope: Scope
) -> None:
    """Read the pods a server's refusals or slow-consumer closes name by address, and their
    Deployments with their ReplicaSets, into ``run``."""
    refused = client_addresses(run.logs)
    if not refused or not reader.listable("Pod"):
        return
    where = None if scope.may_read(None) else namespace
    listed = await asyncio.gather(
        *(
            reader.list_of(
                run,
                "Pod",
                where,
                what=f"list pods at {address} (clients a server refused or closed)",
                field_selector=f"status.podIP={address}",
            )
            for address in refused
        )
    )
    await asyncio.gather(*(_client(reader, run, pods[0]) for pods in listed if pods))


async def _client(reader: KubeReader, run: CollectionRun, pod: JsonDict) -> None:
    """The pod, its ReplicaSet, that ReplicaSet's Deployment and the Deployment's
    ReplicaSets, read into ``run``."""
    run.add(pod)
    owner = controller_ref(pod)
    if owner is None or owner.get("kind") != "ReplicaSet":
        return
    replica_set = await reader.read(run, "ReplicaSet", _ns(pod), str(owner.get("name")))
    parent = controller_ref(replica_set) if replica_set is not None else None
    if parent is None or parent.get("kind") != "Deployment":
        return
    deployment = await reader.read(run, "Deployment", _ns(pod), str(parent.get("name")))
    selector = selector_query(((deployment or {}).get("spec") or {}).get("selector") or {})
    if deployment is None or selector is None:
        return
    await reader.add_listed(
        run,
        "ReplicaSet",
        _ns(pod),
        what=f"list ReplicaSets of refused client Deployment {_ns(pod)}/{parent.get('name')}",
        label_selector=selector,
    )
