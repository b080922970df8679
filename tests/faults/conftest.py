"""Fixtures and hooks of the fault-injection suite: a real-HTTP Kubernetes API emulator per
test, the ``fault`` recorder each test describes its fault and outcome in, and the session
report (``fault-report.md`` under ``$KUBETRIAGE_FAULT_REPORT_DIR``, else pytest's base temp
directory), printed in the terminal summary. The report lives in ``config.stash``, not in
module state, so one pytest session owns one report."""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubetriage.replay.emulator import EmulatorThread
from tests.faults.report import FaultRun, render

REPORT_DIR_ENV = "KUBETRIAGE_FAULT_REPORT_DIR"
REPORT_NAME = "fault-report.md"


@dataclass
class SessionReport:
    runs: list[FaultRun] = field(default_factory=list)
    directory: Path | None = None

    @property
    def path(self) -> Path | None:
        return None if self.directory is None else self.directory / REPORT_NAME


SESSION_REPORT = pytest.StashKey[SessionReport]()
ITEM_RUN = pytest.StashKey[FaultRun]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SESSION_REPORT] = SessionReport()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as running:
        yield running


@pytest.fixture
def fault(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultRun]:
    """This test's entry in the fault report; the verdict is filled in by the report hook."""
    report = request.config.stash[SESSION_REPORT]
    if report.directory is None:
        configured = os.environ.get(REPORT_DIR_ENV)
        report.directory = Path(configured) if configured else tmp_path_factory.getbasetemp()
    run = FaultRun(test=request.node.name)
    report.runs.append(run)
    request.node.stash[ITEM_RUN] = run
    started = time.monotonic()
    yield run
    run.seconds = time.monotonic() - started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    run = item.stash.get(ITEM_RUN, None)
    if run is None:
        return report
    if report.when == "call" or (report.when == "setup" and not report.passed):
        run.verdict = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        if report.failed:
            run.failure = str(report.longrepr)
    elif report.when == "teardown" and report.failed and run.verdict == "passed":
        run.verdict, run.failure = "error", str(report.longrepr)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    report = session.config.stash.get(SESSION_REPORT, None)
    if report is None or not report.runs or report.path is None:
        return
    report.path.parent.mkdir(parents=True, exist_ok=True)
    report.path.write_text(render(report.runs), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(SESSION_REPORT, None)
    if report is None or not report.runs:
        return
    terminalreporter.section("fault-injection report")
    terminalreporter.write_line(render(report.runs))
    terminalreporter.write_line(f"(written to {report.path})")
