"""The controllers whose release let them ask the API server more, read when it throttles the
incident's workload (``agent_rollouts.apiserver_throttled``). Every client of the cluster
shares the API server's priority-and-fairness queues; a controller (a Deployment) whose new
revision raised its Kubernetes client's rate limits (client-go's QPS and burst, as
``--kube-api-qps``/``--kube-api-burst`` and their spellings) or its concurrent reconciles
(controller-runtime's ``--max-concurrent-reconciles``) can fill those queues alone, and the
API server then answers everyone's requests with 429. An SRE asks "which client was just
allowed to ask more?" and rolls it back.

Pure; the collector (``kubetriage.evidence.agent_walk``) reads the most recently rolled-out
Deployments of every namespace with their ReplicaSets, and ``build_evidence`` keeps those
whose newest rollout raised such a flag, as ``AgentRolloutEvidence`` beside the node agents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.agent_rollouts import agents_wanted
from kubetriage.evidence.callers import owned_history
from kubetriage.evidence.changes import recent_rollouts, revision_of
from kubetriage.evidence.dns_clients import recent_clients
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import AgentRolloutEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, as_list
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The flags that bound how much a Kubernetes client asks of the API server: client-go's
# rate limiter (QPS and burst, under the names controllers give them) and the number of
# reconciles a controller runs at once.
CLIENT_RATE_FLAG: Final = re.compile(
    r"--(?:kube-api-|kube-|api-|client-|k8s-)?(?:qps|burst)"
    r"|--max-concurrent-reconciles|--concurrent-[a-z-]+-syncs|--(?:kube-)?client-rate-limit"
)
_MAX_CHANGES: Final = 2


def client_flags(template: JsonDict) -> dict[str, float]:
    """The client-rate flags the template's containers set, with their numeric values
    (``--flag=v`` or ``--flag v``; a value that is not a number counts as 0)."""
    found: dict[str, float] = {}
    for container in dicts(as_dict(template.get("spec")).get("containers")):
        words = [
            w
            for w in as_list(container.get("command")) + as_list(container.get("args"))
            if isinstance(w, str)
        ]
        for i, word in enumerate(words):
            flag, eq, value = word.partition("=")
            if CLIENT_RATE_FLAG.fullmatch(flag) is None:
                continue
            if not eq:
                value = words[i + 1] if i + 1 < len(words) else ""
            try:
                found[flag] = max(found.get(flag, 0.0), float(value))
            except ValueError:
                found.setdefault(flag, 0.0)
    return found


def raised_flags(new: JsonDict, old: JsonDict) -> list[str]:
    """The client-rate flags ``new`` sets that ``old`` did not, or sets higher."""
    before = client_flags(old)
    return sorted(
        flag
        for flag, value in client_flags(new).items()
        if flag not in before or value > before[flag]
    )


def _template(history: Iterable[JsonDict], revision: int | None) -> JsonDict | None:
    for obj in history:
        number, template = revision_of(obj)
        if revision is not None and number == revision:
            return template
    return None


def api_client_rollouts(
    index: ObjectIndex, logs: Iterable[LogTail], own: JsonDict | None
) -> list[AgentRolloutEvidence]:
    """The Deployments of ``index`` (besides the incident's own workload) whose newest
    rollout raised their API client's rate limits, with their rollouts, when the incident's
    own lines say the API server throttles."""
    if not agents_wanted(logs, ()):
        return []
    replica_sets = index.kind("ReplicaSet")
    found: list[AgentRolloutEvidence] = []
    for deployment in recent_clients(index.kind("Deployment"), own or {}):
        history = owned_history(deployment, replica_sets)
        changes = recent_rollouts(deployment, history, _MAX_CHANGES)
        if not changes:
            continue
        new = _template(history, changes[0].to_revision)
        old = _template(history, changes[0].from_revision)
        if new is None or old is None or not raised_flags(new, old):
            continue
        ref = ObjectRef(kind="Deployment", namespace=_ns(deployment), name=_name(deployment))
        found.append(AgentRolloutEvidence(ref=ref, changes=changes))
    return found
