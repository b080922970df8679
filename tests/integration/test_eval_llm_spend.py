"""``kubetriage eval --llm configured`` prints what the model cost for the run: calls,
tokens by type and the estimated cost from the configured price table (the same figures
the operator's metrics count), and how many diagnoses a gating rule kept away from the
model; the table's last line says the same (``tests/unit/test_llm_spend.py``). Real: the
CLI as a subprocess, the API emulator, the operator, the official openai client against a
scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cases import EXAMPLES
from tests.support.openai_server import ScriptedOpenAIServer, answer

WORKLOAD = {"kind": "Deployment", "namespace": "exports", "name": "csv-exporter"}
ANSWER: dict[str, Any] = {
    "category": "oom-killed",
    "confidence": 0.9,
    "summary": "csv-exporter is killed at its memory limit",
    "root_cause": "the export loads the whole table into memory",
    "evidence": ["OOMKilled exit 137"],
    "remediations": [{"action": "increase-memory", "target": WORKLOAD, "rationale": "peak"}],
    "disagrees_with_analyzers": None,
}
PRICE = {"input_per_million": 2.0, "output_per_million": 8.0}


def _eval(cases: Path, server: ScriptedOpenAIServer, *extra: str) -> str:
    env = {
        **os.environ,
        "KUBETRIAGE_LLM_BASE_URL": server.base_url,
        "KUBETRIAGE_LLM_MODEL": "scripted",
        "KUBETRIAGE_LLM_MAX_RETRIES": "0",
        "KUBETRIAGE_LLM_PRICES": json.dumps({"scripted": PRICE}),
        # The image-tag case's namespace is kept away from the model.
        "KUBETRIAGE_LLM_SKIP_NAMESPACES": '["marketing-site"]',
        "KUBETRIAGE_LLM_CALLS_PER_MINUTE": "30",
        "KUBETRIAGE_MEMORY_ENABLED": "false",
        "KUBETRIAGE_REPLAY_PROMETHEUS": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "kubetriage", "eval", str(cases), "--llm", "configured", *extra],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    for name in ("example-oom-csv-exporter", "example-image-tag-typo"):
        shutil.copytree(EXAMPLES / name, tmp_path / name)
    return tmp_path


def test_eval_prints_the_runs_calls_tokens_and_cost(cases: Path) -> None:
    with ScriptedOpenAIServer(default=answer(ANSWER)) as server:
        body = json.loads(_eval(cases, server, "--json"))
        usages = server.usages
        assert len(server.chat_bodies) == 1
    spend = body["llm"]
    served_input = sum(u.prompt_tokens for u in usages)
    served_output = sum(u.completion_tokens for u in usages)
    assert spend["calls"] == 1
    assert (spend["input_tokens"], spend["output_tokens"]) == (served_input, served_output)
    expected = (served_input * PRICE["input_per_million"] + served_output * 8.0) / 1_000_000
    assert spend["estimated_cost"] == pytest.approx(expected, abs=1e-6)
    assert spend["skipped"] == {"namespace": 1}
    assert spend["unpriced_models"] == []
