"""Checks that the collector finds the callee a mesh alert names without its namespace: an
ingress gateway's alert carries the gateway's namespace and ``destination_service_name``
only; the one Service of that name, in another namespace, becomes the target (and two of
that name leave it undecided). Replayed offline through the snapshot evidence source and the
pipeline (as goldens are), and once in an emulated cluster with the real collector (as eval is).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from kubetriage.replay.cases import load_case
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.golden import replay_offline


def _service(namespace: str, name: str = "mobile-bff") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": 8080}]},
    }


def _case(tmp_path: Path, namespaces: list[str]) -> Path:
    case = {
        "id": "unplaced",
        "alert": {
            "labels": {
                "alertname": "IstioIngressGateway5xxRatioHigh",
                "namespace": "istio-system",
                "source_workload": "istio-ingressgateway",
                "destination_service_name": "mobile-bff",
            },
            "startsAgo": "5m",
        },
        # The gateway's own namespace holds its Service: the Incident lands there, a
        # namespace of the case, so it may read the others (``replay.session.one_tenant``).
        "cluster": [_service("istio-system", "istio-ingressgateway")]
        + [_service(ns) for ns in namespaces],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def test_the_one_service_of_that_name_elsewhere_is_the_target(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, ["bff"])).evidence.target
    assert target is not None
    assert (target.kind, target.namespace, target.name) == ("Service", "bff", "mobile-bff")


def test_two_services_of_that_name_leave_the_alerts_namespace(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, ["bff", "bff-canary"])).evidence.target
    assert target is not None
    assert target.kind == "Namespace"


def test_the_collector_lists_services_everywhere_for_it(tmp_path: Path) -> None:
    """The same case replayed in an emulated cluster with the real operator: the collector
    lists Services in every namespace by name and diagnoses the one it found."""
    case = load_case(_case(tmp_path, ["bff"]) / "case.yaml")
    outcome = asyncio.run(replay_case(case, Settings()))
    assert outcome.diagnosis is not None
    assert "Service bff/mobile-bff" in outcome.diagnosis.summary
