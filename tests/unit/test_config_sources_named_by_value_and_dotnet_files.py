"""Checks two ways a caller names what it depends on, missed before: a ConfigMap entry whose
key says it holds a peer's address and whose whole value is ``service.namespace`` (the form
the cluster DNS search path resolves, ``REDIS_HOST: redis.cache``) is a dependency followed
across namespaces; and .NET's spelling of a file it cannot open ("Could not find file
'/x'", "Could not find a part of the path '/x/y'") under a ConfigMap mount blames that
ConfigMap. Also that, of the sources a projected volume merges into one directory, the
missing file is blamed on a ConfigMap known to lack it, never on one that holds it.

Real: ``kubetriage.evidence.dependencies``, ``build_evidence`` over API-shaped dicts, and the
analyzer registry on Evidence models built with the shared factories.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest

from kubetriage.evidence.dependencies import config_map_hosts, keyed_value_host
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ConfigMount, ConfigReference
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import analyze, container, evidence, log, pod, terminated

WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")


@pytest.mark.parametrize(
    ("key", "value", "host"),
    [
        ("REDIS_HOST", "redis.cache", ("redis", "cache", None)),
        ("DB_HOST", "mariadb.storefront-db:3306", ("mariadb", "storefront-db", 3306)),
        ("SESSION_SERVER", " Memcached.Sessions ", ("memcached", "sessions", None)),
        # A bare word under an address key is as often a driver or a mode: not followed here.
        ("CACHE_HOST", "redis", None),
        # The key says nothing of an address, or the value is no host.
        ("SESSION_DRIVER", "redis.cache", None),
        ("LOG_LEVEL", "info", None),
        ("API_URL", "not a host", None),
    ],
)
def test_an_address_key_names_its_service_namespace_value_as_a_host(
    key: str, value: str, host: tuple[str, str, int | None] | None
) -> None:
    found = keyed_value_host(key, value)
    assert [(h.name, h.namespace, h.port) for h in found] == ([host] if host else [])


def test_config_map_hosts_include_keyed_service_namespace_values() -> None:
    cm = {"data": {"REDIS_HOST": "redis.cache", "SESSION_DRIVER": "redis", "REDIS_PORT": "6379"}}
    assert config_map_hosts(cm) == ["redis.cache"]


def _caller_and_cache() -> list[dict[str, Any]]:
    web = deployment_manifest(
        "web",
        "shop",
        {"name": "web", "image": "web:1", "envFrom": [{"configMapRef": {"name": "web-env"}}]},
        metadata={"uid": "w1"},
    )
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-rs1",
            "namespace": "shop",
            "labels": {"app": "web"},
            "ownerReferences": [
                {"kind": "Deployment", "name": "web", "uid": "w1", "controller": True}
            ],
        },
        "spec": {"template": web["spec"]["template"]},
    }
    pod_obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-rs1-abcde",
            "namespace": "shop",
            "labels": {"app": "web"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-rs1", "controller": True}],
        },
        "spec": web["spec"]["template"]["spec"],
        "status": {"phase": "Running"},
    }
    env = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-env", "namespace": "shop"},
        "data": {"REDIS_HOST": "redis.cache", "REDIS_PORT": "6379"},
    }
    return [
        web,
        replica_set,
        pod_obj,
        env,
        service_manifest("redis", "cache", {"app": "redis"}, port=6379),
    ]


def test_a_keyed_service_namespace_value_is_followed_as_a_dependency() -> None:
    deps = built(_caller_and_cache(), WEB).dependencies
    assert ObjectRef(kind="Service", namespace="cache", name="redis") in [d.ref for d in deps]


def test_without_the_namespace_the_bare_word_is_not_followed() -> None:
    objects = _caller_and_cache()
    objects[3]["data"]["REDIS_HOST"] = "redis"
    assert built(objects, WEB).dependencies == []


POD = "api-7d9f6c8b5-a"


def _evidence(line: str, mounts: list[ConfigMount], keys: dict[str, list[str]]) -> Evidence:
    crashing = container(
        "api", restarts=3, ready=False, last_state=terminated("Error", 134), config_mounts=mounts
    )
    return evidence(pods=[pod(POD, crashing)], config_maps=keys, logs=[log(POD, "api", line)])


def _mounted(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "config-mounted-file"]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (
            "Unhandled exception. System.IO.FileNotFoundException: Could not find file "
            "'/etc/api/app.json'.",
            "app.json",
        ),
        (
            "System.IO.DirectoryNotFoundException: Could not find a part of the path "
            "'/etc/api/certs/ca.pem'.",
            "certs",
        ),
    ],
)
def test_dotnet_missing_file_under_a_config_map_mount_blames_the_config_map(
    line: str, key: str
) -> None:
    mounts = [ConfigMount(path="/etc/api", kind="ConfigMap", name="api-config")]
    [finding] = _mounted(_evidence(line, mounts, {"api-config": ["settings.json"]}))
    assert (finding.category, finding.action, finding.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="shop", name="api-config"),
    )
    assert finding.params == {"key": key}


PROJECTED = [
    ConfigMount(path="/etc/trust", kind="Secret", name="client-tls"),
    ConfigMount(path="/etc/trust", kind="ConfigMap", name="trust"),
]
MISSING_CA = "open /etc/trust/ca.pem: no such file or directory"


def test_a_projected_directory_blames_the_config_map_known_to_lack_the_file() -> None:
    [finding] = _mounted(_evidence(MISSING_CA, PROJECTED, {"trust": ["root-2026.pem"]}))
    assert finding.target == ObjectRef(kind="ConfigMap", namespace="shop", name="trust")
    assert any("has no key ca.pem" in e.fact for e in finding.evidence)


def test_a_projected_directory_never_blames_the_config_map_that_holds_the_file() -> None:
    [finding] = _mounted(_evidence(MISSING_CA, PROJECTED[::-1], {"trust": ["ca.pem"]}))
    assert finding.target == ObjectRef(kind="Secret", namespace="shop", name="client-tls")


def _prefixed(
    kind: Literal["ConfigMap", "Secret"], line: str, keys: dict[str, list[str]], via: str
) -> list[Finding]:
    ref = ConfigReference(kind=kind, name="cache-auth", via=via, exists=True)
    serving = pod(POD, container("api"), config_refs=[ref])
    ev = evidence(pods=[serving], config_maps=keys, logs=[log(POD, "api", line)])
    return [f for f in analyze(ev).findings if f.analyzer == "config-missing-value"]


UNSET = "warn: REDIS_PASSWORD is not set; connecting without AUTH"


def test_a_variable_of_an_env_from_prefix_that_is_unset_blames_that_source() -> None:
    """envFrom with prefix REDIS_ sets REDIS_<key> for each key: REDIS_PASSWORD unset means
    the source lacks PASSWORD. A Secret's keys are never read, so its absence is not known."""
    [finding] = _prefixed("Secret", UNSET, {}, "envFrom REDIS_")
    assert (finding.target, finding.action, finding.params) == (
        ObjectRef(kind="Secret", namespace="shop", name="cache-auth"),
        Action.FIX_CONFIG,
        {"key": "PASSWORD"},
    )
    assert any("(envFrom REDIS_)" in e.fact for e in finding.evidence)


def test_a_config_map_known_to_lack_the_prefixed_key_is_surer() -> None:
    [lacking] = _prefixed("ConfigMap", UNSET, {"cache-auth": ["password"]}, "envFrom REDIS_")
    [unknown] = _prefixed("Secret", UNSET, {}, "envFrom REDIS_")
    assert lacking.confidence > unknown.confidence


def test_a_prefixed_key_the_config_map_holds_or_an_unprefixed_source_is_no_finding() -> None:
    assert _prefixed("ConfigMap", UNSET, {"cache-auth": ["PASSWORD"]}, "envFrom REDIS_") == []
    assert _prefixed("Secret", UNSET, {}, "envFrom") == []
    assert _prefixed("Secret", UNSET, {}, "envFrom DB_") == []


def test_the_builder_records_an_env_from_prefix() -> None:
    objects = _caller_and_cache()
    objects[0]["spec"]["template"]["spec"]["containers"][0]["envFrom"].append(
        {"prefix": "REDIS_", "secretRef": {"name": "cache-auth"}}
    )
    [serving] = built(objects, WEB).pods
    assert {(r.name, r.via) for r in serving.config_refs} >= {
        ("web-env", "envFrom"),
        ("cache-auth", "envFrom REDIS_"),
    }
