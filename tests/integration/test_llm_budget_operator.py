"""LLM cost controls in the running operator. A storm of 200 Incidents under a budget of 20
model calls per minute makes at most 20 calls in that minute, the critical Incidents (created
late in the storm) are served first from the share kept for them, and every other Incident
is diagnosed by the analyzers alone with a status that says so (``LLMBudgetExhausted``:
which limit, when it resets). The budget's usage survives an operator restart within its
window (kept in a ConfigMap). A re-diagnosis of unchanged evidence never calls the model.
Gating rules keep the model out and say which rule. ``/metrics`` shows the calls, tokens,
estimated cost, skipped diagnoses and the budget left.

Real: the emulator over HTTP, Kopf, the operator and its pipeline with the Kubernetes
evidence collector, the official openai client against a scripted OpenAI-compatible server
on 127.0.0.1, the ConfigMap store through the kubernetes client. The budget's clock is a
hand-driven one passed in: nothing sleeps, nothing depends on wall time."""

from __future__ import annotations

import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families

from kubetriage.kubeclient import api_client
from kubetriage.models.incident import GROUP, PLURAL, VERSION
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.ports import free_port
from kubetriage.settings import ModelPrice, Settings
from tests.support.incidents import incident
from tests.support.oom_example import ANSWER, prepare
from tests.support.openai_server import ScriptedOpenAIServer, answer
from tests.support.operator import OperatorThread, scripted_model_settings
from tests.support.polling import wait_for

NAMESPACE = "exports"
# Where the budget's ConfigMap lives (the operator's own namespace, as the chart sets it).
OPERATOR_NAMESPACE = "kubetriage"
STORM = 200
PER_MINUTE = 20
# Every 25th Incident is critical: 8 of them, the first created after 24 warnings, which
# would have taken all 20 calls if calls went first come, first served.
CRITICAL = {i for i in range(STORM) if i % 25 == 24}
RESERVE = 0.4  # 8 of the 20 calls are kept for critical Incidents


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 4, 10, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _setup(emulator: EmulatorThread) -> None:
    prepare(emulator)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}}
    emulator.emulator.load([namespace])


def _incident(name: str, severity: str) -> dict[str, Any]:
    return incident(
        name, NAMESPACE, title="csv-exporter restarting", workload="csv-exporter", severity=severity
    )


def _settings(server: ScriptedOpenAIServer, **extra: Any) -> Settings:
    return scripted_model_settings(
        server,
        llm_timeout_seconds=10,
        retry_delay_seconds=0.2,
        llm_budget_namespace=OPERATOR_NAMESPACE,
        **extra,
    )


def _statuses(emulator: EmulatorThread, names: list[str], timeout: float) -> dict[str, Any]:
    """Each named Incident's status once all are Diagnosed or Failed."""

    def pending(statuses: dict[str, Any]) -> str:
        left = [n for n, s in statuses.items() if s.get("phase") not in {"Diagnosed", "Failed"}]
        return f"{len(left)} Incidents not diagnosed: {left[:10]}"

    return wait_for(
        lambda: {
            name: ((emulator.emulator.get("incidents", name, NAMESPACE) or {}).get("status") or {})
            for name in names
        },
        until=lambda statuses: all(
            s.get("phase") in {"Diagnosed", "Failed"} for s in statuses.values()
        ),
        what="every Incident diagnosed",
        within=timeout,
        show=pending,
    )


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions") or []}


