"""kubetriage: a Kubernetes operator for AI-assisted SRE triage.

The package is layered: ``models`` (pure data) at the bottom; ``analyzers``, ``redaction``
and the pure pipeline stages over it; client adapters (``evidence``, ``llm``, ``memory``) at
the edges; ``pipeline`` wiring them; ``handlers`` (the only Kopf importer) and ``cli`` on top.
"""

__version__ = "0.1.0"
