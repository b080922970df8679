"""A failing call that names its callee only by the virtual address it dialed
(``dial tcp 10.43.77.210:9000: connect: connection refused``, the client resolved the name
before the call failed) still designates the Service holding that ClusterIP and port: when
it selects no pod, the network rule fixes that Service, as it does for a call by name.
Near misses: an address no Service holds, and a Service's address on a port it does not
declare. (A failed lookup's resolver address is left to the resolver rules: the golden record
of the kubeadm kube-dns case holds that.)"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

SCORING = ObjectRef(kind="Service", namespace="shop", name="scoring")


def _caller(dialed: str) -> Evidence:
    scoring = make.service(
        "scoring",
        selector={"app": "scoring"},
        ports=[make.service_port(9000, 9000, "grpc")],
        port_numbers=[9000],
        cluster_ip="10.43.77.210",
        ready=0,
        matching=0,
    )
    return make.app_evidence(
        "checkout-7d9f6c8b5-abcde",
        make.container("checkout"),
        logs=(
            "scoring failed: rpc error: code = Unavailable desc = connection error: desc = "
            f'"transport: Error while dialing: dial tcp {dialed}: connect: connection refused"'
        ),
        services=[scoring],
    )


def test_a_dialed_cluster_ip_of_a_service_selecting_no_pod_is_network_on_it() -> None:
    result = analyze(_caller("10.43.77.210:9000"))
    first = assert_leads(result, Category.NETWORK, Action.FIX_NETWORK, SCORING)
    assert "selects no pods" in first.summary


@pytest.mark.parametrize(
    "dialed",
    [
        "10.43.77.211:9000",  # an address no Service holds
        "10.43.77.210:8080",  # the Service's address, on a port it does not declare
    ],
)
def test_an_address_that_is_not_the_services_is_not_it(dialed: str) -> None:
    result = analyze(_caller(dialed))
    assert not [f for f in by_category(result, Category.NETWORK) if f.target == SCORING]
