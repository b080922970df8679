"""Checks the public incident case set (tests/cases/train and tests/cases/holdout) against the
shared case format, version 1.

Everything here is real: each case.yaml is loaded with PyYAML and validated by the
strict ``kubetriage.models.case.Case`` model, then cross-checked (ids, vocabulary coverage, targets
and alert labels naming objects in ``cluster``, metric notation, and no answer leaking into the
diagnosis inputs). Metric series are checked with the replay's own parsers
(``kubetriage.replay.promtool``): every series is a plain selector, never a PromQL expression,
counters only rise (or reset on a restart), and histogram buckets are cumulative.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetriage.models.case import Case, CaseMetrics, CaseSeries
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Category
from kubetriage.replay.cases import read_case_mapping
from kubetriage.replay.promtool import (
    NotationError,
    SeriesSelector,
    Stale,
    expand_series_values,
    parse_series_selector,
)
from tests.support.cases import HOLDOUT, TRAIN, case_dirs, case_id

MIN_CASES = 120
MIN_HOLDOUT = 40
MIN_PER_CATEGORY = 6
MAX_CASE_BYTES = 32_000

# Alert labels that name a Kubernetes object, and the kind they name.
_LABEL_KINDS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
    "pod": "Pod",
    "node": "Node",
    "persistentvolumeclaim": "PersistentVolumeClaim",
    "horizontalpodautoscaler": "HorizontalPodAutoscaler",
}

# One token of promtool's expanding notation: a+bxN, a-bxN, axN, _, _xN, stale, or a number.
_NUM = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"^(?:{_NUM}(?:[+-]{_NUM})?x\d+|{_NUM}|_|_x\d+|stale)$")


# Counter families by Prometheus naming convention (a name ending in one of these).
_COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _case_dirs() -> list[Path]:
    return [*case_dirs(TRAIN), *case_dirs(HOLDOUT)]


@cache
def _load(path: Path) -> dict[str, Any]:
    """The case's raw mapping, read once per run: nine checks read every case, and parsing
    and validating each case nine times was most of this module's time. Nothing mutates it."""
    return read_case_mapping(path)


@cache
def _case(path: Path) -> Case:
    """The case validated by the strict model, once per run (as ``_load``)."""
    return Case.model_validate(_load(path))


def _objects(case: Case) -> set[tuple[str, str | None, str]]:
    found = set()
    for obj in case.cluster:
        meta = obj["metadata"]
        found.add((obj["kind"], meta.get("namespace"), meta["name"]))
    return found


def _sample_count(values: str) -> int:
    count = 0
    for token in values.split():
        if token.startswith("_x"):
            count += int(token[2:])
        elif "x" in token:
            count += int(token.rsplit("x", 1)[1]) + 1
        else:
            count += 1
    return count


CASE_DIRS = _case_dirs()


def test_case_set_is_large_enough() -> None:
    assert len(CASE_DIRS) >= MIN_CASES
    assert len(case_dirs(HOLDOUT)) >= MIN_HOLDOUT


def test_holdout_and_train_share_no_case() -> None:
    train = {p.name for p in case_dirs(TRAIN)}
    holdout = {p.name for p in case_dirs(HOLDOUT)}
    assert train
    assert not train & holdout


def test_case_dirs_hold_only_case_yaml() -> None:
    for path in CASE_DIRS:
        assert sorted(p.name for p in path.iterdir()) == ["case.yaml"], path.name


@pytest.mark.parametrize("path", CASE_DIRS, ids=case_id)
def test_case_is_valid(path: Path) -> None:
    raw = (path / "case.yaml").read_bytes()
    assert len(raw) < MAX_CASE_BYTES, f"{path.name} is {len(raw)} bytes"
    case = _case(path)
    assert case.id == path.name
    assert case.title
    assert case.source
    assert case.expect is not None
    kinds = ACTION_TARGET_KINDS
    for action in case.expect.actions:
        assert case.expect.target.kind in kinds[action], (action, case.expect.target.kind)


