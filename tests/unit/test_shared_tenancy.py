"""Checks two pieces of reasoning about infrastructure several teams share.

A shared ingress controller: the controller serving the workload's Ingress
(``DependencyEvidence.fronts_workload``) runs its autoscaler's maximum of replicas while a
latency alert fires and the workload's own pods all run and are ready; every request crosses
the controller first, so it is short of replicas for all the hosts it serves
(``request-path-saturation``, scale the controller out). Near misses: the controller has
replicas to spare, or the workload's own pods fail (then they are the story).

A shared Kafka cluster: a producer's batch expiry ("Expiring N record(s) for ...: N ms has
passed since batch creation"), a produce response ``REQUEST_TIMED_OUT`` and librdkafka's
"Local: Message timed out" say the brokers did not answer in time, so another caller's
rollout right before the onset is rolled back (``shared-dependency``), as for any loaded
shared server.

Real: the log signatures, Evidence models from ``tests.support.evidence`` and the whole
analyzer registry; the evidence itself is synthetic.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.log_signatures import ANSWER_TIMEOUT_LOG
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import WorkloadEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyRoute
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

DOCS = ObjectRef(kind="Deployment", namespace="docs", name="docs-portal")
DOCS_INGRESS = ObjectRef(kind="Ingress", namespace="docs", name="docs-portal")
CONTROLLER = ObjectRef(
    kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller"
)


def _behind_shared_controller(current: int, maximum: int, *, app_ready: bool = True) -> Evidence:
    """docs-portal behind the ingress controller of its Ingress, whose autoscaler runs
    ``current`` of ``maximum`` replicas, while a latency alert fires."""
    hpa = autoscalers.hpa(CONTROLLER, current=current, maximum=maximum, limited=current >= maximum)
    controller = DependencyEvidence(
        service=make.service("ingress-nginx-controller", "ingress-nginx", ready=4, matching=4),
        named_by=naming("ingress controller of Ingress docs/docs-portal"),
        routes=[DependencyRoute(kind="ingress-controller", ingress=DOCS_INGRESS)],
        workload=CONTROLLER,
        desired_replicas=current,
        ready_replicas=current,
        pods=current,
        autoscalers=[hpa],
    )
    app = make.container(
        "web", "docs-portal:3.22.0", ready=app_ready, restarts=0 if app_ready else 4
    )
    return make.evidence(
        target=DOCS,
        workload=WorkloadEvidence(
            ref=DOCS, desired_replicas=2, ready_replicas=2 if app_ready else 0
        ),
        pods=[
            make.app_pod("docs-portal-5d8f9c7b66-b7nq2", app, namespace="docs"),
            make.app_pod("docs-portal-5d8f9c7b66-t4wzs", app, namespace="docs"),
        ],
        alerts=[make.alert(alertname="DocsPortalLatencyP99High", namespace="docs")],
        dependencies=[controller],
    )


def test_a_shared_ingress_controller_at_its_maximum_is_short_of_replicas() -> None:
    found = by_category(analyze(_behind_shared_controller(4, 4)), Category.RESOURCE_SATURATION)
    assert found
    assert found[0].analyzer == "request-path-saturation"
    assert found[0].target == CONTROLLER
    assert found[0].action is Action.SCALE_OUT
    assert found[0].params["replicas"] == "8"
    assert any(
        "is the ingress controller of Ingress docs/docs-portal" in e.fact for e in found[0].evidence
    )


def test_a_shared_ingress_controller_with_replicas_to_spare_adds_nothing() -> None:
    assert "request-path-saturation" not in analyze(_behind_shared_controller(3, 10)).fired


def test_a_controller_at_its_maximum_is_not_blamed_while_the_apps_own_pods_fail() -> None:
    run = analyze(_behind_shared_controller(4, 4, app_ready=False))
    assert "request-path-saturation" not in run.fired


@pytest.mark.parametrize(
    "line",
    [
        "org.apache.kafka.common.errors.TimeoutException: Expiring 37 record(s) for "
        "orders.placed-3:120004 ms has passed since batch creation",
        "Expiring 12 record(s) for payments-0: 30011 ms has passed since batch creation plus "
        "linger time",
        "Got error produce response with correlation id 882141 on topic-partition orders-1, "
        "retrying (2 attempts left). Error: REQUEST_TIMED_OUT",
        "%4|1700000000.123|MSGTIMEOUT|rdkafka#producer-1| delivery failed: "
        "Local: Message timed out",
    ],
)
def test_kafka_producer_timeouts_say_the_brokers_did_not_answer(line: str) -> None:
    assert ANSWER_TIMEOUT_LOG.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "Expiring 0 idle connections",
        "Error: NOT_LEADER_OR_FOLLOWER",
        "[Producer clientId=checkout] Sent 37 record(s) to orders-3",
    ],
)
def test_other_kafka_lines_are_not_timeouts(line: str) -> None:
    assert not ANSWER_TIMEOUT_LOG.search(line)


KAFKA = ObjectRef(kind="Service", namespace="messaging", name="kafka")
CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout-api")
COLLECTOR = ObjectRef(kind="Deployment", namespace="analytics", name="clickstream-collector")
EXPIRED = (
    "org.apache.kafka.common.errors.TimeoutException: Expiring 37 record(s) for "
    "orders.placed-3:120004 ms has passed since batch creation"
)


def _kafka_shared(*, collector_aspects: tuple[str, ...] = ("image", "env")) -> Evidence:
    broker = DependencyEvidence(
        service=make.service("kafka", "messaging", ready=3, matching=3),
        ref=KAFKA,
        named_by=naming("pod checkout-api env SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        workload=ObjectRef(kind="StatefulSet", namespace="messaging", name="kafka"),
        desired_replicas=3,
        ready_replicas=3,
        pods=3,
        callers=[
            CallerEvidence(
                ref=COLLECTOR,
                callee=KAFKA,
                named_by=naming(
                    "Deployment clickstream-collector env SPRING_KAFKA_BOOTSTRAP_SERVERS"
                ),
                changes=[make.rollout_change(COLLECTOR, 18, *collector_aspects, minutes_ago=39)],
            )
        ],
    )
    return make.evidence(
        target=CHECKOUT,
        workload=WorkloadEvidence(ref=CHECKOUT, desired_replicas=2, ready_replicas=2),
        alerts=[
            AlertEvidence(
                labels={"alertname": "OrderEventsPublishFailing", "namespace": "shop"},
                starts_at=ago(25),
                status="firing",
            )
        ],
        logs=[make.log("checkout-api-6d4c9b8f72-r7vlm", "api", EXPIRED)],
        dependencies=[broker],
    )


def test_a_neighbours_release_before_kafka_produce_timeouts_is_rolled_back() -> None:
    finding = assert_leads(
        analyze(_kafka_shared()), Category.BAD_ROLLOUT, Action.ROLLBACK, COLLECTOR
    )
    assert finding.analyzer == "shared-dependency"
    assert any("Expiring 37 record(s)" in e.fact for e in finding.evidence)


def test_a_neighbours_release_that_changed_no_load_is_not_blamed_for_kafka_timeouts() -> None:
    assert "shared-dependency" not in analyze(_kafka_shared(collector_aspects=("labels",))).fired
