"""The receiver's secure default: ``kubetriage run`` refuses to start without a webhook
token unless unauthenticated webhooks are explicitly allowed (or the receiver is off), and
does so before connecting to any cluster. Real CLI parser and settings; no cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetriage.cli import main
from kubetriage.receiver import ReceiverConfigError, receiver_token
from kubetriage.settings import Settings


def test_no_token_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("KUBETRIAGE_WEBHOOK_TOKEN", raising=False)
    monkeypatch.delenv("KUBETRIAGE_WEBHOOK_ALLOW_UNAUTHENTICATED", raising=False)
    # A kubeconfig that does not exist: reaching the cluster step would raise instead.
    assert main(["run", "--kubeconfig", str(tmp_path / "missing")]) == 2
    assert "KUBETRIAGE_WEBHOOK_TOKEN" in capsys.readouterr().err


def test_token_settings() -> None:
    with pytest.raises(ReceiverConfigError):
        receiver_token(Settings(webhook_token=None))
    assert receiver_token(Settings(webhook_token="t")) == "t"
    assert receiver_token(Settings(webhook_allow_unauthenticated=True)) == ""


def test_environment_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETRIAGE_WEBHOOK_ALLOW_UNAUTHENTICATED", "true")
    monkeypatch.setenv("KUBETRIAGE_WEBHOOK_QUEUE_SIZE", "7")
    settings = Settings()
    assert settings.webhook_allow_unauthenticated is True
    assert settings.webhook_queue_size == 7
    assert settings.webhook_token is None
