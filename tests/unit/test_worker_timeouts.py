"""Checks that request workers killed past their timeout (gunicorn ``WORKER TIMEOUT``, unicorn
``timeout (31s > 30s), killing``, Puma ``Terminating timed out worker``) read as calls that did
not come back when the workload's CPU idles: a dependency failure escalated to the one Service
its configuration names; and that they do not when the workers were computing or something
else explains them (CPU throttled or at its limit, more requests, a rollout of the workload
lately), nor when no configured Service is there to blame.

Real: the analyzer registry (``run_analyzers``) and ``kubetriage.analyzers.worker_timeouts``
on Evidence models from ``tests.support.evidence``; pods, Services, env values, log lines and
metric summaries are synthetic.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.worker_timeouts import WORKER_TIMEOUT_LOG, waiting_worker_timeouts
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

POD = "cart-api-7f6c9b8d54-h2mcx"
CART = ObjectRef(kind="Deployment", namespace="shop", name="cart-api")
TAX = ObjectRef(kind="Service", namespace="shop", name="tax")
GUNICORN = "\n".join(
    [
        "[2026-11-20 09:57:31 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:412)",
        "[2026-11-20 09:57:32 +0000] [1] [ERROR] Worker (pid:412) was sent SIGKILL! "
        "Perhaps out of memory?",
        "[2026-11-20 09:57:32 +0000] [498] [INFO] Booting worker with pid: 498",
        "[2026-11-20 09:57:54 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:437)",
    ]
)
SEL = f'pod="{POD}",container="app"'
USAGE = f"sum(rate(container_cpu_usage_seconds_total{{{SEL}}}[5m]))"


def _evidence(
    logs: str = GUNICORN,
    *,
    metrics: list[MetricSummary] | None = None,
    services: tuple[str, ...] = ("cart-api", "tax"),
    changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    return make.app_evidence(
        POD,
        make.container(
            "app",
            env={"TAX_URL": "http://tax.shop.svc.cluster.local:8080"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
        logs=logs,
        services=[make.service(name, ready=2, matching=2) for name in services],
        metrics=metrics or [make.metric(USAGE, first=0.23, last=0.08, name="cpu_usage_cores")],
        changes=changes or [],
    )


@pytest.mark.parametrize(
    "line",
    [
        "[2026-11-20 09:57:31 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:412)",
        "E, [2026-11-20T09:57:31.118 #1] ERROR -- : worker=2 PID:4417 timeout (31s > 30s), killing",
        "[1] ! Terminating timed out worker (worker failed to check in within 60 seconds): 4417",
    ],
)
def test_the_prefork_servers_timeout_lines_are_recognised(line: str) -> None:
    assert WORKER_TIMEOUT_LOG.search(line)


def test_an_ordinary_timeout_or_a_boot_line_is_not_a_worker_timeout() -> None:
    assert not WORKER_TIMEOUT_LOG.search("[1] [INFO] Booting worker with pid: 498")
    assert not WORKER_TIMEOUT_LOG.search("ReadTimeout: HTTPConnectionPool read timed out")


def test_workers_killed_while_the_cpu_idles_escalate_to_the_configured_callee() -> None:
    finding = assert_leads(analyze(_evidence()), Category.DEPENDENCY_FAILURE, Action.ESCALATE, TAX)
    assert "request timeout" in finding.summary
    assert any("WORKER TIMEOUT" in e.fact for e in finding.evidence)


def test_throttled_workers_computed_rather_than_waited() -> None:
    throttled = make.metric(
        f"sum(rate(container_cpu_cfs_throttled_periods_total{{{SEL}}}[5m]))"
        f" / sum(rate(container_cpu_cfs_periods_total{{{SEL}}}[5m]))",
        first=0.05,
        last=0.6,
        name="cpu_throttled_ratio",
    )
    ev = _evidence(metrics=[throttled])
    assert waiting_worker_timeouts(ev) == []
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_cpu_at_its_limit_means_the_workers_computed() -> None:
    pinned = make.metric(USAGE, first=0.4, last=0.97, name="cpu_usage_cores")
    assert waiting_worker_timeouts(_evidence(metrics=[pinned])) == []


def test_more_requests_explain_the_timeouts_better_than_a_callee() -> None:
    rate = make.metric(
        'sum(rate(http_requests_total{job="cart-api"}[5m]))',
        first=40.0,
        last=95.0,
        name="http_request_rate",
        trend="rising",
    )
    idle = make.metric(USAGE, first=0.2, last=0.3, name="cpu_usage_cores")
    assert waiting_worker_timeouts(_evidence(metrics=[idle, rate])) == []


def test_a_rollout_of_the_workload_lately_may_have_cut_the_timeout_itself() -> None:
    ev = _evidence(changes=[make.rollout_change(CART, 43, "args", minutes_ago=40)])
    assert waiting_worker_timeouts(ev) == []
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_without_a_configured_service_no_dependency_is_named() -> None:
    result = analyze(_evidence(services=("cart-api",)))
    assert not by_category(result, Category.DEPENDENCY_FAILURE)


def test_no_worker_timeout_no_finding() -> None:
    ev = _evidence("[2026-11-20 09:57:32 +0000] [498] [INFO] Booting worker with pid: 498")
    assert waiting_worker_timeouts(ev) == []
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_without_a_configured_service_the_timeouts_blame_no_unnamed_host() -> None:
    """Worker-timeout lines name no host: with no Service to point at they are no 'failing
    call to an unnamed host' either."""
    result = analyze(_evidence(services=("cart-api",)))
    assert not [f for f in by_category(result, Category.UNKNOWN) if "request timeout" in f.summary]
