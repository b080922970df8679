"""Checks that a configuration file the application cannot open under a ConfigMap or Secret
mount is blamed on that object (and the missing key named), in the log spellings of Go, Node,
Python and Java; that a missing file outside any config mount is not; and that the builder
records the mounts (directory, subPath, projected).

Real: ``build_evidence`` on API-shaped dicts and the analyzer registry on Evidence models.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import ConfigMount, Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, container, evidence, log, pod, terminated

POD = "api-7d9f6c8b5-a"
MOUNTS = [
    ConfigMount(path="/etc/api/secrets", kind="Secret", name="api-creds"),
    ConfigMount(path="/etc/api", kind="ConfigMap", name="api-config"),
]


def _evidence(line: str) -> Evidence:
    crashing = container(
        "api", restarts=3, ready=False, last_state=terminated("Error", 1), config_mounts=MOUNTS
    )
    return evidence(
        pods=[pod(POD, crashing)],
        config_maps={"api-config": ["settings.yaml"]},
        logs=[log(POD, "api", line)],
    )


def _finding(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "config-mounted-file"]


@pytest.mark.parametrize(
    "line",
    [
        "panic: open /etc/api/app.yaml: no such file or directory",
        "Error: ENOENT: no such file or directory, open '/etc/api/app.yaml'",
        "FileNotFoundError: [Errno 2] No such file or directory: '/etc/api/app.yaml'",
        "java.io.FileNotFoundException: /etc/api/app.yaml (No such file or directory)",
    ],
)
def test_a_missing_file_under_a_config_map_mount_names_the_config_map_and_key(line: str) -> None:
    [finding] = _finding(_evidence(line))
    assert (finding.category, finding.action, finding.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="shop", name="api-config"),
    )
    assert finding.params == {"key": "app.yaml"}
    assert any("has no key app.yaml" in e.fact for e in finding.evidence)


def test_the_longest_mount_path_wins() -> None:
    [finding] = _finding(_evidence("open /etc/api/secrets/token: no such file or directory"))
    assert finding.target == ObjectRef(kind="Secret", namespace="shop", name="api-creds")


def test_a_missing_file_outside_any_config_mount_is_not_config() -> None:
    assert _finding(_evidence("open /var/lib/api/cache.db: no such file or directory")) == []


def test_the_builder_records_directory_sub_path_and_projected_mounts() -> None:
    pod_obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "shop"},
        "spec": {
            "containers": [
                {
                    "name": "api",
                    "image": "api:1",
                    "volumeMounts": [
                        {"name": "cfg", "mountPath": "/etc/api"},
                        {"name": "one", "mountPath": "/etc/api.conf", "subPath": "api.conf"},
                        {"name": "both", "mountPath": "/etc/both"},
                        {"name": "data", "mountPath": "/data"},
                    ],
                }
            ],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "api-config"}},
                {"name": "one", "secret": {"secretName": "api-file"}},
                {
                    "name": "both",
                    "projected": {
                        "sources": [{"configMap": {"name": "a"}}, {"secret": {"name": "b"}}]
                    },
                },
                {"name": "data", "emptyDir": {}},
            ],
        },
    }
    ev = build_evidence(
        [pod_obj],
        [],
        target=ObjectRef(kind="Pod", namespace="shop", name=POD),
        alerts=[],
        title="t",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )
    mounts = {(m.path, m.kind, m.name, m.sub_path) for m in ev.pods[0].containers[0].config_mounts}
    assert mounts == {
        ("/etc/api", "ConfigMap", "api-config", None),
        ("/etc/api.conf", "Secret", "api-file", "api.conf"),
        ("/etc/both", "ConfigMap", "a", None),
        ("/etc/both", "Secret", "b", None),
    }
