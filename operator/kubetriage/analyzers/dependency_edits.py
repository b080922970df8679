"""The callee's configuration changed: a ConfigMap a dependency the incident's workload calls
uses was edited shortly before the caller's errors began, with no rollout of either since (the
cluster DNS's Corefile, a flag service's flags, reloaded in place): correct that ConfigMap. The
dependency is named by the caller's failing calls, or only by its env when that edit is the
only change of any dependency before the errors. The rollouts and outages of dependencies are
``kubetriage.analyzers.dependencies``.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import (
    caller_phrase,
    configured_in_env,
    named_in_logs,
    onset_follows,
    own_rollout_after,
    rolled_out_since,
)
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG
from kubetriage.analyzers.onset import ONSET_TOLERANCE, symptom_onset
from kubetriage.analyzers.support import grep_logs, item, object_source, timestamp
from kubetriage.dns_errors import DNS_NO_SUCH_NAME
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a dependency-config finding is, by the evidence that earns it."""

    # A ConfigMap it uses was edited right before the caller's errors began, nothing rolled
    # out since, and the caller's failing calls name it: above the caller's own symptoms
    # (probe failures) and the escalation of a named Service (0.83 at most for a healthy
    # caller), which this edit explains.
    config_edited: float = 0.85
    # ... the caller's env names it (FLAGD_HOST=flagd) but not its failing calls, while the
    # caller fails and that edit is the only change of its dependencies before the errors:
    # a service consulted on every call (flags, settings) that reloaded in place; above the
    # escalation of a Service the failing calls reach (0.78).
    config_edited_configured: float = 0.8


CONFIDENCE: Final = _Confidence()

# A ConfigMap edit and a rollout this close together are one update (an add-on or chart
# upgrade that rewrote both).
TOGETHER: Final = timedelta(minutes=5)


_CONFIG_FIX = "correct or revert that edit"


def _began_before(evidence: Evidence, change: ChangeEvidence) -> bool:
    """Whether the caller's first symptom came before ``change``: then it did not cause it."""
    first = symptom_onset(evidence)
    return (
        first is not None
        and change.at is not None
        and timestamp(first[0]) < timestamp(change.at) - ONSET_TOLERANCE.total_seconds()
    )


def _configured_only_change(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the caller's env names ``dependency`` (``FLAGD_HOST=flagd``), the caller's
    logs show failing calls, and no other dependency changed (rolled out, or had a ConfigMap
    edited) right before the errors: then the edit of its configuration is what changed."""
    if not configured_in_env(dependency):
        return False
    if not grep_logs(evidence.logs, DEPENDENCY_LOG, limit=1):
        return False
    others = [d for d in evidence.dependencies if d is not dependency]
    return not any(
        onset_follows(evidence, change) is not None
        for other in others
        for change in [*other.changes[:1], *other.config_changes[:1]]
    )


def _answers_from_edit(dependency: DependencyEvidence, edit: ChangeEvidence) -> bool:
    """Whether the edit, not the rollout that came with it, is what its callers meet: one
    update rewrote the ConfigMap and rolled the pods out together (within ``TOGETHER``), the
    dependency runs with every replica ready, and its lines say the names asked for do not
    exist (NXDOMAIN). A resolver that answers "no such name" answers from its configuration
    (the zones it serves and forwards), and rolling its pods back leaves that ConfigMap as
    the update wrote it."""
    rollout = dependency.changes[0] if dependency.changes else None
    if rollout is None or rollout.at is None or edit.at is None:
        return False
    if abs(timestamp(rollout.at) - timestamp(edit.at)) > TOGETHER.total_seconds():
        return False
    if dependency.failing_pods or dependency.short_of_ready():
        return False
    return any(DNS_NO_SUCH_NAME.search(line) for tail in dependency.logs for line in tail.lines)


def check_dependency_config(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        if not dependency.config_changes:
            continue
        in_calls = named_in_logs(dependency)
        if not in_calls and not _configured_only_change(evidence, dependency):
            continue
        edit = dependency.config_changes[0]
        onset = onset_follows(evidence, edit)
        if onset is None or edit.at is None:
            continue
        together = rolled_out_since(dependency, edit)
        if together and not _answers_from_edit(dependency, edit):
            continue
        if own_rollout_after(evidence, timestamp(edit.at)) or _began_before(evidence, edit):
            continue
        service = dependency.service
        named = service.ref() if service is not None else dependency.workload
        if named is None:
            continue
        facts = [
            item(object_source(edit.object), f"data last written at {edit.at:%H:%M}"),
            onset,
            item("dependency", f"{named.display()} is named by {dependency.named_by[0].text}"),
        ]
        caller = caller_phrase(evidence)
        findings.append(
            make_finding(
                "dependency-config",
                Category.CONFIG_MISSING,
                CONFIDENCE.config_edited if in_calls else CONFIDENCE.config_edited_configured,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{caller} fails since {prose.obj(edit.object)} of its dependency "
                            f"{named.name} was edited",
                            f"{caller} fails since {prose.obj(edit.object)} was edited",
                        ],
                        _CONFIG_FIX,
                    ),
                    _CONFIG_FIX,
                    because=[
                        prose.claim(
                            f"{prose.obj(edit.object)} was rewritten by the update that rolled "
                            "out its pods, which run and answer that the names asked for do "
                            "not exist; a rollback of the pods keeps that ConfigMap"
                            if together
                            else f"{prose.obj(edit.object)} was edited, with no rollout since",
                            facts[0],
                        ),
                        prose.claim(f"The errors of {caller} began right after", facts[1]),
                        prose.claim(
                            f"The failing calls of {caller} go through {named.name}"
                            if in_calls
                            else f"{caller} is configured to call {named.name}, whose edit "
                            "is the only change of its dependencies before the errors",
                            facts[2],
                        ),
                    ],
                ),
                facts,
                Action.FIX_CONFIG,
                edit.object,
                {},
            )
        )
    return findings


DEPENDENCY_EDIT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("dependency-config", (Category.CONFIG_MISSING,), check_dependency_config),
)
