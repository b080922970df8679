"""The walk to the operator that runs the workload's scalers: once a KEDA ScaledObject or
ScaledJob scales the workload, the operator's pods (in every namespace, by each label the
builder recognises them by: ``OPERATOR_SELECTORS``, ``is_operator_pod``) and the tails of
the troubled ones (marked ``scaler``), which say why it fails
(``kubetriage.evidence.summaries.scaler_operator`` summarises them). The reads go through the
same ``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.summaries.scaler_operator import operator_log_requests
from kubetriage.evidence.summaries.scalers import (
    OPERATOR_SELECTORS,
    SCALER_KINDS,
    is_operator_pod,
    scalers_of,
)
from kubetriage.models.objects import JsonDict
from kubetriage.tenancy import Scope


async def follow_scaler_operator(
    reader: KubeReader,
    run: CollectionRun,
    workload: JsonDict | None,
    scope: Scope,
) -> None:
    """Read the KEDA operator's pods and the tails of its troubled containers into ``run``,
    once a ScaledObject or ScaledJob read scales ``workload``; only under a scope that may
    read every namespace."""
    scaling = [o for (kind, _, _), o in run.objects.items() if kind in SCALER_KINDS]
    if not scope.may_read(None) or not scalers_of(workload, scaling):
        return
    await asyncio.gather(
        *(
            reader.add_listed(
                run, "Pod", None, what="list KEDA operator pods", label_selector=selector
            )
            for selector in OPERATOR_SELECTORS
        )
    )
    pods = [o for (kind, _, _), o in run.objects.items() if kind == "Pod" and is_operator_pod(o)]
    for namespace, pod, container, previous in operator_log_requests(pods):
        await reader.log(run, namespace, pod, container, previous=previous, source="scaler")
