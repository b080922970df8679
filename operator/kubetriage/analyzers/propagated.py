"""Propagated copies: a NetworkPolicy that a namespace-tree propagator (the hierarchical
namespace controller, HNC) copied into a subnamespace from an ancestor is rewritten from its
source whenever it drifts, so a correction made on the copy does not hold. A finding whose
remediation acts on such a copy acts on the source in the ancestor namespace instead, and
says where the copy came from.

Applied by ``kubetriage.analyzers.run_analyzers`` to every finding; pure functions of Evidence.
"""

from __future__ import annotations

from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding


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
        moved.append(
            finding.model_copy(
                update={
                    "target": source,
                    "evidence": [*finding.evidence, fact],
                    "params": {**finding.params, "copy": f"{copy.namespace}/{copy.name}"},
                }
            )
        )
    return moved
