"""Checks the ingress controller's own rollout in front of a healthy workload
(``ingress-controller-rollout``): the controller serving the workload's Ingress (a dependency
named ``INGRESS_CONTROLLER_SOURCE``) rolled out right before the alert, and its own log tail
names that Ingress in a line saying it rejected or ignored it, so rolling the controller back
leads. Near misses add nothing: a controller that rolled out long before the alert, one whose
log does not name the Ingress (or names another), a workload that rolled out itself since,
a failing workload, and a dependency the workload calls (not the controller in front of it).
Also the Ingresses a dependency fronts, as ``DependencyEvidence.fronted_ingresses`` reads
them from how the walk names it.

Real: the analyzer registry and ranking (``tests.support.evidence.analyze``), the Evidence
models. Synthetic: every object, revision, log line and time (log lines in the shape
ingress-nginx and Traefik print them).
"""

from __future__ import annotations

from kubetriage.analyzers.ingress_rollout import CONFIDENCE, NAME, REFUSED_WORDS
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import (
    INGRESS_CONTROLLER_SOURCE,
    DependencyEvidence,
    DependencyRoute,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

CONTROLLER = ObjectRef(kind="Deployment", namespace="edge", name="ingress-nginx-controller")
SOURCE = f"{INGRESS_CONTROLLER_SOURCE} of Ingress shop/checkout"
ROUTE = DependencyRoute(
    kind="ingress-controller", ingress=ObjectRef(kind="Ingress", namespace="shop", name="checkout")
)
NGINX_IGNORED = (
    'W1120 09:50:13.118602       7 store.go:441] "Ignoring ingress because of error while '
    'validating annotations" ingress="shop/checkout"'
)
TRAEFIK_ERROR = (
    'time="2026-11-20T09:50:13Z" level=error msg="Cannot create service: service not found" '
    "ingress=checkout namespace=shop providerName=kubernetes"
)
OTHER_INGRESS = (
    'W1120 09:50:13.118602       7 store.go:441] "Ignoring ingress because of error while '
    'validating annotations" ingress="blog/blog"'
)
RELOADED = 'I1120 09:50:13.902114       7 controller.go:213] "Backend successfully reloaded"'


def _controller(*lines: str, rolled_minutes_ago: float | None = 20) -> DependencyEvidence:
    tail = make.log("ingress-nginx-controller-7f4-b7", "controller", "\n".join(lines))
    tail = tail.model_copy(update={"namespace": "edge", "source": "dependency"})
    changes = (
        [make.rollout_change(CONTROLLER, 13, "image", minutes_ago=rolled_minutes_ago)]
        if rolled_minutes_ago is not None
        else []
    )
    return DependencyEvidence(
        ref=CONTROLLER,
        workload=CONTROLLER,
        named_by=naming(SOURCE),
        routes=[ROUTE],
        pods=2,
        desired_replicas=2,
        ready_replicas=2,
        logs=[tail],
        changes=changes,
    )


def _behind(dependency: DependencyEvidence, **fields: object) -> Evidence:
    """The healthy checkout workload behind ``dependency``, alerted 6 minutes ago."""
    fields.setdefault("alerts", [make.alert(alertname="CheckoutTrafficDropped")])
    return make.checkout_evidence(dependencies=[dependency], **fields)


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == NAME]


def test_a_controller_rollout_that_refuses_the_ingress_leads_to_rolling_it_back() -> None:
    first = assert_leads(
        analyze(_behind(_controller(NGINX_IGNORED, RELOADED))),
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        CONTROLLER,
    )
    assert first.analyzer == NAME
    assert first.confidence == CONFIDENCE.refused_after_rollout
    assert first.params == {"revision": "13"}


def test_a_structured_log_naming_the_ingress_in_fields_counts() -> None:
    assert [f.target for f in _found(_behind(_controller(TRAEFIK_ERROR)))] == [CONTROLLER]


def test_a_controller_rolled_out_long_before_the_alert_is_not_the_change() -> None:
    assert _found(_behind(_controller(NGINX_IGNORED, rolled_minutes_ago=60 * 24 * 3))) == []


def test_a_controller_that_did_not_roll_out_is_not_a_bad_rollout() -> None:
    assert _found(_behind(_controller(NGINX_IGNORED, rolled_minutes_ago=None))) == []


def test_a_log_that_does_not_name_the_ingress_as_refused_adds_nothing() -> None:
    assert _found(_behind(_controller(RELOADED))) == []
    assert _found(_behind(_controller(OTHER_INGRESS, RELOADED))) == []


def test_a_workload_that_rolled_out_itself_since_is_its_own_suspect() -> None:
    own = make.rollout_change(make.deployment().ref, 4, "image", minutes_ago=10)
    assert _found(_behind(_controller(NGINX_IGNORED), changes=[own])) == []


def test_a_failing_workload_is_not_explained_by_the_controller() -> None:
    ev = make.checkout_evidence(
        make.crash_looping("app"),
        dependencies=[_controller(NGINX_IGNORED)],
        alerts=[make.alert(alertname="CheckoutDown")],
    )
    assert _found(ev) == []


def test_a_dependency_the_workload_calls_is_not_the_controller_in_front_of_it() -> None:
    called = _controller(NGINX_IGNORED).model_copy(
        update={"named_by": naming("pod checkout env PROXY_URL"), "routes": []}
    )
    assert _found(_behind(called)) == []


API_INGRESS = ObjectRef(kind="Ingress", namespace="shop", name="api")
BACKEND = DependencyRoute(
    kind="backend", ingress=ObjectRef(kind="Ingress", namespace="shop", name="web")
)


def test_the_ingresses_a_controller_fronts() -> None:
    dependency = _controller(RELOADED).model_copy(
        update={"routes": [ROUTE, ROUTE.model_copy(update={"ingress": API_INGRESS}), BACKEND]}
    )
    assert dependency.fronted_ingresses() == [ROUTE.ingress, API_INGRESS]
    called = dependency.model_copy(
        update={"named_by": naming("pod checkout env API_URL"), "routes": []}
    )
    assert called.fronted_ingresses() == []


def test_the_refusal_words() -> None:
    assert REFUSED_WORDS.search(NGINX_IGNORED)
    assert REFUSED_WORDS.search(TRAEFIK_ERROR)
    assert not REFUSED_WORDS.search(RELOADED)
