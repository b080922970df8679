"""Checks Dapr Components in the evidence and the sidecar-components rule.

Evidence side (``kubetriage.evidence.dapr_components`` through the real builder): a Component's
settings that read a Secret key keep that reference (names only) as fields of its summary; a
setting with a plain value keeps none; pods asking for the sidecar are told from others.

Analyzer side (``kubetriage.analyzers.sidecar_components``): the crash-looping Dapr sidecar's
fatal line names a Component it cannot load for its credentials (Redis NOAUTH), and that
Component reads them from one Secret: config-missing, fix that Secret, over the app's release
that started the sidecar. Near misses: the component fails because the server refuses the
connection (the server's story), and a Component that reads no Secret.

Real: raw Deployment, ReplicaSet, Pod and Dapr Component manifests, the pure builder, and the
whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.sidecar_components import CONFIDENCE
from kubetriage.evidence.dapr_components import runs_dapr
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads

APP = ObjectRef(kind="Deployment", namespace="orders", name="order-processor")
SECRET = ObjectRef(kind="Secret", namespace="orders", name="orders-redis-auth")
NEW, OLD = "6b4f9c8d7", "5d7c8b9f64"
DAPR = {"dapr.io/enabled": "true", "dapr.io/app-id": "order-processor"}
NOAUTH = (
    'time="2026-11-20T09:57:13Z" level=fatal msg="Fatal error from runtime: process component '
    "statestore error: [INIT_COMPONENT_FAILURE]: initialization error occurred for statestore "
    "(state.redis/v1): redis store: error connecting to redis at "
    'orders-redis-master.orders.svc.cluster.local:6379: NOAUTH Authentication required."'
)
REFUSED = NOAUTH.replace(
    "NOAUTH Authentication required.", "dial tcp 10.0.3.4:6379: connect: connection refused"
)


def _owned(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}]


def _template(image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": APP.name}, "annotations": DAPR},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def _pod(hash_: str, image: str, crashing: bool) -> dict[str, Any]:
    daprd: dict[str, Any] = {"name": "daprd", "ready": True, "restartCount": 0}
    if crashing:
        daprd = {
            "name": "daprd",
            "ready": False,
            "restartCount": 7,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{APP.name}-{hash_}-kq9xz",
            "namespace": APP.namespace,
            "labels": {"app": APP.name, "pod-template-hash": hash_},
            "annotations": {**DAPR, "dapr.io/sidecar-injected": "true"},
            "ownerReferences": _owned("ReplicaSet", f"{APP.name}-{hash_}"),
        },
        "spec": {
            "containers": [
                {"name": "app", "image": image},
                {"name": "daprd", "image": "ghcr.io/dapr/daprd:1.14.4"},
            ]
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0}, daprd],
        },
    }


def _component(secret: bool = True) -> dict[str, Any]:
    setting: dict[str, Any] = {"name": "redisPassword", "value": "not-a-secret"}
    if secret:
        setting = {
            "name": "redisPassword",
            "secretKeyRef": {"name": SECRET.name, "key": "redis-password"},
        }
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "statestore", "namespace": APP.namespace},
        "spec": {
            "type": "state.redis",
            "version": "v1",
            "metadata": [{"name": "redisHost", "value": "orders-redis-master:6379"}, setting],
        },
    }


def _objects(secret: bool = True) -> list[dict[str, Any]]:
    revisions = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{APP.name}-{hash_}",
                "namespace": APP.namespace,
                "annotations": {"deployment.kubernetes.io/revision": str(number)},
                "ownerReferences": _owned("Deployment", APP.name),
            },
            "spec": {"replicas": 1, "template": _template(image)},
        }
        for hash_, number, image in ((OLD, 8, "op:2.4.3"), (NEW, 9, "op:2.5.0"))
    ]
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": APP.name,
                "namespace": APP.namespace,
                "annotations": {"deployment.kubernetes.io/revision": "9"},
            },
            "spec": {"replicas": 2, "template": _template("op:2.5.0")},
        },
        *revisions,
        _pod(OLD, "op:2.4.3", False),
        _pod(NEW, "op:2.5.0", True),
        _component(secret),
    ]


def _logs(line: str = NOAUTH) -> list[Any]:
    assert APP.namespace is not None
    return [make.log(f"{APP.name}-{NEW}-kq9xz", "daprd", line, namespace=APP.namespace)]


def test_a_component_keeps_the_secret_keys_its_settings_read() -> None:
    evidence = built(_objects(), APP)
    [component] = [o for o in evidence.other_objects if o.ref.kind == "Component"]
    assert component.fields["secretKeyRef.redisPassword.name"] == SECRET.name
    assert component.fields["secretKeyRef.redisPassword.key"] == "redis-password"


def test_a_setting_with_a_plain_value_keeps_no_secret_reference() -> None:
    evidence = built(_objects(secret=False), APP)
    [component] = [o for o in evidence.other_objects if o.ref.kind == "Component"]
    assert not any(k.startswith("secretKeyRef.") for k in component.fields)


def test_pods_asking_for_the_dapr_sidecar_are_told_from_others() -> None:
    assert runs_dapr([_pod(NEW, "op:2.5.0", True)])
    assert not runs_dapr([{"metadata": {"annotations": {"dapr.io/enabled": "false"}}}])


def test_a_sidecar_refused_on_a_components_credentials_blames_its_secret() -> None:
    result = analyze(built(_objects(), APP, logs=_logs()))
    found = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET)
    assert (found.analyzer, found.confidence) == (
        "sidecar-components",
        CONFIDENCE.component_credentials,
    )
    assert found.params == {"key": "redis-password"}


def test_silent_when_the_component_cannot_reach_its_server() -> None:
    result = analyze(built(_objects(), APP, logs=_logs(REFUSED)))
    assert "sidecar-components" not in result.fired


def test_silent_when_the_component_reads_no_secret() -> None:
    result = analyze(built(_objects(secret=False), APP, logs=_logs()))
    assert "sidecar-components" not in result.fired
