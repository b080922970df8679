"""Checks the new-workload rule: behind one Service with no workload in scope, only the pods of
a recently started second workload (a canary) log server errors while the older workload's
pods serve cleanly, so the new workload is rolled back; near misses: a second workload started
days ago, or one whose pods log no error, is not blamed.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads


def _stable_and_canary(canary_minutes_old: float, canary_line: str) -> Evidence:
    """The Service quote-api (no workload in scope) selects three pods of Deployment quote-api
    (a week old) and one of quote-api-canary started ``canary_minutes_old`` ago."""
    stable = [
        make.pod(
            f"quote-api-59d7f8c6b4-s{i}", make.container("api"), replica_set="quote-api-59d7f8c6b4"
        )
        for i in range(3)
    ]
    canary = make.pod(
        "quote-api-canary-7b4c9f6d8-c0",
        make.container("api"),
        replica_set="quote-api-canary-7b4c9f6d8",
    )
    canary = canary.model_copy(update={"created_at": make.ago(canary_minutes_old)})
    stable = [p.model_copy(update={"created_at": make.ago(60 * 24 * 6)}) for p in stable]
    ok = '{"level":30,"res":{"statusCode":200},"msg":"request completed"}'
    return make.evidence(
        pods=[*stable, canary],
        services=[make.service("quote-api", ready=4, matching=4)],
        logs=[
            make.log(stable[0].name, "api", ok),
            make.log(canary.name, "api", f"{ok}\n{canary_line}"),
        ],
    )


_ERRORED = (
    '{"level":50,"res":{"statusCode":500},"err":{"type":"TypeError"},"msg":"request errored"}'
)
CANARY = ObjectRef(kind="Deployment", namespace="shop", name="quote-api-canary")


def test_only_the_new_workloads_pods_erring_behind_a_service_rolls_it_back() -> None:
    result = analyze(_stable_and_canary(25, _ERRORED))
    assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CANARY)


def test_an_old_second_workload_or_a_clean_one_is_not_blamed() -> None:
    assert "new-workload" not in analyze(_stable_and_canary(60 * 24 * 2, _ERRORED)).fired
    clean = '{"level":30,"res":{"statusCode":201},"msg":"request completed"}'
    assert "new-workload" not in analyze(_stable_and_canary(25, clean)).fired
