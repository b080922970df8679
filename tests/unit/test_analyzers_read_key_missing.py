"""Checks that a failed container which reads a ConfigMap or Secret through the API itself (a
workflow executor, a controller) and says the object lacks a key blames that object and key,
in the spellings such clients use, from its log or its termination message; that the same words
from a container that did not fail, or words naming no object, blame nothing.

Real: the analyzer registry on Evidence models; ``config_errors.read_key_missing`` on text.
"""

from __future__ import annotations

import pytest

from kubetriage.config_errors import ReadKeyMissing, read_key_missing
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    analyze,
    assert_leads,
    by_category,
    container,
    evidence,
    log,
    pod,
    terminated,
)

NS = "pipelines"
POD = "etl-1795167000-extract-2913872911"
WORKFLOW = ObjectRef(kind="Workflow", namespace=NS, name="etl-1795167000")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "level=fatal msg=\"secret 'store-creds' does not have the key 'accesskey'\"",
            ReadKeyMissing("Secret", None, "store-creds", "accesskey"),
        ),
        (
            'error: secret "ops/store-creds" does not contain key "tls.key"',
            ReadKeyMissing("Secret", "ops", "store-creds", "tls.key"),
        ),
        (
            "ConfigMap app-settings has no key settings.yaml",
            ReadKeyMissing("ConfigMap", None, "app-settings", "settings.yaml"),
        ),
        (
            'key "password" not found in secret db-creds',
            ReadKeyMissing("Secret", None, "db-creds", "password"),
        ),
        (
            "key token is missing in Secret ci/bot-token",
            ReadKeyMissing("Secret", "ci", "bot-token", "token"),
        ),
        ("the secret has no key", None),
        ("config key FOO is missing", None),
        ("couldn't find key password in Secret shop/db", None),  # the kubelet's words
    ],
)
def test_read_key_missing_spellings(text: str, expected: ReadKeyMissing | None) -> None:
    assert read_key_missing(text) == expected


def _step(*, wait_exit: int, message: str | None = None) -> PodEvidence:
    """A workflow step pod whose ``main`` succeeded and whose ``wait`` (the executor that
    saves outputs with credentials it reads through the API) exited ``wait_exit``."""
    main = container("main", ready=False, state=terminated("Completed", 0))
    reason = "Error" if wait_exit else "Completed"
    wait = container("wait", ready=False, state=terminated(reason, wait_exit, message))
    failed = pod(POD, main, wait, namespace=NS, replica_set=None, phase="Failed")
    return failed.model_copy(update={"owner": WORKFLOW})


def test_a_failed_executor_saying_its_secret_lacks_a_key_blames_that_secret() -> None:
    line = (
        "level=error msg=\"executor error: secret 'store-creds' does not have the key 'accesskey'\""
    )
    result = analyze(
        evidence(pods=[_step(wait_exit=1)], logs=[log(POD, "wait", line, namespace=NS)])
    )
    secret = ObjectRef(kind="Secret", namespace=NS, name="store-creds")
    first = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, secret)
    assert "accesskey" in first.summary


def test_the_termination_message_alone_is_enough_and_a_named_namespace_is_kept() -> None:
    message = 'secret "ops/store-creds" does not contain key "secretkey"'
    result = analyze(evidence(pods=[_step(wait_exit=1, message=message)]))
    secret = ObjectRef(kind="Secret", namespace="ops", name="store-creds")
    assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, secret)


def test_the_same_words_from_a_container_that_succeeded_blame_nothing() -> None:
    line = "warning: secret 'store-creds' does not have the key 'region', using the default"
    result = analyze(
        evidence(pods=[_step(wait_exit=0)], logs=[log(POD, "wait", line, namespace=NS)])
    )
    assert not by_category(result, Category.CONFIG_MISSING)
