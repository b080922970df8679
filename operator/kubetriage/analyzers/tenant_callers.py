"""One hop on from a node-level alert: the node's resource is used up by a server running
there, and the server is loaded by what calls it. An SRE lists the node's pods, finds the
tenant behind the alert's resource (the one whose own series grew with the alert,
``tenant_growth.driving_tenant``, or, when no tenant reports that resource per pod, the
node's only tenant), and, when that tenant did not change, asks who calls it: the one
caller (a Deployment naming a Service that selects the tenant's pods, often on another
node) that rolled out a revision changing how it calls (image, env, args, command,
resources) right before the onset is rolled back. A Redis whose clients began opening a
connection per request fills its node's conntrack table; a database whose client's release
changed its queries saturates its node's disk.

Silent when the tenant itself rolled out before the onset (``tenant_growth`` rolls it
back), when no caller or several callers rolled out, for a caller known only by a database
URL in a Secret, and when the node has several tenants and none of their series says
which one grew.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import earliest_onset, follows_within
from kubetriage.analyzers.shared_dependency import load_rollout, rollout_line
from kubetriage.analyzers.support import item, metrics_named, object_source
from kubetriage.analyzers.tenant_growth import alert_resource, driving_tenant, series_fact
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.neighbours import CallerEvidence, NodeTenantEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a tenant-caller finding is, by the evidence that earns it."""

    # The tenant whose own series grew with the alert did not change; the one caller of it
    # that rolled out before the onset: one hop further than the tenant's own rollout
    # (``tenant_growth``, 0.82), so below it.
    grown: float = 0.78
    # The same with the node's only tenant, known by elimination (no per-pod series).
    only_tenant: float = 0.72


CONFIDENCE: Final = _Confidence()
NAME: Final = "node-tenant-caller"


def _loaded_tenant(evidence: Evidence) -> tuple[NodeTenantEvidence, str, list[EvidenceItem]] | None:
    """The tenant behind the node's alert, how the alert's resource is said, and the
    series facts that single it out (none for the node's only tenant)."""
    found = driving_tenant(evidence)
    if found is not None:
        tenant, resource, series = found
        return tenant, resource.said, [series_fact(m, resource.said) for m in series[:2]]
    target, tenants = evidence.target, evidence.node_tenants
    asked = alert_resource(evidence)
    if target is None or target.kind != "Node" or len(tenants) != 1 or asked is None:
        return None
    pods = {(tenants[0].ref.namespace, pod) for pod in tenants[0].pods}
    measured = [
        m
        for m in metrics_named(evidence, *asked.series)
        if (m.labels.get("namespace"), m.labels.get("pod", "")) in pods
    ]
    # A tenant whose own series did not grow is not behind the alert.
    return None if measured else (tenants[0], asked.said, [])


def _suspect(
    evidence: Evidence, tenant: NodeTenantEvidence
) -> tuple[CallerEvidence, ChangeEvidence] | None:
    """The one caller of ``tenant`` whose rollout changed how it calls right before the
    onset, while the tenant itself did not change."""
    onset = earliest_onset(evidence)
    if onset is None or any(follows_within(c.at, onset) is not None for c in tenant.changes):
        return None
    found = [
        (caller, change)
        for caller in tenant.callers
        if caller.secret_env is None
        and caller.replicas != 0
        and (change := load_rollout(caller.ref, caller.changes, onset)) is not None
    ]
    return found[0] if len(found) == 1 else None


def check_tenant_callers(evidence: Evidence) -> list[Finding]:
    """Roll back the one caller whose release loads the node tenant that uses the node up."""
    loaded = _loaded_tenant(evidence)
    if loaded is None:
        return []
    tenant, said, grew = loaded
    suspect = _suspect(evidence, tenant)
    if suspect is None:
        return []
    caller, change = suspect
    node = evidence.target.name if evidence.target is not None else "the node"
    server = prose.obj(tenant.ref)
    if grew:
        singled = prose.claim(
            f"Of the workloads on node {node}, the {said} of {server}'s pods grew with the "
            "alert, and no other tenant's did as much",
            *grew,
        )
    else:
        singled = prose.claim(f"{server} is the only workload on node {node} besides its agents")
    named = item(
        object_source(caller.ref),
        f"names {prose.obj(caller.callee)} ({prose.listing(caller.naming_texts(2), limit=2)})",
    )
    rolled = item(object_source(caller.ref), rollout_line(change))
    because = [
        singled,
        prose.claim(f"{server} did not change; {prose.obj(caller.ref)} calls it", named),
        prose.claim(
            f"{prose.obj(caller.ref)} rolled out before the onset, and no other caller did",
            rolled,
        ),
    ]
    return [
        make_finding(
            NAME,
            Category.BAD_ROLLOUT,
            CONFIDENCE.grown if grew else CONFIDENCE.only_tenant,
            prose.narrative(
                f"{prose.obj(caller.ref)}'s new revision loads {server}, using up its node's "
                f"{said}",
                f"roll {prose.obj(caller.ref)} back",
                because=because,
            ),
            [*grew, named, rolled],
            Action.ROLLBACK,
            caller.ref,
            {},
        )
    ]


TENANT_CALLER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_tenant_callers),
)
