"""Checks ``redact_mapping`` and the generic model walk behind ``redact_evidence``.

Real pydantic models throughout: an Evidence is populated by introspecting its field types, so
every str field (including any added later) carries a fake secret; the real redaction rules run
on it. No mocks.
"""

from __future__ import annotations

import itertools
import types
import typing
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Remediation
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    EventEvidence,
    GenericObjectEvidence,
    LogTail,
    PodEvidence,
    ServiceEvidence,
    WorkloadEvidence,
)
from kubetriage.models.vocabulary import Action, Risk
from kubetriage.redaction import redact_evidence, redact_mapping, redact_model

COLLECTED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


# --- redact_mapping -------------------------------------------------------------------------


def test_secret_named_keys_lose_their_whole_value() -> None:
    env = {
        "DB_PASSWORD": "plain words, no shape at all",
        "API_KEY": "x",
        "GITHUB_TOKEN": "ghp_" + "FAKE" * 9,
        "DATABASE_URL": "postgres://db:5432/app",
        "SENTRY_DSN": "https://public@o1.ingest.sentry.io/1",
        "GOOGLE_APPLICATION_CREDENTIALS_JSON": '{"type": "service_account"}',
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    }

    redacted = redact_mapping(env)

    assert redacted == {
        "DB_PASSWORD": "[REDACTED:password]",
        "API_KEY": "[REDACTED:api-key]",
        "GITHUB_TOKEN": "[REDACTED:token]",
        "DATABASE_URL": "[REDACTED:connection-string]",
        "SENTRY_DSN": "[REDACTED:connection-string]",
        "GOOGLE_APPLICATION_CREDENTIALS_JSON": "[REDACTED:secret]",
        "AWS_SECRET_ACCESS_KEY": "[REDACTED:aws-secret-key]",
    }


def test_other_values_go_through_text_redaction() -> None:
    values = {
        "LOG_LEVEL": "debug",
        "SECRET_NAME": "db-credentials",
        "JAVA_OPTS": "-Xmx512m -Dspring.datasource.password=FakeJavaPass1",
        "UPSTREAM": "https://deploy:FakeHttpPass3@charts.example.com/index.yaml",
        "kubectl.kubernetes.io/last-applied-configuration": (
            '{"env":[{"name":"DB_PASSWORD","value":"fake-env-pass-7"}]}'
        ),
        "EMPTY_TOKEN": "",
    }

    redacted = redact_mapping(values)

    assert redacted["LOG_LEVEL"] == "debug"
    assert redacted["SECRET_NAME"] == "db-credentials"
    assert redacted["JAVA_OPTS"] == "-Xmx512m -Dspring.datasource.password=[REDACTED:password]"
    assert redacted["UPSTREAM"] == (
        "https://deploy:[REDACTED:password]@charts.example.com/index.yaml"
    )
    assert "fake-env-pass-7" not in redacted["kubectl.kubernetes.io/last-applied-configuration"]
    assert redacted["EMPTY_TOKEN"] == ""
    assert list(redacted) == list(values)


def test_redact_mapping_is_idempotent_and_leaves_its_input_alone() -> None:
    values = {"DB_PASSWORD": "hunter2", "NOTE": "token=abc123"}
    once = redact_mapping(values)
    assert redact_mapping(once) == once
    assert values == {"DB_PASSWORD": "hunter2", "NOTE": "token=abc123"}


# --- generic walk over every str field ------------------------------------------------------


