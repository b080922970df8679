"""Whether a line of the model's ``evidence`` is grounded in what the operator collected.

Pure. The system prompt asks the model to quote the decisive facts; a line it wrote is shown
with the diagnosis (source ``llm``) only when most of it is such a quote: when at least
``MIN_QUOTED_SHARE`` of its words lie in runs of ``RUN`` or more consecutive words that also
occur, in the same order, in the evidence as the prompt renders it at full detail, or in the
analyzers' evidence items. A paraphrase a reader cannot find in the evidence, a bare token, or
a line a small model made up ("required_images_to_be_reached : required images to be reached")
is left out: the diagnosis shows what was observed, never what a model imagined. Words are
compared case-insensitively, punctuation ignored, so ``Deployment/shop/checkout:`` and
``deployment shop checkout`` are the same three words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kubetriage.llm.sections import Detail, render_evidence
from kubetriage.models.evidence import Evidence

# Consecutive words a quote shares with the evidence before it counts as quoted.
RUN = 3
# Share of a line's words that must be quoted for the line to be shown.
MIN_QUOTED_SHARE = 0.6

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """The words of ``text`` as the check compares them: lower case, punctuation dropped."""
    return _WORD.findall(text.lower())


def _runs(texts: Iterable[str]) -> frozenset[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for text in texts:
        tokens = words(text)
        found.update(tuple(tokens[i : i + RUN]) for i in range(len(tokens) - RUN + 1))
    return frozenset(found)


def quoted_share(line: str, runs: frozenset[tuple[str, ...]]) -> float:
    """The share of ``line``'s words inside a run of ``RUN`` words found in ``runs``."""
    tokens = words(line)
    if len(tokens) < RUN:
        return 0.0
    covered = [False] * len(tokens)
    for start in range(len(tokens) - RUN + 1):
        if tuple(tokens[start : start + RUN]) in runs:
            covered[start : start + RUN] = [True] * RUN
    return sum(covered) / len(tokens)


def grounded_lines(
    lines: Sequence[str], evidence: Evidence, observed: Iterable[str] = ()
) -> list[str]:
    """The model's ``lines`` that quote ``evidence`` (rendered as the prompt renders it, every
    line included) or the ``observed`` facts (the analyzers' evidence items), in order."""
    if not lines:
        return []
    runs = _runs([render_evidence(evidence, Detail()).evidence, *observed])
    return [line for line in lines if quoted_share(line, runs) >= MIN_QUOTED_SHARE]


__all__ = ["MIN_QUOTED_SHARE", "RUN", "grounded_lines", "quoted_share", "words"]
