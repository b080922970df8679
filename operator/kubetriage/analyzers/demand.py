"""Reading demand and strain from the metric summaries: which series are request rates (also
when counted by a latency histogram), latencies or errors; whether demand grew or stayed
flat; the latency and error series that rose, or the firing alert that says so when no
series does; and how many replicas a growth factor asks for. Shared by the saturation,
capacity, throttling and bad-rollout rules.

Pure functions of Evidence.
"""

from __future__ import annotations

import math
import re

from kubetriage import prose
from kubetriage.analyzers.support import DOUBLING, RISE, item, metric_growth
from kubetriage.evidence.queries import alert_families
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import MetricSummary

# Replicas multiply by the growth of demand, within these bounds; by SCALE_BY when unknown.
SCALE_MIN = 1.5
SCALE_MAX = 4.0
SCALE_BY = 2.0
# Request rates that grew less than this over the window are flat: no more demand.
FLAT_DEMAND = 1.2
# The window the metrics cover (seconds): what changed "in the window".
WINDOW_SECONDS = 3600.0

RATE_NAME = re.compile(
    r"(?i)(requests?_total|requests?_per_second|request_rate|\brps\b|qps|_requests\b|"
    r"throughput|traffic)"
)
LATENCY_NAME = re.compile(r"(?i)(latency|duration_seconds|response_time|p9[059]|slow)")
# A summary's series of the time its requests took, by its unit (a quantile label says which).
_REQUEST_TIME = re.compile(r"(?i)requests?_(seconds|milliseconds)$")
ERROR_NAME = re.compile(r"(?i)(error|5xx|failed|failure)")
# Queues and consumer lag: work waiting for the consumers.
QUEUE_NAME = re.compile(r"(?i)(queue|backlog|consumer_lag|_lag\b|pending_jobs|depth)")
_DIVIDED = re.compile(r"\)\s*/\s*")
# The labels a request counter splits its series by response status (Prometheus client
# libraries, ingress-nginx, Envoy, OpenTelemetry's semantic conventions); a series of a
# 5xx status counts failures. gRPC's status code label: any code but OK is a failure.
_STATUS_LABELS = (
    "status",
    "code",
    "status_code",
    "response_code",
    "http_status",
    "http_status_code",
    "http_response_status_code",
    "envoy_response_code",
)
_GRPC_STATUS_LABELS = ("grpc_code", "grpc_status", "rpc_grpc_status_code")
# An error ratio at least this high over the whole window: every request counted failed, so
# the request rate counts failures (and their retries), not demand.
ALL_FAILING = 0.95


def counts_failures(metric: MetricSummary) -> bool:
    """A series of failures: named so (``http_5xx``, ``errors_total``) or, by its labels, the
    requests answered with a server error (``status="504"``, ``code="5xx"``) or a gRPC code
    other than OK."""
    if ERROR_NAME.search(f"{metric.name} {metric.query}"):
        return True
    labels = metric.labels
    if any(labels.get(key, "").lower().startswith("5") for key in _STATUS_LABELS):
        return True
    return any(labels.get(key, "OK") not in ("OK", "0", "") for key in _GRPC_STATUS_LABELS)


def is_traffic(metric: MetricSummary) -> bool:
    """A request-rate series, by what it is named (``http_request_rate``...) or computes: also
    when it is read from a latency histogram's ``_count``, whose query names the histogram.
    Not a series of failures (``counts_failures``): its rate is the errors', not demand."""
    if counts_failures(metric) or _DIVIDED.search(metric.query):
        return False  # an error ratio or rate, or a per-request cost
    if RATE_NAME.search(metric.name):
        return True
    return bool(RATE_NAME.search(metric.query)) and not LATENCY_NAME.search(metric.query)


def measures_latency(metric: MetricSummary) -> bool:
    """A latency series (a quantile, a mean duration), not the request rate counted by a
    latency histogram; also a summary's quantile of its requests' time, as Micrometer names
    it (``http_server_requests_seconds{quantile="0.99"}``)."""
    if "quantile" in metric.labels and _REQUEST_TIME.search(metric.name):
        return True
    return bool(LATENCY_NAME.search(f"{metric.name} {metric.query}")) and not is_traffic(metric)


def is_rate(metric: MetricSummary) -> bool:
    """Raw counters always rise; only rates (or gauges) say demand changed."""
    counter = metric.name.endswith("_total") or re.search(r"_total\b", metric.query) is not None
    return not counter or re.search(r"\b(i?rate|increase|deriv)\(", metric.query) is not None


