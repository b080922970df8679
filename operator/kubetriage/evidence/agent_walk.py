"""The walk to the node agents when the API server throttles the incident's workload: the
DaemonSets of every namespace and the ControllerRevisions of their namespaces (their rollout
history), read only when the incident's own log lines carry the API server's 429
(``kubetriage.evidence.agent_rollouts.apiserver_throttled``) and only under a scope that may
read the whole cluster. ``build_evidence`` summarises what was read with the same rule.

The DaemonSets alone (where the CNI agent takes the pod network's MTU) when the incident's
own lines say a response stalled mid-transfer (``kubetriage.evidence.overlay_mtu``).

Called by ``KubeEvidenceCollector`` once the incident's logs are read; the reads go through
the same ``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.agent_rollouts import (
    agent_namespaces,
    agents_wanted,
    apiserver_throttled,
)
from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.caller_walk import read_history
from kubetriage.evidence.dns_clients import recent_clients
from kubetriage.evidence.overlay_mtu import transfer_stalled
from kubetriage.evidence.reader import KubeReader
from kubetriage.tenancy import Scope


async def follow_agent_rollouts(reader: KubeReader, run: CollectionRun, scope: Scope) -> None:
    """Read every namespace's DaemonSets and their namespaces' ControllerRevisions into
    ``run`` when the incident's own lines say the API server throttles, or its events that
    the CNI plugin cannot set up a new pod's network."""
    if not scope.may_read(None) or not agents_wanted(run.logs, run.objects.values()):
        return
    await _api_clients(reader, run, scope)
    if not reader.listable_everywhere("DaemonSet") or not reader.listable("ControllerRevision"):
        return
    daemonsets = await reader.list_of(
        run, "DaemonSet", None, what="list DaemonSets in every namespace (API server load)"
    )
    for daemonset in daemonsets:
        run.add(daemonset)
    await asyncio.gather(
        *(
            reader.add_listed(
                run,
                "ControllerRevision",
                namespace,
                what=f"list revisions in {namespace} (node agents)",
            )
            for namespace in agent_namespaces(daemonsets)
        )
    )


async def _api_clients(reader: KubeReader, run: CollectionRun, scope: Scope) -> None:
    """The most recently rolled-out Deployments of every namespace and their ReplicaSets,
    when the API server throttles the incident's workload: did one raise its client's rate
    limits (``kubetriage.evidence.api_clients``)?"""
    if not apiserver_throttled(run.logs) or not reader.listable_everywhere("Deployment"):
        return
    deployments = await reader.list_of(
        run, "Deployment", None, what="list Deployments in every namespace (API server load)"
    )
    await asyncio.gather(*(read_history(reader, run, d) for d in recent_clients(deployments, {})))


async def follow_overlay_agents(reader: KubeReader, run: CollectionRun, scope: Scope) -> None:
    """Read every namespace's DaemonSets into ``run`` when the incident's own lines say a
    response stalled mid-transfer: the CNI agent's MTU setting is among their env."""
    if not scope.may_read(None) or not transfer_stalled(run.logs):
        return
    if not reader.listable_everywhere("DaemonSet"):
        return
    for daemonset in await reader.list_of(
        run, "DaemonSet", None, what="list DaemonSets in every namespace (pod network MTU)"
    ):
        run.add(daemonset)
