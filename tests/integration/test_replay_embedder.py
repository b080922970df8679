"""A replay given an embedding model uses it instead of loading its own: the leave-one-out
memory is seeded and searched through that one model, and the replay recalls the same similar
incidents as a replay that loads the model itself (``evaluate`` loads one per run of replays).

Real: the all-MiniLM-L6-v2 model on onnxruntime (counted by a pass-through wrapper), an
on-disk Qdrant store per replay, the example cases replayed end to end (emulated API, real
Prometheus backfilled from the case's metrics, the real operator, no LLM).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import yaml

from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
from kubetriage.replay.cases import find_cases, load_case_set, read_case_mapping
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES


class _Counted:
    """The real model, counting the texts it embeds."""

    def __init__(self, real: OnnxMiniLMEmbedder) -> None:
        self._real = real
        self.texts = 0

    @property
    def model_id(self) -> str:
        return self._real.model_id

    @property
    def dimension(self) -> int:
        return self._real.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += len(texts)
        return self._real.embed(texts)


def _past_incidents(directory: Path) -> Path:
    """The examples, and a solved twin of the first under another id (so that the
    leave-one-out memory holds an incident the replay must recall)."""
    for source in find_cases(EXAMPLES):
        raw = read_case_mapping(source)
        (directory / source.name).mkdir()
        (directory / source.name / "case.yaml").write_text(yaml.safe_dump(raw))
    twin = read_case_mapping(find_cases(EXAMPLES)[0])
    twin["id"] = f"{twin['id']}-twin"
    (directory / "twin").mkdir()
    (directory / "twin" / "case.yaml").write_text(yaml.safe_dump(twin))
    return directory


def test_a_replay_embeds_through_the_model_it_is_given_and_recalls_the_same(
    tmp_path: Path,
) -> None:
    past = _past_incidents(tmp_path)
    case = load_case_set(EXAMPLES)[0]
    settings = Settings(memory_enabled=True)
    given = _Counted(OnnxMiniLMEmbedder())

    shared = asyncio.run(replay_case(case, settings, memory_from=past, embedder=given))
    own = asyncio.run(replay_case(case, settings, memory_from=past))

    assert shared.diagnosis is not None
    assert own.diagnosis is not None
    # The other cases were seeded through it, and the incident's search embedded with it.
    seeded = len(load_case_set(past)) - 1
    assert given.texts > seeded
    recalled = [(s.name, s.score) for s in shared.diagnosis.similar_incidents]
    assert recalled
    assert recalled == [(s.name, s.score) for s in own.diagnosis.similar_incidents]
