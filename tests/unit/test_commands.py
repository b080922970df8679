"""kubectl command templates: one per action, rendered from the remediation's typed
parameters; values validated and names shell-quoted so hostile text cannot inject a second
command. Pure; the generated strings are parsed with shlex."""

from __future__ import annotations

import shlex

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.remediation import parameters_from_hints, validate_parameters
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action
from kubetriage.remediation.commands import render_command

DEPLOY = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _target_for(action: Action) -> ObjectRef:
    kind = sorted(ACTION_TARGET_KINDS[action])[0]
    namespace = None if kind == "Node" else "shop"
    return ObjectRef(kind=kind, namespace=namespace, name="thing")


@pytest.mark.parametrize("action", list(Action))
def test_every_action_has_a_kubectl_template(action: Action) -> None:
    command = render_command(action, _target_for(action), validate_parameters(action, {}))
    assert command.split()[0] in {"kubectl", "cmctl"}
    assert "thing" in command


def test_memory_rollback_scale_templates() -> None:
    memory = validate_parameters(Action.INCREASE_MEMORY, {"container": "app", "memory": "512Mi"})
    assert render_command(Action.INCREASE_MEMORY, DEPLOY, memory) == (
        "kubectl -n shop set resources deployment/checkout -c app "
        "--limits=memory=512Mi --requests=memory=512Mi"
    )
    assert render_command(
        Action.ROLLBACK, DEPLOY, validate_parameters(Action.ROLLBACK, {"revision": 3})
    ) == ("kubectl -n shop rollout undo deployment/checkout --to-revision=3")
    assert render_command(
        Action.SCALE_OUT, DEPLOY, validate_parameters(Action.SCALE_OUT, {"replicas": 6})
    ) == ("kubectl -n shop scale deployment/checkout --replicas=6")
    node = ObjectRef(kind="Node", name="worker-1")
    drain = render_command(Action.DRAIN_NODE, node, validate_parameters(Action.DRAIN_NODE, {}))
    assert drain.startswith("kubectl cordon node/worker-1 &&")


@pytest.mark.parametrize(
    "params",
    [
        {"container": "app; rm -rf /", "memory": "512Mi"},
        {"container": "app", "memory": "$(curl evil)"},
        {"revision": "3 && kubectl delete ns prod"},
    ],
)
def test_hostile_parameters_never_reach_the_command(params: dict[str, str]) -> None:
    for action in (Action.INCREASE_MEMORY, Action.ROLLBACK):
        command = render_command(action, DEPLOY, parameters_from_hints(action, params))
        for forbidden in (";", "$(", "&&"):
            assert forbidden not in command


def test_hostile_names_are_neutralised() -> None:
    evil = ObjectRef(kind="Deployment", namespace="shop", name="x; kubectl delete ns prod")
    command = render_command(Action.RESTART, evil, validate_parameters(Action.RESTART, {}))
    tokens = shlex.split(command)
    assert "delete" not in tokens
    assert "INVALID-NAME" in command
