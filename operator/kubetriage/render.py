"""Human and JSON renderings of a diagnosis for the CLI (``diagnose``, ``eval``, ``demo``).
Pure functions."""

from __future__ import annotations

import textwrap
from typing import Any

from kubetriage import prose
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import Condition


def diagnosis_json(
    diagnosis: Diagnosis | None, *, phase: str | None, conditions: list[Condition]
) -> dict[str, Any]:
    """The single JSON object ``kubetriage diagnose --json`` prints."""
    body: dict[str, Any] = {"phase": phase}
    if diagnosis is not None:
        body.update(
            {
                "category": diagnosis.category.value,
                "confidence": diagnosis.confidence,
                "summary": diagnosis.summary,
                "rootCause": diagnosis.root_cause,
                "remediations": [
                    {
                        "id": r.id,
                        "action": r.action.value,
                        "target": {
                            "kind": r.target.kind,
                            "namespace": r.target.namespace,
                            "name": r.target.name,
                        },
                        "risk": r.risk.value,
                        "title": r.title,
                        "command": r.command,
                        "proposedBy": list(r.proposed_by),
                    }
                    for r in diagnosis.remediations
                ],
                "evidence": [e.dump_k8s() for e in diagnosis.evidence],
                "similarIncidents": [s.dump_k8s() for s in diagnosis.similar_incidents],
                "analyzers": diagnosis.analyzers,
                "timeline": [t.dump_k8s() for t in diagnosis.timeline],
                "llm": diagnosis.llm.dump_k8s(),
                "disagreement": diagnosis.disagreement,
                "hypothesis": diagnosis.hypothesis,
            }
        )
    else:
        body.update({"category": None, "confidence": None, "summary": None, "remediations": []})
    body["conditions"] = [c.dump_k8s() for c in conditions]
    return body


def render_diagnosis(
    diagnosis: Diagnosis | None,
    *,
    name: str,
    phase: str | None,
    conditions: list[Condition],
    width: int = 100,
) -> str:
    lines = [f"Incident {name}: {phase or 'unknown phase'}"]
    if diagnosis is None:
        failed = [c for c in conditions if c.status != "True" or c.type == "LLMUnavailable"]
        lines += [f"  {c.type}={c.status} {c.reason}: {c.message}" for c in failed]
        return "\n".join(lines)
    wrap = textwrap.TextWrapper(
        width=width,
        initial_indent="  ",
        subsequent_indent=" " * 14,
        break_on_hyphens=False,
        break_long_words=False,
    )
    lines.append(
        f"  category:   {diagnosis.category.value}  (confidence {diagnosis.confidence:.2f})"
    )
    lines += wrap.wrap(f"summary:    {diagnosis.summary}")
    if diagnosis.root_cause and diagnosis.root_cause != diagnosis.summary:
        lines += wrap.wrap(f"root cause: {diagnosis.root_cause}")
    if diagnosis.evidence:
        lines.append("  evidence:")
        lines += [f"    {prose.evidence_line(e)}" for e in diagnosis.evidence[:8]]
    if diagnosis.remediations:
        lines.append("  remediations (ranked):")
        for index, r in enumerate(diagnosis.remediations, start=1):
            by = ",".join(r.proposed_by)
            lines.append(f"    {index}. {r.title}  [{r.risk.value} risk; {r.action.value}; {by}]")
            lines.append(f"       $ {r.command}")
    if diagnosis.timeline:
        lines.append("  what changed (newest first):")
        for t in diagnosis.timeline[:5]:
            when = t.at.strftime("%Y-%m-%d %H:%M") if t.at else "time unknown"
            lines.append(f"    - {when} {t.change} {t.object}: {t.summary}"[:width])
    if diagnosis.similar_incidents:
        lines.append("  similar past incidents:")
        for s in diagnosis.similar_incidents:
            fix = f"; fixed by {s.action.value}" if s.action else ""
            lines.append(f"    - {s.name} ({s.category.value}, score {s.score:.2f}{fix})")
    if diagnosis.disagreement:
        lines += wrap.wrap(f"disagreement: {diagnosis.disagreement}")
    if diagnosis.hypothesis:
        lines += wrap.wrap(f"hypothesis: {diagnosis.hypothesis}")
    llm = diagnosis.llm
    if llm.used:
        lines.append(
            f"  llm: {llm.model} ({llm.input_tokens} in / {llm.output_tokens} out tokens, "
            f"{llm.duration_ms} ms{', cached' if llm.cached else ''})"
        )
    elif llm.skipped:  # the reason says "model not used: <rule or limit>"
        lines.append(f"  llm: {llm.reason}; analyzers and memory")
    else:
        lines.append(f"  llm: not used ({llm.reason or 'not configured'}); analyzers and memory")
    # Conditions whose False is the good state are not notes.
    healthy_when_false = {"AnalyzerDisagreement", "LLMBudgetExhausted"}
    degraded = [c for c in conditions if c.status == "False" and c.type not in healthy_when_false]
    for c in degraded:
        lines.append(f"  note: {c.type}=False ({c.reason}) {c.message}".rstrip())
    return "\n".join(lines)
