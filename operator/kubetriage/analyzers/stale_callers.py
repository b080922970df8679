"""One caller's mesh proxies connect to addresses no workload owns: a service mesh's sidecar
keeps the callee's endpoints as its control plane last pushed them. Istio's source-reported
``istio_requests_total`` (``REQUESTS_BY_SOURCE``, per calling workload) names the
destination workload of every request by the pod the proxy connected to; a request flagged
as an upstream connection failure (``UF``, retries exhausted ``URX``, no healthy upstream
``UH``; ``kubetriage.envoy_flags``) whose destination workload is ``unknown`` went to an
address that belongs to no pod any more: an endpoint removed from the callee (its pods
replaced by a rollout, rescheduled) that this caller's proxies still hold.
When another caller of the same Service reaches it without such failures at the same time,
the callee's pods are not the problem and neither is its rollout: that one caller's proxies
no longer receive configuration (their control plane revision removed, their xDS stream cut).
An SRE restarts that caller so its pods come up with proxies the live control plane serves
(``stale-caller-proxies``), rather than rolling the callee back.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, object_source
from kubetriage.envoy_flags import label_flags
from kubetriage.evidence.query_templates_mesh import REQUESTS_BY_SOURCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a stale-caller-proxies finding is."""

    # One caller's proxies fail to connect to addresses no workload owns while another
    # caller reaches the same Service: above a callee rollout read by its timing (0.88).
    stale_endpoints: float = 0.9


CONFIDENCE: Final = _Confidence()

# Connection failures to the address the proxy picked (not the callee's answers).
_CONNECT_FAILURES: Final = frozenset({"UF", "URX", "UH"})
# Istio's destination workload for an address that belongs to no known pod.
_NO_WORKLOAD: Final = "unknown"


def _from(series: MetricSummary, caller: ObjectRef) -> bool:
    namespace = series.labels.get("source_workload_namespace")
    return series.labels.get("source_workload") == caller.name and namespace in (
        None,
        caller.namespace,
    )


def _flowing(series: MetricSummary) -> bool:
    """A request rate still above zero at the end of the window."""
    return series.last is not None and series.last > 0


def _stale(series: MetricSummary) -> bool:
    """Connection failures to an address no workload owns, still happening."""
    return (
        bool(label_flags(series.labels) & _CONNECT_FAILURES)
        and series.labels.get("destination_workload") == _NO_WORKLOAD
        and _flowing(series)
    )


def _failing(series: MetricSummary) -> bool:
    code = series.labels.get("response_code", "")
    return _flowing(series) and (bool(label_flags(series.labels)) or code.startswith("5"))


def _finding(evidence: Evidence, caller: CallerEvidence) -> Finding | None:
    series = [m for m in evidence.metrics if m.name == REQUESTS_BY_SOURCE]
    stale = [m for m in series if _from(m, caller.ref) and _stale(m)]
    if not stale:
        return None
    failing_sources = {m.labels.get("source_workload") for m in series if _failing(m)}
    healthy = [
        m
        for m in series
        if not _from(m, caller.ref)
        and _flowing(m)
        and m.labels.get("source_workload") not in failing_sources
    ]
    if not healthy:
        return None
    failing = item(
        f"metric {REQUESTS_BY_SOURCE}",
        f"{prose.obj(caller.ref)} -> {prose.obj(caller.callee)}: "
        f"{stale[0].labels.get('response_code', '')} "
        f"{stale[0].labels.get('response_flags', '')} to destination workload unknown, "
        f"{prose.number(stale[0].last or 0)}/s",
    )
    reaching = item(
        f"metric {REQUESTS_BY_SOURCE}",
        f"{healthy[0].labels.get('source_workload', '')} reaches "
        f"{prose.obj(caller.callee)} without failures",
    )
    names = item(object_source(caller.ref), prose.listing(caller.naming_texts(1)))
    return make_finding(
        "stale-caller-proxies",
        Category.NETWORK,
        CONFIDENCE.stale_endpoints,
        prose.narrative(
            f"The mesh proxies of {prose.obj(caller.ref)} hold stale endpoints of "
            f"{prose.obj(caller.callee)}",
            "restart it onto the live control plane",
            because=[
                prose.claim(
                    "Its proxies fail to connect to addresses no workload owns: endpoints "
                    "the callee no longer has",
                    failing,
                ),
                prose.claim(
                    "Another caller reaches the same Service meanwhile: the callee serves, "
                    "only this caller's proxies are no longer updated",
                    reaching,
                ),
            ],
        ),
        [failing, reaching, names],
        Action.RESTART,
        caller.ref,
        {},
    )


def check_stale_caller_proxies(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for caller in evidence.callers:
        finding = _finding(evidence, caller)
        if finding is not None and all(not finding.target.same_object(f.target) for f in findings):
            findings.append(finding)
    return findings


STALE_CALLER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("stale-caller-proxies", (Category.NETWORK,), check_stale_caller_proxies),
)
