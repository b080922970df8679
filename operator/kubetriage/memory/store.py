"""Incident memory: resolved past incidents in a Qdrant collection, searched by similarity.

Opened once at startup (``IncidentMemory.from_settings``) and used by the diagnosis
pipeline (``search`` before asking the model; ``store`` when an Incident is resolved) and by
the CLI importers. Every method is synchronous and serialised by an instance lock: async
callers run them with ``asyncio.to_thread``.

Same code for the embedded on-disk mode (``path``, the default deployment) and a Qdrant
server (``url``). Design points:

* Schema metadata (schema version, embedding ``model_id``, dimension) lives in the
  collection's own metadata (``create_collection(metadata=...)``, qdrant-client >= 1.16 and
  Qdrant server >= 1.16). Opening a collection written with another model or dimension
  raises ``EmbeddingMismatchError``: vectors of two models are never mixed.
* Layout v0 (the first prototype) kept that metadata in a sentinel point with a fixed id
  and stored ``incident`` / ``action`` instead of ``name`` / ``actions``; ``migrations.migrate_v0``
  rewrites it in place. A collection newer than this code is refused.
* Point ids are ``uuid5(cluster, namespace, incident name)``: storing the same incident
  again updates it (feedback arriving twice, a corrected category) instead of adding a
  duplicate, and two incidents of one name in two namespaces (or clusters) stay two points.
  Layout v1 keyed points by (cluster, name) only, so ``media/dup`` and ``fraud/dup``
  overwrote each other; ``migrations.migrate_v1`` re-keys a v1 collection in place (what was already
  overwritten cannot be recovered: re-import it from an ``export_jsonl`` taken before, with
  ``import_jsonl``, which stores under the new ids).
* Cluster / namespace preference is a small additive boost on top of the cosine score,
  over the union of a global query and a query restricted to the preferred cluster or
  namespace: a near-identical incident from another cluster still beats a vaguely similar
  one from this cluster, and preferred candidates are never crowded out of the pool.
* Every free-text field and the embedded text pass through the injected ``redact``
  function before anything is written (or, for a query, embedded).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from qdrant_client.http import models as qm

from kubetriage.lifecycle import StartStop
from kubetriage.memory.connection import TRANSPORT_ERRORS, connect, reason
from kubetriage.memory.embeddings import Embedder
from kubetriage.memory.errors import (
    EmbeddingMismatchError,
    IncidentMemoryError,
    MemoryUnavailableError,
    SchemaVersionError,
)

# The errors live in memory.errors (importable without qdrant); re-exported for callers.
__all__ = [
    "V0_META_POINT_ID",
    "EmbeddingMismatchError",
    "IncidentMemory",
    "IncidentMemoryError",
    "MemoryStats",
    "MemoryUnavailableError",
    "SchemaVersionError",
    "point_id",
]
from kubetriage.memory.jsonl import read_records, write_records
from kubetriage.memory.migrations import (
    V0_META_POINT_ID,
    migrate_v0,
    migrate_v1,
    payload_of,
    point_id,
    record_of,
)
from kubetriage.memory.records import SCHEMA_VERSION, MemoryRecord, SimilarMatch
from kubetriage.models.vocabulary import Category
from kubetriage.settings import Settings

DEFAULT_COLLECTION = "kubetriage-incidents"
META_SCHEMA = "kubetriage_schema_version"
META_MODEL = "embedding_model_id"
META_DIMENSION = "embedding_dimension"
# Keyword/bool payload fields searches and stats filter on (server mode only: local mode
# scans every point anyway and warns that indexes have no effect).
INDEXED_FIELDS: tuple[tuple[str, qm.PayloadSchemaType], ...] = (
    ("name", qm.PayloadSchemaType.KEYWORD),
    ("category", qm.PayloadSchemaType.KEYWORD),
    ("cluster", qm.PayloadSchemaType.KEYWORD),
    ("namespace", qm.PayloadSchemaType.KEYWORD),
    ("workload", qm.PayloadSchemaType.KEYWORD),
    ("helpful", qm.PayloadSchemaType.BOOL),
    ("resolved", qm.PayloadSchemaType.BOOL),
)
_SCROLL_PAGE = 256
_UPSERT_BATCH = 256


class MemoryStats(BaseModel):
    count: int
    by_category: dict[str, int]
    model_id: str
    dimension: int
    schema_version: int
    location: str
    collection: str


class IncidentMemory(StartStop):
    """Resolved past incidents in Qdrant, searched by embedding similarity.

    Exactly one of ``path`` (embedded on-disk mode), ``url`` (Qdrant server) or
    ``location=":memory:"`` (throwaway, tests) selects the storage. ``redact`` is required:
    it is applied to every free-text field and to the embedded text before upserting.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        redact: Callable[[str], str],
        path: Path | str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        location: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        timeout_seconds: float = 5.0,
        same_cluster_boost: float = 0.03,
        same_namespace_boost: float = 0.02,
    ) -> None:
        if sum(x is not None for x in (path, url, location)) != 1:
            raise ValueError("give exactly one of path, url or location")
        self._embedder = embedder
        self._redact = redact
        self._collection = collection
        self._cluster_boost = same_cluster_boost
        self._namespace_boost = same_namespace_boost
        self._lock = threading.Lock()
        self._local = url is None
        self._location = str(path) if path is not None else (url or str(location))
        self._client = connect(
            path=path, url=url, api_key=api_key, location=location, timeout=timeout_seconds
        )
        try:
            self._client.collection_exists(self._collection)
        except TRANSPORT_ERRORS as exc:
            self._client.close()
            raise MemoryUnavailableError(
                f"Qdrant at {self._location} is unreachable: {reason(exc)}"
            ) from exc
        try:
            self._schema_version = self._open_collection()
        except BaseException:
            self._client.close()
            raise

    @property
    def collection(self) -> str:
        """The collection name (the ``gen_ai.data_source.id`` of retrieval spans)."""
        return self._collection

    @classmethod
    def from_settings(
        cls, settings: Settings, *, embedder: Embedder, redact: Callable[[str], str]
    ) -> IncidentMemory:
        """The server when ``qdrant_url`` is set, else the on-disk store at ``qdrant_path``."""
        if settings.qdrant_url:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            return cls(embedder, redact=redact, url=settings.qdrant_url, api_key=key)
        if settings.qdrant_path is not None:
            return cls(embedder, redact=redact, path=settings.qdrant_path)
        raise MemoryUnavailableError(
            "incident memory is enabled but neither KUBETRIAGE_QDRANT_PATH nor "
            "KUBETRIAGE_QDRANT_URL is set"
        )

    # --- opening ---------------------------------------------------------------------------

    def _open_collection(self) -> int:
        """Create, check or migrate the collection; returns its schema version."""
        try:
            if not self._client.collection_exists(self._collection):
                self._create_collection()
                return SCHEMA_VERSION
            info = self._client.get_collection(self._collection)
            metadata = dict(info.config.metadata or {})
            version = metadata.get(META_SCHEMA)
            if version is None:
                return self._open_unversioned(info)
            if not isinstance(version, int) or version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"collection {self._collection!r} at {self._location} has schema version "
                    f"{version!r}, newer than this kubetriage understands ({SCHEMA_VERSION}); "
                    "upgrade kubetriage or use another collection"
                )
            self._check_model(
                str(metadata.get(META_MODEL)), _int(metadata.get(META_DIMENSION)), info
            )
            if version < SCHEMA_VERSION:
                migrate_v1(self._client, self._collection, self._scroll_all(with_vectors=True))
                self._client.update_collection(self._collection, metadata=self._metadata())
                return SCHEMA_VERSION
            return version
        except TRANSPORT_ERRORS as exc:
            raise MemoryUnavailableError(
                f"Qdrant at {self._location} failed while opening {self._collection!r}: "
                f"{reason(exc)}"
            ) from exc

    def _create_collection(self) -> None:
        self._client.create_collection(
            self._collection,
            vectors_config=qm.VectorParams(
                size=self._embedder.dimension, distance=qm.Distance.COSINE
            ),
            metadata=self._metadata(),
        )
        self._create_indexes()

    def _metadata(self) -> dict[str, Any]:
        return {
            META_SCHEMA: SCHEMA_VERSION,
            META_MODEL: self._embedder.model_id,
            META_DIMENSION: self._embedder.dimension,
        }

    def _create_indexes(self) -> None:
        if self._local:
            return
        for field, schema in INDEXED_FIELDS:
            self._client.create_payload_index(self._collection, field, field_schema=schema)

    def _open_unversioned(self, info: qm.CollectionInfo) -> int:
        """No schema metadata: a v0 collection (sentinel point), an empty collection we may
        adopt, or something that is not ours."""
        sentinel = self._client.retrieve(self._collection, [V0_META_POINT_ID], with_payload=True)
        if sentinel:
            payload = sentinel[0].payload or {}
            self._check_model(str(payload.get("model_id")), _int(payload.get("dimension")), info)
            migrate_v0(self._client, self._collection, self._scroll_all())
            self._create_indexes()
            migrate_v1(self._client, self._collection, self._scroll_all(with_vectors=True))
            self._client.update_collection(self._collection, metadata=self._metadata())
            return SCHEMA_VERSION
        count = self._client.count(self._collection, exact=True).count
        if count == 0:
            self._check_model(self._embedder.model_id, self._embedder.dimension, info)
            self._client.update_collection(self._collection, metadata=self._metadata())
            self._create_indexes()
            return SCHEMA_VERSION
        raise SchemaVersionError(
            f"collection {self._collection!r} at {self._location} holds {count} points but no "
            "kubetriage schema metadata: it was not written by kubetriage; refusing to use it"
        )

    def _check_model(self, model_id: str, dimension: int | None, info: qm.CollectionInfo) -> None:
        vectors = info.config.params.vectors
        actual_dim = vectors.size if isinstance(vectors, qm.VectorParams) else None
        ours = (self._embedder.model_id, self._embedder.dimension)
        if model_id != ours[0] or dimension != ours[1] or actual_dim != ours[1]:
            raise EmbeddingMismatchError(
                f"collection {self._collection!r} at {self._location} was built with embedding "
                f"model {model_id!r} (dimension {dimension}, vectors {actual_dim}) but this "
                f"process embeds with {ours[0]!r} (dimension {ours[1]}); export it with "
                "export_jsonl and import it into a new collection to re-embed"
            )

    # --- writing ---------------------------------------------------------------------------

    def store(self, record: MemoryRecord, text: str) -> str:
        """Embed ``text`` (the canonical text) and upsert the record; returns the point id.
        Storing the same (cluster, namespace, name) again replaces the earlier point."""
        return self.store_many([(record, text)])[0]

    def store_many(self, items: Sequence[tuple[MemoryRecord, str]]) -> list[str]:
        """``store`` for many records, embedding them in batches."""
        cleaned = [(self._redactrecord_of(record), self._redact(text)) for record, text in items]
        vectors = self._embedder.embed([text for _, text in cleaned]) if cleaned else []
        ids: list[str] = []
        points: list[qm.PointStruct] = []
        for (record, text), vector in zip(cleaned, vectors, strict=True):
            if len(vector) != self._embedder.dimension:
                raise EmbeddingMismatchError(
                    f"{self._embedder.model_id} returned a {len(vector)}-dim vector, "
                    f"collection expects {self._embedder.dimension}"
                )
            pid = point_id(record.name, record.cluster, record.namespace)
            ids.append(pid)
            points.append(qm.PointStruct(id=pid, vector=vector, payload=payload_of(record, text)))
        with self._lock:
            for start in range(0, len(points), _UPSERT_BATCH):
                self._call(
                    self._client.upsert,
                    self._collection,
                    points=points[start : start + _UPSERT_BATCH],
                    wait=True,
                )
        return ids

    def _redactrecord_of(self, record: MemoryRecord) -> MemoryRecord:
        updates = {
            field: self._redact(value)
            for field in ("resolution", "summary")
            if isinstance(value := getattr(record, field), str)
        }
        return record.model_copy(update=updates)

    def delete(self, name: str, cluster: str, namespace: str | None = None) -> None:
        with self._lock:
            self._call(
                self._client.delete,
                self._collection,
                points_selector=qm.PointIdsList(points=[point_id(name, cluster, namespace)]),
                wait=True,
            )

    # --- reading ---------------------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        k: int = 3,
        score_threshold: float = 0.5,
        prefer_cluster: str | None = None,
        prefer_namespace: str | None = None,
        exclude_name: str | None = None,
    ) -> list[SimilarMatch]:
        """The ``k`` resolved incidents most similar to ``text`` with cosine similarity of at
        least ``score_threshold``, ordered by similarity plus the cluster/namespace boost.
        ``exclude_name`` leaves out the incident being diagnosed (in every cluster)."""
        if k < 1:
            return []
        vector = self._embedder.embed([self._redact(text)])[0]
        must_not: list[qm.Condition] = []
        if exclude_name:
            must_not.append(_match("name", exclude_name))
        base = [qm.FieldCondition(key="resolved", match=qm.MatchValue(value=True))]
        preferred: list[qm.Condition] = []
        if prefer_cluster:
            preferred.append(_match("cluster", prefer_cluster))
        if prefer_namespace:
            preferred.append(_match("namespace", prefer_namespace))
        pool = max(4 * k, 16)
        filters = [qm.Filter(must=list(base), must_not=must_not)]
        if preferred:
            filters.append(qm.Filter(must=list(base), must_not=must_not, should=preferred))

        candidates: dict[str, SimilarMatch] = {}
        with self._lock:
            for query_filter in filters:
                response = self._call(
                    self._client.query_points,
                    self._collection,
                    query=vector,
                    query_filter=query_filter,
                    limit=pool,
                    score_threshold=score_threshold,
                    with_payload=True,
                )
                for point in response.points:
                    record = record_of(point.payload or {})
                    boost = 0.0
                    if prefer_cluster and record.cluster == prefer_cluster:
                        boost += self._cluster_boost
                    if prefer_namespace and record.namespace == prefer_namespace:
                        boost += self._namespace_boost
                    candidates[str(point.id)] = SimilarMatch(
                        record=record, score=point.score, rank_score=point.score + boost
                    )
        ranked = sorted(candidates.values(), key=lambda m: m.rank_score, reverse=True)
        return ranked[:k]

    def get(
        self, name: str, cluster: str, namespace: str | None = None
    ) -> tuple[MemoryRecord, str] | None:
        """The stored record and its (redacted) embedded text, or None."""
        with self._lock:
            points = self._call(
                self._client.retrieve, self._collection, [point_id(name, cluster, namespace)]
            )
        if not points:
            return None
        payload = points[0].payload or {}
        return record_of(payload), str(payload.get("text", ""))

    def stats(self) -> MemoryStats:
        with self._lock:
            total = self._call(self._client.count, self._collection, exact=True).count
            by_category: dict[str, int] = {}
            for category in Category:
                count = self._call(
                    self._client.count,
                    self._collection,
                    count_filter=qm.Filter(must=[_match("category", category.value)]),
                    exact=True,
                ).count
                if count:
                    by_category[category.value] = count
        return MemoryStats(
            count=total,
            by_category=by_category,
            model_id=self._embedder.model_id,
            dimension=self._embedder.dimension,
            schema_version=self._schema_version,
            location=self._location,
            collection=self._collection,
        )

    # --- import / export -------------------------------------------------------------------

    def export_jsonl(self, path: Path) -> int:
        """Every record with its embedded text, one JSON object a line (``memory.jsonl``):
        the way to move memory to a new embedding model."""
        with self._lock:
            points = list(self._scroll_all())
        return write_records(path, (point.payload or {} for point in points))

    def import_jsonl(self, path: Path) -> list[str]:
        """Import records from JSONL (``memory.jsonl``): each line a ``MemoryRecord`` object
        with an optional ``text`` (the canonical text to embed; rebuilt when absent)."""
        return self.store_many(read_records(path))

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._client.close()

    stop = close  # leaving ``with IncidentMemory(...)`` closes the client

    # --- helpers ---------------------------------------------------------------------------

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except TRANSPORT_ERRORS as exc:
            raise MemoryUnavailableError(
                f"Qdrant at {self._location} failed: {reason(exc)}"
            ) from exc

    def _scroll_all(self, *, with_vectors: bool = False) -> Iterator[qm.Record]:
        offset: Any = None
        while True:
            points, offset = self._call(
                self._client.scroll,
                self._collection,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
            )
            yield from points
            if offset is None:
                return


def _match(key: str, value: str) -> qm.FieldCondition:
    return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
