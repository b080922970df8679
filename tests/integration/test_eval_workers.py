"""``evaluate(workers=N)``: the cases split across spawned worker processes score exactly as
they do in one process, reported in the cases' order, each heard of by ``on_result``; a
case that cannot replay is an error row, not a lost worker; and a worker killed mid-run (as
the kernel's OOM killer does) fails the run with ``BrokenProcessPool`` instead of hanging it.

Real: the three example cases replayed end to end in each worker (emulated API, real
Prometheus backfilled from the cases' metrics, the real operator, no LLM).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from kubetriage.models.case import Case, CaseMetrics, CaseSeries
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.evaluate import CaseScore, evaluate
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.polling import wait_for


def _answers(scores: list[CaseScore]) -> list[tuple[str, str | None, str | None, bool]]:
    return [(s.id, s.category, s.action, s.correct) for s in scores]


def test_worker_processes_score_as_one_process_does_in_the_cases_order() -> None:
    cases = load_case_set(EXAMPLES)
    settings = Settings(memory_enabled=False)
    heard: list[str] = []
    alone = asyncio.run(evaluate(cases, settings, concurrency=2, within=120))
    split = asyncio.run(
        evaluate(
            cases,
            settings,
            concurrency=1,
            within=120,
            workers=2,
            on_result=lambda score: heard.append(score.id),
        )
    )
    assert [s.id for s in split.cases] == [c.id for c in cases]
    assert _answers(split.cases) == _answers(alone.cases)
    assert all(s.error is None for s in split.cases)
    assert sorted(heard) == sorted(c.id for c in cases)
    assert split.score == alone.score > 0


def test_a_case_that_cannot_replay_is_an_error_row_in_its_worker() -> None:
    good = load_case_set(EXAMPLES)[0]
    # A series the backfill cannot read (validated cases never carry one).
    garbled = CaseMetrics(series=[CaseSeries(series="up{job=", values="1x60")])
    broken: Case = good.model_copy(update={"id": "broken", "metrics": garbled})
    report = asyncio.run(
        evaluate([good, broken], Settings(memory_enabled=False), within=120, workers=2)
    )
    assert [s.id for s in report.cases] == [good.id, "broken"]
    assert report.cases[0].error is None
    assert report.cases[1].error
    assert not report.cases[1].correct


def _spawned_workers() -> list[int]:
    """The pids of this process's spawned multiprocessing workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == os.getpid() and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_run_fails_the_run_instead_of_hanging_it() -> None:
    base = load_case_set(EXAMPLES)
    cases = [c.model_copy(update={"id": f"{c.id}-{i}"}) for i in range(20) for c in base]
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            asyncio.run(evaluate(cases, Settings(memory_enabled=False), within=120, workers=2))
        except BaseException as error:  # recorded for the assertion below
            outcome.append(error)
        else:
            outcome.append(None)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    workers = wait_for(_spawned_workers, what="two spawned workers", until=lambda p: len(p) == 2)
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: outcome, what="the run to end", within=120)
    assert isinstance(outcome[0], BrokenProcessPool)