def test_a_storm_gets_at_most_the_budget_and_critical_incidents_first(
    emulator: EmulatorThread,
) -> None:
    _setup(emulator)
    clock = Clock()
    names = [f"storm-{i}" for i in range(STORM)]
    with ScriptedOpenAIServer(default=answer(ANSWER)) as server:
        settings = _settings(
            server,
            concurrency=8,
            llm_calls_per_minute=PER_MINUTE,
            llm_critical_reserve=RESERVE,
        )
        with OperatorThread(emulator.kubeconfig_path, settings=settings, clock=clock):
            emulator.emulator.load(
                [
                    _incident(name, "critical" if i in CRITICAL else "warning")
                    for i, name in enumerate(names)
                ]
            )
            statuses = _statuses(emulator, names, timeout=300)
            calls_in_the_minute = len(server.chat_bodies)

            # A minute later the bucket is full again: the next Incident gets the model.
            clock.now += timedelta(seconds=60)
            emulator.emulator.load([_incident("after-the-minute", "warning")])
            after = _statuses(emulator, ["after-the-minute"], timeout=60)["after-the-minute"]
        assert len(server.chat_bodies) == calls_in_the_minute + 1

    assert calls_in_the_minute <= PER_MINUTE
    assert all(s["phase"] == "Diagnosed" for s in statuses.values())
    used = {name for name, s in statuses.items() if s["diagnosis"]["llm"]["used"]}
    assert len(used) == calls_in_the_minute
    # Every critical Incident had the model, though all came after the first 24 warnings.
    assert {names[i] for i in CRITICAL} <= used
    # The warnings stopped where the critical share begins.
    assert len(used - {names[i] for i in CRITICAL}) == PER_MINUTE - len(CRITICAL)

    refused = {name: s for name, s in statuses.items() if name not in used}
    assert len(refused) == STORM - calls_in_the_minute
    for status in refused.values():
        llm = status["diagnosis"]["llm"]
        assert llm["skipped"] == "calls-per-minute"
        assert llm["reason"].startswith("model not used: calls-per-minute limit of 20")
        budget = _conditions(status)["LLMBudgetExhausted"]
        assert (budget["status"], budget["reason"]) == ("True", "CallsPerMinute")
        # A warning refused while calls are left is told they are kept for critical
        # Incidents; one refused after the critical Incidents took them too, that none is
        # left. Which it is depends on when it was diagnosed, and the operator diagnoses
        # concurrently, not in creation order.
        message = budget["message"]
        assert "kept for critical incidents" in message or "(0.0 calls left)" in message, message
        # The reset is stated on the budget's clock, not the wall clock.
        assert "the next call is possible at 2026-03-04T10:1" in budget["message"]
        assert _conditions(status)["LLMUnavailable"]["reason"] == "BudgetExhausted"
        # Diagnosed by the analyzers alone.
        assert status["diagnosis"]["category"] == "oom-killed"
    for name in used:
        budget = _conditions(statuses[name])["LLMBudgetExhausted"]
        assert (budget["status"], budget["reason"]) == ("False", "WithinBudget")
    assert after["diagnosis"]["llm"]["used"] is True


def test_budget_usage_survives_an_operator_restart_within_the_window(
    emulator: EmulatorThread,
) -> None:
    _setup(emulator)
    clock = Clock()
    with ScriptedOpenAIServer(default=answer(ANSWER)) as server:
        settings = _settings(server, llm_calls_per_minute=5, llm_critical_reserve=0)
        first = [f"first-{i}" for i in range(5)]
        with OperatorThread(emulator.kubeconfig_path, settings=settings, clock=clock):
            emulator.emulator.load([_incident(name, "warning") for name in first])
            before = _statuses(emulator, first, timeout=120)
        assert len(server.chat_bodies) == 5
        assert all(s["diagnosis"]["llm"]["used"] for s in before.values())
        saved = emulator.emulator.get("configmaps", "kubetriage-llm-budget", OPERATOR_NAMESPACE)
        assert saved is not None
        assert "state.json" in saved["data"]

        # A new operator process 12 s later: one call refilled (5 per minute), not five.
        clock.now += timedelta(seconds=12)
        second = [f"second-{i}" for i in range(3)]
        with OperatorThread(emulator.kubeconfig_path, settings=settings, clock=clock):
            emulator.emulator.load([_incident(name, "warning") for name in second])
            after = _statuses(emulator, second, timeout=120)
        assert len(server.chat_bodies) == 6
    outcomes = Counter(s["diagnosis"]["llm"].get("skipped") for s in after.values())
    assert outcomes == {None: 1, "calls-per-minute": 2}


