"""Propagated copies: a NetworkPolicy that a namespace-tree propagator (the hierarchical
namespace controller, HNC) copied into a subnamespace from an ancestor is rewritten from its
source whenever it drifts, so a correction made on the copy does not hold. A finding whose
remediation acts on such a copy acts on the source in the ancestor namespace instead, and
says where the copy came from: in its evidence, its root cause and its summary's fix.

Applied by ``kubetriage.analyzers.run_analyzers`` to every finding; pure functions of Evidence.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding, Narrative


def _source_of(evidence: Evidence, target: ObjectRef) -> ObjectRef | None:
    """The policy ``target`` is a propagated copy of; None when it is not one."""
    if target.kind != "NetworkPolicy":
        return None
    for policy in evidence.network_policies:
        if (
            policy.copy_of
            and policy.copy_of != policy.namespace
            and policy.namespace == target.namespace
            and policy.name == target.name
        ):
            return ObjectRef(kind="NetworkPolicy", namespace=policy.copy_of, name=policy.name)
    return None


def to_sources(evidence: Evidence, findings: list[Finding]) -> list[Finding]:
    """``findings`` with each remediation on a propagated copy moved to the copy's source."""
    moved: list[Finding] = []
    for finding in findings:
        source = _source_of(evidence, finding.target)
        if source is None:
            moved.append(finding)
            continue
        copy = finding.target
        fact = item(
            f"networkpolicy/{copy.namespace}/{copy.name}",
            f"a copy propagated from namespace {source.namespace}; the propagator rewrites it "
            "from the source there",
        )
        update: dict[str, object] = {
            "target": source,
            "evidence": [*finding.evidence, fact],
            "params": {**finding.params, "copy": f"{copy.namespace}/{copy.name}"},
        }
        if finding.narrative is not None:
            text = _at_source(finding.narrative, source, fact)
            update |= {"narrative": text, "summary": prose.narrative_summary(text)}
        moved.append(finding.model_copy(update=update))
    return moved


def _at_source(text: Narrative, source: ObjectRef, fact: EvidenceItem) -> Narrative:
    """``text`` with its fix made at the source and a claim saying why the copy will not do."""
    fix = ""
    if text.fix:
        fix = prose.fitting_fix(
            text.problem,
            [
                f"{text.fix} in namespace {source.namespace}",
                f"correct its source in namespace {source.namespace}",
                f"correct its source in {source.namespace}",
            ],
        )
    because = prose.claim(
        f"The policy is a copy propagated from namespace {source.namespace}, rewritten from "
        "its source whenever it drifts, so the fix goes to the source",
        fact,
    )
    return text.model_copy(update={"fix": fix, "because": [*text.because, because]})
