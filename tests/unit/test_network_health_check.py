"""Checks the network rule for a load balancer Service whose health-check port annotation
names a port that neither its pods nor the Service expose (every target fails the check, the
load balancer sends nothing while the pods are ready), with the look-alikes that must not
fire: the check on a port a container declares (a metrics or admin port), on a port only a
probe uses, on the traffic port, and the same annotation on a ClusterIP Service.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

AWS_KEY = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"
AZURE_KEY = "service.beta.kubernetes.io/port_443_health-probe_port"
INGEST = ObjectRef(kind="Service", namespace="telemetry", name="ingest")


def _ingest(key: str, port: str, svc_type: str = "LoadBalancer") -> Evidence:
    pods = [
        make.pod(
            f"ingest-6c7d8f9b5-p{i}",
            make.container(
                "gateway",
                ports=[make.port(8443, "https"), make.port(9100, "metrics")],
                probes=[make.http_probe("readiness", "/healthz", 8443)],
            ),
            namespace="telemetry",
            replica_set="ingest-6c7d8f9b5",
            labels={"app": "ingest"},
        )
        for i in range(2)
    ]
    ingest = make.service(
        "ingest",
        "telemetry",
        ready=2,
        matching=2,
        type=svc_type,
        ports=[make.service_port(443, 8443, "https", node_port=31443)],
        port_numbers=[443, 8443],
        annotations={key: port},
    )
    return make.evidence(
        workload=make.deployment("ingest", "telemetry", replicas=2, ready=2),
        pods=pods,
        services=[ingest],
    )


@pytest.mark.parametrize("key", [AWS_KEY, AZURE_KEY])
def test_health_check_on_a_port_nothing_serves_leads(key: str) -> None:
    first = assert_leads(
        analyze(_ingest(key, "9090")), Category.NETWORK, Action.FIX_NETWORK, INGEST
    )
    assert "9090" in first.summary


@pytest.mark.parametrize("port", ["9100", "8443", "31443", "traffic-port"])
def test_health_check_on_a_served_port_does_not_fire(port: str) -> None:
    assert not by_category(analyze(_ingest(AWS_KEY, port)), Category.NETWORK)


def test_health_check_annotation_on_a_cluster_ip_service_does_not_fire() -> None:
    assert not by_category(analyze(_ingest(AWS_KEY, "9090", "ClusterIP")), Category.NETWORK)
