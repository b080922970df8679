"""The tenancy rule (``kubetriage.tenancy``) as pure functions, and the remediation policy's
use of it: own namespace only, cluster-wide only for the configured cluster-scope
namespaces (by default the operator's incident namespace), refusals that say why. Nothing is
faked: these are the functions the handlers, the collector and the approval path call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubetriage.errors import InvalidIncident
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action
from kubetriage.remediation.policy import Request, evaluate, load_policy
from kubetriage.settings import Settings
from kubetriage.tenancy import (
    OUTSIDE_NAMESPACE,
    Tenancy,
    allowed_candidates,
    check_target,
    cluster_scope_namespaces,
    may_read,
    may_target,
)

MEDIA = ObjectRef(kind="Deployment", namespace="media", name="thumbnailer")
NODE = ObjectRef(kind="Node", name="node-1")


def test_default_cluster_scope_is_the_incident_namespace() -> None:
    settings = Settings(incident_namespace="ops")
    assert cluster_scope_namespaces(settings) == {"ops"}
    assert may_read("ops", "media", settings)
    assert may_read("ops", None, settings)
    assert may_target("ops", NODE, settings)
    assert not may_read("team-a", "media", settings)
    assert not may_read("team-a", None, settings)
    assert may_read("team-a", "team-a", settings)


def test_configured_cluster_scope_replaces_the_default() -> None:
    settings = Settings(incident_namespace="ops", cluster_scope_namespaces=["sre"])
    assert may_target("sre", MEDIA, settings)
    assert not may_target("ops", MEDIA, settings)
    assert not may_target("ops", NODE, settings)


def test_namespace_target_only_for_its_own_namespace() -> None:
    scope = Tenancy().scope("team-a")
    assert scope.may_target(ObjectRef(kind="Namespace", name="team-a"))
    assert not scope.may_target(ObjectRef(kind="Namespace", name="media"))
    assert not scope.may_target(ObjectRef(kind="PersistentVolume", name="pv-1"))


def test_no_incident_namespace_is_unrestricted() -> None:
    scope = Tenancy().scope(None)
    assert scope.may_target(MEDIA)
    assert scope.may_target(NODE)
    assert scope.may_read("x")


def test_explicit_target_outside_is_refused_with_the_reason() -> None:
    scope = Tenancy().scope("team-a")
    with pytest.raises(InvalidIncident) as caught:
        check_target(scope, MEDIA, [])
    assert caught.value.reason == OUTSIDE_NAMESPACE
    assert "Deployment/media/thumbnailer" in str(caught.value)
    assert "team-a" in str(caught.value)


def test_alert_labels_elsewhere_are_dropped_and_refused_when_nothing_is_left() -> None:
    scope = Tenancy().scope("team-a")
    elsewhere = Alert(labels={"alertname": "X", "namespace": "kube-system", "pod": "coredns-1"})
    with pytest.raises(InvalidIncident):
        check_target(scope, None, [elsewhere])
    own = Alert(labels={"alertname": "X", "namespace": "team-a", "pod": "web-1"})
    check_target(scope, None, [elsewhere, own])
    allowed, refused = allowed_candidates(scope, None, [elsewhere, own])
    assert [c.key() for c in allowed] == ["Pod/team-a/web-1", "Namespace/-/team-a"]
    assert {c.namespace or c.name for c in refused} == {"kube-system"}


def _request(target: ObjectRef, incident_namespace: str) -> Request:
    return Request(
        action=Action.INCREASE_MEMORY,
        target=target,
        labels={},
        annotations={},
        ledger=[],
        approver_known=True,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        scope=Tenancy(frozenset({"ops"})).scope(incident_namespace),
    )


def test_policy_refuses_a_target_outside_the_approving_incidents_namespace() -> None:
    policy = load_policy(
        "apiVersion: kubetriage.io/v1alpha1\nkind: RemediationPolicy\n"
        "rules: [{actions: [increase-memory], namespaces: ['*']}]\n"
    )
    refused = evaluate(policy, _request(MEDIA, "team-a"))
    assert (refused.allowed, refused.reason) == (False, OUTSIDE_NAMESPACE)
    assert evaluate(policy, _request(MEDIA, "media")).allowed
    assert evaluate(policy, _request(MEDIA, "ops")).allowed
