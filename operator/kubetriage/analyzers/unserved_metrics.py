"""The unserved-metric rule: the autoscaler of the incident's workload cannot read its custom
or external metric (``ScalingActive=False``, ``FailedGetExternalMetric``...) and the
aggregated API it asks is up (its APIService Available) but answers that it serves no such
metric ("the server could not find the requested resource"). The metrics adapter behind it
(prometheus-adapter, a KEDA or Datadog metrics server) runs; what it serves comes from its
configuration, which no longer defines that metric: a rules file it read at start, from the
ConfigMap its pods mount. Meanwhile the autoscaler keeps the replica count it had (often its
minimum after a quiet night) whatever the load. An SRE restores the metric's rule in that
ConfigMap (and restarts the adapter); with no single ConfigMap in view, hands the adapter's
Service to its owner.

An unavailable API (the adapter down, its certificate refused) is the aggregated-API and
capacity rules' case, not this one. Registered in ``kubetriage.analyzers.ANALYZERS``; pure
functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import AggregatedApiEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import AutoscalerEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an unserved-metric finding is, by the evidence that earns it."""

    # The workload's autoscaler is blind on a metric an Available API says it does not
    # serve, and the adapter's pods mount one ConfigMap: above the capacity rule's blind
    # autoscaler (0.65), which only says the replicas cannot follow the load.
    config: float = 0.8
    # ... but no single ConfigMap of the adapter is in view: escalate to its Service.
    service_only: float = 0.7


CONFIDENCE: Final = _Confidence()
# Where the kubelet mounts the service-account token and CA (a projected kube-root-ca.crt):
# not a configuration the server was given.
_TOKEN_PATH = "/var/run/secrets/"


def _blind_autoscaler(evidence: Evidence, api: AggregatedApiEvidence) -> AutoscalerEvidence | None:
    """The autoscaler of the incident's workload among those ``api`` leaves blind."""
    if evidence.workload is None:
        return None
    workload = evidence.workload.ref
    blind = {(ref.namespace, ref.name) for ref in api.autoscalers}
    return next(
        (
            hpa
            for hpa in evidence.autoscalers
            if hpa.scales(workload) and (hpa.namespace, hpa.name) in blind
        ),
        None,
    )


def _adapter_config(api: AggregatedApiEvidence) -> ObjectRef | None:
    """The one ConfigMap the API's backend pods mount as configuration, if exactly one."""
    if api.backend is None or api.service is None:
        return None
    names = {
        mount.name
        for mount in api.backend.config_mounts
        if mount.kind == "ConfigMap" and not mount.path.startswith(_TOKEN_PATH)
    }
    if len(names) != 1:
        return None
    return ObjectRef(kind="ConfigMap", namespace=api.service.namespace, name=names.pop())


def _finding(api: AggregatedApiEvidence, hpa: AutoscalerEvidence) -> Finding | None:
    if api.service is None:
        return None
    config = _adapter_config(api)
    target, action, confidence = (
        (config, Action.FIX_CONFIG, CONFIDENCE.config)
        if config is not None
        else (api.service, Action.ESCALATE, CONFIDENCE.service_only)
    )
    metrics = ", ".join(api.missing_metrics[:3])
    condition = next(
        (c for c in hpa.conditions if c.type == "ScalingActive" and c.status == "False"), None
    )
    blind = item(
        f"hpa/{hpa.namespace}/{hpa.name}",
        f"ScalingActive=False {condition.reason if condition else ''}: "
        f"{condition.message if condition and condition.message else metrics}",
    )
    held = item(
        f"hpa/{hpa.namespace}/{hpa.name}",
        f"holds {hpa.current_replicas} replicas (minimum {hpa.min_replicas}, "
        f"maximum {hpa.max_replicas})",
    )
    served = item(
        f"apiservice/{api.name}",
        f"Available, served by {prose.obj(api.service)}; answers that it has no metric {metrics}",
    )
    facts = [blind, held, served]
    hpa_ref = ObjectRef(kind="HorizontalPodAutoscaler", namespace=hpa.namespace, name=hpa.name)
    claims = [
        prose.claim(
            f"{prose.obj(hpa_ref)} cannot read its metric, so it does not scale", blind, held
        ),
        prose.claim(
            f"APIService {api.name} is up but does not serve {metrics}: nothing defines it",
            served,
        ),
    ]
    if config is not None:
        mounted = item(object_source(api.service), f"its pods mount ConfigMap {config.name}")
        facts.append(mounted)
        claims.append(prose.claim(f"The adapter reads its rules from {prose.obj(config)}", mounted))
    return make_finding(
        "unserved-metric",
        Category.CONFIG_MISSING,
        confidence,
        prose.narrative(
            f"The metrics adapter serves no {metrics}",
            f"restore the metric's rule in {prose.obj(target)}"
            if config is not None
            else f"escalate to the owner of {prose.obj(target)}",
            because=claims,
        ),
        facts,
        action,
        target,
        {},
    )


def check_unserved_metrics(evidence: Evidence) -> list[Finding]:
    return [
        finding
        for api in evidence.aggregated_apis
        if api.missing_metrics
        and (hpa := _blind_autoscaler(evidence, api)) is not None
        and (finding := _finding(api, hpa)) is not None
    ]


UNSERVED_METRIC_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("unserved-metric", (Category.CONFIG_MISSING,), check_unserved_metrics),
)
