"""Shared fixtures for integration tests: a real-HTTP Kubernetes API emulator per test; a
real Prometheus per module, backfilled with the OOM and mailer example cases' metrics up to
the replay's ``end``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.promtool import LocalPrometheus, start_with_case_metrics
from tests.integration.prometheus_fixtures import (
    MAILER_CASE,
    OOM_CASE,
    load_case,
    merged_metrics,
    replay_end,
)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorThread]:
    """A running thread-backed emulator; ``.url``, ``.emulator``, ``.kubeconfig_path``."""
    with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as running:
        yield running


@pytest.fixture(scope="module")
def end() -> datetime:
    return replay_end()


@pytest.fixture(scope="module")
def prometheus(end: datetime) -> Iterator[LocalPrometheus]:
    metrics = merged_metrics([load_case(OOM_CASE), load_case(MAILER_CASE)])
    with start_with_case_metrics(metrics, end) as running:
        yield running
