"""Checks the dependency-saturated rule: a followed dependency that says it is at its
concurrency limit (CoreDNS's forwarder, nginx's worker connections, Tomcat's threads,
PHP-FPM's children) while the caller's calls through it fail is scaled out; and the near
misses (no such words, the caller shows no failing call, a workload that cannot scale out,
a server that refuses work for another reason). And the dependency-overflow rule: the
caller's Envoy sheds calls to a callee with the upstream-overflow flag (UO) while the callee,
all ready, runs its autoscaler's maximum; not for a callee down (UH), short of ready
replicas, or with room to scale.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

COREDNS = ObjectRef(kind="Deployment", namespace="kube-system", name="coredns")
DNS = ServiceEvidence(
    name="kube-dns", namespace="kube-system", selector={"k8s-app": "kube-dns"}, ready_endpoints=2
)
LOOKUP_FAILED = (
    'Post "https://api.example.com/v1/charge": dial tcp: lookup api.example.com on '
    "10.96.0.10:53: server misbehaving"
)


def _resolver(
    said: str,
    *,
    workload: ObjectRef = COREDNS,
    named_by: str = "log shop/checkout-7d9f6c8b5-x2x9k/app",
) -> DependencyEvidence:
    return DependencyEvidence(
        service=DNS,
        workload=workload,
        named_by=naming(named_by),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        logs=[make.log("coredns-5d78c9869d-2vxlp", "coredns", said, namespace="kube-system")],
    )


def _caller(dependency: DependencyEvidence, line: str = LOOKUP_FAILED) -> Evidence:
    return make.checkout_evidence(logs=[make.checkout_log(line)], dependencies=[dependency])


def _rule(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "dependency-saturated"]


@pytest.mark.parametrize(
    "said",
    [
        "[ERROR] plugin/errors: 2 api.example.com. A: concurrent queries exceeded maximum 1000",
        "2026/11/20 09:58:01 [alert] 31#31: 1024 worker_connections are not enough",
        "WARNING [http-nio-8080-Acceptor] All threads (200) are currently busy, waiting.",
        "WARNING: [pool www] server reached pm.max_children setting (5), consider raising it",
        "2026-11-20T09:41:59.403Z\twarn\tmemorylimiter@v0.115.0/memorylimiter.go:212\t"
        "Memory usage is above soft limit. Refusing data.\t"
        '{"kind": "processor", "name": "memory_limiter", "cur_mem_mib": 655}',
    ],
)
def test_a_dependency_at_its_concurrency_limit_is_scaled_out(said: str) -> None:
    finding = assert_leads(
        analyze(_caller(_resolver(said))), Category.RESOURCE_SATURATION, Action.SCALE_OUT, COREDNS
    )
    assert finding.confidence > 0.83


def test_a_dependency_that_says_nothing_of_its_capacity_is_not_scaled_out() -> None:
    assert not _rule(_caller(_resolver("[INFO] plugin/reload: Running configuration")))


def test_a_caller_without_failing_calls_does_not_blame_its_dependency() -> None:
    said = "[ERROR] plugin/errors: 2 api.example.com. A: concurrent queries exceeded maximum 1000"
    ev = _caller(
        _resolver(said, named_by="pod checkout-1 env DNS_SERVER"), line="charge created in 212ms"
    )
    assert not _rule(ev)


def test_a_dependency_that_cannot_scale_out_is_left_to_other_rules() -> None:
    said = "[ERROR] plugin/errors: 2 api.example.com. A: concurrent queries exceeded maximum 1000"
    daemon = ObjectRef(kind="DaemonSet", namespace="kube-system", name="node-local-dns")
    assert not _rule(_caller(_resolver(said, workload=daemon)))


def test_a_relay_refusing_what_it_cannot_pass_on_is_not_short_of_replicas() -> None:
    # The collector refuses at its memory limit because its own exports fail: the next hop
    # is the problem, and more collectors would hold the same undelivered data.
    refusing = (
        "2026-11-20T09:41:59.403Z\twarn\tmemorylimiter@v0.115.0/memorylimiter.go:212\t"
        "Memory usage is above soft limit. Refusing data."
    )
    failing = (
        "2026-11-20T09:41:58.101Z\terror\texporterhelper/queue_sender.go:92\tExporting failed. "
        'Dropping data.\t{"kind": "exporter", "name": "otlp/tempo", "error": "rpc error: '
        'code = Unavailable desc = connection refused"}'
    )
    dependency = _resolver(refusing)
    dependency.logs.append(
        make.log("coredns-5d78c9869d-2vxlp", "coredns", failing, namespace="kube-system")
    )
    assert not _rule(_caller(dependency))


def test_a_server_refusing_connections_is_not_saturated_capacity() -> None:
    said = "FATAL:  sorry, too many clients already"
    assert not _rule(_caller(_resolver(said)))


# The dependency-overflow rule: the caller's Envoy sheds calls with flag UO to a callee that
# is up and at its autoscaler's maximum.
ITEMS = ObjectRef(kind="Deployment", namespace="catalog", name="items")
ITEMS_SERVICE = ServiceEvidence(
    name="items", namespace="catalog", selector={"app": "items"}, ready_endpoints=4
)
ENVOY_LINE = (
    '[2026-11-20T09:58:18.121Z] "GET /v1/items?id=7 HTTP/1.1" 503 {flags} 0 81 0 - "10.1.0.4" '
    '"okhttp/4.12.0" "5e1a3c2b-9d8f" "items.catalog.svc.cluster.local:8080" "-"'
)
ISTIO_LINE = (
    '[2026-11-20T09:59:48.731Z] "GET /v1/items HTTP/2" 503 UO upstream_reset_before_response_'
    'started{overflow} - "-" 0 81 0 - "203.0.113.22" "Mozilla/5.0" "a9b8c7d6" "shop.example" "-" '
    "outbound|8080||items.catalog.svc.cluster.local - 10.8.34.20:8443 203.0.113.22:50122 -"
)


def _callee(
    *, current: int = 4, maximum: int = 4, ready: int = 4, limited: bool = True
) -> DependencyEvidence:
    hpa = autoscalers.hpa(ITEMS, current=current, maximum=maximum, limited=limited)
    return DependencyEvidence(
        service=ITEMS_SERVICE,
        workload=ITEMS,
        named_by=naming("log shop/checkout-7d9f6c8b5-x2x9k/app"),
        desired_replicas=current,
        ready_replicas=ready,
        pods=current,
        autoscalers=[hpa],
    )


def _overflow(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "dependency-overflow"]


@pytest.mark.parametrize("line", [ENVOY_LINE.format(flags="UO"), ISTIO_LINE])
def test_a_callee_at_its_maximum_behind_an_overflowing_breaker_is_scaled_out(line: str) -> None:
    finding = assert_leads(
        analyze(_caller(_callee(), line)), Category.RESOURCE_SATURATION, Action.SCALE_OUT, ITEMS
    )
    assert finding.analyzer == "dependency-overflow"
    assert finding.params["replicas"] == "8"


def test_an_alert_counting_the_overflow_flag_names_the_one_callee_at_its_maximum() -> None:
    ev = _caller(_callee(), "GET /v1/items 200").model_copy(
        update={"alerts": [make.alert(alertname="GatewayOverflow", response_flags="UO")]}
    )
    assert _overflow(ev)


def test_a_callee_with_no_healthy_upstream_is_not_an_overflow() -> None:
    assert not _overflow(_caller(_callee(), ENVOY_LINE.format(flags="UH")))


def test_a_callee_short_of_ready_replicas_is_left_to_the_failure_rules() -> None:
    assert not _overflow(_caller(_callee(ready=1), ENVOY_LINE.format(flags="UO")))


def test_a_callee_with_room_to_scale_is_not_blamed_for_the_breaker() -> None:
    callee = _callee(current=3, maximum=8, limited=False)
    assert not _overflow(_caller(callee, ENVOY_LINE.format(flags="UO")))
