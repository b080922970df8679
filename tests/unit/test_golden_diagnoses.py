"""Checks the texts a person reads for every case in tests/cases/{examples,train}: the rendered
summary, root cause and evidence must equal the golden record in tests/golden (``make golden``
or ``UPDATE_GOLDEN=1`` rewrites them when a change is intended), and every one must follow the
writing rules: a summary is one sentence within the limit that names an object and quotes
nothing; a root cause is a different, short causal chain whose citations exist.

Real: the case files, the evidence builder, redaction, the analyzers, the combiner and the
prose renderer, run through ``pipeline.diagnose`` (tests/support/golden.py); metrics are the
case's own series summarised without a Prometheus server. No memory, no model.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kubetriage import prose
from tests.support.cases import EXAMPLES, TRAIN, case_dirs
from tests.support.golden import (
    GOLDEN,
    dump,
    golden_path,
    load,
    record,
    replay_offline,
    updating,
)

CASES = [*case_dirs(EXAMPLES), *case_dirs(TRAIN)]
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\b\d{2}:\d{2}:\d{2}\b")
IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
KINDS = re.compile(
    r"\b(Deployment|StatefulSet|DaemonSet|Service|Node|PersistentVolumeClaim|ConfigMap|Secret|"
    r"Certificate|NetworkPolicy|Namespace|ReplicaSet|Job|CronJob|Pod|Ingress|ResourceQuota)\b "
    r"[a-z0-9]"
)
SENTENCE_END = re.compile(r"(?<=[A-Za-z0-9)\]%])\.(?:\s|$)")


@cache
def _record(case_dir: Path) -> dict[str, Any]:
    return record(replay_offline(case_dir))


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_rendered_texts_match_the_golden_record(case_dir: Path) -> None:
    actual = _record(case_dir)
    path = golden_path(case_dir)
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(actual), encoding="utf-8")
    assert path.exists(), f"{path} is missing: run `make golden` and review the diff"
    assert load(path) == actual, f"{case_dir.name}: texts changed; `make golden` if intended"


def test_every_golden_record_belongs_to_a_case() -> None:
    names = {c.name for c in CASES}
    stale = sorted(p.stem for p in GOLDEN.glob("*.yaml") if p.stem not in names)
    assert stale == []


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_summary_is_one_plain_sentence(case_dir: Path) -> None:
    summary = _record(case_dir)["summary"]
    assert len(summary) <= prose.SUMMARY_LIMIT
    assert summary.endswith(".")
    assert not summary.endswith(prose.ELLIPSIS + ".")
    assert prose.ELLIPSIS not in summary, "a summary is never cut"
    assert "\n" not in summary
    for marker in ("{'", "['", "[REDACTED", "(s)", "/s "):
        assert marker not in summary
    assert not TIMESTAMP.search(summary)
    assert not IPV4.search(summary)
    assert KINDS.search(summary), "a summary names the object: Kind namespace/name"
    assert len(SENTENCE_END.findall(summary)) == 1


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_root_cause_is_a_short_causal_chain_citing_real_evidence(case_dir: Path) -> None:
    body = _record(case_dir)
    root_cause = body["rootCause"]
    assert root_cause
    assert root_cause != body["summary"]
    sentences = SENTENCE_END.findall(root_cause)
    assert 2 <= len(sentences) <= 4, root_cause
    cited = set(re.findall(r"\bE\d+\b", root_cause))
    assert cited, "a root cause points at evidence"
    assert cited <= {e["id"] for e in body["evidence"]}
    assert "{'" not in root_cause


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_evidence_is_short_numbered_facts_with_a_source(case_dir: Path) -> None:
    evidence = _record(case_dir)["evidence"]
    assert evidence
    assert [e["id"] for e in evidence] == [f"E{i}" for i in range(1, len(evidence) + 1)]
    for entry in evidence:
        assert entry["source"]
        assert 0 < len(entry["fact"]) <= 300
        assert "{'" not in entry["fact"]
