"""A Service removed (or renamed) by its workload's release: the workload's callers resolve
its name and the cluster DNS answers that it does not exist, the Service is gone, and the
workload that fronted it by name rolled out right before the callers' errors began, with its
own pods healthy. DNS works (it answers, and answers "no such name"), the callee runs; what
changed is that the release stopped providing the name its callers use (a chart that renamed
its Service, a manifest that dropped it). An SRE rolls that release back, which brings the
Service back for every caller at once, then lets the callers move to the new name.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import onset_follows
from kubetriage.analyzers.support import grep_logs, item
from kubetriage.dns_errors import DNS_NO_SUCH_NAME
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EXPLAINS, Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a removed-Service finding is."""

    # The caller's lookups of a Service name are answered "no such name", no such Service
    # exists, the workload of that name is healthy and rolled out right before the errors.
    removed_by_release: float = 0.88


CONFIDENCE: Final = _Confidence()


def check_removed_service(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        name, workload = dependency.missing_service, dependency.workload
        if name is None or workload is None or not dependency.changes:
            continue
        if dependency.short_of_ready():
            continue  # a callee down for its own reasons is another finding
        rollout = dependency.changes[0]
        if rollout.kind != "rollout":
            continue
        onset = onset_follows(evidence, rollout)
        if onset is None:
            continue
        host = re.compile(rf"(?i)\b{re.escape(name)}\.{re.escape(workload.namespace or '')}\b")
        lookups = [
            h for h in grep_logs(evidence.logs, DNS_NO_SUCH_NAME, limit=20) if host.search(h.line)
        ]
        if not lookups:
            continue
        when = f"{rollout.at:%H:%M}" if rollout.at else "recently"
        released = item(
            f"{workload.kind.lower()}/{workload.namespace}/{workload.name}",
            f"rolled out at {when}"
            + (f" ({', '.join(rollout.aspects)} changed)" if rollout.aspects else "")
            + f"; {dependency.ready_replicas} of {dependency.desired_replicas} ready",
        )
        gone = item(
            f"service/{workload.namespace}/{name}",
            f"no Service {name} in namespace {workload.namespace}",
        )
        said = item(lookups[0].source, lookups[0].line)
        findings.append(
            make_finding(
                "removed-service",
                Category.BAD_ROLLOUT,
                CONFIDENCE.removed_by_release,
                prose.narrative(
                    f"The release of {prose.obj(workload)} removed Service {name}, "
                    "which its callers still use",
                    "roll it back",
                    because=[
                        prose.claim(
                            f"The workload's lookups of {name} are answered that no such name "
                            "exists",
                            said,
                        ),
                        prose.claim(f"There is no Service {name} any more", gone),
                        prose.claim(
                            f"{prose.obj(workload)}, whose name it bears, rolled out right "
                            "before the errors and runs",
                            released,
                            onset,
                        ),
                    ],
                ),
                [said, gone, released, onset],
                Action.ROLLBACK,
                workload,
                {EXPLAINS: f"Service/{workload.namespace or ''}/{name}"},
            )
        )
    return findings


REMOVED_SERVICE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("removed-service", (Category.BAD_ROLLOUT,), check_removed_service),
)
