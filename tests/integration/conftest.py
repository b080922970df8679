"""Shared fixtures for integration tests: a real-HTTP Kubernetes API emulator per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubetriage.replay.emulator import EmulatorThread


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorThread]:
    """A running thread-backed emulator; ``.url``, ``.emulator``, ``.kubeconfig_path``."""
    with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as running:
        yield running
