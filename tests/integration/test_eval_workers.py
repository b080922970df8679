"""``evaluate(workers=N)``: the cases split across spawned worker processes score exactly as
they do in one process, reported in the cases' order, each heard of by ``on_result``; and a
case that cannot replay is an error row, not a lost worker.

Real: the three example cases replayed end to end in each worker (emulated API, real
Prometheus backfilled from the cases' metrics, the real operator, no LLM).
"""

from __future__ import annotations

import asyncio

from kubetriage.models.case import Case, CaseMetrics, CaseSeries
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.evaluate import CaseScore, evaluate
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES


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
