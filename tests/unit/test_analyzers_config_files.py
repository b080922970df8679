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
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ConfigMount, ConfigReference
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


SUB_MOUNT = ConfigMount(
    path="/etc/nginx/conf.d/default.conf",
    kind="ConfigMap",
    name="web-conf",
    sub_path="default.conf",
)


def _sub_path_evidence(
    keys: list[str],
    *,
    line: str = "starting",
    restarts: int = 4,
    refs: list[ConfigReference] | None = None,
) -> Evidence:
    web = container(
        "web",
        restarts=restarts,
        ready=restarts == 0,
        last_state=terminated("Error", 1) if restarts else None,
        config_mounts=[SUB_MOUNT],
    )
    return evidence(
        pods=[pod(POD, web, config_refs=refs or [])],
        config_maps={"web-conf": keys},
        logs=[log(POD, "web", line)],
    )


def _sub_path_findings(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "config-subpath-key"]


@pytest.mark.parametrize(
    ("line", "confirmed"),
    [
        (
            'nginx: [emerg] pread() "/etc/nginx/conf.d/default.conf" failed (21: Is a directory)',
            True,
        ),
        ("IsADirectoryError: [Errno 21] Is a directory: '/etc/nginx/conf.d/default.conf'", True),
        (
            "Error: EISDIR: illegal operation on a directory, read "
            "'/etc/nginx/conf.d/default.conf'",
            True,
        ),
        ("exiting: configuration invalid", False),
    ],
)
def test_a_sub_path_naming_a_key_the_config_map_lacks_is_that_config_map(
    line: str, confirmed: bool
) -> None:
    [finding] = _sub_path_findings(_sub_path_evidence(["site.conf"], line=line))
    assert (finding.category, finding.action, finding.target, finding.params) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="shop", name="web-conf"),
        {"key": "default.conf"},
    )
    assert any("has no key default.conf (keys: site.conf)" in e.fact for e in finding.evidence)
    # The objects alone decide; a log line finding a directory at that path confirms it.
    assert finding.confidence == pytest.approx(0.92 if confirmed else 0.9)


def test_a_sub_path_whose_key_exists_or_whose_container_is_healthy_is_no_finding() -> None:
    assert _sub_path_findings(_sub_path_evidence(["default.conf", "site.conf"])) == []
    assert _sub_path_findings(_sub_path_evidence(["site.conf"], restarts=0)) == []


def test_a_sub_path_into_an_items_mapping_names_a_path_not_a_key() -> None:
    # With items, the volume holds the mapped paths; the subPath names one of those.
    mapped = ConfigReference(
        kind="ConfigMap", name="web-conf", key="site.conf", via="volume conf", exists=True
    )
    ev = _sub_path_evidence(["site.conf"], refs=[mapped])
    assert _sub_path_findings(ev) == []


def test_a_sub_path_of_a_config_map_whose_keys_are_unknown_is_no_finding() -> None:
    web = container("web", restarts=3, ready=False, config_mounts=[SUB_MOUNT])
    assert _sub_path_findings(evidence(pods=[pod(POD, web)])) == []


@pytest.mark.parametrize(
    "line",
    [
        "panic: open /config/settings.yaml: no such file or directory",
        "FileNotFoundError: [Errno 2] No such file or directory: '/config/settings.yaml'",
    ],
)
def test_a_missing_file_named_as_a_key_mounted_elsewhere_is_the_mount_path(line: str) -> None:
    ev = _evidence(line)
    [finding] = [f for f in analyze(ev).findings if f.analyzer == "config-mount-path"]
    assert (finding.category, finding.action) == (Category.CONFIG_MISSING, Action.FIX_CONFIG)
    # The ConfigMap is right; the workload mounts it in the wrong place.
    assert finding.target.kind == "Deployment"
    assert finding.params == {"key": "settings.yaml", "mountPath": "/etc/api"}
    assert _finding(ev) == []


def test_a_missing_file_no_mounted_config_map_holds_is_not_a_mount_path() -> None:
    ev = _evidence("open /config/other.yaml: no such file or directory")
    assert [f for f in analyze(ev).findings if f.analyzer == "config-mount-path"] == []


def _unparsable(line: str, keys: list[str], restarts: int = 8) -> Evidence:
    """A container mounting ConfigMap api-config as a volume restarts; its log says ``line``."""
    crashing = container("api", restarts=restarts, ready=False, last_state=terminated("Error", 134))
    mounted = ConfigReference(kind="ConfigMap", name="api-config", via="volume config", exists=True)
    return evidence(
        pods=[pod(POD, crashing, config_refs=[mounted])],
        config_maps={"api-config": keys},
        logs=[log(POD, "api", line)],
    )


_JSON_ABORT = (
    "terminate called after throwing an instance of 'nlohmann::detail::parse_error'\n"
    "  what():  [json.exception.parse_error.101] parse error at line 44, column 3: syntax error"
    " while parsing object key - unexpected '}'; expected string literal"
)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (_JSON_ABORT, "service-config.json"),
        ("json.decoder.JSONDecodeError: Expecting ',' delimiter: line 9 column 5", "app.json"),
        ("yaml.scanner.ScannerError: mapping values are not allowed here", "rules.yaml"),
        ("panic: yaml: line 12: did not find expected key", "config.yml"),
    ],
)
def test_a_parse_error_of_the_kind_of_file_a_mounted_config_map_holds_names_it(
    line: str, key: str
) -> None:
    result = analyze(_unparsable(line, [key]))
    first = result.findings[0]
    assert (first.category, first.action, first.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="shop", name="api-config"),
    )
    assert key in first.summary


def test_a_parse_error_of_another_kind_of_file_or_a_container_that_runs_names_nothing() -> None:
    def unparsable(ev: Evidence) -> list[Finding]:
        return [f for f in analyze(ev).findings if "does not parse" in f.summary]

    # A JSON error while the ConfigMap holds only YAML: the JSON came from elsewhere (a
    # message, a response body), not from the mounted file.
    assert unparsable(_unparsable(_JSON_ABORT, ["settings.yaml"])) == []
    # A container that has never restarted has not failed on its input at start.
    assert unparsable(_unparsable(_JSON_ABORT, ["service-config.json"], restarts=0)) == []
