"""Checks the reading of a port a client is configured to dial through a Service's name:
through a ClusterIP Service only its own ports are forwarded, so a ConfigMap naming the
Service's targetPort (where the pods listen) is not served; when that ConfigMap did not
change while the Service exposes the pods' port under another one, the configuration and the
backends agree and the Service's port is what was edited (network, fix-network at the
Service), while a ConfigMap edited in the timeline, a port nothing behind the Service serves
or a headless Service keep their earlier readings. Also checks that a host:port quoted inside
a structured ConfigMap value (a JSON file under one key) is a configured endpoint.

Real: ``build_evidence`` on API-shaped dicts, the collector's ``strip_config_map``, and the
analyzer registry on Evidence models from ``tests.support.evidence``; the Services, logs and
changes are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.reader import strip_config_map
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, ConfigEndpoint, PodPort
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads, by_category

POD = "profile-5c8f7d6b9-k4n7t"
CONFIG = ObjectRef(kind="ConfigMap", namespace="shop", name="app-config")
SERVICE = ObjectRef(kind="Service", namespace="shop", name="mongodb")
FAILING = "server selection error: dial tcp 10.96.152.18:27017: i/o timeout"


def _evidence(
    port: int = 27017,
    *,
    logs: str = FAILING,
    changes: list[ChangeEvidence] | None = None,
    **service: Any,
) -> Evidence:
    fields: dict[str, Any] = {
        "ports": [make.service_port(27018, 27017, "mongodb")],
        "port_numbers": [27018, 27017],
        "pod_ports": [PodPort(number=27017)],
        "ready": 1,
        "matching": 1,
        **service,
    }
    return make.app_evidence(
        POD,
        make.container("profile"),
        logs=logs,
        services=[make.service("mongodb", **fields)],
        config_endpoints=[
            ConfigEndpoint(config_map="app-config", key="config.json", service="mongodb", port=port)
        ],
        changes=changes or [],
    )


def test_a_service_exposing_its_pods_port_under_another_is_fixed_at_the_service() -> None:
    finding = assert_leads(analyze(_evidence()), Category.NETWORK, Action.FIX_NETWORK, SERVICE)
    assert "port 27017" in finding.summary
    assert finding.params == {"service": "mongodb", "port": "27017"}
    assert by_category(analyze(_evidence()), Category.CONFIG_MISSING) == []


def test_an_edited_configmap_is_still_the_one_corrected() -> None:
    edited = ChangeEvidence(at=make.ago(20), kind="config", object=CONFIG, aspects=["data"])
    assert_leads(
        analyze(_evidence(changes=[edited])), Category.CONFIG_MISSING, Action.FIX_CONFIG, CONFIG
    )


def test_a_port_nothing_behind_the_service_serves_is_the_configmaps() -> None:
    assert_leads(analyze(_evidence(27777)), Category.CONFIG_MISSING, Action.FIX_CONFIG, CONFIG)


def test_without_failing_calls_the_service_is_not_blamed() -> None:
    result = analyze(_evidence(logs="started"))
    assert by_category(result, Category.NETWORK) == []


def test_behind_a_headless_service_the_pods_port_is_reachable_by_name() -> None:
    result = analyze(_evidence(headless=True))
    assert by_category(result, Category.NETWORK) == []
    assert by_category(result, Category.CONFIG_MISSING) == []


def test_a_service_whose_own_port_is_dialled_is_fine() -> None:
    result = analyze(_evidence(27018))
    assert by_category(result, Category.NETWORK) == []
    assert by_category(result, Category.CONFIG_MISSING) == []


def _json_config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": "shop"},
        "data": {
            "config.json": '{\n  "ProfileMongoAddress": "mongodb:27017",\n'
            '  "CacheAddress": "cache.data:11211",\n  "Port": "8081",\n'
            '  "Started": "10:42"\n}\n',
        },
    }


def test_addresses_quoted_in_a_structured_value_are_configured_endpoints() -> None:
    for config_map in (_json_config_map(), strip_config_map(_json_config_map())):
        ev = built([config_map], ObjectRef(kind="Namespace", name="shop"))
        assert sorted(
            (e.key, e.service, e.namespace or "", e.port) for e in ev.config_endpoints
        ) == [
            ("config.json", "cache", "data", 11211),
            ("config.json", "mongodb", "", 27017),
        ]
