"""Every command that diagnoses honours ``OTEL_*``: ``kubetriage diagnose``, ``eval`` and ``demo``
run as a user runs them (subprocesses) export the diagnosis spans and the GenAI metrics to
a local OTLP/HTTP collector, and ``eval --llm configured`` reports model calls, tokens and
model latency per case and in total, equal to what the model server answered.

Real: the CLI, the API emulator, the operator, the official openai client against the
scripted OpenAI-compatible server, the OTLP/HTTP exporters and a protobuf-decoding
collector on 127.0.0.1 (``tests/support/otlp_capture.py``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.cases import EXAMPLES
from tests.support.llm_samples import valid_answer
from tests.support.openai_server import ScriptedOpenAIServer, answer
from tests.support.otlp_capture import OTLPCapture

CASES = ("example-oom-csv-exporter", "example-image-tag-typo")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubetriage", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


def _env(collector: OTLPCapture, server: ScriptedOpenAIServer) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_SERVICE_NAME": "kubetriage-cli",
        "KUBETRIAGE_LLM_BASE_URL": server.base_url,
        "KUBETRIAGE_LLM_MODEL": "scripted",
        "KUBETRIAGE_MEMORY_ENABLED": "false",
        "KUBETRIAGE_REPLAY_PROMETHEUS": "false",
    }


def test_diagnose_exports_spans_and_genai_metrics() -> None:
    with (
        OTLPCapture() as collector,
        ScriptedOpenAIServer(default=answer(valid_answer())) as server,
    ):
        result = _cli("diagnose", str(EXAMPLES / CASES[0]), "--json", env=_env(collector, server))
        assert result.returncode == 0, result.stderr
        names = {span.name for span in collector.spans}
        metrics = collector.metric_names
    assert {"diagnose incident", "collect kubernetes evidence", "chat scripted"} <= names
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= metrics


def test_eval_reports_model_use_per_case_and_in_total(tmp_path: Path) -> None:
    for name in CASES:
        shutil.copytree(EXAMPLES / name, tmp_path / name)
    with (
        OTLPCapture() as collector,
        ScriptedOpenAIServer(default=answer(valid_answer())) as server,
    ):
        env = _env(collector, server)
        result = _cli("eval", str(tmp_path), "--json", "--llm", "configured", env=env)
        assert result.returncode == 0, result.stderr
        usages = server.usages
        roots = [span for span in collector.spans if span.name == "diagnose incident"]
        table = _cli("eval", str(tmp_path), "--llm", "configured", env=env)
    body = json.loads(result.stdout)
    per_case = [case["llm"] for case in body["cases"]]
    assert [c["calls"] for c in per_case] == [1, 1]
    assert all(c["latency_ms"] > 0 for c in per_case)
    assert body["llm"]["calls"] == len(usages) == 2
    assert body["llm"]["input_tokens"] == sum(u.prompt_tokens for u in usages)
    assert body["llm"]["output_tokens"] == sum(u.completion_tokens for u in usages)
    assert body["llm"]["latency_ms"] == sum(c["latency_ms"] for c in per_case)
    assert len(roots) == 2  # one trace per case
    assert table.returncode == 0, table.stderr
    assert "tokens in/out" in table.stdout
    assert "llm: 2 calls" in table.stdout


def test_demo_exports_one_trace_per_incident() -> None:
    with OTLPCapture() as collector:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_SERVICE_NAME": "kubetriage-demo",
            "KUBETRIAGE_REPLAY_PROMETHEUS": "false",
        }
        result = _cli("demo", "--llm", "none", env=env)
        assert result.returncode == 0, result.stderr
        roots = [span for span in collector.spans if span.name == "diagnose incident"]
    assert len(roots) == result.stdout.count("\nIncident ") == 3
    assert len({span.trace_id for span in roots}) == 3
