"""Checks when failing probes are the fault and when they only report another one: probes
refused while the process exits by itself (a crash), a probe answered with a server error
(the application reports itself unhealthy), and a probe the last rollout changed on pods that
run (the probe, not the release).

Everything is real: Evidence models built by ``tests.support.evidence`` and the full analyzer
registry via ``run_analyzers``; nothing is mocked.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ContainerEvidence,
    ContainerPort,
    ProbeSpec,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, ago, analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
_PROBES = [
    make.http_probe("liveness", "/healthz", 8080),
    make.http_probe("readiness", "/readyz", 8080),
]
_REFUSED = (
    'probe failed: Get "http://10.1.2.3:8080/{path}": '
    "dial tcp 10.1.2.3:8080: connect: connection refused"
)


def _refused_probes(app: ContainerEvidence) -> Evidence:
    return make.checkout_evidence(
        app,
        workload=make.deployment(ready=0),
        events=[
            make.event(
                "Unhealthy",
                "Readiness " + _REFUSED.format(path="readyz"),
                name=CHECKOUT_POD,
                count=14,
            ),
            make.event(
                "Unhealthy",
                "Liveness " + _REFUSED.format(path="healthz"),
                name=CHECKOUT_POD,
                count=4,
            ),
            make.event("BackOff", "Back-off restarting failed container app", name=CHECKOUT_POD),
        ],
        logs=[make.checkout_log("panic: assignment to entry in nil map\n\ngoroutine 1 [running]:")],
    )


def test_probes_refused_while_the_process_exits_by_itself_are_a_crash() -> None:
    crashing = make.crash_looping(
        "app", exit_code=2, restarts=9, probes=_PROBES, ports=[make.port(8080, "http")]
    )
    result = analyze(_refused_probes(crashing))
    assert_leads(result, Category.CRASH_LOOP, Action.ESCALATE, CHECKOUT)
    assert all(f.confidence <= 0.5 for f in by_category(result, Category.PROBE_FAILURE))


def test_probes_refused_on_a_container_the_kubelet_kills_stay_the_probes_fault() -> None:
    # Near miss: the same events, but the last run ended by SIGKILL after a liveness kill.
    killed = make.container(
        "app",
        ready=False,
        restarts=9,
        state=make.running(),
        last_state=make.terminated("Error", 137),
        probes=_PROBES,
        ports=[make.port(8080, "http")],
    )
    ev = _refused_probes(killed)
    ev.events.append(
        make.event(
            "Killing", "Container app failed liveness probe, will be restarted", name=CHECKOUT_POD
        )
    )
    probe = by_category(analyze(ev), Category.PROBE_FAILURE)[0]
    assert probe.confidence >= 0.85


def _running_unready(readiness: ProbeSpec, port: ContainerPort) -> ContainerEvidence:
    """A running container, not ready, whose readiness probe is ``readiness``."""
    return make.container(
        "app", ready=False, state=make.running(), probes=[readiness], ports=[port]
    )


def _answered(status: str) -> Evidence:
    return make.checkout_evidence(
        _running_unready(
            make.http_probe("readiness", "/api/v1/health", 2020), make.port(2020, "http")
        ),
        events=[
            make.event(
                "Unhealthy", f"Readiness probe failed: {status}", name=CHECKOUT_POD, count=31
            )
        ],
    )


def test_a_probe_answered_with_a_server_error_is_the_application_reporting_a_fault() -> None:
    reported = by_category(
        analyze(_answered("HTTP probe failed with statuscode: 500")), Category.PROBE_FAILURE
    )[0]
    # Near miss: refused on the same probe means nothing answers there: the probe's own fault.
    refused = by_category(
        analyze(_answered('Get "http://10.1.2.3:2020/api/v1/health": connect: connection refused')),
        Category.PROBE_FAILURE,
    )[0]
    assert reported.confidence <= 0.6
    assert refused.confidence >= 0.75


def _new_revision_not_ready(*aspects: str) -> Evidence:
    return make.checkout_evidence(
        _running_unready(
            make.http_probe("readiness", "/actuator/health/readiness", 8081),
            make.port(8080, "http"),
        ),
        workload=make.deployment(ready=2, replicas=2, revision=32),
        revisions=make.rollout_revisions(
            32, {"app": "api:5.5.0"}, {"app": "api:5.4.1"}, minutes_ago=21, old_ready=2
        ),
        changes=[
            ChangeEvidence(
                at=ago(21),
                kind="rollout",
                object=CHECKOUT,
                aspects=list(aspects),
                details=["revision 31 -> 32"],
                from_revision=31,
                to_revision=32,
            )
        ],
        events=[
            make.event(
                "Unhealthy",
                'Readiness probe failed: Get "http://10.1.2.3:8081/actuator/health/readiness": '
                "dial tcp 10.1.2.3:8081: connect: connection refused",
                name=CHECKOUT_POD,
                count=126,
            )
        ],
    )


def test_a_probe_the_last_rollout_changed_fails_on_running_pods_is_the_probe() -> None:
    changed = by_category(
        analyze(_new_revision_not_ready("image", "probes")), Category.PROBE_FAILURE
    )[0]
    # Near miss: the same failure after a rollout that left the probes alone.
    unchanged = by_category(analyze(_new_revision_not_ready("image")), Category.PROBE_FAILURE)[0]
    assert changed.confidence >= unchanged.confidence + 0.1
    assert any("changed its probes" in e.fact for e in changed.evidence)


def _wiki_probe_times_out(php_log: str) -> Evidence:
    """The wiki Deployment's pod: an nginx container whose readiness probe times out in front
    of a php-fpm container (CPU 0.5 -> 1.2 cores under a 2-core limit) that logged
    ``php_log``."""
    nginx = make.container(
        "nginx",
        ready=False,
        probes=[make.http_probe("readiness", "/fpm-ping", 8080, timeout_seconds=2)],
    )
    php = make.container("php-fpm", limits={"cpu": "2", "memory": "1Gi"})
    name = "wiki-5d6f7a8b9c-k2x9p"
    return make.evidence(
        workload=make.deployment("wiki", ready=1),
        pods=[make.app_pod(name, nginx, php)],
        revisions=[
            make.revision("wiki-5d6f7a8b9c", 3, {"nginx": nginx.image}, current=True, ready=1)
        ],
        events=[
            make.event(
                "Unhealthy",
                'Readiness probe failed: Get "http://10.1.2.3:8080/fpm-ping": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)",
                name=name,
                count=25,
            )
        ],
        metrics=[
            make.metric(
                "sum by (pod, container) "
                '(rate(container_cpu_usage_seconds_total{namespace="shop"}[5m]))',
                first=0.5,
                last=1.2,
                name="cpu_usage_cores",
                labels={"pod": name, "container": "php-fpm"},
                trend="rising",
                changed_minutes_ago=20,
            )
        ],
        logs=[make.log(name, "php-fpm", php_log)],
    )


def test_a_probe_timing_out_while_the_server_has_no_free_worker_reports_saturation() -> None:
    ev = _wiki_probe_times_out(
        "WARNING: [pool www] server reached pm.max_children setting (16), consider raising it"
    )
    result = analyze(ev)
    wiki = ObjectRef(kind="Deployment", namespace="shop", name="wiki")
    leader = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, wiki)
    probe = by_category(result, Category.PROBE_FAILURE)
    assert probe
    assert probe[0].confidence < leader.confidence
    # Near miss: the same timeout with a server that logs nothing about its workers is the
    # probe's own fault.
    quiet = _wiki_probe_times_out("NOTICE: ready to handle connections")
    assert_leads(analyze(quiet), Category.PROBE_FAILURE, Action.FIX_PROBE, wiki)


def _liveness_times_out(throttled_share: float) -> Evidence:
    """Checkout's liveness probe times out and the kubelet restarts it; its container is
    throttled in ``throttled_share`` of its CFS periods under a 500m limit."""
    app = make.container(
        "app",
        ready=False,
        restarts=4,
        limits={"cpu": "500m", "memory": "1Gi"},
        last_state=make.terminated("Error", 143),
        probes=[make.http_probe("liveness", "/up", 8080, timeout_seconds=2)],
    )
    labels = {"pod": CHECKOUT_POD, "container": "app"}
    return make.checkout_evidence(
        app,
        workload=make.deployment(ready=1),
        events=[
            make.event(
                "Unhealthy",
                'Liveness probe failed: Get "http://10.1.2.3:8080/up": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)",
                name=CHECKOUT_POD,
                count=30,
            ),
            make.event(
                "Killing",
                "Container app failed liveness probe, will be restarted",
                name=CHECKOUT_POD,
                count=4,
            ),
        ],
        metrics=[
            make.metric(
                "container_cpu_cfs_throttled_periods_total",
                first=1000,
                last=1000 + 36000 * throttled_share,
                labels=labels,
            ),
            make.metric("container_cpu_cfs_periods_total", first=50000, last=86000, labels=labels),
        ],
    )


def test_a_liveness_probe_timing_out_while_the_container_is_throttled_is_the_cpu_limit() -> None:
    result = analyze(_liveness_times_out(0.8))
    leader = assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    probe = by_category(result, Category.PROBE_FAILURE)
    assert probe
    assert probe[0].confidence < leader.confidence
    assert any("CFS periods" in e.fact for e in probe[0].evidence)
    # Near miss: the same kills with the container barely throttled are the probe's own.
    assert_leads(
        analyze(_liveness_times_out(0.05)), Category.PROBE_FAILURE, Action.FIX_PROBE, CHECKOUT
    )


# --- a probe timing out on a process its own log shows stuck ----------------------------------


def _new_revision_killed_by_liveness(log_line: str) -> Evidence:
    """Checkout's revision 32 rolled out 40 minutes ago; the kubelet kills its container for a
    liveness probe that times out; its log ends with ``log_line``."""
    app = make.container(
        "app",
        ready=False,
        restarts=3,
        last_state=make.terminated("Error", 137),
        probes=[make.http_probe("liveness", "/live", 8080, timeout_seconds=1)],
    )
    return make.checkout_evidence(
        app,
        workload=make.deployment(ready=1, replicas=2, revision=32),
        revisions=make.rollout_revisions(
            32, {"app": "api:5.5.0"}, {"app": "api:5.4.1"}, minutes_ago=40, old_ready=2
        ),
        changes=[
            ChangeEvidence(
                at=ago(40),
                kind="rollout",
                object=CHECKOUT,
                aspects=["image"],
                details=["revision 31 -> 32"],
                from_revision=31,
                to_revision=32,
            )
        ],
        events=[
            make.event(
                "Unhealthy",
                'Liveness probe failed: Get "http://10.1.2.3:8080/live": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)",
                name=CHECKOUT_POD,
                count=20,
            ),
            make.event(
                "Killing",
                "Container app failed liveness probe, will be restarted",
                name=CHECKOUT_POD,
                count=3,
            ),
        ],
        logs=[make.log(CHECKOUT_POD, "app", f"INFO started\n{log_line}")],
    )


def test_a_probe_timing_out_on_a_deadlocked_or_fd_starved_process_is_not_the_probe() -> None:
    for line in (
        "Found one Java-level deadlock:",
        "accept tcp [::]:8080: accept4: too many open files; retrying in 1s",
        "fatal error: all goroutines are asleep - deadlock!",
    ):
        probe = by_category(analyze(_new_revision_killed_by_liveness(line)), Category.PROBE_FAILURE)
        assert probe
        assert any(line in e.fact for e in probe[0].evidence)
        quiet = by_category(
            analyze(_new_revision_killed_by_liveness("INFO request served")),
            Category.PROBE_FAILURE,
        )
        # Near miss: the same kills with a quiet log keep the probe's full confidence.
        assert probe[0].confidence <= quiet[0].confidence - 0.2
    # The release that made the stuck pods is what to undo.
    assert_leads(
        analyze(_new_revision_killed_by_liveness("Found one Java-level deadlock:")),
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        CHECKOUT,
    )
