"""The public case set replayed end to end (emulated API, real Prometheus backfilled from
each case's metrics, the real operator, no LLM, no memory) must score at least the floor on
each split: ``train`` (the analyzers may be developed against it) and ``holdout`` (written
before the analyzer changes of issue 13 and never tuned on: scored here, not read).
Raise a floor as the product improves; never lower it to make a change pass. Both floors were
set on 2026-12-02 when the set grew from 47 to 128 cases (train 0.778, holdout 0.553); the
train floor was raised to 0.80 the same day (train 0.827, holdout 0.532 measured), then to
0.90 and the holdout floor to 0.53 after object-level reasoning and the dependency,
saturation and throttling families (train 0.963, holdout 0.574 measured with both); then
to 0.93 (train) and 0.65 (holdout) after 60 more blind train cases and the fixes they led to:
callees' own logs and claims, ingress controllers, admission webhooks, x509 reasoning (train
0.956 on 158 cases, holdout 0.681 measured); then to 0.95 (train) and 0.68 (holdout) after
73 more blind train cases in seven batches and their fixes (train 0.957 on 231 cases,
holdout 0.702 measured); the holdout floor to 0.72 on 2026-12-03 after the live evidence path
was brought to parity with the offline builder and 56 more blind train cases and their fixes
(train 0.962 on 287 cases, holdout 0.766 measured); the holdout floor to 0.76 on 2026-12-04
after eight more blind batches and their fixes (train 0.958 on 589 cases, holdout 0.787
measured: one case of slack); the holdout floor to 0.78 the same afternoon after five more
blind batches and their fixes (train 0.967 on 629 cases, holdout 0.809 measured: one case of
slack)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubetriage.replay.cases import load_case_set
from kubetriage.replay.evaluate import evaluate, render_table
from kubetriage.settings import Settings
from tests.support.cases import HOLDOUT, TRAIN

# Share of cases with category, top action and target all correct (analyzers only).
FLOORS = {"train": (TRAIN, 0.95), "holdout": (HOLDOUT, 0.78)}


# The whole train set (949 cases) replays in 4-5 min on two cores of a quiet machine; `make
# test` runs it beside the other tests at a lower priority, and a machine busy with other work
# took more than 15 min (1029 cases beside three other agents' work: more than 30 min): the
# timeout only catches a replay that hangs.
@pytest.mark.timeout(2700)
@pytest.mark.parametrize("split", sorted(FLOORS))
def test_case_set_scores_above_the_floor(split: str) -> None:
    cases_dir: Path
    cases_dir, floor = FLOORS[split]
    cases = load_case_set(cases_dir)
    settings = Settings(memory_enabled=False)
    # Two worker processes: one replay keeps about one core busy (the operator's Python).
    report = asyncio.run(evaluate(cases, settings, concurrency=2, within=120, workers=2))
    # The holdout's per-case table is never shown (it would name what its cases are about):
    # only its aggregate scores and how many cases failed to replay.
    errors = sum(1 for c in report.cases if c.error)
    if split == "train":
        detail = render_table(report)
    else:
        detail = f"score {report.score:.3f} ({len(report.cases)} cases, {errors} not replayed)"
    print(detail)
    assert len(report.cases) == len(cases) >= 40
    assert errors == 0, detail
    assert report.score >= floor, detail
