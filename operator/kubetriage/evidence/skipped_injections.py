"""Pods a fail-open injector let through without what it injects. A mutating webhook on pod
CREATE (Vault's agent injector, Dapr's sidecar injector, a mesh's proxy injector) adds its
containers to a pod as it is admitted, as the pod's annotations and labels ask. What it
added is what the pod runs beyond its ReplicaSet's template. Two replicas of one workload
whose templates carry the same labels (but the pod-template-hash) and the same annotations
ask the same of it; when one runs injected containers and the other none, the injector was
skipped when the bare one was created: a webhook with ``failurePolicy: Ignore`` that could not
be called (its serving certificate expired, its Service without endpoints) fails open, and
nothing records that skipped call. A release that changed those annotations or labels is a
different story (``template_diff``), so templates that differ are never compared.

The suspects are the fail-open webhooks that intercept pod creation and select the bare pod
(``pod_injectors``): the webhook walk follows their Services, and ``skipped_injector_summaries``
reports each with the Certificates of its Service's namespace (its serving certificate is
one). Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.pod_injectors import injector_backends
from kubetriage.evidence.raw import as_dict, as_str, dicts, ref_of
from kubetriage.evidence.summaries.generic import generic_summary
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import annotations_of as _annotations
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import namespace as _ns

_TEMPLATE_HASH = "pod-template-hash"


def _container_names(spec: JsonDict) -> set[str]:
    """The names of a pod spec's containers and init containers."""
    return {
        name
        for key in ("containers", "initContainers")
        for c in dicts(spec.get(key))
        if (name := as_str(c.get("name")))
    }


def _asks(template: JsonDict) -> tuple[tuple[tuple[str, str], ...], ...]:
    """What a template asks of an injector: its labels (but the pod-template-hash) and
    annotations, as a comparable value."""
    labels = {k: v for k, v in _labels(template).items() if k != _TEMPLATE_HASH}
    return tuple(sorted(labels.items())), tuple(sorted(_annotations(template).items()))


def injected_containers(pod: JsonDict, replica_set: JsonDict) -> set[str]:
    """The containers a pod runs that its ReplicaSet's template does not declare: what
    admission added to it."""
    template = as_dict(as_dict(replica_set.get("spec")).get("template"))
    declared = _container_names(as_dict(template.get("spec")))
    return _container_names(as_dict(pod.get("spec"))) - declared


def skipped_pods(pods: Iterable[JsonDict], replica_sets: Iterable[JsonDict]) -> list[JsonDict]:
    """The pods that run nothing beyond their template while another pod of the same
    Deployment, whose template asks the same (``_asks``), runs injected containers."""
    sets = {(_ns(r), as_str(_meta(r).get("name"))): r for r in replica_sets}
    seen: list[tuple[JsonDict, tuple[str, str], object, bool]] = []
    for pod in pods:
        owner = controller_ref(pod) or {}
        replica_set = sets.get((_ns(pod), as_str(owner.get("name"))))
        if owner.get("kind") != "ReplicaSet" or replica_set is None:
            continue
        workload = controller_ref(replica_set) or {}
        if workload.get("kind") != "Deployment":
            continue
        template = as_dict(as_dict(replica_set.get("spec")).get("template"))
        key = (_ns(pod), as_str(workload.get("name")) or "")
        seen.append((pod, key, _asks(template), bool(injected_containers(pod, replica_set))))
    injected = {(key, asks) for _, key, asks, did in seen if did}
    return [pod for pod, key, asks, did in seen if not did and (key, asks) in injected]


def skipped_injector_summaries(
    index: ObjectIndex,
    now: datetime,
    limits: EvidenceLimits,
    unavailable: Collection[str] = (),
) -> list[WebhookEvidence]:
    """The fail-open pod injectors selecting a pod they skipped (``skipped_pods``), with
    their Service, what stands behind it and its namespace's Certificates; nothing observed
    their failing call (``observed`` False)."""
    pods = skipped_pods(index.kind("Pod"), index.kind("ReplicaSet"))
    if not pods:
        return []
    found: list[WebhookEvidence] = []
    for injector in injector_backends(index, pods, unavailable, limits):
        service = injector.service
        certificates = [
            generic_summary(c, now, limits)
            for c in index.in_namespace("Certificate", service.namespace or "")
        ][: limits.max_other_objects]
        found.append(
            WebhookEvidence(
                name=injector.name,
                failure="other",
                message="",
                blocked=[ref_of(p) for p in injector.selected][:3],
                configuration=ref_of(injector.configuration),
                failure_policy="Ignore",
                service=service,
                certificates=certificates,
                observed=False,
                backend=injector.backend,
            )
        )
    return found[: limits.max_dependencies]