@pytest.mark.parametrize("path", CASE_DIRS, ids=case_id)
def test_target_is_in_cluster(path: Path) -> None:
    case = _case(path)
    assert case.expect is not None
    target = case.expect.target
    present = _objects(case)
    if (target.kind, target.namespace, target.name) in present:
        return
    # A missing ConfigMap or Secret is the fault itself: it must then be referenced by the evidence.
    assert case.expect.category == Category.CONFIG_MISSING, f"{target} not in cluster"
    assert target.kind in {"ConfigMap", "Secret"}
    assert target.name in yaml.safe_dump(case.cluster), f"{target.name} not referenced anywhere"


@pytest.mark.parametrize("path", CASE_DIRS, ids=case_id)
def test_alert_labels_name_existing_objects(path: Path) -> None:
    case = _case(path)
    labels = case.alert.labels
    present = _objects(case)
    namespaces = {ns for _, ns, _ in present if ns}
    if "namespace" in labels:
        assert labels["namespace"] in namespaces, f"alert namespace {labels['namespace']} unused"
    for label, kind in _LABEL_KINDS.items():
        if label in labels:
            namespace = None if kind == "Node" else labels.get("namespace")
            assert (kind, namespace, labels[label]) in present, f"{label}={labels[label]} missing"


@pytest.mark.parametrize("path", CASE_DIRS, ids=case_id)
def test_metrics_notation(path: Path) -> None:
    case = _case(path)
    if case.metrics is None:
        return
    counts = set()
    for series in case.metrics.series:
        for token in series.values.split():
            assert _TOKEN.match(token), f"{series.series}: bad token {token!r}"
        counts.add(_sample_count(series.values))
    # Every series covers the same window, ending "now".
    assert len(counts) <= 1, counts


@pytest.mark.parametrize("path", CASE_DIRS, ids=case_id)
def test_expectation_does_not_leak_into_inputs(path: Path) -> None:
    data = _load(path)
    case = _case(path)
    assert case.expect is not None
    category = case.expect.category.value
    spelled = {category, category.replace("-", " "), category.replace("-", "_")}
    texts = [*case.alert.annotations.values(), *case.alert.labels.values()]
    if "-" in category:
        # Single words (storage, network, unknown) legitimately occur in real logs
        # ("opening storage failed"), so only the compound categories are checked there.
        texts.extend(case.logs.values())
    for text in texts:
        lowered = text.lower()
        for phrase in spelled:
            assert phrase not in lowered, f"{path.name}: inputs say {phrase!r}"
    inputs = yaml.safe_dump({k: data.get(k) for k in ("alert", "cluster", "logs", "metrics")})
    assert "expect" not in {k.lower() for k in data.get("alert", {}).get("labels", {})}
    assert case.source not in inputs
    assert case.title not in inputs


def test_ids_unique() -> None:
    ids = [_case(p).id for p in CASE_DIRS]
    assert len(ids) == len(set(ids))


def test_every_category_covered() -> None:
    counts: Counter[str] = Counter()
    for path in CASE_DIRS:
        case = _case(path)
        assert case.expect is not None
        counts[case.expect.category.value] += 1
    missing = {c.value: counts[c.value] for c in Category if counts[c.value] < MIN_PER_CATEGORY}
    assert not missing, missing


def test_secrets_carry_no_values() -> None:
    for path in CASE_DIRS:
        for obj in _case(path).cluster:
            if obj["kind"] == "Secret":
                for key, value in (obj.get("data") or {}).items():
                    assert value == "cmVkYWN0ZWQ=", f"{path.name}: Secret key {key} holds a value"
                assert "stringData" not in obj


def _numbers(values: str) -> list[float | None]:
    """Expanded samples with staleness markers treated as missing."""
    return [None if isinstance(v, Stale) else v for v in expand_series_values(values)]


