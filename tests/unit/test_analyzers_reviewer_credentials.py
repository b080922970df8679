"""Checks the auth-server reviewer rule: a followed dependency that logs in clients with
their ServiceAccount tokens (Vault's Kubernetes auth) and says the TokenReview API refuses its
own reviewer credential refuses every login, so the caller's refused login (and the rollout
waiting on it) is the server's to fix: escalate to its Service. Near misses: the server
refusing one client's ServiceAccount, a caller whose refused line names another host, and a
server with nothing to say about its reviewer.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

CALLER_POD = "orders-6f7d8c9b5-x1y2z"
VAULT = ObjectRef(kind="Service", namespace="vault", name="vault")
ORDERS = ObjectRef(kind="Deployment", namespace="shop", name="orders")
_EXPIRED_REVIEWER = (
    '[ERROR] auth.kubernetes.auth_kubernetes_4e1f9a2c: login unauthorized: err="lookup failed: '
    'service account unauthorized; this could mean it has been deleted or recreated"'
)
_FORBIDDEN_REVIEWER = (
    "[ERROR] auth.kubernetes: login unauthorized: tokenreviews.authentication.k8s.io is "
    'forbidden: User "system:serviceaccount:vault:vault-auth" cannot create resource'
)
_ROLE_MISMATCH = (
    '[ERROR] auth.kubernetes: login unauthorized: err="service account name not authorized"'
)
_DENIED = (
    '[ERROR] agent.auth.handler: error authenticating: error="Error making API request. URL: '
    "PUT https://vault.vault.svc:8200/v1/auth/kubernetes/login Code: 403. Errors: * permission "
    'denied" backoff=5m0s'
)


def _vault(lines: str) -> DependencyEvidence:
    return DependencyEvidence(
        service=make.service("vault", "vault", ready=1, matching=1, port_numbers=[8200]),
        named_by=naming(f"pod {CALLER_POD} env VAULT_ADDR"),
        pods=1,
        desired_replicas=1,
        ready_replicas=1,
        logs=[make.log("vault-0", "vault", lines, namespace="vault")],
    )


def _caller(server_says: str, caller_says: str = _DENIED) -> Evidence:
    """The caller's new revision waits in its init container on a refused Vault login."""
    waiting = make.container("vault-agent-init", ready=False, init=True)
    return make.evidence(
        workload=make.deployment("orders", replicas=2, ready=2),
        pods=[make.app_pod(CALLER_POD, waiting, make.container("app", ready=False))],
        dependencies=[_vault(server_says)],
        logs=[make.log(CALLER_POD, "vault-agent-init", caller_says)],
        changes=[make.rollout_change(ORDERS, 4, "image", minutes_ago=15)],
    )


def test_a_server_whose_reviewer_the_api_refuses_is_escalated_over_the_callers_rollout() -> None:
    for says in (_EXPIRED_REVIEWER, _FORBIDDEN_REVIEWER):
        finding = assert_leads(
            analyze(_caller(says)), Category.DEPENDENCY_FAILURE, Action.ESCALATE, VAULT
        )
        assert finding.analyzer == "reviewer-refused"


def test_no_reviewer_finding_without_the_servers_own_refusal_of_its_reviewer() -> None:
    # Near misses: the server refuses this client's ServiceAccount (the client's change);
    # the caller's refused line names another host; the server says nothing of its reviewer.
    for evidence in (
        _caller(_ROLE_MISMATCH),
        _caller(_EXPIRED_REVIEWER, _DENIED.replace("vault.vault.svc", "secrets.example.com")),
        _caller("[INFO]  core: vault is unsealed"),
    ):
        result = analyze(evidence)
        assert not [f for f in result.findings if f.analyzer == "reviewer-refused"]
