"""Checks the callee-credentials rule (``kubetriage.analyzers.callee_credentials``): a followed
dependency that rolled out only to pick up a changed Secret (a Reloader hash naming it: its
password was rotated), after which the unchanged caller's logins are refused, is not rolled
back; the Secret the caller reads its credential from (a copy the rotation never reached) is
the one to correct, above rolling the callee back. Near misses: the caller reads the very
Secret the rollout carried, the callee's rollout changed what it runs, the caller rolled out
too, no refused login, the errors began long before the rotation.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.callee_credentials import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, ConfigReference
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, naming

CALLER_POD = "sessions-6c8b7d9f5d-5gxlw"
_STORE = ObjectRef(kind="StatefulSet", namespace="cache", name="kv")
_SERVER_SECRET = ObjectRef(kind="Secret", namespace="cache", name="kv-auth")
_COPY = ObjectRef(kind="Secret", namespace="shop", name="kv-password")
_REFUSED = (
    "redis.exceptions.AuthenticationError: invalid username-password pair or user is disabled."
)


def _rotation(
    *aspects: str,
    minutes_ago: float = 25,
    carried: bool = True,
    secret: ObjectRef = _SERVER_SECRET,
) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=_STORE,
        aspects=list(aspects),
        details=["revision 12 -> 13", "Secret kv-auth changed (Reloader)"],
        from_revision=12,
        to_revision=13,
        configs=[secret] if carried else [],
    )


def _store(change: ChangeEvidence) -> DependencyEvidence:
    return DependencyEvidence(
        service=make.service("kv", "cache", ready=1, matching=1, port_numbers=[6379]),
        workload=_STORE,
        named_by=naming(f"pod {CALLER_POD} env KV_HOST"),
        pods=1,
        desired_replicas=1,
        ready_replicas=1,
        changes=[change],
    )


def _caller(
    change: ChangeEvidence,
    *,
    logs: str = _REFUSED,
    errors_since: float = 22,
    own: tuple[ChangeEvidence, ...] = (),
) -> Evidence:
    refs = [
        ConfigReference(kind="Secret", name=_COPY.name, key="password", via="env KV_PASSWORD"),
        ConfigReference(kind="Secret", name="sessions-signing", key="key", via="env COOKIE_SEED"),
        ConfigReference(kind="ConfigMap", name="sessions-config", via="envFrom"),
    ]
    return make.evidence(
        workload=make.deployment("sessions"),
        pods=[make.app_pod(CALLER_POD, make.container("app"), config_refs=refs)],
        dependencies=[_store(change)],
        logs=[make.log(CALLER_POD, "app", logs)],
        metrics=[
            make.error_ratio(
                first=0.001,
                last=0.9,
                changed_minutes_ago=errors_since,
                job="sessions",
                trend="rising",
            )
        ],
        changes=list(own),
    )


def test_a_rotated_callee_credential_fixes_the_callers_own_copy() -> None:
    result = analyze(_caller(_rotation("config")))
    finding = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, _COPY)
    assert finding.analyzer == "callee-credentials-rotated"
    assert finding.confidence == CONFIDENCE.stale_copy
    rollback = [f for f in result.findings if f.action is Action.ROLLBACK]
    assert all(f.confidence < finding.confidence for f in rollback)


def test_a_caller_reading_the_secret_the_rollout_carried_has_no_stale_copy() -> None:
    # Both in one namespace, reading one Secret: the rotation reached the caller too.
    ev = _caller(_rotation("config", secret=_COPY))
    assert not [f for f in analyze(ev).findings if f.analyzer == "callee-credentials-rotated"]


def test_a_callee_rollout_that_changed_what_it_runs_is_not_a_rotation() -> None:
    ev = _caller(_rotation("image", "config"))
    assert not [f for f in analyze(ev).findings if f.analyzer == "callee-credentials-rotated"]


def test_a_callee_rollout_whose_hash_names_no_secret_is_not_a_rotation() -> None:
    ev = _caller(_rotation("config", carried=False))
    assert not [f for f in analyze(ev).findings if f.analyzer == "callee-credentials-rotated"]


def test_a_caller_that_rolled_out_after_the_rotation_is_its_own_suspect() -> None:
    own = ChangeEvidence(
        at=ago(20),
        kind="rollout",
        object=ObjectRef(kind="Deployment", namespace="shop", name="sessions"),
        aspects=["image"],
        details=["revision 4 -> 5"],
        from_revision=4,
        to_revision=5,
    )
    ev = _caller(_rotation("config"), own=(own,))
    assert not [f for f in analyze(ev).findings if f.analyzer == "callee-credentials-rotated"]


def test_calls_that_fail_without_a_refused_login_are_not_a_stale_credential() -> None:
    ev = _caller(_rotation("config"), logs="redis.exceptions.TimeoutError: Timeout reading")
    assert not [f for f in analyze(ev).findings if f.analyzer == "callee-credentials-rotated"]


def test_errors_that_began_long_before_the_rotation_are_not_its_doing() -> None:
    ev = _caller(_rotation("config", minutes_ago=25), errors_since=200)
    assert not [f for f in analyze(ev).findings if f.analyzer == "callee-credentials-rotated"]