def alerted_strain(evidence: Evidence) -> list[EvidenceItem]:
    """A firing alert that says the service is slow or failing, when no series says so."""
    return [
        item("alert", f"{a.labels.get('alertname', 'alert')} fires")
        for a in evidence.alerts
        if a.status != "resolved" and {"latency", "errors"} & alert_families([a])
    ][:1]


def replicas_for(current: int, factor: float) -> int:
    """The replicas ``current`` grows to by ``factor``: at least one more."""
    return max(current + 1, math.ceil(current * factor))


def scale_params(evidence: Evidence, factor: float) -> dict[str, str]:
    current = 1
    if evidence.workload is not None:
        current = max(evidence.workload.desired_replicas or 1, evidence.workload.ready_replicas, 1)
    return {"replicas": str(replicas_for(current, factor))}


# Alert labels that say where it fires or how urgent it is, never what it is about.
_PLACE_LABELS = frozenset({"alertname", "severity", "namespace", "job", "instance", "prometheus"})


def alert_named(evidence: Evidence) -> set[str]:
    """The values of the firing alerts' other labels (an upstream cluster, a destination
    service, a route): the names an object the alert is about may carry."""
    return {
        value
        for a in evidence.alerts
        if a.status != "resolved"
        for key, value in a.labels.items()
        if key not in _PLACE_LABELS and value
    }


def only_failures_counted(evidence: Evidence) -> bool:
    """An error ratio at ALL_FAILING or above all window: the requests the service counts
    are failures, whose rate grows with the outage and its retries, not with demand."""
    return any(
        ERROR_NAME.search(f"{m.name} {m.query}")
        and _DIVIDED.search(m.query)
        and m.min is not None
        and m.min >= ALL_FAILING
        for m in evidence.metrics
    )


def traffic_rose(evidence: Evidence) -> bool:
    return rising_traffic(evidence) is not None


def rising_traffic(evidence: Evidence) -> MetricSummary | None:
    """The first request-rate series of the workload that rose by RISE or more in the window;
    None when none did, or when only failures are counted."""
    if only_failures_counted(evidence):
        return None
    return next(
        (
            m
            for m in evidence.metrics
            if is_traffic(m) and is_rate(m) and (g := metric_growth(m)) is not None and g >= RISE
        ),
        None,
    )


def latency_alerted(evidence: Evidence) -> list[EvidenceItem]:
    """The firing alert that says the service is slow, when no latency series of the
    service's own was found: then the alert is the symptom's only measure. A latency series
    in the evidence is read instead (a spike that is over is no strain)."""
    if any(measures_latency(m) for m in evidence.metrics):
        return []
    return latency_alert(evidence)


def latency_alert(evidence: Evidence) -> list[EvidenceItem]:
    """The firing alert that says the service is slow, as a fact (at most one)."""
    return [
        item("alert", f"{a.labels.get('alertname', 'alert')} fires: latency is up")
        for a in evidence.alerts
        if a.status != "resolved" and "latency" in alert_families([a])
    ][:1]


def strain_facts(evidence: Evidence) -> list[EvidenceItem]:
    """Latency series that rose (RISE) and error series that doubled, as facts."""
    return [
        item(
            "metrics",
            f"{m.name or m.query}: {prose.number(m.first or m.min or 0.0)} -> "
            f"{prose.number(m.last)}",
        )
        for m in evidence.metrics
        if m.last is not None
        and (g := metric_growth(m)) is not None
        and (
            (measures_latency(m) and g >= RISE)
            or (counts_failures(m) and is_rate(m) and g >= DOUBLING)
        )
    ][:2]


def flat_demand(evidence: Evidence) -> EvidenceItem | None:
    """The request rate, when every request-rate series grew less than FLAT_DEMAND (or fell)
    over the window."""
    rates = [
        (m, g)
        for m in evidence.metrics
        if is_traffic(m) and is_rate(m) and (g := metric_growth(m)) is not None
    ]
    if not rates or any(g >= FLAT_DEMAND for _, g in rates):
        return None
    metric, growth = rates[0]
    return item(
        "metrics",
        f"{metric.name or metric.query}: {prose.number(metric.first or metric.min or 0.0)} -> "
        f"{prose.number(metric.last or 0.0)} (x{growth:.1f})",
    )
