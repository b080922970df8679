"""Checks that an alert naming only a telemetry service, no namespace of any vocabulary
(OpenTelemetry ``service_name``, Datadog's unified ``service`` tag), is placed on the one
workload that declares that service, and one naming nothing but a sentence on the workload
the sentence names (``kubetriage.evidence.service_owner``): the pure rules,
the offline replay through the snapshot evidence source, and the real collector in an
emulated cluster (as eval runs).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from kubetriage.evidence.service_owner import (
    declared_services,
    mentioned_workload,
    service_owner,
    unplaced_services,
)
from kubetriage.models.incident import Alert
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.golden import replay_offline


def _deployment(
    namespace: str,
    name: str,
    env: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    pod_labels = {"app": name, **(labels or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": f"registry.example/{name}:1.0",
                            "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                        }
                    ]
                },
            },
        },
    }


def test_only_alerts_without_any_namespace_are_unplaced() -> None:
    bare = Alert(labels={"alertname": "X", "service_name": "search", "service_namespace": "disc"})
    placed = Alert(labels={"alertname": "X", "k8s_namespace_name": "web", "service_name": "a"})
    datadog = Alert(labels={"alertname": "X", "service": "mailer", "env": "prod"})
    scraped = Alert(labels={"alertname": "X", "service": "kube-state-metrics"})
    assert unplaced_services([bare]) == ["search"]
    assert unplaced_services([placed]) == []
    assert unplaced_services([datadog, bare]) == ["mailer", "search"]
    assert unplaced_services([scraped]) == []


def test_a_workload_declares_its_service_in_env_or_labels() -> None:
    otel = _deployment("a", "x", {"OTEL_SERVICE_NAME": "search"})
    attributes = _deployment(
        "a", "y", {"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=disc, service.name=feed"}
    )
    datadog = _deployment("a", "z", {"DD_SERVICE": "mailer"})
    tagged = _deployment("a", "w", labels={"tags.datadoghq.com/service": "billing"})
    assert declared_services(otel) == {"search"}
    assert declared_services(attributes) == {"feed"}
    assert declared_services(datadog) == {"mailer"}
    assert declared_services(tagged) == {"billing"}


def test_the_declaring_workload_wins_over_one_named_after_the_service() -> None:
    declaring = _deployment("search", "search-api-v2", {"OTEL_SERVICE_NAME": "search-api"})
    homonym = _deployment("legacy", "search-api")
    owner = service_owner(["search-api"], [homonym, declaring])
    assert owner is not None
    assert (owner.kind, owner.namespace, owner.name) == ("Deployment", "search", "search-api-v2")


def test_a_workload_named_after_the_service_when_none_declares_it() -> None:
    owner = service_owner(["mailer"], [_deployment("notify", "mailer"), _deployment("x", "y")])
    assert owner is not None
    assert (owner.namespace, owner.name) == ("notify", "mailer")


def test_two_claimants_or_none_leave_the_alert_unplaced() -> None:
    twice = [
        _deployment("a", "one", {"OTEL_SERVICE_NAME": "search"}),
        _deployment("b", "two", {"OTEL_SERVICE_NAME": "search"}),
    ]
    assert service_owner(["search"], twice) is None
    assert service_owner(["search"], [_deployment("a", "other")]) is None
    assert service_owner([], twice) is None


def _case(tmp_path: Path, claimants: list[str]) -> Path:
    case = {
        "id": "service-only",
        "alert": {
            "labels": {
                "alertname": "SearchErrorRatioHigh",
                "service_name": "search-api",
                "service_namespace": "discovery",
            },
            "startsAgo": "5m",
        },
        "cluster": [
            _deployment(namespace, f"api-{namespace}", {"OTEL_SERVICE_NAME": "search-api"})
            for namespace in claimants
        ]
        + [_deployment("discovery", "feed", {"OTEL_SERVICE_NAME": "feed"})],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def test_the_offline_replay_targets_the_declaring_workload(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, ["search"])).evidence.target
    assert target is not None
    assert (target.kind, target.namespace, target.name) == ("Deployment", "search", "api-search")


def test_two_declaring_workloads_leave_no_target(tmp_path: Path) -> None:
    assert replay_offline(_case(tmp_path, ["search", "search-canary"])).evidence.target is None


def test_the_collector_lists_workloads_everywhere_for_it(tmp_path: Path) -> None:
    """The same case replayed in an emulated cluster with the real operator: the collector
    lists Deployments in every namespace and diagnoses the one declaring the service."""
    case = load_case(_case(tmp_path, ["search"]) / "case.yaml")
    outcome = asyncio.run(replay_case(case, Settings()))
    assert outcome.diagnosis is not None
    assert "search/api-search" in outcome.diagnosis.summary


def _said(summary: str, **labels: str) -> Alert:
    return Alert(labels={"alertname": "Checkout down", **labels}, annotations={"summary": summary})


def test_a_summary_names_the_workload_by_a_word_of_its_own() -> None:
    workloads = [_deployment("shop", "checkout-api"), _deployment("shop", "cart")]
    owner = mentioned_workload([_said("checkout-api answers 503 to 7% of requests.")], workloads)
    assert owner is not None
    assert (owner.namespace, owner.name) == ("shop", "checkout-api")
    # A prefix of a longer word is no mention ("cart" in "carts", "checkout" in "checkouts").
    assert mentioned_workload([_said("carts are slow")], workloads) is None


def test_the_namespace_named_beside_it_settles_between_two_of_that_name() -> None:
    workloads = [_deployment("shop", "checkout-api"), _deployment("staging", "checkout-api")]
    assert mentioned_workload([_said("checkout-api is failing")], workloads) is None
    owner = mentioned_workload([_said("shop/checkout-api is failing")], workloads)
    assert owner is not None
    assert owner.namespace == "shop"
    owner = mentioned_workload([_said("checkout-api in staging is failing")], workloads)
    assert owner is not None
    assert owner.namespace == "staging"


def test_a_summary_is_no_lead_when_the_labels_place_the_alert() -> None:
    workloads = [_deployment("shop", "checkout-api")]
    placed = _said("checkout-api answers 503", namespace="shop")
    assert mentioned_workload([placed], workloads) is None
    # Short names are ordinary words more often than names.
    assert mentioned_workload([_said("the web tier is slow")], [_deployment("a", "web")]) is None


def test_the_offline_replay_targets_the_workload_a_summary_names(tmp_path: Path) -> None:
    case = {
        "id": "sentence-only",
        "alert": {
            "labels": {"alertname": "Checkout down", "grafana_folder": "Shop"},
            "annotations": {"summary": "checkout-api answers 503 to 7% of requests"},
            "startsAgo": "5m",
        },
        "cluster": [_deployment("shop", "checkout-api"), _deployment("shop", "cart")],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    target = replay_offline(tmp_path).evidence.target
    assert target is not None
    assert (target.kind, target.namespace, target.name) == ("Deployment", "shop", "checkout-api")
