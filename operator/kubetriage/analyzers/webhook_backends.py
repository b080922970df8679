"""Why an admission webhook's backend (or an aggregated API's: any backend the API server
calls, ``CalledBackend``) does not answer the API server's call (the webhook rule's
``no-endpoints``, ``refused`` and ``timeout`` failures), from what the evidence read behind
the webhook's Service:

- its Service has no ready endpoint: its Service selects no pod (network: fix the Service);
  its pods fail since a new revision (bad-rollout: roll the webhook's workload back); its pods
  cannot be scheduled (unschedulable: free capacity for the webhook's workload); its pods
  are killed for exceeding their memory limit (oom-killed: raise the webhook workload's
  memory); its pods crash and their last log lines name a file of a Secret they mount (a
  CA or key bundle the process refuses at start: config-missing, fix that Secret); its pods
  crash otherwise (crash-loop: escalate to the webhook's workload); otherwise the
  webhook is failing (dependency-failure: escalate to its owner at the Service);
- the call times out while the Service has ready endpoints and a NetworkPolicy of the
  backend's namespace isolates its pods with no rule admitting the API server on the webhook's
  port (the API server is no pod: only a rule with no peers, or an ipBlock, lets it in):
  network, fix the policy that denies (one with no ingress rule first);
- the call times out while the Service has ready endpoints and the backend's containers are
  throttled by their CPU limit for HEAVILY_THROTTLED_SHARE of their CFS periods or more (it
  cannot answer within the webhook's timeout): cpu-throttling, raise the backend's CPU;
- the call is refused or times out otherwise: dependency-failure, escalate at the Service.

Called by ``kubetriage.analyzers.webhooks``, which tells the blocked requests' side and how
sure the failed calls make it, and by ``kubetriage.analyzers.aggregated_apis``; pure
functions of evidence models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from kubetriage import prose
from kubetriage.analyzers.cfs import HEAVILY_THROTTLED_SHARE
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookFailure
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import ChangeEvidence, ConfigMount
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, Flow, ingress_verdict


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a webhook backend's cause is, by the evidence that earns it (before the
    webhook rule's penalty for few or unseen failed calls)."""

    no_pods: float = 0.9  # no endpoint because the Service selects no pod
    rollout: float = 0.9  # no endpoint; its pods fail since a new revision
    unschedulable: float = 0.9  # no endpoint; its pods cannot be scheduled
    oom: float = 0.88  # no endpoint; its pods are OOMKilled, no new revision behind it
    crashing: float = 0.85  # no endpoint; its pods crash, no new revision behind it
    secret_content: float = 0.86  # ... and their logs name a file of a Secret they mount
    failing: float = 0.82  # no endpoint, refused or timed out, no cause behind it in view
    isolated: float = 0.88  # timed out; ready endpoints; a policy denies the API server
    throttled: float = 0.84  # timed out; ready endpoints; its containers heavily throttled


CONFIDENCE: Final = _Confidence()


class CalledBackend(Protocol):
    """What the API server calls and failed to reach (an admission webhook, an aggregated
    API): why the call failed, the Service it calls, where the call lands (a backend pod's
    labels, port and the NetworkPolicies selecting it) and the backend's certificate lines."""

    @property
    def failure(self) -> WebhookFailure: ...
    @property
    def service(self) -> ObjectRef | None: ...
    @property
    def backend_labels(self) -> dict[str, str]: ...
    @property
    def backend_port(self) -> int | None: ...
    @property
    def backend_port_name(self) -> str | None: ...
    @property
    def policies(self) -> list[NetworkPolicyEvidence]: ...
    @property
    def log_lines(self) -> list[str]: ...


_SCHEDULING = ("FailedScheduling", "Unschedulable", "didn't match", "Insufficient")


# The API server as a NetworkPolicy sees it: not a pod of any namespace (a peer naming no
# namespace matches it only when its selector is empty, a conservative reading), no known IP.
_API_SERVER = Endpoint(namespace="", labels={})


