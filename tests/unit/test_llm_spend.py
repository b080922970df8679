"""What the model cost over a set of diagnoses (``kubetriage.llm.spend``), the figures
``kubetriage eval`` prints: calls counted when the model was asked (not skipped, not a
reused answer), tokens by type, the estimated cost from the price table (none without a
price), and the skipped diagnoses by reason. Pure code over real ``LLMUsage`` records."""

from __future__ import annotations

import pytest

from kubetriage.llm.spend import Spend, price_for
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.replay.evaluate import EvalReport, render_table
from kubetriage.settings import ModelPrice, Settings

PRICES = {"gpt-x": ModelPrice(input_per_million=1.0, output_per_million=4.0)}


def test_calls_tokens_cost_and_skips() -> None:
    usages = [
        LLMUsage(
            used=True,
            model="gpt-x",
            input_tokens=3_000,
            output_tokens=500,
            attempts=1,
            duration_ms=1_200,
        ),
        LLMUsage(
            used=False,
            model="gpt-x",
            input_tokens=900,
            output_tokens=100,
            attempts=2,
            duration_ms=300,
        ),
        LLMUsage(used=True, model="gpt-x", input_tokens=3_000, output_tokens=500, cached=True),
        LLMUsage(used=False, reason="model not used: rule severity (...)", skipped="severity"),
        LLMUsage(used=False, reason="model not used: ...", skipped="calls-per-minute"),
        LLMUsage(used=False, reason="not configured"),
        # An open circuit breaker: asked, nothing sent (the metric's outcome circuit_open).
        LLMUsage(used=False, model="gpt-x", attempts=0, reason="circuit breaker open"),
    ]
    spend = Spend.of(usages, PRICES, "gpt-x")
    assert (spend.calls, spend.input_tokens, spend.output_tokens) == (3, 3_900, 600)
    assert spend.cost == pytest.approx((3_900 * 1.0 + 600 * 4.0) / 1_000_000)
    assert spend.as_json()["skipped"] == {"calls-per-minute": 1, "severity": 1}
    assert spend.latency_ms == 1_500  # only the calls made: a reused answer waited for nothing
    assert spend.render() == (
        "llm: 3 calls, 3900 input + 600 output tokens, 1500 ms in the model, "
        "estimated cost 0.0063; "
        "not used: calls-per-minute 1, severity 1"
    )


def test_no_price_is_assumed() -> None:
    usage = LLMUsage(used=True, model="local", input_tokens=10, output_tokens=5, attempts=1)
    spend = Spend.of([usage], {}, "local")
    assert spend.cost is None
    assert spend.unpriced_models == {"local"}
    assert "estimated cost no price configured" in spend.render()


def test_price_lookup_prefers_the_served_model_then_the_configured_one() -> None:
    prices = {"a": ModelPrice(input_per_million=1, output_per_million=1)} | PRICES
    assert price_for(prices, "a", "gpt-x") == prices["a"]
    assert price_for(prices, "gpt-x-2026", "gpt-x") == PRICES["gpt-x"]
    assert price_for(prices, None, None) is None


def test_prices_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "KUBETRIAGE_LLM_PRICES", '{"gpt-x": {"input_per_million": 0.15, "output_per_million": 0.6}}'
    )
    assert Settings().llm_prices == {
        "gpt-x": ModelPrice(input_per_million=0.15, output_per_million=0.6)
    }
    monkeypatch.setenv("KUBETRIAGE_LLM_PRICES", '{"gpt-x": {"input": 1}}')
    with pytest.raises(ValueError, match="input_per_million"):
        Settings()


def test_the_eval_table_ends_with_the_spend_line() -> None:
    usage = LLMUsage(used=True, model="gpt-x", input_tokens=1_000, output_tokens=100, attempts=1)
    report = EvalReport(cases=[], spend=Spend.of([usage], PRICES, "gpt-x"))
    assert render_table(report).splitlines()[-1] == (
        "llm: 1 calls, 1000 input + 100 output tokens, 0 ms in the model, estimated cost 0.0014"
    )
    assert report.as_json()["llm"]["calls"] == 1
