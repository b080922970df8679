"""The reconciler walk of evidence collection: when what was read holds a cert-manager
Certificate past its renewal time (or not Ready, or expired), a host the cluster declares
that a text of the incident says does not exist, a webhook whose injected caBundle the API
server found stale, a failover operator's Service whose role no member holds, or pods
Pending for want of room that no node autoscaler has spoken about, or sidecars saying they
cannot reach the mesh's control plane, the controller that should have renewed, published,
injected, promoted, scaled up or signed
(``kubetriage.evidence.summaries.reconcilers`` recognises them and summarises what
is read): its Deployment in any namespace, listed by its chart's labels, with its
ReplicaSets (what its previous revision watched) and pods.

Called by ``KubeEvidenceCollector`` last. Nothing is read unless something is owed; in
every namespace, so only under a scope that may read the cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.raw import as_dict
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.summaries.mesh_control_plane import owed_by_mesh
from kubetriage.evidence.summaries.node_autoscaler import unserved_pending
from kubetriage.evidence.summaries.reconciler_debts import (
    DNS_SOURCES,
    leaderless_services,
    overdue_certificates,
    owed_texts,
    stale_ca_bundles,
    unresolved_hosts,
)
from kubetriage.evidence.summaries.reconcilers import (
    CA_INJECTOR,
    CERTIFICATE_ISSUER,
    DNS_PUBLISHER,
    FAILOVER_OPERATOR,
    MESH_CONTROL_PLANE,
    NODE_AUTOSCALER,
    RECONCILER_KINDS,
    TARGET_REGISTRAR,
    ReconcilerKind,
    is_reconciler,
)
from kubetriage.evidence.summaries.target_registrars import registered_ingresses
from kubetriage.evidence.summaries.webhooks import WEBHOOK_CONFIGURATION_KINDS
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, selector_query
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


def _owed(run: CollectionRun, alerts: Sequence[Alert], now: datetime) -> set[str]:
    """The roles whose controller the incident waits on, from what was read so far."""
    objects = list(run.objects.values())
    roles: set[str] = set()
    if overdue_certificates((o for o in objects if o.get("kind") == "Certificate"), now):
        roles.add(CERTIFICATE_ISSUER)
    texts = owed_texts(
        [(a.labels, a.annotations) for a in alerts],
        [line for tail in run.logs if tail.source == "scope" for line in tail.lines],
        (o for o in objects if o.get("kind") == "Event"),
    )
    if unresolved_hosts((o for o in objects if o.get("kind") in DNS_SOURCES), texts):
        roles.add(DNS_PUBLISHER)
    if stale_ca_bundles(
        (o for o in objects if o.get("kind") in WEBHOOK_CONFIGURATION_KINDS), texts
    ):
        roles.add(CA_INJECTOR)
    services = (o for o in objects if o.get("kind") == "Service")
    if leaderless_services(services, lambda s: run.objects.get(("Endpoints", _ns(s), _name(s)))):
        roles.add(FAILOVER_OPERATOR)
    pods = (o for o in objects if o.get("kind") == "Pod")
    if unserved_pending(pods, (o for o in objects if o.get("kind") == "Event"), now):
        roles.add(NODE_AUTOSCALER)
    own = [tail for tail in run.logs if tail.source == "scope"]
    if owed_by_mesh((o for o in objects if o.get("kind") == "Pod"), own):
        roles.add(MESH_CONTROL_PLANE)
    # Whether the registrar went down before the pods came is read from its own workload.
    if registered_ingresses(
        *(_of(objects, k) for k in ("Ingress", "IngressClass", "Service", "Pod"))
    ):
        roles.add(TARGET_REGISTRAR)
    return roles


def _of(objects: Sequence[JsonDict], kind: str) -> list[JsonDict]:
    return [o for o in objects if o.get("kind") == kind]


async def follow_reconcilers(
    reader: KubeReader, run: CollectionRun, alerts: Sequence[Alert], now: datetime, scope: Scope
) -> None:
    """Read the controllers the incident waits on into ``run``."""
    if not scope.may_read(None):
        return
    roles = _owed(run, alerts, now)
    kinds = [k for k in RECONCILER_KINDS if k.role in roles]
    found = await list_reconcilers(reader, run, scope, kinds)
    await asyncio.gather(*(read_controller(reader, run, w) for w in found[:3]))


async def list_reconcilers(
    reader: KubeReader, run: CollectionRun, scope: Scope, kinds: Sequence[ReconcilerKind]
) -> list[JsonDict]:
    """The Deployments in any namespace ``scope`` may read that are controllers of ``kinds``,
    listed by each kind's chart labels, once each, in the order listed."""
    listed = await asyncio.gather(
        *(
            reader.list_of(
                run,
                "Deployment",
                None,
                what=f"list Deployments {selector}",
                label_selector=selector,
            )
            for kind in kinds
            for selector in kind.selectors()
        )
    )
    found: dict[tuple[str, str], JsonDict] = {}
    for workload in (w for ws in listed for w in ws):
        if scope.may_read(_ns(workload)) and any(is_reconciler(k, workload) for k in kinds):
            found.setdefault((_ns(workload), _name(workload)), workload)
    return list(found.values())


async def read_controller(reader: KubeReader, run: CollectionRun, workload: JsonDict) -> None:
    """The workload, its ReplicaSets and its pods."""
    run.add(workload)
    query = selector_query(as_dict(as_dict(workload.get("spec")).get("selector")))
    if query is None:
        return
    what = f"Deployment {_ns(workload)}/{_name(workload)}"
    for kind, plural in (("ReplicaSet", "ReplicaSets"), ("Pod", "pods")):
        await reader.add_listed(
            run, kind, _ns(workload), what=f"list {plural} of {what}", label_selector=query
        )
