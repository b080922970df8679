"""Checks "who should have written this Secret?": a pod that cannot get a Secret (absent, or
without a key) whose Secret a controller writes from a source object is diagnosed at that
source: a Kyverno generate rule's clone source, the credentials Secret of the ProviderConfig
a Crossplane managed resource under the claim cannot sync through, the OOM-killed operator
Deployment that writes a Strimzi KafkaUser's Secret. A healthy writer, or no writer, leaves
the consumer's own Secret blamed, as before.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, and the analyzer
registry.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.summaries.secret_writers import provider_groups, wanted_secrets
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from tests.support.built import built, case_evidence, deployment_manifest
from tests.support.cases import TRAIN
from tests.support.evidence import analyze, assert_leads

APP = ObjectRef(kind="Deployment", namespace="shop", name="mailer")
CONSUMER = ObjectRef(kind="Secret", namespace="shop", name="smtp")


def _pod(message: str, *, volume: bool = False) -> dict[str, Any]:
    """A pod of ``mailer`` that cannot start: the kubelet's ``message``, as a container that
    cannot be created, or (``volume``) as a Secret volume that cannot be mounted."""
    state = {"waiting": {"reason": "ContainerCreating"}}
    if not volume:
        state = {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "app",
                "image": "mailer:1.0",
                "env": [
                    {
                        "name": "SMTP_USER",
                        "valueFrom": {"secretKeyRef": {"name": "smtp", "key": "username"}},
                    }
                ],
            }
        ],
        "nodeName": "worker-1",
    }
    if volume:
        spec["volumes"] = [{"name": "creds", "secret": {"secretName": "smtp"}}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "mailer-5d9c7f8b54-x2x7q",
            "namespace": "shop",
            "labels": {"app": "mailer", "pod-template-hash": "5d9c7f8b54"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "mailer-5d9c7f8b54", "controller": True}
            ],
        },
        "spec": spec,
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {"name": "app", "ready": False, "restartCount": 0, "state": state}
            ],
        },
    }


def _mount_event(message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "mailer-5d9c7f8b54-x2x7q.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "mailer-5d9c7f8b54-x2x7q", "namespace": "shop"},
        "reason": "FailedMount",
        "message": message,
        "type": "Warning",
        "count": 12,
    }


def _app(*more: dict[str, Any], message: str, volume: bool = False) -> list[dict[str, Any]]:
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "mailer-5d9c7f8b54",
            "namespace": "shop",
            "labels": {"app": "mailer", "pod-template-hash": "5d9c7f8b54"},
            "ownerReferences": [{"kind": "Deployment", "name": "mailer", "controller": True}],
        },
        "spec": {"selector": {"matchLabels": {"app": "mailer"}}},
    }
    objects = [deployment_manifest("mailer", "shop", ("app", "mailer:1.0")), replica_set]
    objects.append(_pod(message, volume=volume))
    if volume:
        objects.append(_mount_event(message))
    return objects + list(more)


NO_KEY = "couldn't find key username in Secret shop/smtp"
ABSENT = 'MountVolume.SetUp failed for volume "creds" : secret "smtp" not found'


def test_the_secrets_the_kubelet_says_are_missing() -> None:
    pods = [_pod(NO_KEY)]
    assert wanted_secrets(pods, []) == [("shop", "smtp")]
    assert wanted_secrets([_pod("", volume=True)], [_mount_event(ABSENT)]) == [("shop", "smtp")]
    assert wanted_secrets([_pod('configmap "app" not found')], []) == []


# --- Kyverno: a generated clone ---------------------------------------------------------


def _clone_policy(namespace: str = "{{request.object.metadata.name}}") -> dict[str, Any]:
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "sync-smtp"},
        "spec": {
            "rules": [
                {
                    "name": "clone-smtp",
                    "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
                    "generate": {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "name": "smtp",
                        "namespace": namespace,
                        "synchronize": True,
                        "clone": {"namespace": "platform", "name": "corp-smtp"},
                    },
                }
            ]
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_a_key_missing_from_a_cloned_secret_is_fixed_at_its_source() -> None:
    ev = built(_app(_clone_policy(), message=NO_KEY), APP)
    (writer,) = ev.secret_writers
    assert writer.writer.kind == "ClusterPolicy"
    assert writer.secret == CONSUMER
    source = ObjectRef(kind="Secret", namespace="platform", name="corp-smtp")
    assert writer.source == source
    found = assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, source)
    assert found.params["key"] == "username"
    assert any(i.source == "clusterpolicy/sync-smtp" for i in found.evidence)


def test_a_clone_into_another_namespace_is_no_writer() -> None:
    ev = built(_app(_clone_policy("billing"), message=NO_KEY), APP)
    assert ev.secret_writers == []
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, CONSUMER)


def test_no_writer_leaves_the_consumers_secret_blamed() -> None:
    ev = built(_app(message=ABSENT, volume=True), APP)
    assert ev.secret_writers == []
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, CONSUMER)


# --- Crossplane: a claim's connection Secret -------------------------------------------

CREDENTIALS = 'cannot get credentials: cannot get credentials secret: Secret "cloud" not found'


def _claim_chain(*, synced: bool) -> list[dict[str, Any]]:
    claim = {
        "apiVersion": "db.example.org/v1alpha1",
        "kind": "Database",
        "metadata": {"name": "mailer-db", "namespace": "shop"},
        "spec": {
            "writeConnectionSecretToRef": {"name": "smtp"},
            "resourceRef": {
                "apiVersion": "db.example.org/v1alpha1",
                "kind": "XDatabase",
                "name": "mailer-db-x1",
            },
        },
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Creating"}]},
    }
    composite = {
        "apiVersion": "db.example.org/v1alpha1",
        "kind": "XDatabase",
        "metadata": {"name": "mailer-db-x1"},
        "spec": {
            "resourceRefs": [
                {"apiVersion": "sql.gcp.example.io/v1beta1", "kind": "Instance", "name": "db-1"}
            ]
        },
    }
    condition = {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"}
    if not synced:
        condition = {
            "type": "Synced",
            "status": "False",
            "reason": "ReconcileError",
            "message": f"connect failed: {CREDENTIALS}",
        }
    managed = {
        "apiVersion": "sql.gcp.example.io/v1beta1",
        "kind": "Instance",
        "metadata": {"name": "db-1"},
        "spec": {"providerConfigRef": {"name": "default"}},
        "status": {"conditions": [condition]},
    }
    config = {
        "apiVersion": "gcp.example.io/v1beta1",
        "kind": "ProviderConfig",
        "metadata": {"name": "default"},
        "spec": {
            "credentials": {
                "source": "Secret",
                "secretRef": {"namespace": "crossplane-system", "name": "cloud", "key": "json"},
            }
        },
    }
    # Another provider's config of the same name, in a group the managed resource is not of.
    other = {**config, "apiVersion": "aws.other.io/v1beta1"}
    other = {**other, "spec": {"credentials": {"source": "IRSA"}}}
    return [claim, composite, managed, config, other]


def test_a_connection_secret_never_written_is_fixed_at_the_provider_credentials() -> None:
    ev = built(_app(*_claim_chain(synced=False), message=ABSENT, volume=True), APP)
    (writer,) = ev.secret_writers
    assert writer.writer.kind == "Database"
    assert writer.failing is not None
    assert writer.failing.name == "db-1"
    source = ObjectRef(kind="Secret", namespace="crossplane-system", name="cloud")
    assert writer.source == source
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, source)


def test_a_claim_still_being_created_leaves_the_consumers_secret_blamed() -> None:
    ev = built(_app(*_claim_chain(synced=True), message=ABSENT, volume=True), APP)
    (writer,) = ev.secret_writers
    assert writer.source is None
    assert writer.failing is None
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, CONSUMER)


def test_a_provider_config_is_served_by_its_managed_resources_group_or_a_parent() -> None:
    assert provider_groups("rds.aws.upbound.io") == [
        "rds.aws.upbound.io",
        "aws.upbound.io",
        "upbound.io",
    ]


# --- Strimzi: a KafkaUser's Secret and the operator writing it -------------------------


def _kafka_user(*, ready: bool | None = None) -> dict[str, Any]:
    user: dict[str, Any] = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {"name": "smtp", "namespace": "shop", "labels": {"strimzi.io/cluster": "bus"}},
        "spec": {"authentication": {"type": "tls"}},
    }
    if ready is not None:
        user["status"] = {"conditions": [{"type": "Ready", "status": str(ready)}]}
    return user


def _operator(*, oom: bool) -> list[dict[str, Any]]:
    labels = {"strimzi.io/cluster": "bus", "strimzi.io/name": "bus-entity-operator"}
    workload = deployment_manifest(
        "bus-entity-operator", "kafka", ("user-operator", "strimzi/operator:0.43.0"), labels=labels
    )
    workload["metadata"]["labels"] = labels
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}} if oom else {}
    status = {
        "name": "user-operator",
        "ready": not oom,
        "restartCount": 9 if oom else 0,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}} if oom else {"running": {}},
        "lastState": last,
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bus-entity-operator-6d9-p2", "namespace": "kafka", "labels": labels},
        "spec": {"containers": [{"name": "user-operator", "image": "strimzi/operator:0.43.0"}]},
        "status": {"phase": "Running", "containerStatuses": [status]},
    }
    return [workload, pod]


def test_a_kafka_user_secret_never_written_by_an_oom_killed_operator() -> None:
    ev = built(_app(_kafka_user(), *_operator(oom=True), message=ABSENT, volume=True), APP)
    (writer,) = ev.secret_writers
    operator = ObjectRef(kind="Deployment", namespace="kafka", name="bus-entity-operator")
    assert writer.controller is not None
    assert writer.controller.same_object(operator)
    assert writer.controller_oom_killed
    result = analyze(ev)
    first = result.findings[0]
    assert (first.category, first.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)
    assert first.target.same_object(operator)
    assert not [f for f in result.findings if f.target == CONSUMER]


def test_a_healthy_user_operator_leaves_the_consumers_secret_blamed() -> None:
    ev = built(_app(_kafka_user(), *_operator(oom=False), message=ABSENT, volume=True), APP)
    (writer,) = ev.secret_writers
    assert not writer.controller_oom_killed
    assert writer.controller_failures == []
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, CONSUMER)


def test_a_ready_kafka_user_is_not_followed_to_its_operator() -> None:
    objects = _app(_kafka_user(ready=True), *_operator(oom=True), message=ABSENT, volume=True)
    (writer,) = built(objects, APP).secret_writers
    assert writer.controller is None
    assert writer.ready is True


# --- offline: the train cases of the family, through the builder over the whole snapshot --

FAMILY = [
    "config-missing-crossplane-providerconfig-credentials-secret-renamed-db-connection-"
    "secret-never-written",
    "config-missing-kyverno-cloned-smtp-secret-lost-key-at-source-replacement-pod",
    "oom-killed-strimzi-user-operator-kafkauser-secret-never-created-new-consumer-stuck",
]


@pytest.mark.parametrize("name", FAMILY)
def test_the_snapshot_builder_finds_the_writer_as_the_collector_does(name: str) -> None:
    case = load_case(TRAIN / name / "case.yaml")
    first = analyze(case_evidence(case)).findings[0]
    expect = case.expect
    assert expect is not None
    assert (first.category.value, first.action.value) == (expect.category, expect.actions[0])
    assert (first.target.kind, first.target.namespace, first.target.name) == (
        expect.target.kind,
        expect.target.namespace,
        expect.target.name,
    )
