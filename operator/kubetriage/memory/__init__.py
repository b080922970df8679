"""Incident memory: remember resolved incidents and recall similar ones.

``IncidentMemory`` (store.py) keeps ``MemoryRecord``s (records.py) in Qdrant with vectors
from an ``Embedder`` (embeddings.py) over the canonical text (canonical.py). Used by the
diagnosis pipeline (recall before the LLM, store on resolution) and the CLI importers.
"""

from kubetriage.memory.canonical import (
    IncidentText,
    canonical_text,
    normalise,
    parts_from_case,
    parts_from_evidence,
)
from kubetriage.memory.embeddings import (
    Embedder,
    EmbeddingError,
    OnnxMiniLMEmbedder,
    OpenAIEmbedder,
)
from kubetriage.memory.records import (
    SCHEMA_VERSION,
    MemoryRecord,
    SimilarMatch,
    record_from_case,
)
from kubetriage.memory.store import (
    EmbeddingMismatchError,
    IncidentMemory,
    IncidentMemoryError,
    MemoryStats,
    MemoryUnavailableError,
    SchemaVersionError,
    load_cases,
    point_id,
)

__all__ = [
    "SCHEMA_VERSION",
    "Embedder",
    "EmbeddingError",
    "EmbeddingMismatchError",
    "IncidentMemory",
    "IncidentMemoryError",
    "IncidentText",
    "MemoryRecord",
    "MemoryStats",
    "MemoryUnavailableError",
    "OnnxMiniLMEmbedder",
    "OpenAIEmbedder",
    "SchemaVersionError",
    "SimilarMatch",
    "canonical_text",
    "load_cases",
    "normalise",
    "parts_from_case",
    "parts_from_evidence",
    "point_id",
    "record_from_case",
]
