"""Checks that a file the application reports missing under a volume whose sources project
keys to paths (``items``) is traced to the source that projects that path, and to the key it
writes there: of the Secrets a projected volume merges into one directory, the one whose
items name the file, whatever their order; that the builder records each source's items; and
that a line naming the file without saying it is missing, or a missing file outside every
config mount, blames nothing.

Real: ``build_evidence`` on API-shaped dicts, ``mount_for`` and the analyzer registry on
Evidence models.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubetriage.analyzers.mounts import mount_for
from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ConfigMount
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, container, evidence, log, pod

POD = "worker-5f7b9c8d6d-k2w8r"
# One projected volume at /etc/kafka: the cluster CA first, then the user's credentials,
# each projecting one key under a path of its own.
PROJECTED = [
    ConfigMount(path="/etc/kafka", kind="Secret", name="cluster-ca", items={"ca/ca.crt": "ca.crt"}),
    ConfigMount(
        path="/etc/kafka", kind="Secret", name="consumer-user", items={"sasl/password": "password"}
    ),
]


def _evidence(line: str, mounts: list[ConfigMount] = PROJECTED) -> Evidence:
    # Running and not ready: the process started without the file, no restarts.
    worker = container("worker", ready=False, config_mounts=mounts)
    return evidence(pods=[pod(POD, worker)], logs=[log(POD, "worker", line)])


def _findings(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "config-mounted-file"]


@pytest.mark.parametrize(
    "line",
    [
        "WARNING kafka: SASL password file /etc/kafka/sasl/password not found; using an empty one",
        "error: password file '/etc/kafka/sasl/password' does not exist",
        "open /etc/kafka/sasl/password: no such file or directory",
    ],
)
def test_a_missing_projected_file_names_the_source_projecting_it_and_its_key(line: str) -> None:
    [finding] = _findings(_evidence(line))
    assert (finding.category, finding.action, finding.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="Secret", namespace="shop", name="consumer-user"),
    )
    assert finding.params == {"key": "password"}


def test_the_projecting_source_wins_in_either_order() -> None:
    line = "SASL password file /etc/kafka/sasl/password not found"
    [finding] = _findings(_evidence(line, list(reversed(PROJECTED))))
    assert finding.target.name == "consumer-user"


def test_mount_for_maps_an_item_path_and_a_sub_path_to_the_projected_key() -> None:
    assert mount_for("/etc/kafka/ca/ca.crt", PROJECTED) == (PROJECTED[0], "ca.crt")
    sub = ConfigMount(
        path="/etc/ssl/corp.pem",
        kind="ConfigMap",
        name="bundle",
        sub_path="corp.pem",
        items={"corp.pem": "ca-bundle.crt"},
    )
    assert mount_for("/etc/ssl/corp.pem", [sub]) == (sub, "ca-bundle.crt")
    # Without items a key is the file of its own name, as before.
    plain = ConfigMount(path="/etc/api", kind="ConfigMap", name="api")
    assert mount_for("/etc/api/app.yaml/x", [plain]) == (plain, "app.yaml")


@pytest.mark.parametrize(
    "line",
    [
        # Names the file but reads it fine.
        "INFO kafka: loaded SASL password file /etc/kafka/sasl/password",
        # Missing, but under no ConfigMap or Secret mount.
        "WARNING cache: state file /var/lib/worker/offsets not found; starting empty",
    ],
)
def test_a_file_read_fine_or_outside_config_mounts_blames_no_config(line: str) -> None:
    assert _findings(_evidence(line)) == []


def test_the_builder_records_each_sources_items() -> None:
    pod_obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "shop"},
        "spec": {
            "containers": [
                {
                    "name": "worker",
                    "image": "worker:1",
                    "volumeMounts": [
                        {"name": "kafka", "mountPath": "/etc/kafka"},
                        {"name": "cfg", "mountPath": "/etc/app"},
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "kafka",
                    "projected": {
                        "sources": [
                            {
                                "secret": {
                                    "name": "consumer-user",
                                    "optional": True,
                                    "items": [{"key": "password", "path": "sasl/password"}],
                                }
                            },
                            {"serviceAccountToken": {"path": "token"}},
                        ]
                    },
                },
                {"name": "cfg", "configMap": {"name": "app-config"}},
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
    mounts = {m.name: m.items for m in ev.pods[0].containers[0].config_mounts}
    assert mounts == {"consumer-user": {"sasl/password": "password"}, "app-config": {}}
