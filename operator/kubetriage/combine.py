"""Combine analyzer findings, the model's opinion and similar past incidents into one
diagnosis with ranked, risk-rated remediations. Pure; called by ``kubetriage.pipeline``.
The category comes from ``kubetriage.votes``; here the remediations are ranked with the same
weights, and the texts, evidence and timeline are chosen.

The rules an SRE would want from an assistant:
- the model cannot invent an action or a target: its remediations are kept only when the
  action's target kind is allowed and the target is an object present in the evidence;
- a high-confidence analyzer is not overruled by the model; the disagreement is shown;
- a fix that worked for a similar past incident is a weighted vote, so a known fix ranks
  higher, but memory alone never outranks strong live evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from kubetriage import prose
from kubetriage.analyzers.onset import symptom_onset
from kubetriage.analyzers.support import incident_subject, template_containers
from kubetriage.handover import default_target
from kubetriage.llm.grounding import grounded_lines
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import (
    Diagnosis,
    LLMUsage,
    Remediation,
    SimilarIncident,
    TimelineEntry,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding, ModelOpinion, Narrative, object_key
from kubetriage.models.remediation import parameters_from_hints
from kubetriage.models.vocabulary import (
    ACTION_RISK,
    ACTION_TARGET_KINDS,
    WORKLOAD_KINDS,
    Action,
    Category,
)
from kubetriage.preconditions import unconfirmed_reason
from kubetriage.remediation.commands import render_command
from kubetriage.unknown import checked_evidence, explain_unknown
from kubetriage.votes import LLM_WEIGHT, MEMORY_WEIGHT, choose_category, memory_strength

MAX_REMEDIATIONS = 5
MAX_EVIDENCE = 15
MIN_SENTENCE_WORDS = 4

_TITLES: dict[Action, str] = {
    Action.INCREASE_MEMORY: "Raise the memory limit of {target}",
    Action.INCREASE_CPU: "Raise or remove the CPU limit of {target}",
    Action.ROLLBACK: "Roll {target} back to its previous revision",
    Action.RESTART: "Rolling restart of {target}",
    Action.SCALE_OUT: "Scale out {target}",
    Action.FIX_CONFIG: "Create or correct {target}",
    Action.FIX_IMAGE: "Correct the image reference or pull secret of {target}",
    Action.FIX_PROBE: "Correct the probe of {target}",
    Action.FREE_CAPACITY: "Free capacity or fix the scheduling constraint for {target}",
    Action.DRAIN_NODE: "Cordon and drain {target}",
    Action.EXPAND_STORAGE: "Expand or free space on {target}",
    Action.FIX_NETWORK: "Correct {target}",
    Action.RENEW_CERTIFICATE: "Renew {target}",
    Action.ESCALATE: "Escalate to the owner of {target}",
}


@dataclass
class _Candidate:
    action: Action
    target: ObjectRef
    score: float = 0.0
    # The analyzer's parameter hints; typed and validated per action when ranked.
    params: dict[str, str] = field(default_factory=dict)
    rationale: str = ""
    proposed_by: list[Literal["analyzer", "llm", "memory"]] = field(default_factory=list)
    category: Category | None = None


def known_objects(evidence: Evidence) -> set[str]:
    """Keys of every object the evidence shows; model-proposed targets must be among them."""
    refs: list[ObjectRef] = []
    if evidence.target:
        refs.append(evidence.target)
    if evidence.workload:
        refs.append(evidence.workload.ref)
    refs += [ObjectRef(kind="Pod", namespace=p.namespace, name=p.name) for p in evidence.pods]
    refs += [ObjectRef(kind="Node", name=n.name) for n in evidence.nodes]
    refs += [
        ObjectRef(kind="PersistentVolumeClaim", namespace=p.namespace, name=p.name)
        for p in evidence.pvcs
    ]
    refs += [s.ref() for s in evidence.services]
    refs += [
        ObjectRef(kind="NetworkPolicy", namespace=n.namespace, name=n.name)
        for n in evidence.network_policies
    ]
    namespace = evidence.target.namespace if evidence.target else None
    refs += [ObjectRef(kind="ConfigMap", namespace=namespace, name=n) for n in evidence.config_maps]
    for pod in evidence.pods:
        refs += [
            ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
            for ref in pod.config_refs
        ]
    refs += [o.ref for o in evidence.other_objects]
    for dependency in evidence.dependencies:
        if dependency.service is not None:
            service = dependency.service
            refs.append(service.ref())
        if dependency.workload is not None:
            refs.append(dependency.workload)
    refs += [e.involved for e in evidence.events]
    refs += [s.workload.ref for s in evidence.siblings]
    refs += [ObjectRef(kind="Node", name=n.name) for s in evidence.siblings for n in s.nodes]
    refs += [b.workload.ref for b in evidence.disruption_budgets if b.workload is not None]
    return {object_key(ref) for ref in refs}


def remediation_id(action: Action, target: ObjectRef) -> str:
    digest = hashlib.sha256(f"{action.value}|{object_key(target)}".encode()).hexdigest()
    return f"{action.value}-{digest[:6]}"


def _collect_candidates(
    category: Category,
    findings: list[Finding],
    opinion: ModelOpinion | None,
    similar: list[SimilarIncident],
    evidence: Evidence,
) -> dict[str, _Candidate]:
    candidates: dict[str, _Candidate] = {}

    def add(
        action: Action,
        target: ObjectRef,
        score: float,
        source: Literal["analyzer", "llm", "memory"],
        *,
        params: dict[str, str] | None = None,
        rationale: str = "",
        from_category: Category | None = None,
    ) -> None:
        if target.kind not in ACTION_TARGET_KINDS[action]:
            return
        key = f"{action.value}|{object_key(target)}"
        candidate = candidates.setdefault(key, _Candidate(action=action, target=target))
        candidate.score += score
        if source not in candidate.proposed_by:
            candidate.proposed_by.append(source)
        if params and not candidate.params:
            candidate.params = dict(params)
        if rationale and not candidate.rationale:
            candidate.rationale = rationale
        if from_category and candidate.category is None:
            candidate.category = from_category

    for finding in findings:
        # Remediations for the chosen category lead; others remain as alternatives.
        weight = 1.0 if finding.category == category else 0.45
        add(
            finding.action,
            finding.target,
            finding.confidence * weight,
            "analyzer",
            params=finding.params,
            rationale=finding.summary,
            from_category=finding.category,
        )

    if opinion is not None:
        known = known_objects(evidence)
        weight = LLM_WEIGHT * (1.0 if opinion.category == category else 0.5)
        for rank, proposal in enumerate(opinion.remediations):
            if object_key(proposal.target) not in known:
                # An object the evidence does not show: a typo, a hallucination, or text an
                # attacker planted in a log. Dropped, not re-aimed: re-aiming would still let
                # injected text choose the action.
                continue
            add(
                proposal.action,
                proposal.target,
                opinion.confidence * weight / (rank + 1),
                "llm",
                rationale=proposal.rationale,
            )

    for past in similar[:3]:
        if past.action is None:
            continue
        analyzer_target = next((f.target for f in findings if f.action == past.action), None)
        memory_target = analyzer_target or default_target(past.action, evidence)
        if memory_target is None:
            continue
        key = f"{past.action.value}|{object_key(memory_target)}"
        if past.category != category and key not in candidates:
            # A fix from an incident of another kind, that nothing live supports, is noise.
            continue
        weight = MEMORY_WEIGHT * (1.0 if past.category == category else 0.4)
        if memory_strength(past.score) == 0:
            continue
        add(
            past.action,
            memory_target,
            memory_strength(past.score) * weight,
            "memory",
            rationale=(
                f"Resolved {past.name} ({past.category.value}) before: {past.resolution or ''}"
            ),
        )
    return candidates


def _remediations(candidates: Iterable[_Candidate], evidence: Evidence) -> list[Remediation]:
    ranked = sorted(candidates, key=lambda c: (-c.score, c.action.value, object_key(c.target)))
    result: list[Remediation] = []
    for candidate in ranked[:MAX_REMEDIATIONS]:
        containers = template_containers(evidence, candidate.target)
        parameters = parameters_from_hints(candidate.action, candidate.params, containers)
        result.append(
            Remediation(
                id=remediation_id(candidate.action, candidate.target),
                action=candidate.action,
                title=_TITLES[candidate.action].format(target=prose.obj(candidate.target))[:256],
                description=candidate.rationale[:2048],
                target=candidate.target,
                parameters=parameters,
                command=render_command(candidate.action, candidate.target, parameters),
                risk=ACTION_RISK[candidate.action],
                proposed_by=sorted(set(candidate.proposed_by)),
                score=round(candidate.score, 3),
            )
        )
    return result


def _evidence_items(
    category: Category, findings: list[Finding], opinion: ModelOpinion | None, evidence: Evidence
) -> list[EvidenceItem]:
    items: list[EvidenceItem] = []
    seen: set[tuple[str, str]] = set()
    ordered = sorted(findings, key=lambda f: (f.category != category, -f.confidence))
    for finding in ordered:
        for item in finding.evidence:
            if (item.source, item.fact) not in seen:
                seen.add((item.source, item.fact))
                items.append(item)
    if opinion is not None:
        # A model's line is shown only when it quotes what was observed (llm.grounding).
        observed = [item.fact for item in items]
        for fact in grounded_lines(opinion.evidence, evidence, observed):
            if ("llm", fact) not in seen:
                seen.add(("llm", fact))
                items.append(EvidenceItem(source="llm", fact=fact[:1024]))
    return items[:MAX_EVIDENCE]


MAX_TIMELINE = 8


def timeline_entries(evidence: Evidence) -> list[TimelineEntry]:
    """The evidence's change timeline as the status shows it, with the symptom's onset (its
    first sign in events and metrics) placed among the changes: newest first, short."""
    onset = symptom_onset(evidence)
    entries = [
        TimelineEntry(
            at=change.at,
            change=change.kind,
            object=change.object.display()[:512],
            summary="; ".join(change.details)[:512],
        )
        for change in evidence.changes[: MAX_TIMELINE - (onset is not None)]
    ]
    if onset is not None:
        when, fact = onset
        subject = incident_subject(evidence)
        entries.append(
            TimelineEntry(
                at=when,
                change="onset",
                object=subject.display()[:512] if subject else "incident",
                summary=fact.fact[:512],
            )
        )
    epoch = evidence.collected_at.replace(year=1970)
    return sorted(entries, key=lambda e: e.at or epoch, reverse=True)


def _is_sentence(text: str) -> bool:
    return len(text.split()) >= MIN_SENTENCE_WORDS


def _usable_summary(text: str) -> bool:
    """A model's summary replaces the analyzer's only when it reads as one: a sentence that
    fits the summary limit and quotes nothing (no timestamp, repr or redaction marker)."""
    return _is_sentence(text) and prose.reads_as_summary(text)


def combine(
    *,
    evidence: Evidence,
    findings: list[Finding],
    opinion: ModelOpinion | None,
    llm: LLMUsage,
    similar: list[SimilarIncident],
    metrics_status: str = "ok",
) -> Diagnosis:
    """The diagnosis for one incident. Deterministic for the same inputs. ``metrics_status``
    (how the metrics stage went) lets an "unknown" diagnosis say what was missing."""
    hypothesis = None
    found = {f.category for f in findings}
    unconfirmed = unconfirmed_reason(opinion, evidence, found) if opinion is not None else None
    if opinion is not None and unconfirmed is not None:
        # Shown, never used: a category no analyzer found and with none of its preconditions
        # in the evidence, or an answer citing evidence that does not exist, is the model's
        # guess, however confident it sounds.
        hypothesis = (
            f"Unconfirmed hypothesis from the model: {opinion.category.value} "
            f"({opinion.confidence:.2f}): {opinion.summary[:300]}; {unconfirmed}."
        )[:2048]
        opinion = None
    category, confidence, disagreement = choose_category(findings, opinion, similar)
    candidates = _collect_candidates(category, findings, opinion, similar, evidence)
    if not candidates:
        # Nothing actionable survived: hand over to the owner, with the evidence.
        target = default_target(Action.ESCALATE, evidence)
        if target is not None:
            candidates["escalate"] = _Candidate(
                action=Action.ESCALATE,
                target=target,
                score=0.1,
                rationale="No remediation this evidence supports; hand over with the evidence.",
                proposed_by=["analyzer"],
            )
    remediations = _remediations(candidates.values(), evidence)
    top_finding = max(
        (f for f in findings if f.category == category), key=lambda f: f.confidence, default=None
    )
    evidence_items = _evidence_items(category, findings, opinion, evidence)
    text: Narrative | None = top_finding.narrative if top_finding is not None else None
    if top_finding is None:
        # Nothing matched (or only the model names this category): say what was checked.
        text = explain_unknown(evidence, metrics_status=metrics_status)
        evidence_items = [*checked_evidence(text), *evidence_items][:MAX_EVIDENCE]
        if category is not Category.UNKNOWN:
            subject = incident_subject(evidence)
            text = text.model_copy(
                update={
                    "problem": f"The model diagnoses {category.value}"
                    + (f" on {prose.obj(subject)}" if subject else "")
                    + ", which no analyzer confirms",
                    "fix": "review the evidence before acting",
                }
            )
    evidence_items = prose.evidence_ids(evidence_items)
    if text is not None:
        summary = prose.narrative_summary(text)
        root_cause = prose.root_cause(text.because, evidence_items)
    else:
        # A finding built without a narrative (e.g. a rule not yet converted): its summary.
        summary, root_cause = (top_finding.summary if top_finding else ""), ""
    if opinion is not None and opinion.category == category:
        # The model's words when it agrees and actually wrote a usable sentence: a bare token
        # ("increase-memory") from a small model, or a pasted log line, is no summary.
        if _usable_summary(opinion.summary):
            summary = opinion.summary
        if _is_sentence(opinion.root_cause):
            root_cause = opinion.root_cause
    return Diagnosis(
        summary=summary[:1024],
        category=category,
        confidence=confidence,
        root_cause=root_cause[:4096],
        evidence=evidence_items,
        remediations=remediations,
        similar_incidents=similar[:10],
        analyzers=sorted({f.analyzer for f in findings}),
        llm=llm,
        timeline=timeline_entries(evidence),
        disagreement=disagreement,
        hypothesis=hypothesis,
    )


__all__ = ["WORKLOAD_KINDS", "combine", "known_objects", "remediation_id"]