def _policy_denying(hook: CalledBackend, dependency: DependencyEvidence | None) -> ObjectRef | None:
    """The NetworkPolicy that keeps the API server's call from the webhook's ready pods: of
    those isolating them for ingress with no rule admitting the call, the one closest to
    admitting it (``networkpolicy``: a deny-all when no rule was written for the API
    server). None when a policy admits it, an ipBlock might, or no pod is ready."""
    svc = dependency.service if dependency is not None else None
    if hook.failure != "timeout" or hook.service is None or not hook.policies:
        return None
    if svc is not None and svc.ready_endpoints == 0:
        return None
    namespace = hook.service.namespace or ""
    flow = Flow(
        source=_API_SERVER,
        destination=Endpoint(namespace=namespace, labels=hook.backend_labels),
        port=hook.backend_port,
        port_name=hook.backend_port_name,
    )
    verdict = ingress_verdict(hook.policies, flow)
    if verdict.allowed or verdict.ip_block_caveat:
        return None
    if not verdict.blocking:
        return None
    return ObjectRef(kind="NetworkPolicy", namespace=namespace, name=verdict.blocking[0])


def _refused_secret(hook: CalledBackend, dependency: DependencyEvidence) -> ConfigMount | None:
    """The Secret volume whose file the crashing backend's log lines name (a path under its
    mount path, with or without the leading slash): the content it refuses at start."""
    for mount in dependency.secret_mounts:
        if mount.kind != "Secret":
            continue
        where = mount.path.strip("/")
        if where and any(f"{where}/" in line for line in hook.log_lines):
            return mount
    return None


def _recent_rollout(dependency: DependencyEvidence) -> ChangeEvidence | None:
    return next((c for c in dependency.changes if c.kind == "rollout"), None)


def _throttled(
    hook: CalledBackend, dependency: DependencyEvidence | None, shares: dict[str, float]
) -> tuple[str, float] | None:
    """The backend container most throttled by its CPU limit, when the call timed out while
    the Service had a ready endpoint and that container spent HEAVILY_THROTTLED_SHARE of its
    CFS periods or more throttled."""
    svc = dependency.service if dependency is not None else None
    if hook.failure != "timeout" or svc is None or svc.ready_endpoints == 0 or not shares:
        return None
    container, share = max(shares.items(), key=lambda kv: kv[1])
    return (container, share) if share >= HEAVILY_THROTTLED_SHARE else None


@dataclass(frozen=True, slots=True)
class BackendCause:
    """Why the backend does not answer: the finding's category, action, target and
    confidence, the cause in a sentence, the fix, and how the webhook and its backend are."""

    category: Category
    action: Action
    target: ObjectRef
    confidence: float
    cause: str
    fix: str
    state: str
    backend_state: str


