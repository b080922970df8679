"""The stale agent token rule: a node agent the walk followed beside the alerted pods (a log
shipper on their nodes when their logs are absent, ``kubetriage.evidence.node_neighbours``)
runs and is ready, yet the Kubernetes API server answers its calls with ``Unauthorized``
(HTTP 401: the credential itself is refused, not its permissions). The agent reads no token
from a Secret of its own (that is the stale-api-token rule's case,
``kubetriage.analyzers.api_tokens``) and did not roll out lately: it authenticates with the
pod's projected ServiceAccount token, which the kubelet rotates in place, and a process that
read it once at start (Fluent Bit's Kubernetes filter before ``kube_token_ttl``, old client
libraries) keeps presenting the token it started with until the API server stops accepting
it (an hour, or the 90 days of extended expiry some platforms grant). Its lookups of pod
metadata then fail: the new pods' lines lose their labels, land unrouted or are dropped,
while the pods themselves are fine. Restarting the agent makes it read the current token (and
upgrading it keeps it reading); rolling the pods' own release back changes nothing.

Silent for a 403 (RBAC, not authentication), an agent whose pods fail (a crash is other
rules' story), one that mounts a Secret at a token or kubeconfig path (a long-lived token),
and one whose revision changed within the hour before the alert (its new wiring is the
rollout rules' case).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.api_tokens import API_UNAUTHORIZED
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.recency import rollouts_within
from kubetriage.analyzers.support import grep_logs, item, log_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

# A running node agent next to the alerted pods is refused by the API server with the token
# it started with: above a release of the alerted workload that only coincides (0.88).
CONFIDENCE: Final = 0.9
NAME: Final = "stale-agent-token"
# A rollout of the agent this close before the alert is its own story (new wiring).
_ROLLED_OUT_WITHIN: Final = timedelta(hours=1)
# Where a Secret mounted for API access is read from: a token file, a kubeconfig.
_TOKEN_FILE: Final = re.compile(r"(?i)token|kubeconfig")


def _rolled_out_lately(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    start = min((a.starts_at for a in evidence.alerts if a.starts_at), default=None)
    moment = timestamp(start or evidence.collected_at)
    return bool(rollouts_within(dependency.changes, moment, _ROLLED_OUT_WITHIN))


def check_stale_agent_token(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        agent = dependency.workload
        routes = dependency.routed("node-neighbour")
        if agent is None or not routes or agent.kind not in ACTION_TARGET_KINDS[Action.RESTART]:
            continue
        if dependency.failing_pods or any(
            _TOKEN_FILE.search(m.path) for m in dependency.secret_mounts
        ):
            continue
        if _rolled_out_lately(evidence, dependency):
            continue
        hits = grep_logs(dependency.logs, API_UNAUTHORIZED, limit=1)
        if not hits:
            continue
        said = [item(log_source(hits[0].log), hits[0].line)]
        findings.append(
            make_finding(
                NAME,
                Category.CONFIG_MISSING,
                CONFIDENCE,
                prose.narrative(
                    f"the API server refuses the token {prose.obj(agent)} started with",
                    "restart it so it reads its current token",
                    because=[
                        prose.claim(
                            f"{prose.obj(agent)} runs on the alerted pods' nodes and the API "
                            "server answers its calls Unauthorized (401): the credential "
                            "itself is refused",
                            *said,
                        ),
                        prose.claim(
                            "It reads no token from a Secret and did not roll out lately: it "
                            "still presents the projected token it read at start, which the "
                            "kubelet has rotated since, so its lookups for the new pods fail"
                        ),
                    ],
                ),
                said,
                Action.RESTART,
                agent,
            )
        )
    return findings


AGENT_TOKEN_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CONFIG_MISSING,), check_stale_agent_token),
)
