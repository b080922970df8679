"""The fault report: what each fault-injection test tried and what came of it, rendered as
Markdown. Filled by the ``fault`` fixture of ``tests/faults/conftest.py`` (one ``FaultRun``
per test), written to ``fault-report.md`` at the end of the session and printed in the
terminal summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IncidentOutcome:
    """How one Incident ended: its phase and the reasons its conditions give."""

    name: str
    phase: str
    diagnosed_reason: str
    detail: str  # the fault-relevant condition(s), e.g. "LLMUnavailable=True/Timeout"


@dataclass
class FaultRun:
    """One fault: what was injected, what must hold, and what was observed."""

    test: str
    fault: str = ""
    expectation: str = ""
    observations: list[str] = field(default_factory=list)
    incidents: list[IncidentOutcome] = field(default_factory=list)
    seconds: float = 0.0
    verdict: str = "not run"  # passed | failed | error | skipped
    failure: str = ""

    def describe(self, fault: str, expectation: str) -> None:
        self.fault, self.expectation = fault, expectation

    def observe(self, line: str) -> None:
        self.observations.append(line)

    def record_incidents(self, bodies: list[dict[str, Any]], *conditions: str) -> None:
        """Keep each Incident's phase, Diagnosed reason and the named conditions."""
        self.incidents = [incident_outcome(body, conditions) for body in bodies]


def incident_outcome(body: dict[str, Any], conditions: tuple[str, ...]) -> IncidentOutcome:
    status = body.get("status") or {}
    by_type = {c.get("type"): c for c in status.get("conditions") or []}
    diagnosed = by_type.get("Diagnosed") or {}
    detail = ", ".join(
        f"{name}={by_type[name].get('status')}/{by_type[name].get('reason')}"
        for name in conditions
        if name in by_type
    )
    return IncidentOutcome(
        name=f"{body['metadata'].get('namespace')}/{body['metadata']['name']}",
        phase=str(status.get("phase") or "(none)"),
        diagnosed_reason=str(diagnosed.get("reason") or "(none)"),
        detail=detail,
    )


def _summarise_incidents(incidents: list[IncidentOutcome]) -> list[str]:
    """Identical outcomes folded into one line with a count, so a 50-incident storm stays
    readable; the names are listed when there are few."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for outcome in incidents:
        key = (outcome.phase, outcome.diagnosed_reason, outcome.detail)
        groups.setdefault(key, []).append(outcome.name)
    lines = []
    for (phase, reason, detail), names in sorted(groups.items()):
        who = ", ".join(names) if len(names) <= 4 else f"{names[0]} ... {names[-1]}"
        extra = f"; {detail}" if detail else ""
        lines.append(f"  - {len(names)} x {phase} (Diagnosed reason {reason}{extra}): {who}")
    return lines


def render(runs: list[FaultRun]) -> str:
    passed = sum(run.verdict == "passed" for run in runs)
    lines = [
        "# kubetriage fault-injection report",
        "",
        f"{len(runs)} faults tried, {passed} held, {len(runs) - passed} did not.",
        "",
    ]
    for run in runs:
        lines.append(f"## {run.test}: {run.verdict.upper()} ({run.seconds:.1f}s)")
        lines.append("")
        lines.append(f"- fault: {run.fault or '(not described)'}")
        lines.append(f"- asserted: {run.expectation or '(not described)'}")
        if run.incidents:
            lines.append(f"- incidents ({len(run.incidents)}):")
            lines.extend(_summarise_incidents(run.incidents))
        lines.extend(f"- observed: {line}" for line in run.observations)
        if run.failure:
            lines.append("- failure:")
            lines.append("")
            lines.append("  ```")
            lines.extend(f"  {line}" for line in run.failure.splitlines()[-25:])
            lines.append("  ```")
        lines.append("")
    return "\n".join(lines)
