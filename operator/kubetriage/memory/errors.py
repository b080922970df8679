"""Incident memory errors, in a module of their own so the handlers and the composition root
can catch them without importing qdrant-client and onnxruntime (about 80 MiB of RSS) when
memory is disabled. Raised by ``memory.store``."""

from __future__ import annotations


class IncidentMemoryError(RuntimeError):
    """Base class of incident memory errors."""


class MemoryUnavailableError(IncidentMemoryError):
    """Qdrant cannot be reached or the local storage cannot be opened; the pipeline reports
    it as a condition and diagnoses without memory."""


class EmbeddingMismatchError(IncidentMemoryError):
    """The collection holds vectors of another embedding model or dimension."""


class SchemaVersionError(IncidentMemoryError):
    """The collection's layout is unknown or newer than this code."""


class EmbeddingError(IncidentMemoryError):
    """The embedding model could not be loaded or did not answer as expected: memory is
    unavailable (a condition on each Incident), the operator diagnoses without it."""
