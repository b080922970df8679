"""Which category a diagnosis names: the votes of the analyzers' findings, the model's opinion
(weighted by ``LLM_WEIGHT``) and similar past incidents (by ``memory_strength``), joined by
noisy-OR per category. A high-confidence analyzer (``STRONG_ANALYZER``) is not overruled by
the model, and the disagreement is said; an escalation to a dependency's owner that another
finding supersedes casts no vote. Pure; used by ``kubetriage.combine``, which ranks the
remediations with the same weights.
"""

from __future__ import annotations

from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.findings import EXPLAINS, Finding, ModelOpinion, object_key
from kubetriage.models.vocabulary import Action, Category

# A finding at or above this confidence is not overruled by the model.
STRONG_ANALYZER = 0.85
LLM_WEIGHT = 0.7
MEMORY_WEIGHT = 0.35
MEMORY_FLOOR = 0.75


def memory_strength(score: float) -> float:
    """How much a past incident may vote, from its cosine similarity: nothing below
    ``MEMORY_FLOOR`` (incidents that merely look alike in wording), rising to full weight for
    a near-identical repeat. Measured on tests/cases with leave-one-out seeding: a flat
    weight let loosely similar incidents of other categories outvote "unknown"."""
    return max(0.0, min(1.0, (score - MEMORY_FLOOR) / (1.0 - MEMORY_FLOOR)))


def superseded(finding: Finding, findings: list[Finding]) -> bool:
    """Escalating to the owner of a failing dependency X is the fallback when nothing says
    what is wrong with X: a finding of another kind that fixes X itself (its Service's ports
    or selector, its workload's image or memory), or that explains X's failure by what X runs
    on (``EXPLAINS``), supersedes it, and it does not vote for its category."""
    if finding.category is not Category.DEPENDENCY_FAILURE:
        return False
    return finding.action is Action.ESCALATE and any(
        f.action is not Action.ESCALATE
        and f.category != finding.category
        and (
            f.target.same_object(finding.target)
            or f.params.get(EXPLAINS) == object_key(finding.target)
        )
        for f in findings
    )


def _category_scores(
    findings: list[Finding], opinion: ModelOpinion | None, similar: list[SimilarIncident]
) -> dict[Category, float]:
    """Noisy-OR of the independent votes for each category (a superseded escalation is no
    vote)."""
    votes: dict[Category, list[float]] = {}
    for finding in findings:
        if superseded(finding, findings):
            continue
        votes.setdefault(finding.category, []).append(finding.confidence)
    if opinion is not None:
        votes.setdefault(opinion.category, []).append(opinion.confidence * LLM_WEIGHT)
    for past in similar[:3]:
        strength = memory_strength(past.score)
        # Memory reinforces what live evidence (an analyzer or the model) suggests; alone it
        # only names a lead (shown in similarIncidents), it does not make the diagnosis.
        if strength > 0 and past.category in votes:
            votes[past.category].append(strength * MEMORY_WEIGHT)
    scores: dict[Category, float] = {}
    for category, values in votes.items():
        remaining = 1.0
        for value in values:
            remaining *= 1.0 - min(max(value, 0.0), 0.99)
        scores[category] = 1.0 - remaining
    return scores


def choose_category(
    findings: list[Finding], opinion: ModelOpinion | None, similar: list[SimilarIncident]
) -> tuple[Category, float, str | None]:
    """The winning category, its confidence (its noisy-OR score, at most 0.99) and, when the
    model and the strongest analyzer disagree, the line saying which was kept."""
    scores = _category_scores(findings, opinion, similar)
    if not scores:
        return Category.UNKNOWN, 0.2, None
    # Ties break on the vocabulary's order, so the input order never changes the answer.
    order = {category: index for index, category in enumerate(Category)}
    strongest = max(
        (f for f in findings if not superseded(f, findings)),
        key=lambda f: (f.confidence, -order[f.category], f.analyzer),
        default=None,
    )
    strongest_category = strongest.category if strongest else None
    best = max(scores, key=lambda c: (round(scores[c], 9), c == strongest_category, -order[c]))
    disagreement = None
    if opinion is not None and strongest is not None and opinion.category != strongest.category:
        if strongest.confidence >= STRONG_ANALYZER:
            best = strongest.category
            disagreement = (
                f"The model said {opinion.category.value} ({opinion.confidence:.2f}); analyzer "
                f"{strongest.analyzer} found {strongest.category.value} "
                f"({strongest.confidence:.2f}), which is kept."
            )
        elif best == opinion.category:
            disagreement = (
                f"Analyzer {strongest.analyzer} suggested {strongest.category.value} "
                f"({strongest.confidence:.2f}); the model's {opinion.category.value} "
                f"({opinion.confidence:.2f}) was preferred."
            )
    return best, round(min(scores[best], 0.99), 3), disagreement
