"""The pipeline's model step (stage 6): the gating rules, then the shared budget, then the
one call, and the conditions that say how it went (``LLMUnavailable``,
``LLMBudgetExhausted``). ``kubetriage.pipeline`` calls ``ask_model`` and re-exports the
types; the adapters (``app.LLMStage``, ``llm.budget_store.PersistentBudget``,
``incidents.StatusModelCache``) implement the protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kubetriage.llm.budget import Decision, Denial, Grant
from kubetriage.llm.gating import GateRules
from kubetriage.models.diagnosis import LLMUsage, SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding, ModelOpinion
from kubetriage.models.incident import Condition
from kubetriage.models.vocabulary import Severity
from kubetriage.status import condition


@dataclass(frozen=True)
class ModelOutcome:
    opinion: ModelOpinion | None
    usage: LLMUsage
    error_type: str | None = None
    error: str | None = None
    # The budget's answer for this call (None: no budget configured, or a rule skipped it).
    budget: Decision | None = None

    @property
    def asked(self) -> bool:
        """Whether the model was asked in this diagnosis (False when a rule or the budget
        kept it out, or the answer is a cached one): what the spend metrics count."""
        return self.usage.skipped is None and not self.usage.cached


class ModelSource(Protocol):
    async def __call__(
        self, evidence: Evidence, findings: list[Finding], similar: list[SimilarIncident]
    ) -> ModelOutcome: ...


class ModelBudget(Protocol):
    """The operator's shared LLM budget (``llm.budget_store.PersistentBudget``)."""

    async def acquire(self, severity: Severity) -> Decision: ...

    async def settle(self, grant: Grant, tokens: int | None) -> None: ...


class ModelCache(Protocol):
    """Durable memory of model answers by evidence hash, so an operator killed after the
    model answered but before the status was written does not pay for the call again."""

    async def get(self, digest: str) -> ModelOutcome | None: ...

    async def put(self, digest: str, outcome: ModelOutcome) -> None: ...


def model_condition(outcome: ModelOutcome | None, now: datetime) -> Condition:
    if outcome is None:
        return condition(
            "LLMUnavailable",
            "True",
            "NotConfigured",
            "No LLM endpoint is configured; the diagnosis comes from analyzers and memory.",
            now=now,
        )
    if outcome.opinion is not None:
        return condition(
            "LLMUnavailable", "False", "Answered", f"model {outcome.usage.model}", now=now
        )
    if isinstance(outcome.budget, Denial):
        return condition(
            "LLMUnavailable",
            "True",
            "BudgetExhausted",
            f"{outcome.budget.message}; the diagnosis comes from analyzers and memory alone.",
            now=now,
        )
    if outcome.usage.skipped is not None:
        # Kept away by a gating rule on purpose: the model is available, not unavailable.
        return condition(
            "LLMUnavailable", "False", "SkippedByRule", outcome.usage.reason or "", now=now
        )
    reason = "".join(part.capitalize() for part in (outcome.error_type or "error").split("_"))
    return condition(
        "LLMUnavailable",
        "True",
        reason,
        f"{outcome.error or 'no usable answer'}; the diagnosis comes from analyzers alone.",
        now=now,
    )


def budget_condition(decision: Decision | None, now: datetime) -> Condition:
    """``LLMBudgetExhausted`` for a diagnosis under a budget; ``decision`` None: the budget
    was not consulted (a gating rule kept the model out first)."""
    if decision is None:
        return condition(
            "LLMBudgetExhausted",
            "False",
            "NotAsked",
            "a gating rule kept the model out; the budget was not consulted",
            now=now,
        )
    if isinstance(decision, Denial):
        return condition(
            "LLMBudgetExhausted", "True", decision.limit.reason, decision.message, now=now
        )
    message = "the model call was within every configured limit"
    if decision.warning:
        message += f"; {decision.warning}"
    return condition("LLMBudgetExhausted", "False", "WithinBudget", message, now=now)


async def ask_model(
    model: ModelSource,
    *,
    gate: GateRules,
    budget: ModelBudget | None,
    severity: Severity,
    namespace: str | None,
    evidence: Evidence,
    findings: list[Finding],
    similar: list[SimilarIncident],
    clock: Callable[[], float],
) -> ModelOutcome:
    """The model step: the gating rules, then the budget, then the one call."""
    refusal = gate.check(severity=severity, namespace=namespace, findings=findings)
    if refusal is not None:
        return ModelOutcome(
            opinion=None,
            usage=LLMUsage(used=False, reason=refusal.reason, skipped=refusal.rule),
        )
    grant: Grant | None = None
    if budget is not None:
        decision = await budget.acquire(severity)
        if isinstance(decision, Denial):
            return ModelOutcome(
                opinion=None,
                usage=LLMUsage(
                    used=False,
                    reason=f"model not used: {decision.message}"[:1024],
                    skipped=decision.limit.value,
                ),
                budget=decision,
            )
        grant = decision
    tokens: int | None = None
    try:
        started = clock()
        outcome = await model(evidence, findings, similar)
        if outcome.usage.duration_ms is None:
            outcome.usage.duration_ms = int((clock() - started) * 1000)
        if outcome.usage.input_tokens is not None or outcome.usage.output_tokens is not None:
            tokens = (outcome.usage.input_tokens or 0) + (outcome.usage.output_tokens or 0)
        elif not outcome.usage.attempts:
            tokens = 0  # nothing was sent (an open circuit breaker)
    finally:
        if budget is not None and grant is not None:
            await budget.settle(grant, tokens)
    return ModelOutcome(
        opinion=outcome.opinion,
        usage=outcome.usage,
        error_type=outcome.error_type,
        error=outcome.error,
        budget=grant,
    )
