"""Checks the cloud identity rule: a pod whose workload identity exchange the cloud refuses
(EKS IRSA, GKE Workload Identity, Azure Workload Identity) is a configuration fix on the
workload, ahead of the crash loop it causes; a replica still running with another injected
role strengthens it; near misses (an ordinary crash, a refusal that is not an identity
exchange) stay with the other rules.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.signals import LogSource
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
FAILING = "checkout-7d9f6c8b5-aaaaa"
RUNNING = "checkout-7d9f6c8b5-bbbbb"

_IRSA = (
    "WebIdentityTokenCredentialsProvider(): Not authorized to perform "
    "sts:AssumeRoleWithWebIdentity (Service: Sts, Status Code: 403)"
)
_GKE = (
    "google.auth.exceptions.RefreshError: Unable to generate access token; IAM returned 403 "
    "Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource"
)
_AZURE = (
    "AADSTS70021: No matching federated identity record found for presented assertion. "
    "Assertion Issuer: 'https://oidc.prod-aks.azure.com/abc/'."
)


def _evidence(text: str, *, running_role: str = "role/new") -> Evidence:
    """Two replicas of one ReplicaSet: ``FAILING`` crash-loops with role/new injected and
    logs ``text``; ``RUNNING`` runs ready with ``running_role``."""
    crashing = make.crash_looping("app", env={"AWS_ROLE_ARN": "arn:aws:iam::1:role/new"})
    running = make.container("app", env={"AWS_ROLE_ARN": f"arn:aws:iam::1:{running_role}"})
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1),
        pods=[make.pod(FAILING, crashing), make.pod(RUNNING, running)],
        logs=[make.log(FAILING, "app", f"ERROR Application run failed\n{text}")],
    )


@pytest.mark.parametrize("text", [_IRSA, _GKE, _AZURE], ids=["eks", "gke", "aks"])
def test_a_refused_workload_identity_is_a_config_fix_on_the_workload(text: str) -> None:
    finding = assert_leads(
        analyze(_evidence(text)), Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT
    )
    assert finding.analyzer == "identity-refused"


def test_a_replica_running_with_another_injected_role_raises_it() -> None:
    same = by_category(analyze(_evidence(_IRSA)), Category.CONFIG_MISSING)[0]
    changed = by_category(
        analyze(_evidence(_IRSA, running_role="role/old")), Category.CONFIG_MISSING
    )[0]
    assert changed.confidence > same.confidence
    assert any("AWS_ROLE_ARN=arn:aws:iam::1:role/old" in e.fact for e in changed.evidence)


def test_other_refusals_are_not_an_identity_binding() -> None:
    # Near misses: a plain crash, and an S3 AccessDenied after credentials were obtained.
    for text in (
        "panic: runtime error: index out of range",
        "AccessDenied: User: arn:aws:sts::1:assumed-role/app/x is not authorized to perform: "
        "s3:GetObject",
    ):
        result = analyze(_evidence(text))
        assert not [f for f in result.findings if f.analyzer == "identity-refused"]


_FORBIDDEN = (
    "kubernetes.client.exceptions.ApiException: (403)\nReason: Forbidden\n"
    'HTTP response body: {"kind":"Status","message":"jobs.batch is forbidden: User '
    '\\"system:serviceaccount:shop:checkout\\" cannot create resource \\"jobs\\" in API group '
    '\\"batch\\" in the namespace \\"shop\\"","reason":"Forbidden","code":403}'
)


def _api_evidence(
    text: str = _FORBIDDEN, *, source: LogSource = "scope", switched: bool = False
) -> Evidence:
    """The checkout Deployment, its one pod running ready and logging ``text``; ``switched``:
    a rollout of it 30 minutes ago changed its ServiceAccount."""
    changes = [make.rollout_change(CHECKOUT, 3, "serviceAccount", minutes_ago=30)]
    return make.evidence(
        workload=make.deployment(replicas=1),
        pods=[make.pod(RUNNING, make.container("app"))],
        logs=[make.log(RUNNING, "app", f"ERROR dispatch failed\n{text}", source=source)],
        changes=changes if switched else [],
    )


def test_the_api_refusing_the_pods_own_serviceaccount_escalates_its_binding() -> None:
    finding = assert_leads(
        analyze(_api_evidence()), Category.CONFIG_MISSING, Action.ESCALATE, CHECKOUT
    )
    assert finding.analyzer == "api-forbidden"
    assert finding.params["serviceAccount"] == "shop/checkout"
    assert (finding.params["verb"], finding.params["resource"]) == ("create", "jobs")


def test_a_refusal_after_a_rollout_switched_the_serviceaccount_is_weaker() -> None:
    steady = by_category(analyze(_api_evidence()), Category.CONFIG_MISSING)[0]
    switched = by_category(analyze(_api_evidence(switched=True)), Category.CONFIG_MISSING)[0]
    assert switched.confidence < steady.confidence


def test_other_namespaces_accounts_and_dependency_tails_are_not_the_pods_own() -> None:
    other = _FORBIDDEN.replace("serviceaccount:shop:", "serviceaccount:db:")
    for ev in (_api_evidence(other), _api_evidence(source="dependency")):
        assert not [f for f in analyze(ev).findings if f.analyzer == "api-forbidden"]


@pytest.mark.parametrize(
    "text",
    [
        # Akka Management's Kubernetes API discovery (cluster bootstrap).
        "[WARN] [akka.management.cluster.bootstrap.internal.BootstrapCoordinator] - Resolve "
        "attempt failed! Cause: akka.discovery.kubernetes.KubernetesApiServiceDiscovery$"
        "KubernetesApiException: Forbidden when communicating with the Kubernetes API. Do you "
        "have RBAC enabled?",
        # The fabric8 client (Hazelcast's Kubernetes discovery, Spring Cloud Kubernetes).
        "io.fabric8.kubernetes.client.KubernetesClientException: Failure executing: GET at: "
        "https://10.0.0.1/api/v1/namespaces/shop/endpoints/checkout. Message: Forbidden!"
        "Configured service account doesn't have access. Service account may have been revoked.",
    ],
)
def test_a_clients_own_words_for_the_apis_403_escalate_its_binding(text: str) -> None:
    finding = assert_leads(
        analyze(_api_evidence(text)), Category.CONFIG_MISSING, Action.ESCALATE, CHECKOUT
    )
    assert finding.analyzer == "api-forbidden"


def test_a_403_from_something_else_or_a_dependency_is_not_the_apis_refusal() -> None:
    # Near misses: an HTTP 403 from an upstream service, the same client words in a
    # dependency's tail.
    upstream = "WARN payment call failed: 403 Forbidden from https://psp.example.com/v1/charges"
    akka = "KubernetesApiException: Forbidden when communicating with the Kubernetes API."
    for ev in (_api_evidence(upstream), _api_evidence(akka, source="dependency")):
        assert not [f for f in analyze(ev).findings if f.analyzer == "api-forbidden"]


# --- calls made as the node -------------------------------------------------------------

_AS_NODE = (
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the "
    "PutObject operation: User: arn:aws:sts::111122223333:assumed-role/apps-node-role/"
    "i-0b7e21c4d9a3f5e61 is not authorized to perform: s3:PutObject on resource"
)
_AS_GCE_NODE = (
    "google.api_core.exceptions.Forbidden: 403 POST https://storage.googleapis.com/upload: "
    "731964502218-compute@developer.gserviceaccount.com does not have "
    "storage.objects.create access to the Google Cloud Storage object."
)
_AS_WORKLOAD = (
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the "
    "PutObject operation: User: arn:aws:sts::111122223333:assumed-role/checkout-s3/"
    "botocore-session-1732096000 is not authorized to perform: s3:PutObject on resource"
)


def _as_node(text: str, *, env: dict[str, str] | None = None, switched: bool = True) -> Evidence:
    """Two ready replicas of checkout whose calls log ``text``; its latest rollout switched
    the ServiceAccount (or only the image)."""
    aspects = ("image", "serviceAccount") if switched else ("image",)
    return make.evidence(
        target=CHECKOUT,
        workload=make.deployment(replicas=2),
        pods=[
            make.pod(FAILING, make.container("app", env=env or {})),
            make.pod(RUNNING, make.container("app", env=env or {})),
        ],
        logs=[make.log(FAILING, "app", f"upload failed\n{text}")],
        changes=[make.rollout_change(CHECKOUT, 18, *aspects, minutes_ago=25)],
    )


@pytest.mark.parametrize("text", [_AS_NODE, _AS_GCE_NODE], ids=["eks", "gke"])
def test_calls_refused_as_the_node_after_a_serviceaccount_switch_roll_it_back(text: str) -> None:
    finding = assert_leads(analyze(_as_node(text)), Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)
    assert finding.analyzer == "node-identity-denied"


def test_calls_refused_as_the_node_without_a_switch_are_a_missing_binding() -> None:
    result = analyze(_as_node(_AS_NODE, switched=False))
    (finding,) = [f for f in result.findings if f.analyzer == "node-identity-denied"]
    assert (finding.category, finding.action) == (Category.CONFIG_MISSING, Action.FIX_CONFIG)


def test_a_refusal_of_the_workloads_own_role_is_not_the_node_identity() -> None:
    result = analyze(_as_node(_AS_WORKLOAD))
    assert not [f for f in result.findings if f.analyzer == "node-identity-denied"]


def test_pods_with_an_injected_identity_are_not_read_as_running_as_the_node() -> None:
    env = {"AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/checkout-s3"}
    result = analyze(_as_node(_AS_NODE, env=env))
    assert not [f for f in result.findings if f.analyzer == "node-identity-denied"]


_AZURE_ENV = {"AZURE_CLIENT_ID": "3f9c1e2a", "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure"}


def _not_injected(
    *,
    failing_env: dict[str, str] | None = None,
    sibling_set: str = "checkout-7d9f6c8b5",
    sibling_env: dict[str, str] | None = None,
    sibling_ready: bool = True,
) -> Evidence:
    """``FAILING`` crash-loops with ``failing_env``; ``RUNNING`` (in ``sibling_set``) carries
    ``sibling_env`` (the webhook-injected identity by default)."""
    crashing = make.crash_looping("app", env=failing_env or {"ASPNETCORE_URLS": "http://+:8080"})
    env = _AZURE_ENV if sibling_env is None else sibling_env
    running = (
        make.container("app", env=env) if sibling_ready else make.crash_looping("app", env=env)
    )
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1 if sibling_ready else 0),
        pods=[make.pod(FAILING, crashing), make.pod(RUNNING, running, replica_set=sibling_set)],
        logs=[make.log(FAILING, "app", "Unhandled exception. CredentialUnavailableException")],
    )


def test_pods_admitted_without_the_identity_their_replicaset_siblings_carry_restart() -> None:
    finding = assert_leads(
        analyze(_not_injected()), Category.CONFIG_MISSING, Action.RESTART, CHECKOUT
    )
    assert finding.analyzer == "identity-not-injected"
    assert any("AZURE_CLIENT_ID" in e.fact for e in finding.evidence)


def test_no_missed_injection_without_a_healthy_injected_sibling_of_the_same_template() -> None:
    # Near misses: nobody carries an injected identity; the failing pod was mutated too; the
    # injected sibling belongs to another revision (a template change); the sibling fails too.
    for evidence in (
        _not_injected(sibling_env={}),
        _not_injected(failing_env=_AZURE_ENV),
        _not_injected(sibling_set="checkout-5c4b3a291"),
        _not_injected(sibling_ready=False),
    ):
        result = analyze(evidence)
        assert not [f for f in result.findings if f.analyzer == "identity-not-injected"]
