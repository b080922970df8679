"""Checks the token-issuer reading of the dependency-change rule: a service rejecting tokens
whose signature does not verify (golang-jwt's keyfunc, jose, PyJWT, Envoy's jwt_authn words),
whose env names a followed dependency as its issuer or key set (``JWKS_URL``), and that
dependency rolled out right before the rejections began: roll the issuer back. Near misses: the
env naming the dependency says nothing of tokens, the logs reject no signature, the issuer's
rollout is older than the window.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, naming

ISSUER = ObjectRef(kind="Deployment", namespace="auth", name="issuer")

_KEYFUNC = (
    '{"level":"WARN","msg":"jwt validation failed","err":"token is unverifiable: error while '
    'executing keyfunc: key with kid \\"k2\\" not found in JWKS"}'
)


def _issuer_evidence(
    line: str = _KEYFUNC, *, env: str = "JWKS_URL", rolled_minutes_ago: float = 30
) -> Evidence:
    rollout = ChangeEvidence(
        at=ago(rolled_minutes_ago),
        kind="rollout",
        object=ISSUER,
        aspects=["image", "env"],
        details=["revision 7 -> 8", "issuer env changed: SIGNING_KEY_ID"],
        from_revision=7,
        to_revision=8,
    )
    dependency = DependencyEvidence(
        workload=ISSUER,
        named_by=naming(f"pod checkout-1 env {env}", f"Deployment checkout env {env}"),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        changes=[rollout],
    )
    return make.evidence(
        workload=make.deployment(),
        pods=[make.pod("checkout-1", make.container("app"))],
        logs=[make.log("checkout-1", "app", line)],
        dependencies=[dependency],
        alerts=[
            AlertEvidence(
                labels={"alertname": "Unauthorized", "namespace": "shop"},
                starts_at=ago(20),
                status="firing",
            )
        ],
    )


@pytest.mark.parametrize(
    "line",
    [
        _KEYFUNC,
        "Jwt verification fails",
        "jose.errors.JWKSNoMatchingKey: no applicable key found in the JSON Web Key Set",
        "jwt.exceptions.PyJWKClientError: Unable to find a signing key that matches: k2",
        "JsonWebTokenError: invalid signature",
    ],
)
def test_signature_rejections_after_the_issuers_rollout_roll_the_issuer_back(line: str) -> None:
    result = analyze(_issuer_evidence(line))
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, ISSUER)
    assert finding.analyzer == "dependency-change"
    assert finding.params == {"revision": "7"}
    assert finding.narrative is not None
    assert "signing keys" in finding.narrative.because[2].text
    assert any(e.fact == line for e in finding.evidence)


def test_a_dependency_named_for_something_else_is_not_the_issuer() -> None:
    result = analyze(_issuer_evidence(env="CURRENCY_URL"))
    assert "dependency-change" not in result.fired


def test_logs_that_reject_no_signature_do_not_blame_the_issuer() -> None:
    result = analyze(_issuer_evidence('{"msg":"request","status":200}'))
    assert "dependency-change" not in result.fired


def test_an_old_issuer_rollout_is_not_what_changed() -> None:
    result = analyze(_issuer_evidence(rolled_minutes_ago=60 * 24))
    assert "dependency-change" not in result.fired
