"""Checks the change timeline built from raw objects: rollout diffs (image, args, env,
resources, probes, config checksums), ConfigMap writes from metadata, recent nodes, autoscaler
rescales, and a tag that moved to a new digest; and that build_evidence carries it.

Real: ``kubetriage.evidence.changes``, ``kubetriage.evidence.template_diff`` and
``build_evidence`` over synthetic API-shaped dicts.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from kubetriage.evidence.changes import (
    change_timeline,
    config_changes,
    digest_changes,
    node_changes,
    rollout_changes,
    scaling_changes,
    secret_changes,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.template_diff import template_diff
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import EventEvidence
from tests.support.built import built

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
LIMITS = EvidenceLimits()


def _template(image: str = "app:1.0", **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "api"}, "annotations": {}},
        "spec": {"containers": [{"name": "api", "image": image, **container}]},
    }


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "namespace": "shop",
            "uid": "d1",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": _template("app:1.1")},
        "status": {"replicas": 1},
    }


def _replica_set(number: int, template: dict[str, Any], created: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"api-rs{number}",
            "namespace": "shop",
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(number)},
            "ownerReferences": [
                {"kind": "Deployment", "name": "api", "uid": "d1", "controller": True}
            ],
        },
        "spec": {"template": template},
        "status": {"replicas": 1, "readyReplicas": 1},
    }


def test_a_rollout_names_every_part_of_the_template_that_changed() -> None:
    old = _template(
        "app:1.0",
        args=["--port=80"],
        env=[{"name": "MODE", "value": "a"}],
        resources={"limits": {"memory": "256Mi"}},
        livenessProbe={"httpGet": {"path": "/healthz", "port": 80}},
    )
    new = _template(
        "app:1.1",
        args=["--port=8080"],
        env=[{"name": "MODE", "value": "b"}],
        resources={"limits": {"memory": "128Mi"}},
        livenessProbe={"httpGet": {"path": "/ready", "port": 80}},
    )
    new["metadata"]["annotations"]["checksum/config"] = "abc"
    changes = rollout_changes(
        _deployment(),
        [
            _replica_set(2, new, "2026-11-20T09:40:00Z"),
            _replica_set(1, old, "2026-10-01T00:00:00Z"),
        ],
    )
    assert len(changes) == 1
    change = changes[0]
    assert change.kind == "rollout"
    assert (change.from_revision, change.to_revision) == (1, 2)
    assert change.at == datetime(2026, 11, 20, 9, 40, tzinfo=UTC)
    assert set(change.aspects) == {"image", "args", "env", "resources", "probes", "config"}
    assert any("app:1.0 -> app:1.1" in d for d in change.details)


def test_a_secret_reference_is_compared_by_name_never_by_value() -> None:
    old = _template(env=[{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "a"}}}])
    new = _template(env=[{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "b"}}}])
    changes = rollout_changes(
        _deployment(),
        [
            _replica_set(1, old, "2026-11-01T00:00:00Z"),
            _replica_set(2, new, "2026-11-20T09:00:00Z"),
        ],
    )
    assert changes[0].aspects == ["env"]
    assert "PW" in changes[0].details[1]


def test_a_secret_rotation_is_named_from_reloaders_env_var_or_annotation() -> None:
    old = _template(env=[{"name": "STAKATER_DB_CREDS_SECRET", "value": "1f2e"}])
    new = _template(env=[{"name": "STAKATER_DB_CREDS_SECRET", "value": "9a8b"}])
    by_env = rollout_changes(
        _deployment(),
        [
            _replica_set(1, old, "2026-11-01T00:00:00Z"),
            _replica_set(2, new, "2026-11-20T09:00:00Z"),
        ],
    )[0]
    # A rotated Secret, not a code change: "config", never "env".
    assert by_env.aspects == ["config"]
    assert "Secret db-creds changed (Reloader)" in by_env.details
    # Structured, for the analyzers: the object that changed, in the workload's namespace.
    assert [(c.kind, c.namespace, c.name) for c in by_env.configs] == [
        ("Secret", by_env.object.namespace, "db-creds")
    ]
    annotated = _template()
    annotated["metadata"]["annotations"]["reloader.stakater.com/last-reloaded-from"] = (
        '{"type":"SECRET","name":"payments-api-key","hash":"77"}'
    )
    by_annotation = rollout_changes(
        _deployment(),
        [
            _replica_set(1, _template(), "2026-11-01T00:00:00Z"),
            _replica_set(2, annotated, "2026-11-20T09:00:00Z"),
        ],
    )[0]
    assert by_annotation.aspects == ["config"]
    assert "Secret payments-api-key changed (Reloader)" in by_annotation.details
    assert [(c.kind, c.name) for c in by_annotation.configs] == [("Secret", "payments-api-key")]


def test_secret_writes_are_known_from_their_events_only() -> None:
    def written(kind: str, reason: str) -> EventEvidence:
        return EventEvidence(
            type="Normal",
            reason=reason,
            message="Updated Secret",
            involved=ObjectRef(kind=kind, namespace="shop", name="db-creds"),
            last_seen=NOW,
        )

    changes = secret_changes(
        [written("ExternalSecret", "Updated"), written("Pod", "Updated"), written("Secret", "X")]
    )
    assert [(c.kind, c.object, c.aspects) for c in changes] == [
        ("config", ObjectRef(kind="Secret", namespace="shop", name="db-creds"), ["metadata"])
    ]
    assert changes[0].at == NOW
    assert "by ExternalSecret" in changes[0].details[0]


def test_a_pod_template_leaving_or_changing_the_mesh_is_a_mesh_change() -> None:
    """Opting the pods out of sidecar injection (Istio, Linkerd) or moving them to another
    control-plane revision changes how they talk to everyone; other annotations do not."""
    old = _template()
    old["metadata"]["labels"]["istio.io/rev"] = "1-22"
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["sidecar.istio.io/inject"] = "false"
    new["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] = "api"
    new["metadata"]["labels"]["istio.io/rev"] = "1-23"
    changes = rollout_changes(
        _deployment(),
        [
            _replica_set(1, old, "2026-11-01T00:00:00Z"),
            _replica_set(2, new, "2026-11-20T09:00:00Z"),
        ],
    )
    assert changes[0].aspects == ["mesh"]
    assert changes[0].details[1:] == [
        "pod template istio.io/rev 1-22 -> 1-23",
        "pod template sidecar.istio.io/inject unset -> false",
    ]
    linkerd = copy.deepcopy(old)
    linkerd["metadata"]["annotations"]["linkerd.io/inject"] = "disabled"
    linkerd["metadata"]["labels"]["istio.io/rev"] = "1-22"
    only_linkerd = rollout_changes(
        _deployment(),
        [
            _replica_set(1, old, "2026-11-01T00:00:00Z"),
            _replica_set(2, linkerd, "2026-11-20T09:00:00Z"),
        ],
    )
    assert only_linkerd[0].aspects == ["mesh"]


def test_identical_revisions_yield_a_template_change_without_aspects_of_code() -> None:
    template = _template()
    changes = rollout_changes(
        _deployment(),
        [
            _replica_set(1, template, "2026-11-01T00:00:00Z"),
            _replica_set(2, copy.deepcopy(template), "2026-11-20T09:00:00Z"),
        ],
    )
    assert changes[0].aspects == ["template"]


def test_config_maps_count_only_when_written_recently() -> None:
    edited = {
        "kind": "ConfigMap",
        "metadata": {
            "name": "flags",
            "namespace": "shop",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl-edit", "time": "2026-11-20T09:30:00Z"}],
        },
    }
    stale = {
        "kind": "ConfigMap",
        "metadata": {
            "name": "old",
            "namespace": "shop",
            "creationTimestamp": "2025-01-01T00:00:00Z",
        },
    }
    changes = config_changes([edited, stale], NOW)
    assert [c.object.name for c in changes] == ["flags"]
    assert changes[0].aspects == ["data"]


def test_a_recent_node_is_a_change_and_an_old_one_is_not() -> None:
    nodes = [
        {"kind": "Node", "metadata": {"name": "new", "creationTimestamp": "2026-11-20T09:00:00Z"}},
        {"kind": "Node", "metadata": {"name": "old", "creationTimestamp": "2026-01-01T00:00:00Z"}},
    ]
    assert [c.object.name for c in node_changes(nodes, NOW)] == ["new"]


def test_timestamps_are_read_as_every_other_evidence_reader_reads_them() -> None:
    # A timestamp without a zone is UTC (as in evidence.raw), a parsed datetime is taken as
    # is: the timeline dates a change the way the rest of the evidence dates its facts.
    nodes = [
        {"kind": "Node", "metadata": {"name": "naive", "creationTimestamp": "2026-11-20T09:00:00"}},
        {"kind": "Node", "metadata": {"name": "parsed", "creationTimestamp": NOW}},
        {"kind": "Node", "metadata": {"name": "garbage", "creationTimestamp": "yesterday"}},
    ]
    dated = {c.object.name: c.at for c in node_changes(nodes, NOW)}
    assert dated == {"naive": datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "parsed": NOW}


def test_rescale_events_become_scaling_changes() -> None:
    events = [
        EventEvidence(
            type="Normal",
            reason="SuccessfulRescale",
            message="New size: 12; reason: cpu above target",
            involved=ObjectRef(kind="HorizontalPodAutoscaler", namespace="shop", name="api"),
            last_seen=NOW,
        ),
        EventEvidence(
            type="Normal",
            reason="Pulled",
            message="pulled",
            involved=ObjectRef(kind="Pod", namespace="shop", name="api-1"),
        ),
    ]
    changes = scaling_changes(events)
    assert [c.kind for c in changes] == ["scaling"]


def _pod(name: str, digest: str, *, healthy: bool, created: str) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "creationTimestamp": created,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "api-rs2", "controller": True}],
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "api",
                    "image": "app:latest",
                    "imageID": f"registry/app@sha256:{digest}",
                    "ready": healthy,
                    "restartCount": 0 if healthy else 4,
                    "state": {"running": {}}
                    if healthy
                    else {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ]
        },
    }


def test_a_moved_tag_is_seen_when_health_splits_along_the_digest() -> None:
    pods = [
        _pod("a", "aaa", healthy=True, created="2026-11-19T00:00:00Z"),
        _pod("b", "aaa", healthy=True, created="2026-11-19T00:00:00Z"),
        _pod("c", "bbb", healthy=False, created="2026-11-20T09:30:00Z"),
    ]
    changes = digest_changes(_deployment(), pods)
    assert [c.kind for c in changes] == ["image-digest"]
    assert changes[0].at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_one_digest_per_pod_proves_nothing() -> None:
    # Every pod on its own digest (no two agree): no healthy group to compare with.
    pods = [
        _pod("a", "aaa", healthy=True, created="2026-11-19T00:00:00Z"),
        _pod("c", "bbb", healthy=False, created="2026-11-20T09:30:00Z"),
    ]
    assert digest_changes(_deployment(), pods) == []


def test_the_timeline_is_newest_first_and_bounded() -> None:
    nodes = [
        {
            "kind": "Node",
            "metadata": {"name": f"n{i}", "creationTimestamp": f"2026-11-20T0{i}:00:00Z"},
        }
        for i in range(5)
    ]
    changes, found = change_timeline(
        workload=None,
        history=[],
        pods=[],
        config_maps=[],
        nodes=nodes,
        events=[],
        now=NOW,
        limits=EvidenceLimits(max_changes=3),
    )
    assert found == 5
    assert [c.object.name for c in changes] == ["n4", "n3", "n2"]


def test_build_evidence_carries_the_rollout_into_the_timeline() -> None:
    old = _template("app:1.0")
    new = _template("app:1.1")
    objects = [
        _deployment(),
        _replica_set(1, old, "2026-10-01T00:00:00Z"),
        _replica_set(2, new, "2026-11-20T09:40:00Z"),
    ]
    ev = built(objects, ObjectRef(kind="Deployment", namespace="shop", name="api"))
    assert [(c.kind, c.aspects) for c in ev.changes] == [("rollout", ["image"])]


def _with_spec(pod: dict[str, Any], image: str, policy: str) -> dict[str, Any]:
    pod["spec"] = {"containers": [{"name": "api", "image": image, "imagePullPolicy": policy}]}
    return pod


def _old_healthy_and_new_failing(image: str) -> list[dict[str, Any]]:
    """A healthy pod on digest aaa and a newer failing one on bbb, both pulling ``image``
    only if not present."""
    return [
        _with_spec(
            _pod("a", "aaa", healthy=True, created="2026-11-19T00:00:00Z"), image, "IfNotPresent"
        ),
        _with_spec(
            _pod("c", "bbb", healthy=False, created="2026-11-20T09:30:00Z"), image, "IfNotPresent"
        ),
    ]


def test_a_floating_tag_needs_only_newer_failing_pods() -> None:
    pods = _old_healthy_and_new_failing("app:latest")
    assert [c.kind for c in digest_changes(_deployment(), pods)] == ["image-digest"]


def test_a_pinned_version_tag_pulled_if_not_present_does_not_move() -> None:
    pods = _old_healthy_and_new_failing("app:1.2")
    for pod in pods:
        pod["status"]["containerStatuses"][0]["image"] = "app:1.2"
    assert digest_changes(_deployment(), pods) == []


def test_a_rollout_that_switches_the_serviceaccount_names_it() -> None:
    old, new = _template("app:1.0"), _template("app:1.0")
    new["spec"]["serviceAccountName"] = "api-reader"
    changes = rollout_changes(
        _deployment(),
        [
            _replica_set(2, new, "2026-11-20T09:40:00Z"),
            _replica_set(1, old, "2026-10-01T00:00:00Z"),
        ],
    )
    assert changes[0].aspects == ["serviceAccount"]
    assert "serviceAccountName default -> api-reader" in changes[0].details


def test_a_rollout_that_moves_the_pods_to_another_priority_class_names_it() -> None:
    # A quota scoped to a PriorityClass counts only that class's pods: the change matters.
    old, new = _template("app:1.0"), _template("app:1.0")
    new["spec"]["priorityClassName"] = "business-critical"
    changes = rollout_changes(
        _deployment(),
        [
            _replica_set(2, new, "2026-11-20T09:40:00Z"),
            _replica_set(1, old, "2026-10-01T00:00:00Z"),
        ],
    )
    assert changes[0].aspects == ["priority"]
    assert "priorityClassName unset -> business-critical" in changes[0].details


def test_a_rollout_that_changes_security_settings_names_them_field_by_field() -> None:
    # What Pod Security Admission, an SCC and the runtime judge: a pod's and a container's
    # securityContext fields, host ports, the profile annotations.
    old = _template("app:1.0", ports=[{"containerPort": 8080}])
    new = _template(
        "app:1.1",
        ports=[{"containerPort": 8080, "hostPort": 8080}],
        securityContext={"capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
    )
    new["spec"]["securityContext"] = {"runAsUser": 1001}
    new["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/api"] = (
        "localhost/api"
    )
    diff = template_diff(old, new)
    assert list(diff.aspects) == ["image", "security"]
    assert diff.aspects["security"] == [
        "api hostPort unset -> 8080",
        'api securityContext.capabilities unset -> {"drop": ["ALL"]}',
        "api securityContext.readOnlyRootFilesystem unset -> true",
        "container.apparmor.security.beta.kubernetes.io/api unset -> localhost/api",
        "pod securityContext.runAsUser unset -> 1001",
    ]


def test_settings_written_alike_in_both_revisions_are_no_security_change() -> None:
    # Near miss: the same securityContext, reordered, and another pod annotation.
    old = _template("app:1.0", securityContext={"runAsNonRoot": True, "runAsUser": 10001})
    new = _template("app:1.1", securityContext={"runAsUser": 10001, "runAsNonRoot": True})
    new["metadata"]["annotations"]["prometheus.io/scrape"] = "true"
    assert list(template_diff(old, new).aspects) == ["image"]


def test_a_template_diff_keeps_each_aspects_lines_apart_and_clips_long_ones() -> None:
    old = _template("app:1.0", args=["--a"])
    new = _template("registry.example.com/" + "x" * 200 + ":2.0", args=["--b"])
    new["spec"]["containers"][0]["env"] = [{"name": "STAKATER_APP_CONFIG_CONFIGMAP", "value": "1"}]
    diff = template_diff(old, new)
    assert list(diff.aspects) == ["image", "args", "config"]
    # Every line of every aspect, in the order noted, and nothing else.
    assert diff.details == [line for lines in diff.aspects.values() for line in lines]
    assert diff.configs == [("ConfigMap", "app-config")]
    (image_line,) = diff.aspects["image"]
    assert len(image_line) == 160
    assert image_line.endswith("…")
    assert template_diff(old, old).aspects == {}


def _owned_by(pod: dict[str, Any], replica_set: str) -> dict[str, Any]:
    pod["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": replica_set, "controller": True}
    ]
    return pod


def _restart_split(new_template: dict[str, Any]) -> list[str]:
    """The timeline of two healthy pods of revision 1 on digest aaa and a failing one of
    revision 2 (``new_template``) on digest bbb, all reporting image ``app:latest``."""
    history = [
        _replica_set(1, _template("app:latest"), "2026-11-10T00:00:00Z"),
        _replica_set(2, new_template, "2026-11-20T09:30:00Z"),
    ]
    pods = [
        _owned_by(_pod("a", "aaa", healthy=True, created="2026-11-10T00:00:00Z"), "api-rs1"),
        _owned_by(_pod("b", "aaa", healthy=True, created="2026-11-10T00:01:00Z"), "api-rs1"),
        _owned_by(_pod("c", "bbb", healthy=False, created="2026-11-20T09:30:05Z"), "api-rs2"),
    ]
    changes, _ = change_timeline(
        workload=_deployment(),
        history=history,
        pods=pods,
        config_maps=[],
        nodes=[],
        events=[],
        now=NOW,
        limits=LIMITS,
    )
    return [c.kind for c in changes]


def test_a_tag_moved_under_a_reloader_restart_is_seen_across_the_two_revisions() -> None:
    # Revision 2 differs only in Reloader's hash: its pods run the same image reference, so
    # the new digest was pulled by the restart, not rolled out.
    reloaded = _template(
        "app:latest", env=[{"name": "STAKATER_API_CONFIG_CONFIGMAP", "value": "5f1e"}]
    )
    assert _restart_split(reloaded) == ["image-digest", "rollout"]


def test_a_revision_that_changed_what_runs_keeps_its_digests_apart() -> None:
    # Near miss: revision 2 changed the command too, so its pods are not the old ones
    # restarted; a digest differing between the revisions is not a moved tag.
    changed = _template("app:latest", command=["/app", "--new-mode"])
    assert _restart_split(changed) == ["rollout"]
