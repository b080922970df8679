"""``evaluate(workers=N)``: the cases split across spawned worker processes score exactly as
they do in one process, reported in the cases' order, each heard of by ``on_result``; a
case that cannot replay is an error row, not a lost worker; and a worker killed mid-run (as
the kernel's OOM killer does) fails the run with ``BrokenProcessPool`` instead of hanging it;
and the workers of an eval that is killed end with it instead of replaying their batch, with
the Prometheus servers their replays started.

Real: the three example cases replayed end to end in each worker (emulated API, real
Prometheus backfilled from the cases' metrics, the real operator, no LLM); the killed eval is
the ``kubetriage eval`` command in its own process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from kubetriage.models.case import Case, CaseMetrics, CaseSeries
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.evaluate import CaseScore, evaluate
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.openai_server import ScriptedOpenAIServer, slow
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


def _spawned_workers(of: int | None = None) -> list[int]:
    """The pids of the spawned multiprocessing workers of process ``of`` (this one)."""
    return _children(os.getpid() if of is None else of, b"spawn_main")


def _children(parent_pid: int, marker: bytes) -> list[int]:
    """The pids of the processes whose parent is ``parent_pid`` and whose command line holds
    ``marker``."""
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
        if parent == parent_pid and marker in cmdline:
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


def _copies(tmp_path: Path, count: int) -> Path:
    """``count`` copies of the first example case, each with its own id: more than one batch
    (``_BATCH``), so both workers get one."""
    source = sorted(p for p in EXAMPLES.iterdir() if (p / "case.yaml").is_file())[0]
    text = (source / "case.yaml").read_text(encoding="utf-8")
    for i in range(count):
        copy = tmp_path / f"{source.name}-{i}"
        copy.mkdir()
        (copy / "case.yaml").write_text(
            text.replace(f"id: {source.name}\n", f"id: {source.name}-{i}\n", 1), encoding="utf-8"
        )
    return tmp_path


def _hanging_eval(
    cases: Path, server: ScriptedOpenAIServer, *, workers: int, prometheus: bool
) -> subprocess.Popen[bytes]:
    """``kubetriage eval`` in its own process, every model call hanging (for an hour), so
    each replay is busy waiting on the model when the eval is killed."""
    env = {
        **os.environ,
        "KUBETRIAGE_LLM_BASE_URL": server.base_url,
        "KUBETRIAGE_LLM_MODEL": "scripted",
        "KUBETRIAGE_LLM_MAX_RETRIES": "0",
        "KUBETRIAGE_LLM_TIMEOUT_SECONDS": "3600",
        "KUBETRIAGE_DIAGNOSIS_TIMEOUT_SECONDS": "3600",
        "KUBETRIAGE_MEMORY_ENABLED": "false",
        "KUBETRIAGE_REPLAY_PROMETHEUS": "true" if prometheus else "false",
    }
    command = [sys.executable, "-m", "kubetriage", "eval", str(cases), "--llm", "configured"]
    return subprocess.Popen(
        [*command, "--workers", str(workers), "--concurrency", "1", "--timeout", "3600"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def _kill_busy_eval(cases: Path, *, prometheus: bool) -> tuple[list[int], list[int]]:
    """Kill a two-worker eval once both workers are busy in a replay (one replay at a time
    per worker: two model calls waiting means both are busy); the workers' pids and the
    Prometheus servers they had started, seen just before the kill."""
    with ScriptedOpenAIServer(default=slow(3600)) as server:
        eval_run = _hanging_eval(cases, server, workers=2, prometheus=prometheus)
        try:
            workers = wait_for(
                lambda: _spawned_workers(eval_run.pid),
                what="the eval's two spawned workers",
                until=lambda p: len(p) == 2,
                within=120,
            )
            wait_for(
                lambda: len(server.chat_bodies),
                what="both workers waiting on the model",
                until=lambda n: n >= 2,
                within=120,
            )
            servers = [pid for worker in workers for pid in _children(worker, b"prometheus")]
        finally:
            eval_run.kill()
            eval_run.wait()
    return workers, servers


def test_the_workers_of_a_killed_eval_end_with_it(tmp_path: Path) -> None:
    # Without exit_with_parent the busy workers would wait out the model's hour.
    workers, _ = _kill_busy_eval(_copies(tmp_path, 20), prometheus=False)
    wait_for(
        lambda: [p for p in workers if not _ended(p)],
        what="the killed eval's workers to end",
        until=lambda alive: not alive,
    )


def test_the_prometheus_servers_of_a_killed_eval_s_workers_end_with_them(tmp_path: Path) -> None:
    # Each busy replay has its own Prometheus (backfilled before the model is asked),
    # started from a thread of the worker: they used to outlive a killed eval.
    _, servers = _kill_busy_eval(_copies(tmp_path, 20), prometheus=True)
    assert len(servers) >= 2, servers
    wait_for(
        lambda: [p for p in servers if not _ended(p)],
        what="the killed eval's Prometheus servers to end",
        until=lambda alive: not alive,
    )


def _ended(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (ended, waiting for its new parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