def test_unchanged_evidence_is_not_paid_for_twice_and_rules_say_why(
    emulator: EmulatorThread,
) -> None:
    """A re-diagnosis (a severity edit) of unchanged evidence keeps the earlier answer
    without a call, with the budget spent; an info Incident kept out by a severity rule says so
    and is not charged to the budget."""
    _setup(emulator)
    clock = Clock()
    with ScriptedOpenAIServer(default=answer(ANSWER)) as server:
        settings = _settings(
            server, llm_calls_per_minute=1, llm_only_severities=["critical", "warning"]
        )
        with OperatorThread(emulator.kubeconfig_path, settings=settings, clock=clock):
            emulator.emulator.load([_incident("quiet", "info"), _incident("paid", "warning")])
            first = _statuses(emulator, ["quiet", "paid"], timeout=120)
            assert len(server.chat_bodies) == 1
            with api_client(emulator.kubeconfig_path) as client:
                k8s.CustomObjectsApi(client).patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    NAMESPACE,
                    PLURAL,
                    "paid",
                    {"spec": {"severity": "critical"}},  # not part of the evidence
                )
            paid = wait_for(
                lambda: (emulator.emulator.get("incidents", "paid", NAMESPACE) or {})["status"],
                until=lambda paid: (
                    paid.get("observedGeneration") == 2 and paid.get("phase") == "Diagnosed"
                ),
                what="the edit re-diagnosed",
            )
        assert len(server.chat_bodies) == 1
    quiet = first["quiet"]["diagnosis"]["llm"]
    assert quiet["used"] is False
    assert quiet["skipped"] == "severity"
    assert quiet["reason"] == (
        "model not used: rule severity (info is not one of critical, warning)"
    )
    gated = _conditions(first["quiet"])["LLMUnavailable"]
    assert (gated["status"], gated["reason"]) == ("False", "SkippedByRule")
    budget = _conditions(first["quiet"])["LLMBudgetExhausted"]
    assert (budget["status"], budget["reason"]) == ("False", "NotAsked")
    assert paid["diagnosis"]["llm"]["used"] is True
    assert paid["diagnosis"]["llm"]["cached"] is True


def test_metrics_show_calls_tokens_cost_skips_and_the_budget_left(
    emulator: EmulatorThread,
) -> None:
    """What the operator serves on /metrics after one paid call and one refused by the
    budget: the numbers the model server counted, priced with the configured table."""
    _setup(emulator)
    clock = Clock()
    port = free_port()
    price = ModelPrice(input_per_million=2.0, output_per_million=8.0)
    with ScriptedOpenAIServer(default=answer(ANSWER)) as server:
        settings = _settings(
            server,
            llm_calls_per_minute=1,
            llm_tokens_per_hour=100_000,
            llm_prices={"scripted": price},
            metrics_host="127.0.0.1",
            metrics_port=port,
        )
        with OperatorThread(
            emulator.kubeconfig_path, settings=settings, clock=clock, serve_metrics=True
        ):
            emulator.emulator.load([_incident("one", "warning"), _incident("two", "warning")])
            _statuses(emulator, ["one", "two"], timeout=120)
            samples = _scrape(f"http://127.0.0.1:{port}/metrics", "kubetriage_llm_skipped_total")
        (usage,) = server.usages
    assert samples[("kubetriage_llm_calls_total", (("outcome", "ok"),))] == 1
    assert samples[("kubetriage_llm_tokens_total", (("type", "input"),))] == usage.prompt_tokens
    assert samples[("kubetriage_llm_tokens_total", (("type", "output"),))] == (
        usage.completion_tokens
    )
    cost = samples[("kubetriage_llm_estimated_cost_total", (("model", "scripted"),))]
    assert cost == pytest.approx(
        (usage.prompt_tokens * 2.0 + usage.completion_tokens * 8.0) / 1_000_000
    )
    assert samples[("kubetriage_llm_skipped_total", (("reason", "calls-per-minute"),))] == 1
    remaining = {
        dict(labels)["limit"]: value
        for (name, labels), value in samples.items()
        if name == "kubetriage_llm_budget_remaining"
    }
    used = usage.prompt_tokens + usage.completion_tokens
    assert remaining == {"calls-per-minute": 0.0, "tokens-per-hour": 100_000 - used}


def _scrape(url: str, wanted: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The metrics once ``wanted`` has a sample (the handler records after the status)."""

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    return wait_for(
        scrape,
        until=lambda samples: any(name == wanted for name, _ in samples),
        what=f"a {wanted} sample",
        within=30,
        show=lambda samples: sorted({name for name, _ in samples}),
    )
