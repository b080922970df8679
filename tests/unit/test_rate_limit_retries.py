"""Checks two readings the rate-limited dependency rule makes of a client's logs: Azure
Cosmos DB's own refusal ("TooManyRequests (429)", "Request rate is large", error 16500 on
its MongoDB API) counts as a call refused for rate, and when the refused lines quote only
the server's error, the host the same container says it retries against names the callee
(an ExternalName Service standing for a managed database), over an autoscaler at its
maximum. The near misses: a retry line naming a host no Service stands for, and retries in
a container whose calls are not refused.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.rate_limits import rate_limited_calls, retried_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence, LogTail
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

USERS = ObjectRef(kind="Deployment", namespace="shop", name="users")
DATABASE = ObjectRef(kind="Service", namespace="shop", name="users-db")
_POD = "users-6f8b9c7d5d-b2k7d"
_HOST = "users-prod.mongo.cosmos.azure.com"

_REFUSED = (
    "<error>: Failed to find user from MongoDB: Error=16500, Details='Response status code "
    "does not indicate success: TooManyRequests (429); Reason: Request rate is large. More "
    "Request Units may be needed'"
)
_RETRY = f"<warning>: retrying command find on {_HOST}:10255 after 412ms (attempt 2/5)"


def _hpa() -> AutoscalerEvidence:
    return autoscalers.hpa(USERS, current=4, maximum=4, limited=True)


def _evidence(logs: str, host: str = _HOST) -> Evidence:
    return make.app_evidence(
        _POD,
        make.container("users"),
        workload=make.deployment("users"),
        logs=logs,
        services=[make.external_service("users-db", host)],
        autoscalers=[_hpa()],
    )


def test_cosmos_db_request_rate_is_large_counts_as_refused_for_rate() -> None:
    ev = _evidence(f"{_REFUSED}\n{_REFUSED}\n")
    assert len(rate_limited_calls(ev)) == 2


def test_the_host_a_refused_client_retries_names_the_callee_over_the_autoscaler() -> None:
    ev = _evidence(f"{_REFUSED}\n{_RETRY}\n{_REFUSED}\n")
    assert retried_hosts(rate_limited_calls(ev)) == [_HOST]
    first = assert_leads(analyze(ev), Category.DEPENDENCY_FAILURE, Action.ESCALATE, DATABASE)
    assert first.analyzer == "rate-limited-dependency"


def test_a_retried_host_no_service_stands_for_names_no_callee() -> None:
    ev = _evidence(f"{_REFUSED}\n{_RETRY}\n{_REFUSED}\n", host="other.example.com")
    assert not [f for f in analyze(ev).findings if f.analyzer == "rate-limited-dependency"]
    assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, USERS)


def test_refusals_without_a_retry_line_name_no_host() -> None:
    ev = _evidence(f"{_REFUSED}\n{_REFUSED}\n")
    assert retried_hosts(rate_limited_calls(ev)) == []


def test_retries_of_a_container_whose_calls_are_not_refused_name_no_host() -> None:
    ev = _evidence(f"{_REFUSED}\n{_REFUSED}\n")
    other = LogTail(namespace="shop", pod="reports-5d9c8b7f6-q2w8e", container="reports")
    other.lines.append(_RETRY)
    ev = ev.model_copy(update={"logs": [*ev.logs, other]})
    assert retried_hosts(rate_limited_calls(ev)) == []
    assert not [f for f in analyze(ev).findings if f.analyzer == "rate-limited-dependency"]
