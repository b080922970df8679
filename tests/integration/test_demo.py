"""``kubetriage demo`` as a newcomer runs it (a subprocess, nothing started by hand): the
bundled incidents are replayed and printed as ``kubectl get inc`` would, each diagnosed; with
``--keep`` it prints how to reach it, real kubectl works against it, the webhook wants the
printed token, /metrics answers, and SIGINT stops it cleanly. Real: the CLI, the emulator,
the operator, the receiver, Prometheus, the ONNX model, Qdrant local mode, kubectl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.incidents import INCIDENT_COLUMNS


def test_demo_replays_the_bundled_incidents() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubetriage", "demo", "--llm", "none"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "$ kubectl get inc -A" in out
    header = next(line for line in out.splitlines() if line.startswith("NAMESPACE"))
    assert header.split() == ["NAMESPACE", *INCIDENT_COLUMNS]
    assert out.count("Diagnosed") >= 6  # three table rows and three diagnoses
    assert "embedded Qdrant with 4 resolved past incidents" in out
    assert "oom-killed" in out
    assert "similar past incidents" in out


def test_demo_keep_can_be_driven_with_kubectl_and_stops_on_sigint(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kubetriage", "demo", "--llm", "none", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: dict[str, str] = {}
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 240
        for line in process.stdout:
            key, _, value = line.partition(": ")
            if key in {"kubeconfig", "webhook", "webhook-token", "metrics"}:
                lines[key] = value.strip()
            if line.startswith("(Ctrl-C to stop)"):
                break
            if time.monotonic() > deadline:
                pytest.fail("the demo never became ready")
        assert set(lines) == {"kubeconfig", "webhook", "webhook-token", "metrics"}

        env = {**os.environ, "HOME": str(tmp_path)}  # kubectl's discovery cache
        listed = subprocess.run(
            ["kubectl", f"--kubeconfig={lines['kubeconfig']}", "get", "inc", "-A"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=env,
        ).stdout
        assert listed.count("Diagnosed") == 3

        wrong = urllib.request.Request(
            lines["webhook"], data=b"{}", method="POST", headers={"Authorization": "Bearer nope"}
        )
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(wrong, timeout=10)
        assert denied.value.code == 401
        denied.value.close()
        with urllib.request.urlopen(lines["metrics"], timeout=10) as response:
            assert "kubetriage_incidents" in response.read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()
    assert code == 0
