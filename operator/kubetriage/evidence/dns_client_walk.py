"""The walk to the cluster DNS server's clients that changed their DNS settings: when the
incident's workload runs the cluster's DNS (``dns_clients.serves_cluster_dns``), the
Deployments of every namespace (an Incident the tenancy rule lets read them all), the most
recently rolled-out of them (``dns_clients.recent_clients``) with their ReplicaSets, whose
diffs say whether a release changed ``dnsPolicy`` or ``dnsConfig``. ``build_evidence``
keeps those that did (``dns_clients.dns_client_summaries``).

Called by ``KubeEvidenceCollector`` with the other walks; the reads go through the same
``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.caller_walk import read_history
from kubetriage.evidence.dns_clients import recent_clients, serves_cluster_dns
from kubetriage.evidence.reader import KubeReader
from kubetriage.models.objects import JsonDict
from kubetriage.tenancy import Scope


async def follow_dns_clients(
    reader: KubeReader, run: CollectionRun, workload: JsonDict | None, scope: Scope
) -> None:
    """Read the most recently rolled-out Deployments of every namespace and their
    ReplicaSets into ``run`` when ``workload`` runs the cluster's DNS."""
    if workload is None or not serves_cluster_dns(workload) or not scope.may_read(None):
        return
    if not reader.listable_everywhere("Deployment"):
        return
    deployments = await reader.list_of(
        run, "Deployment", None, what="list Deployments in every namespace (DNS clients)"
    )
    await asyncio.gather(
        *(read_history(reader, run, d) for d in recent_clients(deployments, workload))
    )
