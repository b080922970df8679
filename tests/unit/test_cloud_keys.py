"""Checks the refused cloud key rule: a container whose cloud refuses the static key it reads
from one Secret (Google's "Invalid JWT Signature" for a deleted key file named by
GOOGLE_APPLICATION_CREDENTIALS under a Secret mount, even with that value redacted; AWS's
InvalidAccessKeyId for keys from a Secret's env; ExpiredToken for session credentials a
single-container pod takes whole from its only envFrom Secret) is a fix of that Secret. Near
misses: an envFrom Secret beside a workload identity, a second envFrom Secret or a second
container, a
refusal of the token's timing (a node's clock, not the key), credentials from workload
identity (no key file, no key env), a key file outside every Secret mount with two Secrets
mounted, and a rollout that created the pod while rewiring its env.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.cloud_keys import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ConfigMount, ConfigReference
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

POD = "scorer-6d4f8b9c7e-w2t5n"
KEY = ObjectRef(kind="Secret", namespace="shop", name="scorer-gcs-key")
KEY_MOUNT = ConfigMount(path="/var/secrets/google", kind="Secret", name="scorer-gcs-key")
TLS_MOUNT = ConfigMount(path="/etc/kafka/tls", kind="Secret", name="kafka-client-tls")
GOOGLE_REFUSED = (
    "WARN CheckpointFailureManager - Failed to complete checkpoint 9160\n"
    "Caused by: java.io.IOException: Error getting access token for service account: 400 Bad "
    'Request\n{"error":"invalid_grant","error_description":"Invalid JWT Signature."}'
)
CLOCK_REFUSED = (
    '{"error":"invalid_grant","error_description":"Invalid JWT: Token must be a short-lived '
    'token (60 minutes) and in a reasonable timeframe. Check your iat and exp values"}'
)
AWS_REFUSED = (
    "botocore.exceptions.ClientError: An error occurred (InvalidAccessKeyId) when calling the "
    "PutObject operation: The AWS Access Key Id you provided does not exist in our records."
)


def _google(
    text: str = GOOGLE_REFUSED,
    *,
    path: str | None = "/var/secrets/google/key.json",
    mounts: list[ConfigMount] | None = None,
    **fields: Any,
) -> Evidence:
    env = {"GOOGLE_APPLICATION_CREDENTIALS": path} if path is not None else {}
    app = make.container("app", env=env, config_mounts=[KEY_MOUNT] if mounts is None else mounts)
    return make.app_evidence(POD, app, logs=text, **fields)


def _refused(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "refused-cloud-key"]


def test_a_deleted_google_key_is_a_fix_of_the_secret_holding_the_key_file() -> None:
    finding = assert_leads(analyze(_google()), Category.CONFIG_MISSING, Action.FIX_CONFIG, KEY)
    assert finding.analyzer == "refused-cloud-key"
    assert finding.confidence == CONFIDENCE.refused


def test_a_redacted_key_file_path_points_at_the_only_secret_mounted() -> None:
    (finding,) = _refused(_google(path="[redacted]"))
    assert finding.target == KEY


def test_aws_keys_from_a_secrets_env_are_that_secrets_fix() -> None:
    refs = [
        ConfigReference(kind="Secret", name="s3-keys", key="id", via="env AWS_ACCESS_KEY_ID"),
        ConfigReference(kind="Secret", name="s3-keys", key="key", via="env AWS_SECRET_ACCESS_KEY"),
    ]
    app = make.crash_looping("app")
    ev = make.evidence(
        pods=[make.app_pod(POD, app, config_refs=refs)],
        workload=make.deployment("scorer"),
        logs=[make.log(POD, "app", AWS_REFUSED)],
    )
    (finding,) = _refused(ev)
    assert finding.target == ObjectRef(kind="Secret", namespace="shop", name="s3-keys")
    assert finding.confidence == CONFIDENCE.refused_failing


def test_a_refused_token_timing_or_workload_identity_is_not_the_keys() -> None:
    assert not _refused(_google(CLOCK_REFUSED))
    assert not _refused(_google(path=None, mounts=[]))


def test_a_key_file_outside_the_secret_mounts_names_no_secret() -> None:
    assert not _refused(_google(path="/etc/gcp/key.json", mounts=[KEY_MOUNT, TLS_MOUNT]))


def test_a_rollout_that_rewired_the_pod_keeps_the_finding_weaker() -> None:
    scorer = ObjectRef(kind="Deployment", namespace="shop", name="scorer")
    rollout = make.rollout_change(scorer, 7, "env", minutes_ago=120)
    (finding,) = _refused(_google(changes=[rollout]))
    assert finding.confidence == CONFIDENCE.rewired


# Temporary credentials pasted into a Secret whole: the pod takes its env from it by envFrom.
SESSION_EXPIRED = (
    'time=2026-11-20T09:42:10Z level=ERROR msg="upload failed" err="operation error S3: '
    "PutObject, https response error StatusCode: 400, RequestID: 7Q2W, api error ExpiredToken: "
    'The provided token has expired."'
)
WHOLE = ConfigReference(kind="Secret", name="s3-session", via="envFrom")


def _whole_env(
    *,
    refs: list[ConfigReference] | None = None,
    env: dict[str, str] | None = None,
    sidecar: bool = False,
) -> Evidence:
    containers = [make.container("uploader", env=env or {"AWS_REGION": "eu-west-1"})]
    if sidecar:
        containers.append(make.container("metrics-proxy"))
    pod = make.app_pod(POD, *containers, config_refs=[WHOLE] if refs is None else refs)
    return make.evidence(
        pods=[pod],
        workload=make.deployment("scorer"),
        logs=[make.log(POD, "uploader", SESSION_EXPIRED)],
    )


def test_expired_session_credentials_from_the_only_envfrom_secret_are_its_fix() -> None:
    (finding,) = _refused(_whole_env())
    assert finding.target == ObjectRef(kind="Secret", namespace="shop", name="s3-session")
    assert finding.action is Action.FIX_CONFIG
    assert finding.confidence == CONFIDENCE.refused
    assert finding.narrative is not None
    assert any("past their expiry" in claim.text for claim in finding.narrative.because)


def test_envfrom_names_no_key_beside_a_workload_identity_two_secrets_or_two_containers() -> None:
    irsa = {"AWS_ROLE_ARN": "arn:aws:iam::1:role/up", "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/t"}
    assert not _refused(_whole_env(env=irsa))
    other = ConfigReference(kind="Secret", name="db-env", via="envFrom")
    assert not _refused(_whole_env(refs=[WHOLE, other]))
    assert not _refused(_whole_env(sidecar=True))
    assert not _refused(_whole_env(refs=[]))
