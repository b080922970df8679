"""Replay evaluation: run every case of a set through the real operator and score the
diagnoses against each case's ``expect`` (tests/cases/FORMAT.md, "Scoring").

``score_case`` and ``summarise`` are pure; ``evaluate`` runs the replays, several at once,
each in its own emulated cluster so no case's objects leak into another's, optionally split
across worker processes (the operator's Python is what one replay spends most time in, so
one process uses about one core). Called by ``kubetriage eval`` and the benchmarks.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetriage.llm.spend import Spend
from kubetriage.memory.embeddings import Embedder, OnnxMiniLMEmbedder
from kubetriage.memory.errors import EmbeddingError
from kubetriage.models.case import Case
from kubetriage.models.diagnosis import Diagnosis, LLMUsage
from kubetriage.replay.children import exit_with_parent
from kubetriage.replay.session import ReplayOutcome, replay_case
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry


@dataclass(frozen=True)
class CaseScore:
    id: str
    category: str | None
    expected_category: str
    action: str | None
    expected_actions: list[str]
    target: dict[str, str | None] | None
    expected_target: dict[str, str | None]
    category_correct: bool
    action_correct: bool
    target_correct: bool
    latency_ms: float | None
    phase: str | None
    error: str | None = None
    # status.diagnosis.llm of the replay: what the model was asked and used.
    llm: LLMUsage | None = None

    @property
    def model(self) -> Spend:
        """This case's model calls, tokens and latency (cost is priced for the whole run)."""
        return Spend.of([self.llm] if self.llm is not None else [], {}, None)

    @property
    def correct(self) -> bool:
        return self.category_correct and self.action_correct and self.target_correct

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "expected_category": self.expected_category,
            "action": self.action,
            "expected_actions": self.expected_actions,
            "target": self.target,
            "expected_target": self.expected_target,
            "correct": self.correct,
            "category_correct": self.category_correct,
            "action_correct": self.action_correct,
            "target_correct": self.target_correct,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "phase": self.phase,
            "error": self.error,
            "llm": self.model.as_json(),
        }


