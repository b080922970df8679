"""The health of the KEDA operator that runs the incident's scalers, summarised. Pure.

KEDA's operator runs every scaler of every ScaledObject and ScaledJob in the cluster: it
polls the queues their triggers measure, feeds the HPAs it made and starts the Jobs a
ScaledJob asks for. When its pods crash-loop nothing scales, so a consumer's backlog grows
while the consumer itself looks healthy (or, for a ScaledJob, has nothing running at all).
An operator older than the cluster's API fails at start-up in its own words: controller-
runtime's ``no matches for kind "HorizontalPodAutoscaler" in version "autoscaling/v2beta2"``
after that version is no longer served (``UNSERVED_API``). Its pods are the ones
``is_operator_pod`` recognises (the walk lists them by ``OPERATOR_SELECTORS`` and reads the
tails of the troubled ones); its workload is their owner, the Deployment named by their
ReplicaSet when only the pods were read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.index import ObjectIndex, workload_of
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import LogRequest
from kubetriage.evidence.raw import clip_text, ref_of
from kubetriage.evidence.summaries.scalers import is_operator_pod
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ScalerOperatorEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, pod_workload
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# What a Kubernetes client says when the API server does not serve a kind or version it
# needs (the RESTMapper's NoKindMatchError, a 404 on an unserved group version).
UNSERVED_API: Final = re.compile(
    r"no matches for kind|could not find the requested resource",
    re.IGNORECASE,
)
_MAX_UNSERVED = 3
_MAX_TROUBLES = 3
# The operator's tails read: its first troubled container's previous run (how it ended),
# then its current one.
MAX_OPERATOR_TAILS = 2


def _workload_ref(index: ObjectIndex, pod: JsonDict) -> ObjectRef:
    """The pod's workload; the Deployment its ReplicaSet is named after when neither was
    read (a ReplicaSet is named ``<deployment>-<pod-template-hash>``); else the pod."""
    workload = workload_of(index, pod)
    if workload is not None:
        return ref_of(workload)
    found = pod_workload(pod)
    if found is not None and found[0] == "Deployment":
        return ObjectRef(
            kind="Deployment", name=found[1], namespace=_ns(pod), api_version="apps/v1"
        )
    return ref_of(pod)


def operator_log_requests(pods: Iterable[JsonDict]) -> list[LogRequest]:
    """The tails worth reading of the operator's ``pods``: the previous and the current log
    of the first troubled container (``pod_trouble``), at most ``MAX_OPERATOR_TAILS``."""
    for pod in pods:
        trouble = pod_trouble(pod)
        if trouble is not None and trouble.container:
            return [
                (_ns(pod), _name(pod), trouble.container, previous) for previous in (True, False)
            ][:MAX_OPERATOR_TAILS]
    return []


def scaler_operator_summary(
    index: ObjectIndex, logs: Iterable[LogTail], limits: EvidenceLimits
) -> ScalerOperatorEvidence | None:
    """The KEDA operator's pods read (those of its first workload), how many run without
    trouble, what is wrong with the others, and the lines of their tails (any read) saying
    an API it needs is not served; None when no operator pod was read."""
    pods = [p for p in index.kind("Pod") if is_operator_pod(p)]
    if not pods:
        return None
    workload = _workload_ref(index, pods[0])
    pods = [p for p in pods if _workload_ref(index, p) == workload]
    troubles = [t for p in pods if (t := pod_trouble(p)) is not None]
    names = {(_ns(p), _name(p)) for p in pods}
    unserved: list[str] = []
    for tail in logs:
        if (tail.namespace, tail.pod) not in names:
            continue
        for line in tail.lines:
            clipped = clip_text(line.strip(), limits.max_log_line_bytes) or ""
            if UNSERVED_API.search(line) and clipped not in unserved:
                unserved.append(clipped)
    return ScalerOperatorEvidence(
        workload=workload,
        pods=len(pods),
        ready=len(pods) - len(troubles),
        troubles=troubles[:_MAX_TROUBLES],
        unserved=unserved[:_MAX_UNSERVED],
    )
