"""Leave-one-out retrieval quality of incident memory on the project's case set: every case
is stored by the signature a live diagnosis of it would produce (``case_signature``: the
real evidence builder, redaction, analyzers and canonical text), then each case queries the
store with its own signature, itself excluded, and we count how often the nearest
neighbour has the same category. Real ONNX embeddings, real Qdrant local mode on disk.

Run: ``.venv/bin/python benchmarks/bench_memory_loo.py [CASES_DIR]``; writes
``benchmarks/results/memory_loo.md``.
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
from kubetriage.memory.store import IncidentMemory
from kubetriage.redaction import redact_text
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.seeding import case_signature, seed_from_cases

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    cases_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "cases" / "train"
    cases = [c for c in load_case_set(cases_dir) if c.expect is not None]
    rows: list[tuple[str, str, str, float]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        memory = IncidentMemory(OnnxMiniLMEmbedder(), redact=redact_text, path=Path(tmp) / "m")
        with memory:
            seed_from_cases(memory, cases)
            for case in cases:
                assert case.expect is not None
                matches = memory.search(
                    case_signature(case), k=1, score_threshold=0.0, exclude_name=case.id
                )
                top = matches[0] if matches else None
                rows.append(
                    (
                        case.id,
                        case.expect.category.value,
                        top.record.category.value if top else "-",
                        top.score if top else 0.0,
                    )
                )
    elapsed = time.perf_counter() - started
    same = sum(1 for _, expected, nearest, _ in rows if expected == nearest)
    by_category = Counter(expected for _, expected, _, _ in rows)
    hits = Counter(expected for _, expected, nearest, _ in rows if expected == nearest)
    shown = cases_dir.relative_to(ROOT) if cases_dir.is_relative_to(ROOT) else cases_dir
    lines = [
        "# Incident memory: leave-one-out retrieval quality",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.node()} "
        f"({platform.processor() or platform.machine()}, Python {platform.python_version()}),"
        f" `{' '.join(sys.argv)}`, {elapsed:.1f} s.",
        "",
        f"**Nearest neighbour has the same category: {same}/{len(rows)} "
        f"({same / len(rows):.0%})** over `{shown}`.",
        "",
        "Each case is stored by the signature a live diagnosis of it produces; the query is",
        "the same signature with the case itself excluded. With 2-3 cases per category, a",
        "miss often means the only other case of that category is phrased very differently.",
        "",
        "| category | cases | nearest neighbour same category |",
        "| --- | ---: | ---: |",
    ]
    for category in sorted(by_category):
        lines.append(f"| {category} | {by_category[category]} | {hits[category]} |")
    lines += ["", "| case | category | nearest's category | cosine |", "| --- | --- | --- | ---: |"]
    for case_id, expected, nearest, score in rows:
        mark = "" if expected == nearest else " ✗"
        lines.append(f"| {case_id} | {expected} | {nearest}{mark} | {score:.3f} |")
    out = ROOT / "benchmarks" / "results" / "memory_loo.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"nearest neighbour same category: {same}/{len(rows)} ({same / len(rows):.0%}); wrote {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
