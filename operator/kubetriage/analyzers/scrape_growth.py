"""The ingestion rule: a scraping metrics server (Prometheus, VictoriaMetrics, their agents)
whose pods ran under their memory limit since long before, OOM-killed only after one scrape
job's targets began returning many times the samples they did, is filled by that job: the
server keeps every new series in memory, so a release that labels its metrics with unbounded
values (a user id, a raw path or query string) multiplies what the server holds, and a higher
limit only delays the next kill. An SRE rolls the job's workload back. The job is named after
the Service its ServiceMonitor scraped, which is named after its workload (as
``evidence.queries.build_scope`` reads it); the samples are the server's own synthetic
``scrape_samples_scraped`` series, summed by job (the ``scrape_samples_by_job`` template).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence. ``oom`` caps its
own finding when ``grown_scrape_job`` finds such a job, as it does for a caller's rollout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.callers import oom_killed_pods
from kubetriage.analyzers.support import item, metrics_named, pod_source, states, timestamp
from kubetriage.evidence.label_vocabulary import runs_metrics_server
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an ingestion finding is, by the evidence that earns it."""

    # The server's kills follow one job's samples growing GROWTH-fold, its pods having run
    # since before: above the kill itself, which ``oom`` then keeps at EXPLAINED_CAP (0.75).
    job_grew: float = 0.8


CONFIDENCE: Final = _Confidence()

# The template whose series are the samples per scrape job (``query_templates_cluster``).
SCRAPE_SAMPLES = "scrape_samples_by_job"
# How many times the samples at the window's start a job must return to have grown.
GROWTH = 5.0
# How long before the growth the killed pods must have been running (their limit served them).
RAN_BEFORE = timedelta(minutes=30)


def _growth(metric: MetricSummary) -> float:
    if metric.first is None or metric.first <= 0 or metric.max is None:
        return 0.0
    return metric.max / metric.first


def grown_scrape_job(evidence: Evidence) -> MetricSummary | None:
    """The scrape job whose samples grew the most (GROWTH-fold or more) before the metrics
    server's pods were OOM-killed, when those pods had run since RAN_BEFORE before it grew."""
    if not runs_metrics_server(c.image for p in evidence.pods for c in p.containers):
        return None
    killed = oom_killed_pods(evidence)
    grown = [
        m
        for m in metrics_named(evidence, SCRAPE_SAMPLES, "scrape_samples_scraped")
        if m.changed_at is not None
        and m.labels.get("namespace")
        and m.labels.get("job")
        and _growth(m) >= GROWTH
    ]
    if not killed or not grown:
        return None
    job = max(grown, key=_growth)
    if job.changed_at is None:
        return None
    grew = timestamp(job.changed_at)
    kills = [
        timestamp(state.finished_at)
        for pod in killed
        for container in pod.containers
        for state in states(container)
        if (state.reason or "").lower() == "oomkilled" and state.finished_at is not None
    ]
    ran_before = all(
        pod.created_at is not None
        and grew - timestamp(pod.created_at) >= RAN_BEFORE.total_seconds()
        for pod in killed
    )
    return job if ran_before and kills and max(kills) > grew else None


def check_scrape_growth(evidence: Evidence) -> list[Finding]:
    job = grown_scrape_job(evidence)
    if job is None or job.changed_at is None or job.first is None or job.max is None:
        return []
    namespace, name = job.labels["namespace"], job.labels["job"]
    target = ObjectRef(kind="Deployment", namespace=namespace, name=name)
    grew = item(
        "metrics",
        f"scrape job {namespace}/{name} returned {job.first:.0f} samples per scrape, then up "
        f"to {job.max:.0f} ({_growth(job):.0f}x)",
    )
    killed = [
        item(pod_source(pod), "a container last ended OOMKilled")
        for pod in oom_killed_pods(evidence)[:2]
    ]
    server = prose.obj(evidence.workload.ref) if evidence.workload is not None else "the server"
    because = [
        prose.claim(f"The targets of scrape job {name} began returning far more samples", grew),
        prose.claim(
            f"{server} keeps every series it scrapes in memory; its pods, running since "
            "before, are OOM-killed after that",
            *killed,
        ),
    ]
    return [
        make_finding(
            "scrape-growth",
            Category.BAD_ROLLOUT,
            CONFIDENCE.job_grew,
            prose.narrative(
                f"{prose.obj(target)} began exposing many times the series it did, which "
                f"fills the memory of {server}",
                "roll it back",
                because=because,
            ),
            [grew, *killed],
            Action.ROLLBACK,
            target,
        )
    ]


SCRAPE_GROWTH_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("scrape-growth", (Category.BAD_ROLLOUT,), check_scrape_growth),
)
