"""Prompt size: the real prompt the operator would send for each case of a set, on snapshot
evidence, counted with every tokenizer available.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubetriage.alerts import spec_from_alerts
from kubetriage.analyzers import run_analyzers
from kubetriage.llm.prompt import render_messages
from kubetriage.llm.schema import answer_json_schema
from kubetriage.models.case import Case
from kubetriage.redaction import redact_evidence
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.session import case_alert
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.settings import Settings
from tests.support.cases import REPO
from tests.support.openai_server import CHARS_PER_TOKEN


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    name: str
    count: Callable[[str], int]


def tokenizers() -> list[Tokenizer]:
    """Real tokenizers when importable (an OpenAI BPE via ``bpe_openai``, the demo model's
    own via llama.cpp), and always the scripted server's estimate (4 characters a token)."""
    found: list[Tokenizer] = []
    try:
        import bpe_openai  # type: ignore[import-not-found,unused-ignore]

        encoding = bpe_openai.get_encoding("o200k_base")
        found.append(
            Tokenizer("o200k_base (GPT-4o, bpe-openai)", lambda s: len(encoding.encode(s)))
        )
    except ImportError:
        pass
    with contextlib.suppress(ImportError, ValueError, RuntimeError):
        from kubetriage.replay.local_llm import find_local_model

        model = find_local_model()
        if model is not None:
            import llama_cpp

            vocab = llama_cpp.Llama(str(model.gguf), vocab_only=True, verbose=False)
            found.append(
                Tokenizer(
                    "SmolLM2-135M (demo model, llama.cpp)",
                    lambda s: len(vocab.tokenize(s.encode(), add_bos=False, special=True)),
                )
            )
    found.append(estimate_tokenizer())
    return found


def case_messages(case: Case, settings: Settings) -> list[dict[str, str]]:
    """The prompt the operator would send for the case, on snapshot evidence (the case's
    objects and logs; its Prometheus series are not replayed here)."""
    now = datetime.now(UTC)
    spec = spec_from_alerts([case_alert(case, now)])
    source = SnapshotEvidenceSource(case)
    target = spec.target
    raw = source.build(
        target=target, alerts=spec.alerts, title=spec.title, description=spec.description, now=now
    )
    evidence = redact_evidence(raw)
    findings = list(run_analyzers(evidence).findings)
    return render_messages(evidence, findings, [], max_chars=settings.llm_prompt_max_chars)


def estimate_tokenizer() -> Tokenizer:
    return Tokenizer(
        f"estimate: chars/{CHARS_PER_TOKEN} (scripted server)",
        lambda s: max(1, len(s) // CHARS_PER_TOKEN),
    )


def bench_prompt_size(
    case_dir: Path, counters: Sequence[Tokenizer] | None = None
) -> dict[str, Any]:
    """Prompt tokens per case with each tokenizer (default: every one available)."""
    cases = load_case_set(case_dir)
    settings = Settings(memory_enabled=False)
    prompts = {case.id: case_messages(case, settings) for case in cases}
    schema_text = json.dumps(answer_json_schema())
    rows = []
    for tokenizer in counters if counters is not None else tokenizers():
        counts = {
            cid: sum(tokenizer.count(m["content"]) for m in messages)
            for cid, messages in prompts.items()
        }
        largest = max(counts, key=lambda cid: counts[cid])
        rows.append(
            {
                "tokenizer": tokenizer.name,
                "median": statistics.median(counts.values()),
                "max": counts[largest],
                "max_case": largest,
                "min": min(counts.values()),
                "schema": tokenizer.count(schema_text),
            }
        )
    chars = [sum(len(m["content"]) for m in messages) for messages in prompts.values()]
    return {
        "cases": len(cases),
        "case_dir": str(case_dir.relative_to(REPO) if case_dir.is_relative_to(REPO) else case_dir),
        "max_chars_setting": settings.llm_prompt_max_chars,
        "chars_median": statistics.median(chars),
        "chars_max": max(chars),
        "rows": rows,
    }
