"""The command line as a user runs it (subprocesses): ``diagnose`` on every shared example
case gives the expected category, top action and target; malformed cases fail naming the
file and field; ``eval --json`` has the documented keys; ``memory import/search/stats``.
Real: the CLI, the API emulator, the operator, Prometheus (backfilled), the ONNX model,
Qdrant local mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetriage.replay.cases import load_case
from tests.support.cases import EXAMPLES

SHARED = EXAMPLES
SHARED_CASES = sorted(p for p in SHARED.iterdir() if (p / "case.yaml").is_file())


def _cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubetriage", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("case_dir", SHARED_CASES, ids=[p.name for p in SHARED_CASES])
def test_diagnose_json_matches_the_expected_answer(case_dir: Path) -> None:
    expect = load_case(case_dir).expect
    assert expect is not None
    result = _cli("diagnose", str(case_dir), "--json")
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    assert body["category"] == expect.category.value
    assert 0 <= body["confidence"] <= 1
    assert body["summary"]
    top = body["remediations"][0]
    assert top["action"] in [a.value for a in expect.actions]
    assert top["target"]["kind"] == expect.target.kind
    assert top["target"]["name"] == expect.target.name
    assert top["target"]["namespace"] == expect.target.namespace
    assert top["risk"] in {"low", "medium", "high"}


def test_diagnose_human_output_names_the_fix() -> None:
    result = _cli("diagnose", str(SHARED / "example-oom-csv-exporter"))
    assert result.returncode == 0, result.stderr
    assert "oom-killed" in result.stdout
    assert "kubectl -n exports set resources deployment/csv-exporter" in result.stdout


def test_malformed_case_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    case = yaml.safe_load((SHARED / "example-oom-csv-exporter" / "case.yaml").read_text())
    case["alert"]["startsAgo"] = "six minutes"
    bad = tmp_path / "bad-case"
    bad.mkdir()
    (bad / "case.yaml").write_text(yaml.safe_dump(case))
    result = _cli("diagnose", str(bad))
    assert result.returncode == 2
    assert str(bad / "case.yaml") in result.stderr
    assert "alert.startsAgo" in result.stderr


def test_eval_json_has_the_documented_keys(tmp_path: Path) -> None:
    for name in ("example-oom-csv-exporter", "example-image-tag-typo"):
        shutil.copytree(SHARED / name, tmp_path / name)
    result = _cli("eval", str(tmp_path), "--json", "--llm", "none")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    for key in (
        "score",
        "category_accuracy",
        "action_accuracy",
        "target_accuracy",
        "latency_p50_ms",
        "latency_p95_ms",
        "cases",
    ):
        assert key in body
    assert body["score"] == 1.0
    assert {c["id"] for c in body["cases"]} == {
        "example-oom-csv-exporter",
        "example-image-tag-typo",
    }
    for case in body["cases"]:
        assert set(case) >= {
            "id",
            "category",
            "expected_category",
            "action",
            "expected_actions",
            "target",
            "expected_target",
            "correct",
            "latency_ms",
        }


def test_memory_import_search_stats(tmp_path: Path) -> None:
    env = {"KUBETRIAGE_QDRANT_PATH": str(tmp_path / "memory")}
    imported = _cli("memory", "import", str(SHARED), env=env)
    assert imported.returncode == 0, imported.stderr
    assert f"imported {len(SHARED_CASES)} incidents" in imported.stdout
    stats = _cli("memory", "stats", "--json", env=env)
    assert json.loads(stats.stdout)["count"] == len(SHARED_CASES)
    found = _cli(
        "memory",
        "search",
        "container OOMKilled exit code 137 at its memory limit",
        "--json",
        env=env,
    )
    assert found.returncode == 0, found.stderr
    matches = json.loads(found.stdout)
    assert matches[0]["name"] == "example-oom-csv-exporter"
    assert matches[0]["action"] == "increase-memory"
    # The re-import path: export, then import into a fresh store, ids keyed by namespace.
    exported = _cli("memory", "export", str(tmp_path / "memory.jsonl"), env=env)
    assert exported.returncode == 0, exported.stderr
    again = {"KUBETRIAGE_QDRANT_PATH": str(tmp_path / "again")}
    reimported = _cli("memory", "import", str(tmp_path / "memory.jsonl"), env=again)
    assert reimported.returncode == 0, reimported.stderr
    stats = _cli("memory", "stats", "--json", env=again)
    assert json.loads(stats.stdout)["count"] == len(SHARED_CASES)
