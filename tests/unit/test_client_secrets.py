"""Checks the refused client secret rule: a container whose OAuth/OIDC token requests the
identity provider refuses as client authentication failure (``invalid_client``, Entra ID's
AADSTS7000222 expired secret) while it reads its client secret from one Secret is a fix of that
Secret, ahead of a rollout of the app the sidecar fronts. Near misses stay with the other rules:
no client secret read from a Secret, two candidate Secrets, a refusal of the grant rather than
the client (``invalid_grant``), a longer error code that merely starts with the words, and a
rollout that created the pod while rewiring its env.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.client_secrets import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, ConfigReference
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

POD = "portal-5d7c9f8b64-gk7wq"
PORTAL = ObjectRef(kind="Deployment", namespace="shop", name="portal")
SECRET = ObjectRef(kind="Secret", namespace="shop", name="portal-oidc")
CLIENT_REF = ConfigReference(
    kind="Secret", name="portal-oidc", key="client-secret", via="env OAUTH2_PROXY_CLIENT_SECRET"
)
DB_REF = ConfigReference(kind="Secret", name="portal-db", key="password", via="env DB_PASSWORD")

_REFUSED = """\
[2026/11/20 09:58:03] [oauthproxy.go:907] GET - "/api/items" HTTP/1.1 200 4821 0.184
[2026/11/20 09:58:12] [oauthproxy.go:907] Error redeeming code during OAuth2 callback: token \
exchange failed: oauth2: "invalid_client" "AADSTS7000222: The provided client secret keys for \
app '7c1e4b2a' are expired."
[2026/11/20 09:58:12] GET - "/oauth2/callback?code=x&state=y" HTTP/1.1 500 2941 0.231
"""


def _evidence(
    text: str = _REFUSED,
    *,
    refs: list[ConfigReference] | None = None,
    crashing: bool = False,
    changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    proxy = make.crash_looping("oauth2-proxy") if crashing else make.container("oauth2-proxy")
    pod = make.app_pod(
        POD,
        make.container("portal"),
        proxy,
        config_refs=[DB_REF, CLIENT_REF] if refs is None else refs,
    )
    return make.evidence(
        pods=[pod],
        workload=make.deployment("portal"),
        logs=[make.log(POD, "oauth2-proxy", text)],
        changes=changes or [],
    )


def _refused(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "refused-client-secret"]


def test_an_expired_client_secret_is_a_fix_of_the_secret_it_is_read_from() -> None:
    finding = assert_leads(analyze(_evidence()), Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET)
    assert finding.analyzer == "refused-client-secret"
    assert finding.confidence == CONFIDENCE.refused
    assert any("OAUTH2_PROXY_CLIENT_SECRET" in e.fact for e in finding.evidence)


def test_a_crash_looping_client_is_surer() -> None:
    (finding,) = _refused(_evidence(crashing=True))
    assert finding.confidence == CONFIDENCE.refused_failing


def test_keycloak_wording_and_a_key_named_for_the_secret_count_too() -> None:
    text = 'ERROR token request failed: 401 {"error":"unauthorized_client",' + (
        '"error_description":"Invalid client or Invalid client credentials"}'
    )
    ref = ConfigReference(kind="Secret", name="portal-oidc", key="clientSecret", via="env SSO_KEY")
    assert_leads(
        analyze(_evidence(text, refs=[ref])), Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET
    )


def test_an_image_only_release_before_the_refusals_does_not_take_the_lead() -> None:
    rollout = make.rollout_change(PORTAL, 36, "image", minutes_ago=35)
    assert_leads(
        analyze(_evidence(changes=[rollout])), Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET
    )


def test_no_client_secret_from_a_secret_is_no_finding() -> None:
    assert not _refused(_evidence(refs=[DB_REF]))


def test_two_client_secrets_cannot_be_told_apart() -> None:
    other = ConfigReference(
        kind="Secret", name="partner-oidc", key="client-secret", via="env PARTNER_CLIENT_SECRET"
    )
    assert not _refused(_evidence(refs=[CLIENT_REF, other]))


def test_a_refused_grant_is_not_the_client_credential() -> None:
    text = 'oauth2: "invalid_grant" "AADSTS70008: The provided authorization code has expired."'
    assert not _refused(_evidence(text))


def test_a_longer_error_code_is_not_invalid_client() -> None:
    text = 'event=CLIENT_LOGIN_ERROR error="invalid_client_credentials" clientId=partner-portal'
    assert not _refused(_evidence(text))


def test_a_rollout_that_rewired_the_env_as_it_created_the_pod_weakens_it() -> None:
    rollout = make.rollout_change(PORTAL, 36, "env", minutes_ago=120)
    (finding,) = _refused(_evidence(changes=[rollout]))
    assert finding.confidence == CONFIDENCE.rewired
