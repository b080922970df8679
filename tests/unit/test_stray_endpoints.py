"""Checks the stray-endpoints rule: a Service whose selector also matches the ready pods of a
second workload that declares other ports, none of them the Service's numeric target port,
is the fault (its selector is too broad), not either workload; with the look-alikes that
must not fire: one workload behind the Service, a second workload that serves the target
port too (a canary), one that declares no port at all, a named targetPort (the endpoints
controller skips pods that do not declare it).

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.stray_endpoints import check_stray_endpoints
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerPort
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

SERVICE = ObjectRef(kind="Service", namespace="catalog", name="product-api")


def _catalog(
    stray_ports: list[ContainerPort] | None = None, target: str = "8080", stray: bool = True
) -> Evidence:
    labels_api = {"app": "catalog", "component": "api"}
    labels_indexer = {"app": "catalog", "component": "indexer"}
    pods = [
        make.pod(
            f"product-api-7c9d8b6f5-a{i}",
            make.container("api", ports=[make.port(8080, "http")]),
            namespace="catalog",
            replica_set="product-api-7c9d8b6f5",
            labels=labels_api,
            node=f"worker-{i}",
        )
        for i in range(3)
    ]
    if stray:
        pods += [
            make.pod(
                f"catalog-indexer-5f4d3c2b1-b{i}",
                make.container(
                    "indexer",
                    ports=[make.port(9102, "metrics")] if stray_ports is None else stray_ports,
                ),
                namespace="catalog",
                replica_set="catalog-indexer-5f4d3c2b1",
                labels=labels_indexer,
                node=f"worker-{i}",
            )
            for i in range(2)
        ]
    service = make.service(
        "product-api",
        "catalog",
        selector={"app": "catalog"},
        ready=len(pods),
        matching=len(pods),
        ports=[make.service_port(80, target, "http")],
    )
    return make.evidence(
        pods=pods,
        services=[service],
        target=SERVICE,
        workload=make.deployment("product-api", "catalog", replicas=3),
    )


def test_second_workload_without_the_target_port_leads_to_the_service() -> None:
    first = assert_leads(analyze(_catalog()), Category.NETWORK, Action.FIX_NETWORK, SERVICE)
    assert first.analyzer == "stray-endpoints"
    assert "catalog-indexer" in first.summary
    assert any("9102" in e.fact for e in first.evidence)


def test_one_workload_behind_the_service_is_not_stray() -> None:
    assert check_stray_endpoints(_catalog(stray=False)) == []


def test_a_second_workload_serving_the_port_is_not_stray() -> None:
    assert check_stray_endpoints(_catalog(stray_ports=[make.port(8080, "http")])) == []


def test_pods_declaring_no_port_may_still_listen_on_it() -> None:
    assert check_stray_endpoints(_catalog(stray_ports=[])) == []


def test_a_named_target_port_skips_pods_that_do_not_declare_it() -> None:
    assert check_stray_endpoints(_catalog(target="http")) == []