def _parsed_series(case: Case) -> list[tuple[SeriesSelector, list[float | None]]]:
    assert case.metrics is not None
    return [(parse_series_selector(s.series), _numbers(s.values)) for s in case.metrics.series]


def _check_raw_series(case: Case) -> None:
    assert case.metrics is not None
    expected = {"1m": 61, "30s": 121}.get(case.metrics.interval)
    for series in case.metrics.series:
        # A PromQL expression (rate, sum, ratios) is not something Prometheus scraped.
        assert "(" not in series.series.split("{", 1)[0], series.series
        selector = parse_series_selector(series.series)
        assert "(" not in selector.name
        samples = expand_series_values(series.values)
        if expected is not None:
            assert len(samples) == expected, (series.series, len(samples))


def _check_counters(parsed: Sequence[tuple[SeriesSelector, Sequence[float | None]]]) -> None:
    for selector, samples in parsed:
        if not selector.name.endswith(_COUNTER_SUFFIXES):
            continue
        present = [v for v in samples if v is not None]
        for before, after in pairwise(present):
            # A drop is only a process restart starting its counter again from (near) zero.
            assert after >= before or after <= before / 2, (selector.name, before, after)


def _check_histograms(parsed: Sequence[tuple[SeriesSelector, Sequence[float | None]]]) -> None:
    buckets: dict[tuple[str, tuple[tuple[str, str], ...]], dict[float, Sequence[float | None]]] = {}
    counts: dict[tuple[str, tuple[tuple[str, str], ...]], Sequence[float | None]] = {}
    for selector, samples in parsed:
        labels = dict(selector.labels)
        if selector.name.endswith("_bucket"):
            le = float(labels.pop("le"))
            key = (selector.name.removesuffix("_bucket"), tuple(sorted(labels.items())))
            buckets.setdefault(key, {})[le] = samples
        elif selector.name.endswith("_count"):
            counts[(selector.name.removesuffix("_count"), selector.labels)] = samples
    for key, by_le in buckets.items():
        assert float("inf") in by_le, f"{key}: no +Inf bucket"
        assert counts.get(key) == by_le[float("inf")], f"{key}: _count differs from +Inf bucket"
        ordered = [by_le[le] for le in sorted(by_le)]
        for lower, upper in pairwise(ordered):
            for low, high in zip(lower, upper, strict=True):
                assert low is None or high is None or low <= high, (key, low, high)


@pytest.mark.parametrize("path", CASE_DIRS, ids=case_id)
def test_metrics_are_raw_series_as_scraped(path: Path) -> None:
    """Raw selectors the replay parses; counters only rise or reset; buckets cumulative."""
    case = _case(path)
    if case.metrics is None:
        return
    _check_raw_series(case)
    parsed = _parsed_series(case)
    _check_counters(parsed)
    _check_histograms(parsed)


def test_checks_reject_what_they_guard_against() -> None:
    expression = CaseSeries(series='sum(rate(x_total{a="b"}[5m]))', values="1x60")
    with pytest.raises(AssertionError):
        _check_raw_series(
            _case(CASE_DIRS[0]).model_copy(
                update={"metrics": CaseMetrics(interval="1m", series=[expression])}
            )
        )
    falling = [(parse_series_selector('x_total{a="b"}'), [10.0, 9.0])]
    with pytest.raises(AssertionError):
        _check_counters(falling)
    not_cumulative = [
        (parse_series_selector('h_bucket{le="0.1"}'), [5.0]),
        (parse_series_selector('h_bucket{le="+Inf"}'), [4.0]),
        (parse_series_selector("h_count"), [4.0]),
    ]
    with pytest.raises(AssertionError):
        _check_histograms(not_cumulative)
    # The replay's own parser refuses an expression too, not only this module's check.
    with pytest.raises(NotationError):
        parse_series_selector(expression.series)
