"""Which objects' events the collector reads: the event subjects of an incident.

Called by ``KubeEvidenceCollector`` (``kubetriage.evidence.kube``) once the objects in scope
are read, to choose the objects whose events are listed (one field-selected list each,
bounded): the target, its workload, the pods kept, their claims (and those a Job's log
names) and nodes (and the troubled nodes when every node was listed), the workload's
ReplicaSets, HPA, ScaledObject or ScaledJob and CronJob, the Ingresses routing to the pods,
cert-manager Certificates and failed CertificateRequests. No I/O: it reads only what the
``CollectionRun`` holds.
"""

from __future__ import annotations

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.index import claim_names, secret_writers
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.run_claims import claims_named_by_run
from kubetriage.evidence.summaries.nodes import node_troubled
from kubetriage.evidence.summaries.scalers import SCALER_KINDS, scalers_of
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict, controlled_by, ingress_backends, service_selects
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns


def event_subjects(
    run: CollectionRun,
    chosen: ObjectRef | None,
    workload: JsonDict | None,
    pods: list[JsonDict],
    limits: EvidenceLimits,
) -> list[tuple[str, str | None, str]]:
    """Objects whose events are read one field-selected list each, bounded."""
    subjects: list[tuple[str, str | None, str]] = []
    if chosen is not None and chosen.kind != "Namespace":
        subjects.append((chosen.kind, chosen.namespace, chosen.name))
    if workload is not None:
        subjects.append((str(workload.get("kind")), _ns(workload), _name(workload)))
    kept = pods[: limits.max_pods]
    subjects += [("Pod", _ns(p), _name(p)) for p in kept]
    claims = {(_ns(p), claim) for p in kept for claim in claim_names(p)}
    if workload is not None:
        # The claims a Job's own log says it created or waits on (``claims_named_by_run``).
        existing = {
            name
            for (kind, ns, name) in run.objects
            if kind == "PersistentVolumeClaim" and ns == _ns(workload)
        }
        own = [t for t in run.logs if t.source == "scope"]
        logged = claims_named_by_run(workload, kept, own, existing, limits.max_pvcs)
        claims |= {(_ns(workload), claim) for claim in logged}
    nodes = {(p.get("spec") or {}).get("nodeName") for p in kept}
    if chosen is not None and chosen.kind == "Node":
        nodes.add(chosen.name)
    # Where a pod could go is the question when every node was listed: the events of the
    # troubled ones (cordoned, tainted, not ready) say why and since when, as the builder
    # keeps those nodes first.
    troubled = [
        name
        for (kind, _, name), obj in run.objects.items()
        if kind == "Node" and name not in nodes and node_troubled(obj)
    ]
    nodes.update(troubled[: max(limits.max_nodes - len(nodes - {None}), 0)])
    for (kind, ns, name), obj in run.objects.items():
        if kind == "ReplicaSet" and workload is not None:
            if controlled_by(obj, workload):
                subjects.append((kind, ns, name))
        elif kind == "Node" and name in nodes:
            subjects.append((kind, None, name))
        elif kind == "PersistentVolumeClaim" and (ns, name) in claims:
            subjects.append((kind, ns, name))
        elif kind == "HorizontalPodAutoscaler" and workload is not None:
            ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("name") == _name(workload):
                subjects.append((kind, ns, name))
        elif kind in SCALER_KINDS and scalers_of(workload, [obj]):
            # KEDA reports a scaler that cannot read its source on the ScaledObject or Job.
            subjects.append((kind, ns, name))
        elif kind == "CronJob" and workload is not None and controlled_by(workload, obj):
            subjects.append((kind, ns, name))
        elif kind == "Ingress" and _routes_to(obj, run, kept):
            # An ingress controller reports what it cannot build on the Ingress itself.
            subjects.append((kind, ns, name))
        elif kind == "Certificate" or (kind == "CertificateRequest" and _not_ready(obj)):
            # A request that failed: its issuer's events say why (the CA's own error).
            subjects.append((kind, ns, name))
    # The Secrets the pods read and what writes them: their events date a Secret's change.
    writers = secret_writers(workload, kept, limits.max_config_maps)
    subjects += writers
    unique = list(dict.fromkeys(subjects))
    cap = limits.max_pods + limits.max_revisions + limits.max_nodes + limits.max_pvcs + 8
    cap += len(writers)
    if len(unique) > cap:
        run.truncated.append(f"event lookups: {cap} of {len(unique)} objects")
    return unique[:cap]


def _not_ready(obj: JsonDict) -> bool:
    """Whether an object's ``Ready`` condition is present and not True."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") != "True"
        for c in conditions
    )


def _routes_to(ingress: JsonDict, run: CollectionRun, pods: list[JsonDict]) -> bool:
    """Whether one of the Ingress's backend Services selects one of ``pods``."""
    namespace = _ns(ingress)
    for backend in ingress_backends(ingress):
        service = run.objects.get(("Service", namespace, backend))
        selector = ((service or {}).get("spec") or {}).get("selector") or {}
        if selector and any(
            _ns(p) == namespace
            and service_selects(selector, (p.get("metadata") or {}).get("labels") or {})
            for p in pods
        ):
            return True
    return False