def backend_cause(
    hook: CalledBackend,
    dependency: DependencyEvidence | None,
    facts: list[EvidenceItem],
    shares: dict[str, float],
    what: str = "webhook",
) -> BackendCause | None:
    """The cause behind a webhook (``what`` it is, for the facts) that cannot be called
    (refused, timed out, no endpoint), the facts that show it appended to ``facts``; None
    when the webhook names no Service."""
    service = hook.service
    if service is None:
        return None
    category, action, target = Category.DEPENDENCY_FAILURE, Action.ESCALATE, service
    confidence = CONFIDENCE.failing
    cause = f"{prose.obj(service)} does not answer"
    svc = dependency.service if dependency is not None else None
    denying = _policy_denying(hook, dependency)
    # A policy that drops the call is surer than a slow backend: it never gets the call.
    throttled = None if denying is not None else _throttled(hook, dependency, shares)
    if throttled is not None and dependency is not None and dependency.workload is not None:
        container, share = throttled
        category, action, target = (
            Category.CPU_THROTTLING,
            Action.INCREASE_CPU,
            dependency.workload,
        )
        confidence = CONFIDENCE.throttled
        cause = (
            f"container {container} of {prose.obj(dependency.workload)} is throttled by its "
            "CPU limit and answers too late"
        )
        facts.append(
            item(
                object_source(dependency.workload),
                f"container {container}: {prose.percent(share)} of CFS periods throttled",
            )
        )
    elif denying is not None:
        category, action, target = Category.NETWORK, Action.FIX_NETWORK, denying
        confidence = CONFIDENCE.isolated
        port = hook.backend_port or hook.backend_port_name
        cause = f"{prose.obj(denying)} lets no call from the API server reach port {port}"
        facts.append(
            item(
                f"networkpolicy/{denying.namespace}/{denying.name}",
                f"isolates the {what}'s pods for ingress; no rule admits the API server"
                + (f" on port {port}" if port else ""),
            )
        )
        if svc is not None:
            facts.append(
                item(
                    object_source(service),
                    prose.ready_endpoints(svc.ready_endpoints),
                )
            )
    elif dependency is not None:
        facts += [
            item(f"dependency {prose.obj(service)}", prose.pod_trouble(p))
            for p in dependency.failing_pods[:2]
        ]
        rollout = _recent_rollout(dependency)
        scheduling = [w for w in dependency.warnings if any(s in w for s in _SCHEDULING)]
        crashing = [
            p
            for p in dependency.failing_pods
            if p.waiting == "CrashLoopBackOff" or p.last_terminated == "Error"
        ]
        oom_killed = [p for p in dependency.failing_pods if p.last_terminated == "OOMKilled"]
        if hook.failure == "no-endpoints" and svc is not None and svc.matching_pods == 0:
            category, action = Category.NETWORK, Action.FIX_NETWORK
            confidence = CONFIDENCE.no_pods
            cause = f"{prose.obj(service)} selects no pod"
            selector = ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items()))
            facts.append(item(object_source(service), f"selector {selector}: no pod"))
        elif scheduling and dependency.workload is not None:
            category, action, target = (
                Category.UNSCHEDULABLE,
                Action.FREE_CAPACITY,
                dependency.workload,
            )
            confidence = CONFIDENCE.unschedulable
            cause = f"{prose.obj(dependency.workload)} cannot schedule its pods"
            facts.append(item(f"dependency {prose.obj(service)}", scheduling[0]))
        elif rollout is not None and dependency.failing_pods and dependency.workload is not None:
            category, action, target = Category.BAD_ROLLOUT, Action.ROLLBACK, dependency.workload
            confidence = CONFIDENCE.rollout
            cause = f"the new revision of {prose.obj(dependency.workload)} fails"
            facts.append(
                item(
                    f"dependency {prose.obj(service)}",
                    f"rollout {rollout.from_revision}->{rollout.to_revision}: "
                    + ", ".join(rollout.details[:2] or rollout.aspects),
                )
            )
        elif hook.failure == "no-endpoints" and oom_killed and dependency.workload is not None:
            category, action, target = (
                Category.OOM_KILLED,
                Action.INCREASE_MEMORY,
                dependency.workload,
            )
            confidence = CONFIDENCE.oom
            cause = f"the pods of {prose.obj(dependency.workload)} exceed their memory limit"
        elif (
            hook.failure == "no-endpoints"
            and crashing
            and service.namespace
            and (refused := _refused_secret(hook, dependency)) is not None
        ):
            category, action = Category.CONFIG_MISSING, Action.FIX_CONFIG
            target = ObjectRef(kind="Secret", namespace=service.namespace, name=refused.name)
            confidence = CONFIDENCE.secret_content
            cause = (
                f"its pods exit at start on the content of {prose.obj(target)}, "
                f"mounted at {refused.path}"
            )
            facts += [item(f"log {service.namespace}", line) for line in hook.log_lines[-1:]]
        elif hook.failure == "no-endpoints" and crashing and dependency.workload is not None:
            category, action, target = Category.CRASH_LOOP, Action.ESCALATE, dependency.workload
            confidence = CONFIDENCE.crashing
            cause = f"the pods of {prose.obj(dependency.workload)} crash"
    fix = {
        Action.FIX_NETWORK: "fix its selector",
        Action.FREE_CAPACITY: "free capacity for it",
        Action.ROLLBACK: "roll it back",
        Action.INCREASE_MEMORY: "raise its memory limit",
        Action.FIX_CONFIG: "restore a valid content of that Secret",
        Action.INCREASE_CPU: "raise its CPU limit",
    }.get(action, "escalate to its owner")
    if target.kind == "NetworkPolicy":
        fix = "let the API server's calls in"
    state, backend_state = "down", "unavailable"
    if target.kind == "NetworkPolicy":
        state = "cut off"
    elif category is Category.CPU_THROTTLING:
        state, backend_state = "too slow", "too slow"
    return BackendCause(category, action, target, confidence, cause, fix, state, backend_state)
