"""``QueryTemplate``: one PromQL template of the catalogue, the type its three parts
(``kubetriage.evidence.query_templates``, ``query_templates_queues``,
``query_templates_cluster``) are written in and ``kubetriage.evidence.queries`` renders.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetriage.models.vocabulary import Category


@dataclass(frozen=True)
class QueryTemplate:
    """One PromQL template; ``requires`` lists the ``Scope`` fields it cannot run without;
    ``families`` the alert families it is run for (empty: every incident)."""

    name: str
    categories: tuple[Category, ...]
    requires: frozenset[str]
    promql: str
    description: str = ""
    families: frozenset[str] = frozenset()
