"""Checks a callee scaled to zero: the evidence builder marks a Service with no pod whose
selector matches the pod template of a Deployment asking for 0 replicas (and only then), and
the saturation rule turns calls failing to that Service into "scale that workload back out"
(to the replicas its desired-replicas series showed), ranked above the network rule's "the
selector matches nothing", which stays the answer when no workload stands behind it; the
model's evidence text names that workload too.

Everything is real: raw manifests through the evidence builder (``tests.support.built``),
Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.llm.sections import Detail, render_evidence
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads

CART = ObjectRef(kind="Deployment", namespace="shop", name="cart", api_version="apps/v1")
CART_SERVICE = ObjectRef(kind="Service", namespace="shop", name="cart")


def test_a_service_over_a_workload_at_zero_replicas_names_that_workload() -> None:
    objects = [
        deployment_manifest("checkout", "shop", ("app", "checkout:1"), replicas=1),
        service_manifest("cart", "shop", {"app": "cart"}),
        deployment_manifest("cart", "shop", ("app", "cart:1"), replicas=0),
        service_manifest("pricing", "shop", {"app": "pricing"}),
        deployment_manifest("pricing", "shop", ("app", "pricing:1"), replicas=2),
    ]
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    services = {s.name: s for s in built(objects, target).services}
    assert services["cart"].scaled_to_zero == CART
    # No pod either, but its workload asks for two: not scaled to zero (pending, or gone).
    assert services["pricing"].scaled_to_zero is None


def _calls_to_cart(*, scaled: bool) -> Evidence:
    return make.evidence(
        pods=[make.pod(CHECKOUT_POD, make.container("app"), labels={"app": "checkout"})],
        services=[
            make.service("cart", ready=0, matching=0, scaled_to_zero=CART if scaled else None)
        ],
        logs=[
            make.checkout_log(
                'level=error msg="get cart failed" err="dial tcp cart:8080: connect: '
                'connection refused"'
            )
        ],
        metrics=[
            make.metric(
                'kube_deployment_spec_replicas{namespace="shop",deployment="cart"}',
                labels={"namespace": "shop", "deployment": "cart"},
                first=3,
                last=0,
                changed_minutes_ago=20,
            )
        ],
    )


def test_calls_failing_to_a_callee_scaled_to_zero_scale_it_back_out() -> None:
    result = analyze(_calls_to_cart(scaled=True))
    first = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, CART)
    assert first.params == {"replicas": "3"}
    assert not [f for f in result.findings if f.action == Action.FIX_NETWORK]
    # With no workload behind it, the Service's selector is what routes nowhere.
    assert_leads(
        analyze(_calls_to_cart(scaled=False)), Category.NETWORK, Action.FIX_NETWORK, CART_SERVICE
    )


def test_the_model_is_shown_which_workload_stands_at_zero_behind_the_service() -> None:
    text = render_evidence(_calls_to_cart(scaled=True), Detail()).evidence
    assert "service shop/cart" in text
    assert "scaled_to_zero=Deployment/shop/cart" in text
    assert "scaled_to_zero" not in render_evidence(_calls_to_cart(scaled=False), Detail()).evidence
