"""What the model cost: the estimated price of a call from the per-model price table in
settings (``llm_prices``; no price is assumed), and the totals of a set of diagnoses. The
operator's metrics and ``kubetriage eval`` both count with these, so they print the same
figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetriage.models.diagnosis import LLMUsage
from kubetriage.settings import ModelPrice


def price_for(prices: Mapping[str, ModelPrice], *models: str | None) -> ModelPrice | None:
    """The price of the first of ``models`` (the served model, then the configured one)
    that the table names."""
    for model in models:
        if model is not None and model in prices:
            return prices[model]
    return None


def estimated_cost(price: ModelPrice, input_tokens: int | None, output_tokens: int | None) -> float:
    return (
        (input_tokens or 0) * price.input_per_million
        + (output_tokens or 0) * price.output_per_million
    ) / 1_000_000


def made_a_call(usage: LLMUsage) -> bool:
    """Whether this diagnosis asked the model (the LLM client ran: not skipped by a rule or
    the budget, not a reused answer, a model configured), as the operator's
    ``kubetriage_llm_calls_total`` counts it; an open circuit breaker counts, with no
    tokens."""
    return usage.attempts is not None and not usage.cached and usage.skipped is None


@dataclass
class Spend:
    """Model calls, tokens by type and estimated cost over a set of diagnoses."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    # Time spent waiting for the model (the diagnoses' llm.durationMs).
    latency_ms: int = 0
    # None until a call of a priced model is counted; calls of unpriced models are listed.
    cost: float | None = None
    unpriced_models: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(
        self, usage: LLMUsage, prices: Mapping[str, ModelPrice], configured: str | None
    ) -> None:
        if usage.skipped is not None:
            self.skipped[usage.skipped] += 1
        if not made_a_call(usage):
            return
        self.calls += 1
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0
        self.latency_ms += usage.duration_ms or 0
        price = price_for(prices, usage.model, configured)
        if price is None:
            self.unpriced_models.add(usage.model or configured or "unknown")
            return
        self.cost = (self.cost or 0.0) + estimated_cost(
            price, usage.input_tokens, usage.output_tokens
        )

    @classmethod
    def of(
        cls,
        usages: Iterable[LLMUsage],
        prices: Mapping[str, ModelPrice],
        configured: str | None,
    ) -> Spend:
        spend = cls()
        for usage in usages:
            spend.add(usage, prices, configured)
        return spend

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_ms": self.latency_ms,
            "estimated_cost": None if self.cost is None else round(self.cost, 6),
            "unpriced_models": sorted(self.unpriced_models),
            "skipped": dict(sorted(self.skipped.items())),
        }

    def render(self) -> str:
        cost = "no price configured" if self.cost is None else f"{self.cost:.4f}"
        line = (
            f"llm: {self.calls} calls, {self.input_tokens} input + {self.output_tokens} output "
            f"tokens, {self.latency_ms} ms in the model, estimated cost {cost}"
        )
        if self.unpriced_models and self.cost is not None:
            line += f" (no price for {', '.join(sorted(self.unpriced_models))})"
        if self.skipped:
            line += "; not used: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
        return line