@dataclass(frozen=True)
class EvalReport:
    cases: list[CaseScore] = field(default_factory=list)
    # Model calls, tokens and estimated cost of the run (the operator's metrics' figures).
    spend: Spend = field(default_factory=Spend)

    def _share(self, predicate: Callable[[CaseScore], bool]) -> float:
        return (
            round(sum(predicate(c) for c in self.cases) / len(self.cases), 4) if self.cases else 0.0
        )

    @property
    def score(self) -> float:
        return self._share(lambda c: c.correct)

    def latency(self, quantile: float) -> float | None:
        values = sorted(c.latency_ms for c in self.cases if c.latency_ms is not None)
        if not values:
            return None
        # Nearest-rank quantile: an observed latency, not an interpolation.
        rank = max(1, math.ceil(quantile * len(values)))
        return round(values[rank - 1], 1)

    def confusion(self) -> dict[str, dict[str, int]]:
        """Counts by expected category, then predicted category ("none" when no diagnosis)."""
        matrix: dict[str, dict[str, int]] = {}
        for case in self.cases:
            row = matrix.setdefault(case.expected_category, {})
            predicted = case.category or "none"
            row[predicted] = row.get(predicted, 0) + 1
        return {k: dict(sorted(v.items())) for k, v in sorted(matrix.items())}

    def misses(self) -> dict[str, list[dict[str, Any]]]:
        """The cases not fully right, grouped by "expected category / expected actions",
        each saying what was wrong (category, action, target) and what was predicted."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for case in self.cases:
            if case.correct:
                continue
            key = f"{case.expected_category} / {'|'.join(case.expected_actions)}"
            wrong = [
                part
                for part, ok in (
                    ("category", case.category_correct),
                    ("action", case.action_correct),
                    ("target", case.target_correct),
                )
                if not ok
            ]
            groups.setdefault(key, []).append(
                {
                    "id": case.id,
                    "wrong": wrong,
                    "category": case.category,
                    "action": case.action,
                    "target": case.target,
                    "expected_target": case.expected_target,
                    "error": case.error,
                }
            )
        return dict(sorted(groups.items()))

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "category_accuracy": self._share(lambda c: c.category_correct),
            "action_accuracy": self._share(lambda c: c.action_correct),
            "target_accuracy": self._share(lambda c: c.target_correct),
            "latency_p50_ms": self.latency(0.5),
            "latency_p95_ms": self.latency(0.95),
            "confusion": self.confusion(),
            "misses": self.misses(),
            "llm": self.spend.as_json(),
            "cases": [c.as_json() for c in self.cases],
        }


def _same_target(predicted: dict[str, str | None], expected: dict[str, str | None]) -> bool:
    if predicted.get("kind") != expected.get("kind") or predicted.get("name") != expected.get(
        "name"
    ):
        return False
    return expected.get("namespace") is None or predicted.get("namespace") == expected.get(
        "namespace"
    )


def score_case(case: Case, outcome: ReplayOutcome | None, *, error: str | None = None) -> CaseScore:
    """Score one replay; a missing outcome, a timeout or a Failed phase counts as wrong."""
    if case.expect is None:
        raise ValueError(f"case {case.id} has no expect section and cannot be scored")
    expected_target = case.expect.target.model_dump()
    diagnosis: Diagnosis | None = outcome.diagnosis if outcome else None
    top = diagnosis.remediations[0] if diagnosis and diagnosis.remediations else None
    target = (
        {"kind": top.target.kind, "namespace": top.target.namespace, "name": top.target.name}
        if top
        else None
    )
    if outcome is not None and outcome.timed_out:
        error = error or "timed out"
    return CaseScore(
        id=case.id,
        category=diagnosis.category.value if diagnosis else None,
        expected_category=case.expect.category.value,
        action=top.action.value if top else None,
        expected_actions=[a.value for a in case.expect.actions],
        target=target,
        expected_target=expected_target,
        category_correct=diagnosis is not None and diagnosis.category == case.expect.category,
        action_correct=top is not None and top.action in case.expect.actions,
        target_correct=target is not None and _same_target(target, expected_target),
        latency_ms=outcome.latency_ms if outcome and not outcome.timed_out else None,
        phase=outcome.phase if outcome else None,
        error=error,
        llm=diagnosis.llm if diagnosis else None,
    )


async def evaluate(
    cases: list[Case],
    settings: Settings,
    *,
    concurrency: int = 2,
    within: float = 120.0,
    memory_from: Path | None = None,
    on_result: Callable[[CaseScore], None] | None = None,
    telemetry: Telemetry | None = None,
    workers: int = 1,
) -> EvalReport:
    """Replay ``cases`` (``concurrency`` at once per process) and score them, in the cases'
    order. With ``workers`` > 1 the cases are replayed in batches (``_BATCH``) by that many
    worker processes (spawned: each builds its own clients), ``on_result`` hears of a batch's
    cases when that batch is done, and a worker that dies fails the run
    (``BrokenProcessPool``); ``telemetry`` covers only replays in this process, so it is not
    passed to workers."""
    if workers > 1 and len(cases) > 1:
        results = await _in_workers(
            cases,
            settings,
            workers=min(workers, len(cases)),
            concurrency=concurrency,
            within=within,
            memory_from=memory_from,
            on_result=on_result,
        )
    else:
        results = await _in_process(
            cases,
            settings,
            concurrency=concurrency,
            within=within,
            memory_from=memory_from,
            on_result=on_result,
            telemetry=telemetry,
        )
    spend = Spend.of(
        (r.llm for r in results if r.llm is not None), settings.llm_prices, settings.llm_model
    )
    return EvalReport(cases=results, spend=spend)


def _shared_embedder(settings: Settings) -> Embedder | None:
    """One incident-memory embedding model for a run of replays (loading it took about a
    quarter of each replay); None without memory, or when it cannot load: each replay then
    meets that error itself and reports it as the operator would."""
    if not settings.memory_enabled:
        return None
    try:
        return OnnxMiniLMEmbedder()
    except EmbeddingError:
        return None


async def _in_process(
    cases: list[Case],
    settings: Settings,
    *,
    concurrency: int,
    within: float,
    memory_from: Path | None,
    on_result: Callable[[CaseScore], None] | None,
    telemetry: Telemetry | None,
) -> list[CaseScore]:
    gate = asyncio.Semaphore(max(1, concurrency))
    embedder = _shared_embedder(settings)

    async def one(case: Case) -> CaseScore:
        async with gate:
            try:
                outcome = await replay_case(
                    case,
                    settings,
                    within=within,
                    memory_from=memory_from,
                    telemetry=telemetry,
                    embedder=embedder,
                )
            except Exception as error:  # one broken replay must not stop the set
                result = score_case(case, None, error=f"{type(error).__name__}: {error}")
            else:
                result = score_case(case, outcome)
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(one(case) for case in cases)))


def _worker(
    cases: list[Case],
    settings: Settings,
    concurrency: int,
    within: float,
    memory_from: Path | None,
) -> list[CaseScore]:
    """One batch of cases in a worker process: its own event loop, clients and emulated
    clusters."""
    return asyncio.run(
        _in_process(
            cases,
            settings,
            concurrency=concurrency,
            within=within,
            memory_from=memory_from,
            on_result=None,
            telemetry=None,
        )
    )


# Cases a worker process replays per task. Each batch's scores come back, and ``on_result``
# hears of them, as that batch ends; a worker killed mid-run (the kernel's OOM killer) breaks
# the pool at once. One task per worker for its whole share sent every score at the end in
# one message: after a worker was OOM-killed, the other was seen blocked writing into the
# result pipe, and the run hung instead of failing.
_BATCH = 16


async def _in_workers(
    cases: list[Case],
    settings: Settings,
    *,
    workers: int,
    concurrency: int,
    within: float,
    memory_from: Path | None,
    on_result: Callable[[CaseScore], None] | None,
) -> list[CaseScore]:
    batches = [cases[start : start + _BATCH] for start in range(0, len(cases), _BATCH)]
    loop = asyncio.get_running_loop()
    # Spawned, not forked: this process runs an event loop and threads.
    context = multiprocessing.get_context("spawn")
    # A worker ends with this process (``exit_with_parent``), not after its batch.
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=exit_with_parent
    ) as pool:

        async def run(batch: list[Case]) -> list[CaseScore]:
            scores = await loop.run_in_executor(
                pool, _worker, batch, settings, concurrency, within, memory_from
            )
            if on_result is not None:
                for score in scores:
                    on_result(score)
            return scores

        done = await asyncio.gather(*(run(batch) for batch in batches))
    return [score for scores in done for score in scores]


def render_table(report: EvalReport) -> str:
    with_model = report.spend.calls > 0
    rows: list[tuple[str, ...]] = [
        ("case", "expected", "predicted", "action", "target", "ok", "ms")
    ]
    if with_model:
        rows[0] += ("llm calls", "tokens in/out", "llm ms")
    for c in report.cases:
        target = f"{c.target['kind']}/{c.target['name']}" if c.target else "-"
        marks = "".join(
            "✓" if ok else "✗" for ok in (c.category_correct, c.action_correct, c.target_correct)
        )
        rows.append(
            (
                c.id,
                c.expected_category,
                c.category or (c.error or "-"),
                c.action or "-",
                target,
                marks,
                f"{c.latency_ms:.0f}" if c.latency_ms is not None else "-",
            )
        )
        if with_model:
            rows[-1] += (
                str(c.model.calls),
                f"{c.model.input_tokens}/{c.model.output_tokens}",
                str(c.model.latency_ms),
            )
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell[:48].ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    ]
    summary = report.as_json()
    lines.append("")
    lines.append(
        f"score {summary['score']:.2%}  category {summary['category_accuracy']:.2%}  "
        f"action {summary['action_accuracy']:.2%}  target {summary['target_accuracy']:.2%}  "
        f"latency p50 {summary['latency_p50_ms']} ms  p95 {summary['latency_p95_ms']} ms  "
        f"({len(report.cases)} cases)"
    )
    lines += ["", *render_confusion(report), "", *render_misses(report), ""]
    lines.append(report.spend.render())
    return "\n".join(lines)


def _target_text(target: dict[str, str | None] | None) -> str:
    if not target:
        return "-"
    namespace = f"{target['namespace']}/" if target.get("namespace") else ""
    return f"{target.get('kind')}/{namespace}{target.get('name')}"


def render_confusion(report: EvalReport) -> list[str]:
    """The confusion matrix by category: rows expected, columns predicted."""
    matrix = report.confusion()
    if not matrix:
        return []
    columns = sorted({p for row in matrix.values() for p in row})
    width = max(len(c) for c in [*columns, *matrix, "expected \\ predicted"])
    header = "expected \\ predicted".ljust(width) + "".join(f"  {c[:12]:>12}" for c in columns)
    lines = ["confusion matrix (rows: expected category, columns: predicted)", header]
    for expected, row in matrix.items():
        cells = "".join(f"  {row.get(c, 0) or '.':>12}" for c in columns)
        lines.append(expected.ljust(width) + cells)
    return lines


def render_misses(report: EvalReport) -> list[str]:
    """The misses grouped by expected category and action."""
    groups = report.misses()
    if not groups:
        return ["no misses"]
    lines = ["misses by expected category / action"]
    for key, misses in groups.items():
        lines.append(f"  {key} ({len(misses)})")
        for miss in misses:
            predicted = miss["error"] or (
                f"{miss['category']} {miss['action']} {_target_text(miss['target'])}"
            )
            lines.append(
                f"    {miss['id']}: wrong {','.join(miss['wrong'])}; got {predicted}; "
                f"expected target {_target_text(miss['expected_target'])}"
            )
    return lines
