"""``kubetriage run`` refuses LLM budget limits no call could fit in (a token window below
one call's estimate, or a critical reserve leaving the others nothing), naming the setting,
before connecting to any cluster. Real CLI parser and settings; no cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetriage.cli import main


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KUBETRIAGE_LLM_TOKENS_PER_HOUR": "1000"}, "llm_tokens_per_hour=1000 is below"),
        (
            {"KUBETRIAGE_LLM_TOKENS_PER_DAY": "8000", "KUBETRIAGE_LLM_CRITICAL_RESERVE": "0.5"},
            "only critical incidents could ever use the model",
        ),
    ],
)
def test_impossible_budgets_refuse_to_start(
    env: dict[str, str],
    named: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # A kubeconfig that does not exist: reaching the cluster step would raise instead.
    assert main(["run", "--kubeconfig", str(tmp_path / "missing")]) == 2
    assert named in capsys.readouterr().err
