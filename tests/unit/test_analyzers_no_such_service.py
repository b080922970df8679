"""Checks a lookup the cluster DNS answers "no such name" for a Service in another namespace:
the Service does not exist, so the caller's configured name is wrong and the dependency is not
blamed as down (its finding stays low, and an edit of the caller's ConfigMap right before the
errors leads); a refused connection to the same name, or a Service the evidence did read,
keeps the dependency finding.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.dependency_failure import CONFIDENCE
from kubetriage.dns_errors import DNS_NO_SUCH_NAME, DNS_RESOLVER_FAILURE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, ServiceEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, by_category

HOST = "fx-rate.market-data.svc.cluster.local"
NO_SUCH_HOST = (
    f'level=ERROR msg="fx lookup failed" err="Get \\"http://{HOST}:8080/v2/rates\\": '
    f'dial tcp: lookup {HOST} on 10.96.0.10:53: no such host"'
)
REFUSED = (
    f'level=ERROR msg="fx lookup failed" err="Get \\"http://{HOST}:8080/v2/rates\\": '
    'dial tcp 10.96.12.7:8080: connect: connection refused"'
)


def _calling(line: str, **fields: object) -> Evidence:
    return make.checkout_evidence(logs=[make.checkout_log(f"{line}\n{line}")], **fields)


def test_the_resolver_answering_no_such_name_is_told_from_failing_to_answer() -> None:
    assert DNS_NO_SUCH_NAME.search(NO_SUCH_HOST)
    assert not DNS_RESOLVER_FAILURE.search(NO_SUCH_HOST)
    assert DNS_NO_SUCH_NAME.search("getaddrinfo ENOTFOUND fx-rate.market-data")
    assert DNS_NO_SUCH_NAME.search("Name does not resolve")  # musl
    assert not DNS_NO_SUCH_NAME.search("lookup fx on 10.96.0.10:53: i/o timeout")
    assert not DNS_NO_SUCH_NAME.search("getaddrinfo EAI_AGAIN fx-rate")


def test_a_service_name_that_does_not_resolve_is_not_blamed_as_down() -> None:
    findings = by_category(analyze(_calling(NO_SUCH_HOST)), Category.DEPENDENCY_FAILURE)
    assert findings
    assert all(f.confidence <= CONFIDENCE.no_such_service_cap for f in findings)


def test_a_refused_connection_to_the_same_service_keeps_the_dependency_finding() -> None:
    findings = by_category(analyze(_calling(REFUSED)), Category.DEPENDENCY_FAILURE)
    assert max(f.confidence for f in findings) >= CONFIDENCE.named


def test_a_service_the_evidence_read_is_not_taken_for_a_missing_one() -> None:
    read = ServiceEvidence(
        name="fx-rate", namespace="market-data", selector={"app": "fx-rate"}, ready_endpoints=0
    )
    ev = _calling(NO_SUCH_HOST, services=[read])
    findings = by_category(analyze(ev), Category.DEPENDENCY_FAILURE)
    assert max(f.confidence for f in findings) > CONFIDENCE.no_such_service_cap


def test_the_callers_config_map_edited_right_before_the_lookups_failed_leads() -> None:
    edit = ChangeEvidence(
        at=ago(40),
        kind="config",
        object=ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-upstreams"),
        aspects=["data"],
        details=["last written"],
    )
    errors = make.error_ratio(first=0.001, last=0.7, changed_minutes_ago=39, trend="rising")
    ev = _calling(NO_SUCH_HOST, changes=[edit], metrics=[errors])
    top = analyze(ev).findings[0]
    assert (top.category, top.action) == (Category.CONFIG_MISSING, Action.FIX_CONFIG)
    assert top.target == edit.object
