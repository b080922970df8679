"""Checks the identity a client logs in with, as an auth server records it on a refused login:
Vault's Kubernetes (or JWT) auth names the role the login asked for (``login unauthorized:
err="service account name not authorized" role=claims-api``), and that role names the client
workload. The Deployment of that name, in any namespace, is a caller of the auth server; when
its latest rollout switched the ServiceAccount it logs in with right before the refusals
began, the caller's rollout is rolled back (the identity changed, not the server). Near
misses: a ``role=`` on a line that is no login (a database's replication role), a
successful login, and a ServiceAccount switch long before the refusals.

Real: ``build_evidence`` (via ``tests.support.built``) over raw objects and log tails, and
Evidence models from ``tests.support.evidence`` with the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.callers import CONFIDENCE
from kubetriage.evidence.callers import clients_in_errors
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence, ClientMention
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import ago, analyze, assert_leads, by_category, named

VAULT = ObjectRef(kind="StatefulSet", namespace="vault", name="vault")
VAULT_SERVICE = ObjectRef(kind="Service", namespace="vault", name="vault")
CLAIMS = ObjectRef(kind="Deployment", namespace="claims", name="claims-api")

_REFUSED = (
    "2026-11-20T09:58:02.117Z [ERROR] auth.kubernetes.auth_kubernetes_5a1f2c3d: login "
    'unauthorized: err="service account name not authorized" role=claims-api'
)


def _tail(*lines: str) -> LogTail:
    return make.log("vault-0", "vault", "\n".join(lines), namespace="vault")


def test_the_role_a_refused_login_asked_for_names_the_client() -> None:
    assert clients_in_errors([_tail(_REFUSED, _REFUSED)]) == [
        ("claims-api", named("log vault/vault-0/vault"), 2)
    ]


def test_a_role_on_a_line_that_is_no_login_or_a_successful_login_names_no_client() -> None:
    lines = (
        "ERROR: replication slot failed on member pg-1 role=replica",
        "2026-11-20T09:58:02Z [INFO] auth.kubernetes: login succeeded role=claims-api",
    )
    assert clients_in_errors([_tail(*lines)]) == []


def _vault_objects() -> list[dict[str, Any]]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "vault-0", "namespace": "vault", "labels": {"app": "vault"}},
        "spec": {"containers": [{"name": "vault", "image": "hashicorp/vault:1.18.2"}]},
    }
    return [
        deployment_manifest("vault", "vault", ("vault", "hashicorp/vault:1.18.2")),
        pod,
        service_manifest("vault", "vault", {"app": "vault"}, port=8200),
    ]


def test_the_deployment_the_role_names_is_a_caller_of_the_auth_server() -> None:
    objects = [
        *_vault_objects(),
        deployment_manifest("claims-api", "claims", ("claims-api", "claims-api:2")),
    ]
    server = ObjectRef(kind="Deployment", namespace="vault", name="vault")
    evidence = built(objects, server, logs=[_tail(_REFUSED)])
    assert [c.ref for c in evidence.callers] == [CLAIMS]
    assert evidence.callers[0].callee == VAULT_SERVICE
    assert evidence.callers[0].named_by == [named("log vault/vault-0/vault")]
    assert evidence.callers[0].naming_texts() == [
        "log vault/vault-0/vault: 1 error line names client claims-api"
    ]


def _refusals(*, switched_minutes_ago: float, aspects: tuple[str, ...]) -> Evidence:
    change = make.rollout_change(CLAIMS, 8, *aspects, minutes_ago=switched_minutes_ago)
    caller = CallerEvidence(
        ref=CLAIMS,
        callee=VAULT_SERVICE,
        named_by=[named("log vault/vault-0/vault")],
        in_errors=ClientMention(log=named("log vault/vault-0/vault"), lines=3, client="claims-api"),
        changes=[change],
    )
    return make.evidence(
        target=VAULT,
        alerts=[
            AlertEvidence(
                labels={"alertname": "VaultKubernetesAuthLoginFailures", "namespace": "vault"},
                starts_at=ago(9),
                status="firing",
            )
        ],
        logs=[_tail(_REFUSED)],
        callers=[caller],
    )


def test_a_serviceaccount_switch_right_before_the_refusals_rolls_the_caller_back() -> None:
    finding = assert_leads(
        analyze(_refusals(switched_minutes_ago=26, aspects=("serviceAccount",))),
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        CLAIMS,
    )
    assert finding.analyzer == "caller-rollout"
    assert finding.confidence == CONFIDENCE.named_by_errors
    assert finding.narrative is not None
    assert "serviceAccount" in finding.narrative.because[1].text


def test_a_switch_long_before_the_refusals_did_not_cause_them() -> None:
    result = analyze(_refusals(switched_minutes_ago=60 * 24 * 9, aspects=("serviceAccount",)))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CLAIMS]


def test_a_rollout_that_changed_only_labels_is_no_cause() -> None:
    result = analyze(_refusals(switched_minutes_ago=26, aspects=("template",)))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CLAIMS]