class _Populator:
    """Builds a fully populated instance of any model, a unique fake secret in every str."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.secrets: list[str] = []

    def secret_text(self, where: str) -> str:
        secret = f"FakeSecret{next(self.counter)}x"
        self.secrets.append(secret)
        return f"{where} password={secret} done"

    def build(self, annotation: Any, where: str) -> Any:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is Literal:
            return args[0]
        if origin in (typing.Union, types.UnionType):
            return self.build(next(arg for arg in args if arg is not type(None)), where)
        if origin is list:
            return [self.build(args[0], where), self.build(args[0], where)]
        if origin is dict:
            return {f"{where}-key": self.build(args[1], where)}
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self.model(annotation)
        if annotation is str:
            return self.secret_text(where)
        if annotation is bool:
            return True
        if annotation is int:
            return 3
        if annotation is float:
            return 0.5
        if annotation is datetime:
            return COLLECTED
        raise AssertionError(f"no builder for {annotation!r} at {where}")

    def model(self, cls: type[BaseModel]) -> BaseModel:
        values = {
            name: self.build(field.annotation, f"{cls.__name__}.{name}")
            for name, field in cls.model_fields.items()
        }
        return cls(**values)


def _skeleton(value: Any) -> Any:
    """The structure of a dumped model with every string replaced by a marker."""
    if isinstance(value, dict):
        return {key: _skeleton(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_skeleton(item) for item in value]
    if isinstance(value, str):
        return "<str>"
    return value


def test_every_str_field_of_a_fully_populated_evidence_is_redacted() -> None:
    populator = _Populator()
    evidence = populator.model(Evidence)
    assert isinstance(evidence, Evidence)
    before = evidence.model_dump(mode="json")
    dumped = evidence.model_dump_json()
    assert all(secret in dumped for secret in populator.secrets)
    assert len(populator.secrets) > 100  # the walk reached deep into the tree

    redacted = redact_evidence(evidence)

    redacted_json = redacted.model_dump_json()
    leaked = [secret for secret in populator.secrets if secret in redacted_json]
    assert leaked == []
    assert redacted_json.count("[REDACTED:password]") >= len(populator.secrets)
    # Same shape: same keys, same list lengths, same non-string values.
    assert _skeleton(redacted.model_dump(mode="json")) == _skeleton(before)
    # The input is untouched and the copy shares no mutable containers with it.
    assert evidence.model_dump(mode="json") == before
    assert redacted.pods[0].containers[0].env is not evidence.pods[0].containers[0].env
    assert redacted.logs[0].lines is not evidence.logs[0].lines


def test_redact_model_works_on_any_model() -> None:
    ref = ObjectRef(kind="Pod", name="api-0", namespace="shop")
    tail = LogTail(namespace="shop", pod="api-0", container="api", lines=["token=abc123", "ok"])
    assert redact_model(ref) == ref
    assert redact_model(tail).lines == ["token=[REDACTED:token]", "ok"]


def test_redact_model_keeps_vocabulary_enums() -> None:
    remediation = Remediation(
        id="r1",
        action=Action.ROLLBACK,
        title="Roll back api (token=abc123 seen in logs)",
        target=ObjectRef(kind="Deployment", name="api", namespace="shop"),
        command="kubectl -n shop rollout undo deployment/api",
        risk=Risk.MEDIUM,
        proposed_by=["analyzer"],
    )

    redacted = redact_model(remediation)

    assert redacted.action is Action.ROLLBACK
    assert redacted.risk is Risk.MEDIUM
    assert redacted.title == "Roll back api (token=[REDACTED:token] seen in logs)"
    assert redacted.command == remediation.command


def _realistic_evidence() -> Evidence:
    container = ContainerEvidence(
        name="api",
        image="ghcr.io/example-org/api@sha256:9b2b7f0b8a1f4c3d2e6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e",
        env={"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info", "DB_HOST": "db.shop.svc"},
        args=["--listen=:8080", "--db-password", "hunter2", "--token=abc123def"],
        requests={"memory": "256Mi"},
    )
    return Evidence(
        collected_at=COLLECTED,
        title="api crash: password=hunter2",
        alerts=[
            AlertEvidence(
                labels={"alertname": "KubePodCrashLooping", "namespace": "shop"},
                annotations={"description": "api failed with AKIAIOSFODNN7EXAMPLE"},
            )
        ],
        workload=WorkloadEvidence(
            ref=ObjectRef(kind="Deployment", name="api", namespace="shop"),
            containers=[container],
            annotations={"vault.example.com/agent-token": "hvs.FAKEfakeFAKEfake0123456789abcdef"},
        ),
        pods=[
            PodEvidence(
                name="api-7d9f6c-x2x9k",
                namespace="shop",
                labels={"app": "api", "pod-template-hash": "7d9f6c"},
                containers=[container],
            )
        ],
        events=[
            EventEvidence(
                type="Warning",
                reason="BackOff",
                message="Back-off restarting failed container api in pod api-7d9f6c-x2x9k",
                involved=ObjectRef(kind="Pod", name="api-7d9f6c-x2x9k", namespace="shop"),
            )
        ],
        services=[
            ServiceEvidence(
                name="api", namespace="shop", annotations={"webhook-token": "plain-words"}
            )
        ],
        other_objects=[
            GenericObjectEvidence(
                ref=ObjectRef(kind="Certificate", name="api-tls", namespace="shop"),
                fields={"spec.secretName": "api-tls", "status.privateKey": "abc"},
            )
        ],
        logs=[
            LogTail(
                namespace="shop",
                pod="api-7d9f6c-x2x9k",
                container="api",
                lines=[
                    "connecting to postgres://app:hunter2@db:5432/app",
                    "-----BEGIN PRIVATE KEY-----",
                    "MIIEvQIBADANBgkqhkiG9w0BAQEFAAFAKEFAKE",
                    "-----END PRIVATE KEY-----",
                    "panic: boom",
                ],
            )
        ],
    )


def test_realistic_evidence_keeps_its_evidence_and_loses_its_secrets() -> None:
    evidence = _realistic_evidence()

    redacted = redact_evidence(evidence)

    text = redacted.model_dump_json()
    for secret in ("hunter2", "AKIAIOSFODNN7EXAMPLE", "hvs.FAKE", "abc123def", "MIIEvQ"):
        assert secret not in text
    container = redacted.pods[0].containers[0]
    assert container.env == {
        "DB_PASSWORD": "[REDACTED:password]",
        "LOG_LEVEL": "info",
        "DB_HOST": "db.shop.svc",
    }
    assert container.args == [
        "--listen=:8080",
        "--db-password",
        "[REDACTED:password]",
        "--token=[REDACTED:token]",
    ]
    assert container.image == evidence.pods[0].containers[0].image
    assert container.requests == {"memory": "256Mi"}
    assert redacted.pods[0].labels == {"app": "api", "pod-template-hash": "7d9f6c"}
    assert redacted.services[0].annotations == {"webhook-token": "[REDACTED:token]"}
    assert redacted.other_objects[0].fields == {
        "spec.secretName": "api-tls",
        "status.privateKey": "[REDACTED:private-key]",
    }
    assert redacted.logs[0].lines == [
        "connecting to postgres://app:[REDACTED:password]@db:5432/app",
        "[REDACTED:private-key]",
        "[REDACTED:private-key]",
        "[REDACTED:private-key]",
        "panic: boom",
    ]
    assert redacted.events == evidence.events
    assert redacted.title == "api crash: password=[REDACTED:password]"
    assert redact_evidence(redacted) == redacted
