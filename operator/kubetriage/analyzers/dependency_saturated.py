"""The dependency-saturated rule: a followed dependency that is up says, in its own words,
that it has reached the most work it takes at once (CoreDNS's forwarder at
``max_concurrent``, nginx out of ``worker_connections``, Tomcat with every thread busy,
PHP-FPM at ``pm.max_children``), while the caller's failing calls go through it. More of it
is the fix: ``resource-saturation``, scale the dependency's workload out (its per-replica
limit stays sane; more replicas share the load), as an SRE does for a cluster DNS drowned by
a traffic surge.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.dependencies import caller_fails_on
from kubetriage.analyzers.support import item, log_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a saturated-dependency finding is, by the evidence that earns it."""

    # The dependency says it is at its concurrency limit, and the caller's failing calls
    # go through it: above the caller's surface (its failing lookups or calls, 0.7 to 0.83).
    saturated: float = 0.88


CONFIDENCE: Final = _Confidence()

# The words servers print when every slot they serve from is taken.
SATURATED = re.compile(
    r"(?i)(concurrent queries exceeded maximum|worker_connections are not enough"
    r"|all threads \(\d+\) are currently busy|server reached (pm\.)?max_children setting)"
)


def check_dependency_saturated(evidence: Evidence) -> list[Finding]:
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        said = [
            (log, line) for log in dependency.logs for line in log.lines if SATURATED.search(line)
        ]
        if not said or not caller_fails_on(evidence, dependency):
            continue
        facts = [item(f"{log_source(log)} (dependency)", line) for log, line in said[:2]]
        named = item("dependency", f"{workload.display()} is named by {dependency.named_by[0]}")
        who = caller(evidence)
        return [
            make_finding(
                "dependency-saturated",
                Category.RESOURCE_SATURATION,
                CONFIDENCE.saturated,
                prose.narrative(
                    f"{prose.obj(workload)} is at its capacity and fails the calls of {who}",
                    "scale it out",
                    because=[
                        prose.claim(
                            f"{prose.obj(workload)} says it takes no more work at once", *facts
                        ),
                        prose.claim(f"The failing calls of {who} go through it", named),
                        prose.claim("More replicas share the load"),
                    ],
                ),
                [*facts, named],
                Action.SCALE_OUT,
                workload,
            )
        ]
    return []


DEPENDENCY_SATURATED_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("dependency-saturated", (Category.RESOURCE_SATURATION,), check_dependency_saturated),
)
