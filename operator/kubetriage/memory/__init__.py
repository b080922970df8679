"""Incident memory: remember resolved incidents and recall similar ones.

``IncidentMemory`` (store.py) keeps ``MemoryRecord``s (records.py) in Qdrant with vectors
from an ``Embedder`` (embeddings.py) over the canonical text (canonical.py). Used by the
diagnosis pipeline (recall before the LLM, store on resolution) and the CLI importers.
"""
