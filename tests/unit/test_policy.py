"""The remediation policy: strict parsing (unknown keys, non-executable actions, drain-node
outside its opt-in, bad bounds are errors), default deny, every rule of ``evaluate``, the
bounds and the rate-limit ledger. Pure; real YAML text, no cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action
from kubetriage.remediation.policy import (
    LEDGER_MAX_ENTRIES,
    Bounds,
    LedgerEntry,
    PolicyError,
    RemediationPolicy,
    Request,
    append_ledger,
    bounded_increase,
    bounded_replicas,
    evaluate,
    load_policy,
    parse_ledger,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")

EXAMPLE = """
apiVersion: kubetriage.io/v1alpha1
kind: RemediationPolicy
rules:
  - actions: [increase-memory, restart]
    namespaces: [shop, "team-*"]
    names: ["check*"]
    selector:
      matchLabels: {tier: backend}
      matchExpressions:
        - {key: env, operator: In, values: [prod, staging]}
        - {key: legacy, operator: DoesNotExist}
  - actions: [scale-out]
    namespaces: [shop]
    kinds: [StatefulSet]
bounds: {maxMemoryFactor: 1.5, maxReplicas: 6, maxReplicaFactor: 3}
rateLimit: {maxPerWorkloadPerHour: 2}
drainNode: {enabled: true, nodes: ["pool-a-*"]}
"""


def _policy(text: str = EXAMPLE) -> RemediationPolicy:
    return load_policy(text)


def _request(
    action: Action = Action.INCREASE_MEMORY,
    target: ObjectRef = CHECKOUT,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    ledger: list[LedgerEntry] | None = None,
    approver_known: bool = True,
) -> Request:
    return Request(
        action=action,
        target=target,
        labels={"tier": "backend", "env": "prod"} if labels is None else labels,
        annotations=annotations or {},
        ledger=ledger or [],
        approver_known=approver_known,
        now=NOW,
    )


def _entry(minutes_ago: float, id_: str = "restart-1") -> LedgerEntry:
    return LedgerEntry(
        at=NOW - timedelta(minutes=minutes_ago),
        action=Action.RESTART,
        id=id_,
        incident="shop/earlier",
    )


def test_the_documented_example_parses() -> None:
    policy = _policy()
    assert policy.bounds.max_memory_factor == 1.5
    assert policy.bounds.max_cpu_factor == 2.0  # default
    assert policy.rate_limit.max_per_workload_per_hour == 2
    assert policy.rules[1].kinds == ["StatefulSet"]
    assert policy.rules[1].names == ["*"]


def test_docs_example_is_a_valid_policy() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "remediation.md").read_text()
    block = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    policy = load_policy(block)
    assert policy.rules, "the documented example allows something"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rules": [{"actions": ["fix-image"], "namespaces": ["a"]}]}, "cannot be executed"),
        ({"rules": [{"actions": ["drain-node"], "namespaces": ["a"]}]}, "drainNode.enabled"),
        ({"rules": [{"actions": [], "namespaces": ["a"]}]}, "rules.0.actions"),
        ({"rules": [{"actions": ["restart"], "namespaces": []}]}, "rules.0.namespaces"),
        (
            {"rules": [{"actions": ["restart"], "namespaces": ["a"], "kinds": ["DaemonSet"]}]},
            "kinds",
        ),
        ({"rules": [{"actions": ["restart"], "namespace": ["a"]}]}, "namespace"),
        ({"bounds": {"maxMemoryFactor": 0.5}}, "maxMemoryFactor"),
        ({"bounds": {"maxReplicas": 0}}, "maxReplicas"),
        ({"bounds": {"maxMemoryFactr": 2}}, "maxMemoryFactr"),
        ({"rateLimit": {"maxPerWorkloadPerHour": -1}}, "maxPerWorkloadPerHour"),
        ({"kind": "Policy"}, "kind"),
        ({"apiVersion": "v1"}, "apiVersion"),
    ],
)  # fmt: skip
def test_invalid_policies_name_the_field(change: dict[str, Any], message: str) -> None:
    body: dict[str, Any] = {"apiVersion": "kubetriage.io/v1alpha1", "kind": "RemediationPolicy"}
    body.update(change)
    with pytest.raises(PolicyError, match=message):
        load_policy(yaml.safe_dump(body))


@pytest.mark.parametrize("text", ["", "- a list", "key: [unclosed"])
def test_non_mapping_or_broken_yaml_is_an_error(text: str) -> None:
    with pytest.raises(PolicyError):
        load_policy(text)


def test_no_policy_denies_everything_and_says_why() -> None:
    verdict = evaluate(None, _request())
    assert not verdict.allowed
    assert verdict.reason == "NoPolicy"
    assert "only" in verdict.message
    assert "suggests" in verdict.message


def test_an_empty_policy_allows_nothing() -> None:
    policy = load_policy("apiVersion: kubetriage.io/v1alpha1\nkind: RemediationPolicy\n")
    verdict = evaluate(policy, _request())
    assert (verdict.allowed, verdict.reason) == (False, "NotAllowedByPolicy")


def test_a_matching_rule_allows() -> None:
    verdict = evaluate(_policy(), _request())
    assert verdict.allowed, verdict.message


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (_request(action=Action.ROLLBACK), "NotAllowedByPolicy"),
        (_request(action=Action.FIX_CONFIG), "NotExecutable"),
        (_request(target=ObjectRef(kind="Deployment", namespace="web", name="checkout")),
         "NotAllowedByPolicy"),
        (_request(target=ObjectRef(kind="Deployment", namespace="shop", name="cart")),
         "NotAllowedByPolicy"),
        (_request(target=ObjectRef(kind="DaemonSet", namespace="shop", name="checkout")),
         "UnsupportedTarget"),
        (_request(labels={"tier": "frontend", "env": "prod"}), "NotAllowedByPolicy"),
        (_request(labels={"tier": "backend", "env": "dev"}), "NotAllowedByPolicy"),
        (_request(labels={"tier": "backend"}), "NotAllowedByPolicy"),
        (_request(labels={"tier": "backend", "env": "prod", "legacy": "y"}), "NotAllowedByPolicy"),
        (_request(annotations={"kubetriage.io/remediation": "disabled"}), "OptedOut"),
        (_request(ledger=[_entry(10), _entry(50)]), "RateLimited"),
        (_request(action=Action.SCALE_OUT), "NotAllowedByPolicy"),  # rule is StatefulSet-only
    ],
)  # fmt: skip
def test_each_rule_denies(request_: Request, reason: str) -> None:
    verdict = evaluate(_policy(), request_)
    assert (verdict.allowed, verdict.reason) == (False, reason), verdict.message


def test_namespace_globs_and_statefulset_rule() -> None:
    in_team = ObjectRef(kind="Deployment", namespace="team-a", name="checkout-v2")
    assert evaluate(_policy(), _request(target=in_team)).allowed
    sts = ObjectRef(kind="StatefulSet", namespace="shop", name="db")
    assert evaluate(_policy(), _request(action=Action.SCALE_OUT, target=sts, labels={})).allowed


def test_rate_limit_counts_only_the_last_hour() -> None:
    assert evaluate(_policy(), _request(ledger=[_entry(61), _entry(90), _entry(10)])).allowed
    denied = evaluate(_policy(), _request(ledger=[_entry(59), _entry(10)]))
    assert denied.reason == "RateLimited"
    assert "2" in denied.message


def test_a_zero_rate_limit_denies_even_the_first() -> None:
    policy = load_policy(EXAMPLE.replace("maxPerWorkloadPerHour: 2", "maxPerWorkloadPerHour: 0"))
    assert evaluate(policy, _request()).reason == "RateLimited"


def test_opt_out_wins_over_an_allowing_rule_and_other_values_do_not_opt_out() -> None:
    assert evaluate(
        _policy(), _request(annotations={"kubetriage.io/remediation": "enabled"})
    ).allowed
    assert (
        evaluate(_policy(), _request(annotations={"kubetriage.io/remediation": "disabled"})).reason
        == "OptedOut"
    )


def test_drain_node_needs_the_explicit_opt_in_and_a_matching_node() -> None:
    node = ObjectRef(kind="Node", name="pool-a-1")
    assert evaluate(_policy(), _request(action=Action.DRAIN_NODE, target=node, labels={})).allowed
    other = ObjectRef(kind="Node", name="pool-b-1")
    denied = evaluate(_policy(), _request(action=Action.DRAIN_NODE, target=other, labels={}))
    assert denied.reason == "NotAllowedByPolicy"
    off = load_policy(EXAMPLE.replace("enabled: true", "enabled: false"))
    assert (
        evaluate(off, _request(action=Action.DRAIN_NODE, target=node, labels={})).reason
        == "DrainNotEnabled"
    )


def test_require_approver() -> None:
    policy = load_policy(EXAMPLE + "requireApprover: true\n")
    assert evaluate(policy, _request(approver_known=False)).reason == "ApproverRequired"
    assert evaluate(policy, _request(approver_known=True)).allowed


@pytest.mark.parametrize(
    ("current", "requested", "factor", "value", "capped"),
    [
        (256.0, 512.0, 2.0, 512.0, False),
        (256.0, 1024.0, 2.0, 512.0, True),
        (256.0, 300.0, 1.5, 300.0, False),
        (256.0, None, 1.5, 384.0, False),
    ],
)
def test_bounded_increase(
    current: float, requested: float | None, factor: float, value: float, capped: bool
) -> None:
    result = bounded_increase(current, requested, factor)
    assert (result.value, result.capped) == (value, capped)


@pytest.mark.parametrize(
    ("current", "requested", "value", "capped"),
    [
        (2, 4, 4, False),  # within both bounds
        (2, 9, 6, True),  # absolute maximum 6
        (1, 5, 3, True),  # factor 3 of one replica
        (3, None, 6, False),  # no number suggested: the largest the policy allows
        (0, 2, 2, False),  # scaled to zero counts as one for the factor
    ],
)
def test_bounded_replicas(current: int, requested: int | None, value: int, capped: bool) -> None:
    bounds = Bounds(max_replicas=6, max_replica_factor=3.0)
    result = bounded_replicas(current, requested, bounds)
    assert (result.value, result.capped) == (value, capped)


def test_ledger_round_trip_prunes_old_and_excess_entries() -> None:
    old = [_entry(60 * 25, "ancient")] + [_entry(5 * i, f"r-{i}") for i in range(30, 0, -1)]
    value = append_ledger(old, _entry(0, "newest"))
    entries = parse_ledger(value)
    assert entries[-1].id == "newest"
    assert "ancient" not in {e.id for e in entries}
    assert len(entries) == LEDGER_MAX_ENTRIES
    assert json.loads(value)[-1]["incident"] == "shop/earlier"


@pytest.mark.parametrize("value", [None, "", "not json", '{"a": 1}', '[{"at": "x"}]'])
def test_a_mangled_ledger_reads_as_empty(value: str | None) -> None:
    assert parse_ledger(value) == []
