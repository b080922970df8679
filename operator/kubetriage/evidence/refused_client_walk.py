"""The walk to the clients a server names by address as it refuses them
(``kubetriage.evidence.refused_clients.refused_addresses``, over the incident's own and the
followed dependencies' log tails: for lack of connection slots, because the client rejected
the server's certificate, as it closes them as slow consumers, or as the scrape targets of
series a metrics server's remote store refused): the pod at each address
(a list by ``status.podIP``, in every namespace when the scope may read them all, else in
the incident's), its ReplicaSet, that ReplicaSet's Deployment and the Deployment's
ReplicaSets (its rollout history); for a client that rejected the certificate, also the
ConfigMaps its pod mounts (where its CA file comes from, and when that was last written).
``build_evidence`` summarises what was read.

Called by ``KubeEvidenceCollector`` once the logs are read; the reads go through the same
``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.refused_clients import Refusal, mounted_config_maps, refused_addresses
from kubetriage.models.objects import JsonDict, controller_ref, selector_query
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope

_WHY: dict[Refusal, str] = {
    "slots": "clients refused for lack of slots",
    "untrusted": "clients rejecting its certificate",
    "slow-consumer": "slow consumers it closed",
    "unmeshed": "clients its mesh policy denied",
    "series": "targets of series its remote store refused",
}


async def follow_refused_clients(
    reader: KubeReader, run: CollectionRun, namespace: str, scope: Scope
) -> None:
    """Read the pods a server's refusals or slow-consumer closes name by address, and their
    Deployments with their ReplicaSets (and the ConfigMaps of the pods that rejected its
    certificate), into ``run``."""
    if not reader.listable("Pod"):
        return
    where = None if scope.may_read(None) else namespace
    for refusal in _WHY:
        refused = refused_addresses(run.logs, refusal)
        listed = await asyncio.gather(
            *(
                reader.list_of(
                    run,
                    "Pod",
                    where,
                    what=f"list pods at {address} ({_WHY[refusal]})",
                    field_selector=f"status.podIP={address}",
                )
                for address, _ in refused
            )
        )
        pods = [found[0] for found in listed if found]
        await asyncio.gather(*(_client(reader, run, pod) for pod in pods))
        if refusal == "untrusted":
            mounted = {(_ns(pod), name) for pod in pods for name in mounted_config_maps(pod)}
            await asyncio.gather(
                *(reader.read(run, "ConfigMap", ns, name) for ns, name in sorted(mounted))
            )


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
