"""Checks the rate-limited dependency rule: calls refused "429 Too Many Requests" (or a
provider's throttling error) by a callee lead to that callee, escalated to its owner, and an
autoscaler at its maximum is doubted while they do (more replicas earn more refusals). The
near misses: a single bare 429, the workload's own access log of 429s it served, its own CPU
throttling, and refusals with no callee to name.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.rate_limits import rate_limited_calls
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category, naming

SYNC = ObjectRef(kind="Deployment", namespace="shop", name="sync")
PARTNER = ObjectRef(kind="Service", namespace="egress", name="partner-api")
_POD = "sync-5c8d7f9b6-x2k4p"

_REFUSED = (
    '{"level":"warn","msg":"partner request throttled","method":"POST","path":"/v1/batch",'
    '"status":429,"retry_after_s":10}'
)


def _partner() -> DependencyEvidence:
    svc = make.external_service("partner-api", "api.partner.example", namespace="egress")
    return DependencyEvidence(
        service=svc,
        ref=PARTNER,
        named_by=naming(f"pod {_POD} env PARTNER_URL"),
    )


def _hpa() -> AutoscalerEvidence:
    return autoscalers.hpa(SYNC, current=8, maximum=8, limited=True)


def _evidence(
    logs: str,
    *,
    dependencies: list[DependencyEvidence] | None = None,
    autoscalers: list[AutoscalerEvidence] | None = None,
    services: list[ServiceEvidence] | None = None,
) -> Evidence:
    """sync's worker, which logged ``logs``, calling ``dependencies`` (default: the partner
    API)."""
    return make.app_evidence(
        _POD,
        make.container("worker"),
        workload=make.deployment("sync"),
        logs=logs,
        dependencies=[_partner()] if dependencies is None else dependencies,
        autoscalers=autoscalers or [],
        services=services or [],
    )


def test_calls_refused_for_rate_lead_to_the_callee_over_the_autoscaler_at_its_maximum() -> None:
    ev = _evidence(f"starting\n{_REFUSED}\n", autoscalers=[_hpa()])
    result = analyze(ev)
    first = assert_leads(result, Category.DEPENDENCY_FAILURE, Action.ESCALATE, PARTNER)
    assert first.analyzer == "rate-limited-dependency"
    assert first.narrative is not None
    assert first.narrative.aside == "it points at api.partner.example"
    (saturation,) = by_category(result, Category.RESOURCE_SATURATION)
    assert saturation.confidence < first.confidence
    assert saturation.narrative is not None
    assert any("refused for rate" in c.text for c in saturation.narrative.because)


def test_a_refused_line_naming_its_host_names_the_callee_among_several() -> None:
    other = DependencyEvidence(
        service=make.service("ledger", "payments"),
        ref=ObjectRef(kind="Service", namespace="payments", name="ledger"),
    )
    line = "POST https://api.partner.example/v1/batch failed: 429 Too Many Requests\n"
    ev = _evidence(line, dependencies=[other, _partner()])
    first = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, PARTNER)
    assert first.confidence == 0.8


def test_aws_throttling_errors_count_as_refusals() -> None:
    text = (
        "error calling partner: ThrottlingException: Rate exceeded\n"
        "error calling partner: ThrottlingException: Rate exceeded\n"
    )
    assert len(rate_limited_calls(_evidence(text))) == 2


def test_one_bare_429_is_not_a_limit() -> None:
    ev = _evidence('{"msg":"request failed","status":429}\n', autoscalers=[_hpa()])
    assert not rate_limited_calls(ev)
    assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, SYNC)


def test_429s_the_workload_served_are_its_own_limit_not_a_callee_s() -> None:
    served = '10.0.0.7 - - "POST /v1/batch HTTP/1.1" 429 17 "rate limit exceeded" request\n'
    ev = _evidence(served * 3, autoscalers=[_hpa()])
    assert not rate_limited_calls(ev)
    assert not [f for f in analyze(ev).findings if f.analyzer == "rate-limited-dependency"]


def test_cpu_throttling_in_the_logs_is_not_a_rate_limit() -> None:
    ev = _evidence("warning: CPU throttled by cgroup quota, request slow\n" * 3)
    assert not rate_limited_calls(ev)


def test_refusals_with_no_callee_to_name_make_no_finding() -> None:
    ev = _evidence(f"{_REFUSED}\n{_REFUSED}\n", dependencies=[])
    assert rate_limited_calls(ev)
    assert not [f for f in analyze(ev).findings if f.analyzer == "rate-limited-dependency"]


_ES_REJECTED = (
    '{"level":"error","msg":"bulk item failures","status":429,'
    '"error":"es_rejected_execution_exception: rejected execution of coordinating operation"}'
)
SEARCH = ObjectRef(kind="Service", namespace="search", name="logs-http")


def _broker_and_search(search_selector: dict[str, str]) -> list[DependencyEvidence]:
    broker = DependencyEvidence(
        service=make.service("events-bootstrap", "queues", selector={"app": "broker"}),
        ref=ObjectRef(kind="Service", namespace="queues", name="events-bootstrap"),
        named_by=naming(f"pod {_POD} env BROKERS"),
    )
    search = DependencyEvidence(
        service=make.service("logs-http", "search", selector=search_selector),
        ref=SEARCH,
        named_by=naming(f"pod {_POD} env SINK_URL"),
    )
    return [broker, search]


def test_a_refusal_in_a_servers_own_words_names_that_server_among_several() -> None:
    # A consumer reads a broker and writes a search cluster: the quoted Elasticsearch
    # rejection is the search cluster's, though no line names a host.
    dependencies = _broker_and_search({"common.k8s.elastic.co/type": "elasticsearch"})
    ev = _evidence(f"{_ES_REJECTED}\n{_ES_REJECTED}\n", dependencies=dependencies)
    assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, SEARCH)


def test_a_servers_own_words_name_nothing_when_no_dependency_is_that_server() -> None:
    dependencies = _broker_and_search({"app": "logs"})
    ev = _evidence(f"{_ES_REJECTED}\n{_ES_REJECTED}\n", dependencies=dependencies)
    assert not [f for f in analyze(ev).findings if f.analyzer == "rate-limited-dependency"]
    # Plain 429s quote no server: two dependencies and no host leave the callee unnamed.
    plain = _evidence(f"{_REFUSED}\n{_REFUSED}\n", dependencies=_broker_and_search({"app": "x"}))
    assert not [f for f in analyze(plain).findings if f.analyzer == "rate-limited-dependency"]


_QUOTA = (
    'validateAddress failed status=429 body={"error": {"code": 429, "message": "Quota '
    "exceeded for quota metric 'Validate requests' and limit 'Validate requests per day' of "
    "service 'maps.provider.example' for consumer 'project_number:1234'.\"}}"
)
MAPS = ObjectRef(kind="Service", namespace="shop", name="maps-api")


def _cache() -> DependencyEvidence:
    return DependencyEvidence(
        service=make.service("cache", "shop", selector={"app": "cache"}),
        ref=ObjectRef(kind="Service", namespace="shop", name="cache"),
        named_by=naming(f"pod {_POD} env CACHE_URL"),
    )


def test_a_provider_quoting_its_own_host_names_the_externalname_over_the_one_followed() -> None:
    # The refusal names no URL; the provider's own message quotes its API host, which the
    # namespace's ExternalName stands for, while the one followed dependency is a cache.
    services = [make.external_service("maps-api", "maps.provider.example")]
    ev = _evidence(f"{_QUOTA}\n{_QUOTA}\n", dependencies=[_cache()], services=services)
    first = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, MAPS)
    assert first.confidence == 0.8


def test_a_longer_host_that_contains_the_external_name_is_not_that_provider() -> None:
    # "eu.maps.provider.example" and "maps.provider.example.internal" are other hosts: the
    # refusal stays with the one dependency the configuration names.
    services = [make.external_service("maps-api", "maps.provider.example")]
    for host in ("eu.maps.provider.example", "maps.provider.example.internal"):
        line = _QUOTA.replace("maps.provider.example", host)
        ev = _evidence(f"{line}\n{line}\n", dependencies=[_cache()], services=services)
        cache = ObjectRef(kind="Service", namespace="shop", name="cache")
        first = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, cache)
        assert first.confidence == 0.75


def test_a_google_api_quota_refusal_counts_with_its_status_word() -> None:
    """RESOURCE_EXHAUSTED is Google APIs' status for a spent quota (their 429): a client's
    failed attempt quoting it and the library's TooManyRequests line make a limit."""
    text = (
        "WARNING client: translate failed chars=2841 attempt=3/3 status=RESOURCE_EXHAUSTED\n"
        "ERROR api: google.api_core.exceptions.TooManyRequests: 429 Quota exceeded for "
        "quota metric 'Number of characters'\n"
    )
    assert len(rate_limited_calls(_evidence(text))) == 2
    ev = _evidence(text, autoscalers=[_hpa()])
    assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, PARTNER)


def test_a_grpc_message_over_the_size_limit_is_no_rate_refusal() -> None:
    text = (
        "error calling partner: RESOURCE_EXHAUSTED: gRPC message exceeds maximum size 4194304\n"
    ) * 3
    assert not rate_limited_calls(_evidence(text))
