"""Patch construction for every executable action: the patch body, the policy bounds, the
recorded before/after, and that the recorded undo patch really restores the object. Pure;
patches are applied with the API emulator's own merge, JSON-patch and strategic-merge code
(the same code the e2e API server runs), objects come from the shared example cases."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Remediation
from kubetriage.models.incident import RemediationRecord, RemediationResult
from kubetriage.models.quantity import format_cpu, format_memory
from kubetriage.models.remediation import validate_parameters
from kubetriage.models.vocabulary import Action, Risk
from kubetriage.remediation.actions import approver, remediation_condition_fields
from kubetriage.remediation.commands import render_command
from kubetriage.remediation.patches import PatchStep, PlanError
from kubetriage.remediation.plan import Related, build_plan
from kubetriage.remediation.policy import LEDGER_ANNOTATION, Bounds
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator.patching import json_patch, merge_patch, strategic_merge
from tests.support.cases import EXAMPLES

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CASES = EXAMPLES
LEDGER = '[{"at":"2026-11-26T12:00:00Z"}]'


def _objects(case: str) -> list[dict[str, Any]]:
    return copy.deepcopy(load_case(CASES / case).cluster)


def _find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    )


def _oom() -> dict[str, Any]:
    deployment = _find(_objects("example-oom-csv-exporter"), "Deployment")
    deployment["metadata"]["resourceVersion"] = "41"
    return deployment


def _remediation(
    action: Action, target: ObjectRef, params: dict[str, str] | None = None
) -> Remediation:
    parameters = validate_parameters(action, params or {})
    return Remediation(
        id=f"{action.value}-abc123",
        action=action,
        title="t",
        target=target,
        parameters=parameters,
        command=render_command(action, target, parameters),
        risk=Risk.LOW,
    )


def _ref(obj: dict[str, Any]) -> ObjectRef:
    meta = obj["metadata"]
    return ObjectRef(kind=obj["kind"], namespace=meta.get("namespace"), name=meta["name"])


def _apply(obj: dict[str, Any], patch_type: str, body: Any) -> dict[str, Any]:
    if patch_type == "strategic":
        return strategic_merge(obj, body)  # type: ignore[no-any-return]
    if patch_type == "merge":
        return merge_patch(obj, body)  # type: ignore[no-any-return]
    return json_patch(obj, body)  # type: ignore[no-any-return]


def _step(obj: dict[str, Any], step: PatchStep) -> dict[str, Any]:
    return _apply(obj, step.patch_type, step.body)


def _container(obj: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][index]  # type: ignore[no-any-return]


def _undone(after: dict[str, Any], plan_undo: Any) -> dict[str, Any]:
    return _apply(after, plan_undo.patch_type, json.loads(plan_undo.patch))


def _without_ledger(obj: dict[str, Any]) -> dict[str, Any]:
    copy_ = copy.deepcopy(obj)
    copy_["metadata"].get("annotations", {}).pop(LEDGER_ANNOTATION, None)
    return copy_


@pytest.mark.parametrize(
    ("factor", "expected", "capped"), [(2.0, "512Mi", False), (1.5, "384Mi", True)]
)
def test_increase_memory_patches_the_named_container_within_the_bound(
    factor: float, expected: str, capped: bool
) -> None:
    deployment = _oom()
    remediation = _remediation(
        Action.INCREASE_MEMORY,
        _ref(deployment),
        {"container": "exporter", "memory": "512Mi"},
    )
    plan = build_plan(
        remediation, deployment, Related(), Bounds(max_memory_factor=factor), LEDGER, NOW
    )
    assert plan.patch.patch_type == "strategic"
    assert plan.patch.body["metadata"]["resourceVersion"] == "41"
    after = _step(deployment, plan.patch)
    resources = _container(after)["resources"]
    assert resources["limits"] == {"cpu": "500m", "memory": expected}
    assert resources["requests"] == {"cpu": "100m", "memory": expected}
    assert after["metadata"]["annotations"][LEDGER_ANNOTATION] == LEDGER
    assert ("capped" in plan.summary) is capped
    paths = {c.path: (c.before, c.after) for c in plan.changes}
    assert paths["spec.template.spec.containers[exporter].resources.limits.memory"] == (
        '"256Mi"',
        f'"{expected}"',
    )
    assert plan.undo.command is not None
    assert "--type strategic" in plan.undo.command
    restored = _undone(after, plan.undo)
    restored["metadata"]["resourceVersion"] = "41"
    assert _without_ledger(restored) == _without_ledger(deployment)


def test_increase_memory_without_a_suggested_value_takes_the_full_factor() -> None:
    deployment = _oom()
    remediation = _remediation(Action.INCREASE_MEMORY, _ref(deployment), {})
    assert "<new-limit>" in remediation.command
    plan = build_plan(
        remediation, deployment, Related(), Bounds(max_memory_factor=1.25), LEDGER, NOW
    )
    assert _container(_step(deployment, plan.patch))["resources"]["limits"]["memory"] == "320Mi"


def test_increase_cpu_raises_only_the_cpu_limit_bounded() -> None:
    deployment = _oom()
    remediation = _remediation(
        Action.INCREASE_CPU, _ref(deployment), {"container": "exporter", "cpu": "4"}
    )
    plan = build_plan(remediation, deployment, Related(), Bounds(max_cpu_factor=3.0), LEDGER, NOW)
    after = _step(deployment, plan.patch)
    assert _container(after)["resources"]["limits"]["cpu"] == "1500m"
    assert _container(after)["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert "capped" in plan.summary


def test_a_container_without_a_limit_is_refused() -> None:
    deployment = _oom()
    del _container(deployment)["resources"]["limits"]["memory"]
    remediation = _remediation(Action.INCREASE_MEMORY, _ref(deployment), {"memory": "1Gi"})
    with pytest.raises(PlanError) as error:
        build_plan(remediation, deployment, Related(), Bounds(), LEDGER, NOW)
    assert error.value.reason == "NoLimit"


def test_a_factor_of_one_is_not_an_increase() -> None:
    deployment = _oom()
    remediation = _remediation(Action.INCREASE_MEMORY, _ref(deployment), {"memory": "1Gi"})
    with pytest.raises(PlanError) as error:
        build_plan(remediation, deployment, Related(), Bounds(max_memory_factor=1.0), LEDGER, NOW)
    assert error.value.reason == "NotAnIncrease"


def test_container_choice_must_be_unambiguous() -> None:
    deployment = _oom()
    sidecar = copy.deepcopy(_container(deployment))
    sidecar["name"] = "proxy"
    deployment["spec"]["template"]["spec"]["containers"].append(sidecar)
    unnamed = _remediation(Action.INCREASE_MEMORY, _ref(deployment), {"memory": "512Mi"})
    with pytest.raises(PlanError) as error:
        build_plan(unnamed, deployment, Related(), Bounds(), LEDGER, NOW)
    assert error.value.reason == "AmbiguousContainer"
    missing = _remediation(
        Action.INCREASE_MEMORY, _ref(deployment), {"container": "nope", "memory": "512Mi"}
    )
    with pytest.raises(PlanError) as error:
        build_plan(missing, deployment, Related(), Bounds(), LEDGER, NOW)
    assert error.value.reason == "ContainerNotFound"
    named = _remediation(
        Action.INCREASE_MEMORY, _ref(deployment), {"container": "proxy", "memory": "512Mi"}
    )
    after = _step(deployment, build_plan(named, deployment, Related(), Bounds(), LEDGER, NOW).patch)
    assert _container(after, 0)["resources"]["limits"]["memory"] == "256Mi"
    assert _container(after, 1)["resources"]["limits"]["memory"] == "512Mi"


def test_restart_sets_the_restarted_at_annotation_and_cannot_be_undone() -> None:
    deployment = _oom()
    plan = build_plan(
        _remediation(Action.RESTART, _ref(deployment)), deployment, Related(), Bounds(), LEDGER, NOW
    )
    after = _step(deployment, plan.patch)
    annotations = after["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": "2026-11-26T12:00:00Z"}
    assert after["spec"]["template"]["spec"] == deployment["spec"]["template"]["spec"]
    assert plan.undo.patch is None
    assert plan.undo.note


@pytest.mark.parametrize(
    ("replicas", "requested", "expected", "capped"),
    [(2, "4", 4, False), (2, "50", 4, True), (3, "50", 6, True), (4, None, 6, False)],
)
def test_scale_out_is_bounded_and_undoable(
    replicas: int, requested: str | None, expected: int, capped: bool
) -> None:
    deployment = _oom()
    deployment["spec"]["replicas"] = replicas
    params = {"replicas": requested} if requested else {}
    plan = build_plan(
        _remediation(Action.SCALE_OUT, _ref(deployment), params),
        deployment,
        Related(),
        Bounds(max_replicas=6, max_replica_factor=2.0),
        LEDGER,
        NOW,
    )
    after = _step(deployment, plan.patch)
    assert after["spec"]["replicas"] == expected
    assert ("capped" in plan.summary) is capped
    assert _undone(after, plan.undo)["spec"]["replicas"] == replicas
    assert plan.undo.command is not None


def test_scale_out_at_the_maximum_is_refused() -> None:
    deployment = _oom()
    deployment["spec"]["replicas"] = 6
    with pytest.raises(PlanError) as error:
        build_plan(
            _remediation(Action.SCALE_OUT, _ref(deployment), {"replicas": "8"}),
            deployment,
            Related(),
            Bounds(max_replicas=6),
            LEDGER,
            NOW,
        )
    assert error.value.reason == "NotAnIncrease"


def _image_case() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    objects = _objects("example-image-tag-typo")
    deployment = _find(objects, "Deployment")
    deployment["metadata"]["resourceVersion"] = "7"
    replica_sets = [o for o in objects if o["kind"] == "ReplicaSet"]
    return deployment, replica_sets


@pytest.mark.parametrize("params", [{}, {"revision": "3"}])
def test_rollback_deployment_uses_the_previous_replicasets_template(
    params: dict[str, str],
) -> None:
    deployment, replica_sets = _image_case()
    stranger = copy.deepcopy(_find(replica_sets, "ReplicaSet", "landing-page-7d4f8b6c59"))
    stranger["metadata"]["name"] = "other-7d4f8b6c59"
    stranger["metadata"]["ownerReferences"][0]["name"] = "other"
    stranger["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    _container(stranger)["image"] = "evil:latest"
    plan = build_plan(
        _remediation(Action.ROLLBACK, _ref(deployment), params),
        deployment,
        Related(replica_sets=[*replica_sets, stranger]),
        Bounds(),
        LEDGER,
        NOW,
    )
    assert plan.patch.patch_type == "json"
    assert plan.patch.body[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}
    after = _step(deployment, plan.patch)
    assert _container(after)["image"] == "docker.io/library/nginx:1.27-alpine"
    assert after["spec"]["template"]["metadata"]["labels"] == {"app": "landing-page"}
    annotations = after["metadata"]["annotations"]
    assert annotations[LEDGER_ANNOTATION] == LEDGER
    assert annotations["deployment.kubernetes.io/revision"] == "4"  # others kept
    assert [c.path for c in plan.changes] == ["spec.template.spec.containers[web].image"]
    assert "revision 4 to 3" in plan.summary
    restored = _undone(after, plan.undo)
    assert restored["spec"]["template"] == deployment["spec"]["template"]
    assert plan.undo.note is not None
    assert "--to-revision=4" in plan.undo.note


def test_rollback_to_a_missing_or_absent_revision_is_refused() -> None:
    deployment, replica_sets = _image_case()
    with pytest.raises(PlanError) as error:
        build_plan(
            _remediation(Action.ROLLBACK, _ref(deployment), {"revision": "2"}),
            deployment,
            Related(replica_sets=replica_sets),
            Bounds(),
            LEDGER,
            NOW,
        )
    assert error.value.reason == "RevisionNotFound"
    current_only = [r for r in replica_sets if r["metadata"]["name"].endswith("66b9d5c7f8")]
    with pytest.raises(PlanError) as error:
        build_plan(
            _remediation(Action.ROLLBACK, _ref(deployment)),
            deployment,
            Related(replica_sets=current_only),
            Bounds(),
            LEDGER,
            NOW,
        )
    assert error.value.reason == "NoPreviousRevision"


def _statefulset() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    deployment, replica_sets = _image_case()
    sts = copy.deepcopy(deployment)
    sts["kind"] = "StatefulSet"
    sts["metadata"] = {
        "name": "web",
        "namespace": "marketing-site",
        "uid": "sts-uid",
        "resourceVersion": "9",
    }
    sts["status"] = {"currentRevision": "web-bbb", "updateRevision": "web-bbb"}
    owner = [{"kind": "StatefulSet", "name": "web", "uid": "sts-uid", "controller": True}]
    revisions = []
    for number, name, rs in [(1, "web-aaa", replica_sets[1]), (2, "web-bbb", replica_sets[0])]:
        template = copy.deepcopy(rs["spec"]["template"])
        template["metadata"]["labels"].pop("pod-template-hash")
        revisions.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {"name": name, "namespace": "marketing-site", "ownerReferences": owner},
                "revision": number,
                "data": {"spec": {"template": {**template, "$patch": "replace"}}},
            }
        )
    return sts, revisions


def test_rollback_statefulset_applies_the_controller_revision_data() -> None:
    sts, revisions = _statefulset()
    assert _container(sts)["image"].endswith("alpline")
    plan = build_plan(
        _remediation(Action.ROLLBACK, _ref(sts)),
        sts,
        Related(controller_revisions=revisions),
        Bounds(),
        LEDGER,
        NOW,
    )
    assert plan.patch.patch_type == "strategic"
    after = _step(sts, plan.patch)
    assert _container(after)["image"] == "docker.io/library/nginx:1.27-alpine"
    assert after["metadata"]["annotations"][LEDGER_ANNOTATION] == LEDGER
    assert "revision 2 to 1" in plan.summary
    restored = _undone(after, plan.undo)["spec"]["template"]
    assert restored["spec"] == sts["spec"]["template"]["spec"]
    assert restored["metadata"] == {"labels": {"app": "landing-page"}}


def test_drain_cordons_and_evicts_only_evictable_pods_on_the_node() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "pool-a-1", "resourceVersion": "3"},
        "spec": {},
    }

    def pod(name: str, node_name: str = "pool-a-1", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "metadata": {"name": name, "namespace": "shop", **extra.get("meta", {})},
            "spec": {"nodeName": node_name},
            "status": {"phase": extra.get("phase", "Running")},
        }
        return body

    pods = [
        pod("app-1"),
        pod("ds-1", meta={"ownerReferences": [{"kind": "DaemonSet", "name": "ds"}]}),
        pod("mirror", meta={"annotations": {"kubernetes.io/config.mirror": "x"}}),
        pod("done", phase="Succeeded"),
        pod("elsewhere", node_name="pool-a-2"),
    ]
    target = ObjectRef(kind="Node", name="pool-a-1")
    plan = build_plan(
        _remediation(Action.DRAIN_NODE, target), node, Related(pods=pods), Bounds(), LEDGER, NOW
    )
    assert [(e.namespace, e.name) for e in plan.evictions] == [("shop", "app-1")]
    after = _step(node, plan.patch)
    assert after["spec"]["unschedulable"] is True
    assert "unschedulable" not in _undone(after, plan.undo)["spec"]
    assert plan.undo.note is not None
    assert "uncordon" in plan.undo.note


def test_actions_that_need_a_person_are_not_planned() -> None:
    deployment = _oom()
    with pytest.raises(PlanError) as error:
        build_plan(
            _remediation(Action.FIX_IMAGE, _ref(deployment)),
            deployment,
            Related(),
            Bounds(),
            LEDGER,
            NOW,
        )
    assert error.value.reason == "NotExecutable"


@pytest.mark.parametrize(
    ("value", "text"), [(384 * 1024**2, "384Mi"), (2 * 1024**3, "2Gi"), (400.5 * 1024**2, "400Mi")]
)
def test_format_memory_rounds_down(value: float, text: str) -> None:
    assert format_memory(value) == text


def test_format_cpu_rounds_down() -> None:
    assert format_cpu(0.75) == "750m"
    assert format_cpu(1.0 / 3.0) == "333m"


def test_approver_prefers_spec_then_managed_fields() -> None:
    managed = {
        "managedFields": [
            {
                "manager": "kubectl-create",
                "time": "2026-11-26T10:00:00Z",
                "fieldsV1": {"f:spec": {}},
            },
            {
                "manager": "kubectl-patch",
                "time": "2026-11-26T11:00:00Z",
                "fieldsV1": {"f:spec": {"f:approve": {}}},
            },
        ]
    }
    assert approver({"approvedBy": " alice "}, managed) == ("alice", "spec.approvedBy")
    assert approver({}, managed) == ("kubectl-patch", "managedFields")
    assert approver({}, {}) == ("unknown", "unknown")


def test_condition_fields_follow_the_result() -> None:
    applied = RemediationRecord(id="x", result=RemediationResult.APPLIED, reason="Applied")
    assert remediation_condition_fields(applied)[:2] == ("True", "Applied")
    rejected = RemediationRecord(
        id="x", result=RemediationResult.REJECTED, reason="OptedOut", message="no"
    )
    assert remediation_condition_fields(rejected) == ("False", "OptedOut", "no")
