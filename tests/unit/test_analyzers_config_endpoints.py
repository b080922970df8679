"""Checks that a ConfigMap value sending clients to a port its Service does not serve is
config-missing at that ConfigMap (fix-config), firmly when calls fail in the logs and only
as a likely cause without them; that a matching port (the Service's port, or a targetPort
behind a headless Service), an ExternalName Service and a Service not in the evidence stay
out of it; and that the evidence carries those host:port pairs from a ConfigMap's values
and from the collector's stripped ConfigMap alike, with the Service's port numbers (a named
targetPort resolved through the pods it selects).

Real: ``build_evidence`` on API-shaped dicts, the collector's ``strip_config_map``, and the
analyzer registry on Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.reader import strip_config_map
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ConfigEndpoint
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, service_manifest
from tests.support.evidence import analyze, assert_leads, by_category

POD = "geo-7d9f6c8b5-abcde"
GEO_CONFIG = ObjectRef(kind="ConfigMap", namespace="shop", name="geo-config")
REFUSED = "dial tcp 10.96.4.7:8083: connect: connection refused"


def _evidence(port: int, *, logs: str | None = REFUSED, **service: Any) -> Evidence:
    fields: dict[str, Any] = {
        "ports": [make.service_port(27017, 27017, "mongo")],
        "port_numbers": [27017],
        "ready": 1,
        "matching": 1,
        **service,
    }
    return make.app_evidence(
        POD,
        make.container("geo"),
        logs=logs,
        services=[make.service(fields.pop("name", "mongodb"), **fields)],
        config_endpoints=[
            ConfigEndpoint(config_map="geo-config", key="MONGO_ADDR", service="mongodb", port=port)
        ],
    )


def test_a_port_the_service_does_not_serve_is_fixed_in_the_configmap() -> None:
    finding = assert_leads(
        analyze(_evidence(27777)), Category.CONFIG_MISSING, Action.FIX_CONFIG, GEO_CONFIG
    )
    assert "port 27777" in finding.summary
    assert "serves 27017" in finding.summary
    assert finding.params == {"configMap": "geo-config", "key": "MONGO_ADDR"}


def test_without_failing_calls_the_wrong_port_is_only_a_likely_cause() -> None:
    firm = by_category(analyze(_evidence(27777)), Category.CONFIG_MISSING)
    quiet = by_category(analyze(_evidence(27777, logs="started")), Category.CONFIG_MISSING)
    assert len(firm) == len(quiet) == 1
    assert quiet[0].confidence < firm[0].confidence


@pytest.mark.parametrize(
    ("port", "service"),
    [
        (27017, {}),
        # Behind a headless Service the name resolves to the pods: their port counts too.
        (27018, {"port_numbers": [27017, 27018], "headless": True}),
        (27777, {"type": "ExternalName", "external_name": "db.example.com"}),
        (27777, {"name": "other-db"}),  # the Service named is not in the evidence
    ],
)
def test_a_port_the_service_serves_or_a_service_not_known_is_not_blamed(
    port: int, service: dict[str, Any]
) -> None:
    assert by_category(analyze(_evidence(port, **service)), Category.CONFIG_MISSING) == []


def _config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "geo-config", "namespace": "shop"},
        "data": {
            "MONGO_ADDR": "mongodb:27777",
            "CACHE_URL": "redis://cache.data:6380/0",
            "MODE": "fast",
            "CONSUL": "consul",  # no port: nothing to compare
        },
    }


@pytest.mark.parametrize("stripped", [False, True], ids=["values", "collector"])
def test_config_endpoints_come_from_values_and_from_the_stripped_configmap(
    stripped: bool,
) -> None:
    config_map = strip_config_map(_config_map()) if stripped else _config_map()
    if stripped:  # the values never leave the collector
        assert config_map["data"] == dict.fromkeys(_config_map()["data"], "")
    service = service_manifest(
        "mongodb", "shop", {"app": "mongodb"}, port=27017, target_port="mongo"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "mongodb-0", "namespace": "shop", "labels": {"app": "mongodb"}},
        "spec": {
            "containers": [
                {
                    "name": "db",
                    "image": "mongo:7",
                    "ports": [{"name": "mongo", "containerPort": 27018}],
                }
            ]
        },
    }
    ev = built([config_map, service, pod], ObjectRef(kind="Namespace", name="shop"))
    assert [(e.key, e.service, e.namespace, e.port) for e in ev.config_endpoints] == [
        ("MONGO_ADDR", "mongodb", None, 27777),
        ("CACHE_URL", "cache", "data", 6380),
    ]
    # The named targetPort resolves to the selected pod's containerPort.
    assert [(s.name, s.port_numbers) for s in ev.services] == [("mongodb", [27017, 27018])]
