"""Change correlation: "it started right after change C, and the previous revision was healthy
under the same load" beats a capacity explanation of the same symptom.

An OOM kill, an autoscaler at its maximum, CPU saturation or a rise in errors and latency
that begins within minutes of a rollout, on a workload whose previous revision ran without
that symptom and with no rise in traffic, is the new revision's doing: raising limits or
adding replicas treats the surface, undoing the change treats the cause. Capacity analyzers
consult ``explaining_change`` and stay below a strong conclusion when it returns a change.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.admission import PSA_COUNTED, PSA_REFUSAL
from kubetriage.analyzers.admitted_cpu import admitted_cpu_limit
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.burst_credits import exhausted_claims, exhausted_vm_disks
from kubetriage.analyzers.callee_changes import configured_dependency_edit
from kubetriage.analyzers.carried_configs import carried_configs, carried_edit
from kubetriage.analyzers.certificates import peer_certificate_invalid
from kubetriage.analyzers.client_secrets import unrewired_refused_client
from kubetriage.analyzers.demand import traffic_rose
from kubetriage.analyzers.ended_symptoms import symptom_ended
from kubetriage.analyzers.listen_ports import serves_elsewhere
from kubetriage.analyzers.log_signatures import (
    CONFIG_LOG,
    DEPENDENCY_LOG,
    SERVER_NOT_SERVING,
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.onset import (
    ONSET_AFTER_CHANGE,
    ONSET_TOLERANCE,
    alert_onset,
    attributable,
    first_sign_before,
    rollout_on_metric_clock,
    served_before_step,
    symptom_times,
)
from kubetriage.analyzers.placement import slow_replica_nodes
from kubetriage.analyzers.pods import admitted_memory_limit, node_split
from kubetriage.analyzers.policies import check_policy_flows
from kubetriage.analyzers.policy_refusals import LIMIT_RANGE_REFUSAL, QUOTA_REFUSAL
from kubetriage.analyzers.previous_revision import previous_fails_alike
from kubetriage.analyzers.relayed_failures import failing_upstream
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    log_source,
    logs_of,
    timestamp,
    workload_ref,
)
from kubetriage.evidence.changes import CARRIER
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence, PodEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a change-correlation finding is, by the change the symptoms began right after
    (with no rise in traffic and no cause that has its own rule)."""

    config_edit: float = 0.82  # an edit of a ConfigMap the pods use
    # A tag that now pulls a new build: health splitting exactly along two digests of one tag
    # outweighs where the failing pods happen to run (all were pulled after the tag moved).
    new_digest: float = 0.86
    rollout: float = 0.88  # the workload's rollout of what its pods run


CONFIDENCE: Final = _Confidence()

# Capacity analyzers stay at or below this when a change explains the symptom.
EXPLAINED_CAP = 0.75
# Parts of the pod template a ResourceQuota counts pods by: their requests and limits, and
# their priority class (a quota scoped to a PriorityClass counts only that class's pods).
QUOTA_COUNTED = frozenset({"resources", "priority"})
# Parts of the pod template a LimitRange bounds: each container's requests and limits (its
# minimum, maximum and limit/request ratio).
LIMIT_RANGE_COUNTED = frozenset({"resources"})
# Parts of the pod template whose change can cause a symptom by itself: what the program
# runs (image, command, args, env, config, volumes) and what it may use (resources: a limit
# cut in a "rightsizing" throttles or OOM-kills what ran fine), and how it joins a service
# mesh (a pod opted out of sidecar injection talks plaintext to callees that require mTLS)
# or what another injector adds (an agent that renders its secrets).
# Probes are left to the probe analyzer, whose fix is the probe.
_BEHAVIOUR = frozenset(
    {
        "image",
        "digest",
        "command",
        "args",
        "env",
        "config",
        "volumes",
        "resources",
        "mesh",
        "injection",
    }
)
# Waiting reasons whose own analyzers name the precise fix (and target).
_SPECIFIC_WAITING = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}
)
# Events whose own analyzers name the precise fix: placement, volumes, node pressure.
_SPECIFIC_EVENTS = frozenset({"FailedScheduling", "FailedMount", "FailedAttachVolume", "Evicted"})


_PROBE_KILL = re.compile(r"(?i)(failed (liveness|startup) probe|(liveness|startup) probe failed)")


def _specific_cause(evidence: Evidence) -> bool:
    """Evidence whose own analyzer names the precise fix even when a change surfaced it: an
    image that cannot be pulled, a missing ConfigMap/Secret or key, a configuration error in
    the logs, probes killing the container (unless its server moved off the port they dial:
    ``listen_ports``), placement, volumes, node pressure, an admission
    webhook that rejects the new pods (the webhook is broken, not the revision: the previous
    one could not create pods either), a NetworkPolicy that leaves no rule for the flow the
    failing calls take (the policy drops them whatever revision sends them), a ResourceQuota
    or a LimitRange or Pod Security that refuses the new pods of a rollout that left what it
    counts alone (``_policy_refuses_unchanged``), a peer's certificate that expired (a
    rollback's pods would fail the same handshake), an identity provider refusing the client
    secret a pod reads from a Secret no rollout rewired (``client_secrets``: a rollback sends
    it again), a volume of the workload or a callee out of I/O burst credits (``burst_credits``:
    a rollback's pods wait on the same baseline IOPS)."""
    waiting = any(
        c.state.state == "waiting" and c.state.reason in _SPECIFIC_WAITING
        for p in evidence.pods
        for c in p.containers
    )
    missing = any(
        not r.optional and (r.exists is False or r.key_exists is False)
        for p in evidence.pods
        for r in p.config_refs
    )
    return (
        waiting
        or missing
        or any(e.reason in _SPECIFIC_EVENTS for e in evidence.events)
        or (
            any(_PROBE_KILL.search(e.message) for e in evidence.events)
            and serves_elsewhere(evidence, evidence.pods) is None
        )
        or bool(grep_logs(evidence.logs, CONFIG_LOG, limit=1))
        or any(hook.failure_policy != "Ignore" for hook in evidence.webhooks)
        or bool(check_policy_flows(evidence))
        or _policy_refuses_unchanged(evidence, QUOTA_REFUSAL, QUOTA_COUNTED)
        or _policy_refuses_unchanged(evidence, LIMIT_RANGE_REFUSAL, LIMIT_RANGE_COUNTED)
        or _policy_refuses_unchanged(evidence, PSA_REFUSAL, PSA_COUNTED)
        or peer_certificate_invalid(evidence)
        or unrewired_refused_client(evidence) is not None
        or bool(exhausted_claims(evidence) or exhausted_vm_disks(evidence))
    )


def _policy_refuses_unchanged(
    evidence: Evidence, refusal: re.Pattern[str], counted: frozenset[str]
) -> bool:
    """The API server refuses to create pods over a namespace policy (FailedCreate; ``refusal``
    matches its words: a ResourceQuota, a LimitRange) while the latest rollout did not change
    the parts of the template the policy judges pods by (``counted``): the new revision never
    ran, so no symptom is its doing, and the previous template would be refused the same way
    (a quota with no room for the pod a rolling update adds, whatever revision it carries; a
    LimitRange created after the running pods, which bounds the unchanged requests and
    limits of both). A rollout that raised (or dropped) requests or limits, or moved the pods
    to another priority class (which scoped quotas select on), is what the policy refuses,
    and stays a candidate."""
    if not any(e.reason == "FailedCreate" and refusal.search(e.message) for e in evidence.events):
        return False
    rollout = latest_rollout(evidence)
    return rollout is None or not set(rollout.aspects) & counted


def down_dependencies(evidence: Evidence) -> list[DependencyEvidence]:
    """The followed dependencies that cannot serve anyone: pods behind them fail, or none of
    their endpoints is ready."""
    return [
        d
        for d in evidence.dependencies
        if d.service is not None
        and d.pods > 0
        and (d.failing_pods or d.service.ready_endpoints == 0)
    ]


_PORT = re.compile(r"[:\s](?P<port>\d{2,5})\b")


def calls_down_dependency(
    evidence: Evidence, pod: PodEvidence, down: list[DependencyEvidence]
) -> EvidenceItem | None:
    """A line of the pod's own logs reporting a failing call to one of the ``down``
    dependencies: by its host name, or (a client that logs the address it dialled) by an IP
    with one of the dependency's ports, when the dependency is named in the workload's env,
    configuration or logs."""
    services = [d.service for d in down if d.service is not None]
    for hit in grep_logs(logs_of(evidence, pod), DEPENDENCY_LOG, limit=10):
        if any(service_for_host(host, services) is not None for host in hosts_in(hit.line)):
            return item(log_source(hit.log), hit.line)
        ports = {int(m["port"]) for m in _PORT.finditer(hit.line)}
        if any(
            d.service is not None and d.named_by and ports & set(d.service.port_numbers)
            for d in down
        ):
            return item(log_source(hit.log), hit.line)
    return None


def dependency_outage(evidence: Evidence) -> EvidenceItem | None:
    """A failing call to a dependency that is down for everyone, logged by the workload's own
    pods: the outage, not the workload's latest change, is what they suffer from. Down for
    everyone: its pods fail or none is ready, or (a server out of sight: a managed database
    behind an ExternalName) the pods relay the server's own word that it serves nobody
    (``SERVER_NOT_SERVING``: recovering, shutting down, loading), or its pods serve but log
    that their own calls fail (``failing_upstream``: it relays what its own callee does to
    every caller; no change of the workload makes that callee fail)."""
    down = down_dependencies(evidence)
    calls = bool(evidence.dependencies)
    relaying = [(d, line) for d in evidence.dependencies if (line := failing_upstream(evidence, d))]
    for pod in evidence.pods:
        if pod_revision(pod, evidence) is None:
            continue  # not one of the workload's pods
        found = calls_down_dependency(evidence, pod, down) if down else None
        if found is None and calls:
            hit = next(iter(grep_logs(logs_of(evidence, pod), SERVER_NOT_SERVING, limit=1)), None)
            found = item(log_source(hit.log), hit.line) if hit is not None else None
        for dependency, line in relaying:
            if found is None and calls_down_dependency(evidence, pod, [dependency]):
                found = line
        if found is not None:
            return found
    return None


def latest_rollout(evidence: Evidence) -> ChangeEvidence | None:
    """The rollout that produced the workload's current revision, if the timeline has it."""
    current, _ = current_and_previous_revision(evidence)
    rollouts = [c for c in evidence.changes if c.kind in ("rollout", "image-digest")]
    if current is not None:
        rollouts = [
            c for c in rollouts if c.kind == "image-digest" or c.to_revision == current.revision
        ]
    dated = [c for c in rollouts if c.at is not None]
    return max(dated, key=lambda c: timestamp(c.at or evidence.collected_at), default=None)


def _fits(evidence: Evidence, change: ChangeEvidence) -> EvidenceItem | None:
    """The first symptom, when every symptom began at or after ``change`` and the first one
    within ``ONSET_AFTER_CHANGE`` of it; None otherwise, None when any first sign of the
    symptom (a failing series' first burst, a failing log line, a kill, the alert's start:
    ``onset.first_sign_before``) came before the change began, and None when the first
    symptom is a series that held its level for a while after the change before it stepped
    (``onset.served_before_step``)."""
    if change.at is None:
        return None
    at = timestamp(change.at)
    if timestamp(evidence.collected_at) - at > ONSET_AFTER_CHANGE.total_seconds() * 3:
        return None  # an old change; whatever happens now has had time to have other causes
    # A metric step is compared with the rollout on the metrics' clock when it shows there.
    metric_at = rollout_on_metric_clock(evidence) if change.kind == "rollout" else None
    delays = [
        (
            timestamp(when)
            - (timestamp(metric_at) if fact.source == "metrics" and metric_at else at),
            fact,
        )
        for when, fact in symptom_times(evidence)
        if timestamp(evidence.collected_at) - timestamp(when) <= timedelta(hours=6).total_seconds()
    ]
    if not delays and (fired := alert_onset(evidence)) is not None:
        # No dated symptom: the alert itself is the onset.
        delays = [(timestamp(fired[0]) - at, fired[1])]
    if not delays:
        return None
    delay, first_fact = min(delays, key=lambda d: d[0])
    if not attributable(delay):
        return None
    if first_sign_before(evidence, change.at, metric_at=metric_at) is not None:
        return None  # the symptom's first sign came before the change began
    served = served_before_step(evidence, change.at)
    if served is not None and delay >= timestamp(served[0]) - at - ONSET_TOLERANCE.total_seconds():
        return None  # the change served without the symptom until a later step
    return first_fact


def explaining_change(evidence: Evidence) -> tuple[ChangeEvidence, EvidenceItem] | None:
    """The change the symptoms began right after (the workload's latest rollout of its
    behaviour, or an edit of a ConfigMap its pods use), with the first symptom seen after it;
    None when there is none, when symptoms were already there before it (the previous state
    was not healthy), or when traffic rose too (then capacity is a fair rival)."""
    if traffic_rose(evidence):
        return None
    if dependency_outage(evidence) is not None or previous_fails_alike(evidence) is not None:
        return None
    if node_split(evidence, evidence.pods):
        return None  # the changed template serves on other nodes: the split follows a node
    if any(slow.same_revision() for slow in slow_replica_nodes(evidence)):
        return None  # ... or answers quickly there while its replicas on one node are slow
    if admitted_memory_limit(evidence) is not None or admitted_cpu_limit(evidence) is not None:
        return None  # the kills or throttling meet a limit admission set, a rollback's too
    candidates: list[ChangeEvidence] = []
    edits = [c for c in evidence.changes if c.kind == "config" and "data" in c.aspects]
    rollout = latest_rollout(evidence)
    if rollout is not None and set(rollout.aspects) & _BEHAVIOUR:
        carried = carried_configs(rollout)
        if not set(rollout.aspects) <= CARRIER:
            candidates.append(rollout)
        elif carried:
            # The rollout only carried a ConfigMap or Secret change into the pods (Reloader):
            # the edit of that object is the change, and rolling the template back would
            # mount the same edited object again.
            candidates += [carried_edit(rollout, ref) for ref in carried]
        elif not edits:
            candidates.append(rollout)  # a config checksum changed; what it covers is unknown
    candidates += edits
    # A flag or settings service the workload's env names, edited in place just before the
    # symptom with nothing else changed: the workload's behaviour changed with it.
    if (configured := configured_dependency_edit(evidence)) is not None:
        candidates.append(configured)
    # The most recent change that fits is the one the symptoms followed.
    for change in sorted(candidates, key=lambda c: -timestamp(c.at or evidence.collected_at)):
        first = _fits(evidence, change)
        if first is not None and symptom_ended(evidence, change) is None:
            return change, first
    return None


def check_change(evidence: Evidence) -> list[Finding]:
    explained = explaining_change(evidence)
    target = workload_ref(evidence)
    if explained is None or target is None or _specific_cause(evidence):
        return []
    if target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return []
    change, first_symptom = explained
    _, previous = current_and_previous_revision(evidence)
    facts = [
        item(
            f"{change.object.kind.lower()}/{change.object.namespace}/{change.object.name}",
            f"{change.kind} at {change.at:%H:%M}: " + "; ".join(change.details[:4])
            if change.at is not None
            else "; ".join(change.details[:4]),
        ),
        first_symptom,
    ]
    if previous is not None:
        facts.append(
            item(
                "revision",
                f"revision {previous.revision} ran before it without these symptoms",
            )
        )
    params = {"revision": str(previous.revision)} if previous is not None else {}
    if change.kind == "config":
        # Edited in place: no revision to roll back to; the edit itself is what to undo.
        edited = change.object
        return [
            make_finding(
                "change-correlation",
                Category.CONFIG_MISSING,
                CONFIDENCE.config_edit,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{prose.obj(target)} broke right after {prose.obj(edited)} was edited",
                            f"{prose.obj(target)} broke right after {edited.kind} {edited.name} "
                            "was edited",
                            f"{target.kind} {target.name} broke after {edited.kind} "
                            f"{edited.name} was edited",
                        ],
                        fix := f"revert or correct {edited.kind} {edited.name}",
                    ),
                    fix,
                    because=[
                        prose.claim(f"{prose.obj(change.object)} was written", facts[0]),
                        prose.claim("The symptoms began after that write", facts[1]),
                        prose.claim("No rollout or rise in traffic came between them"),
                    ],
                ),
                facts[:2],
                Action.FIX_CONFIG,
                change.object,
            )
        ]
    if change.kind == "image-digest":
        # Rolling back the template would pull the same moved tag again: pin the digest.
        return [
            make_finding(
                "change-correlation",
                Category.BAD_ROLLOUT,
                CONFIDENCE.new_digest,
                prose.narrative(
                    f"The image tag of {prose.obj(target)} now pulls a new build",
                    "pin the image to the previous digest",
                    because=[
                        prose.claim(
                            "Pods on the new digest fail while those on the previous one are "
                            "healthy",
                            facts[0],
                        ),
                        prose.claim("The failures began when the new digest arrived", facts[1]),
                    ],
                ),
                facts,
                Action.FIX_IMAGE,
                target,
            )
        ]
    return [
        make_finding(
            "change-correlation",
            Category.BAD_ROLLOUT,
            CONFIDENCE.rollout,
            prose.narrative(
                f"{prose.obj(target)} broke right after its rollout",
                f"roll back to revision {previous.revision}" if previous else "undo the rollout",
                aside=prose.listing(a for a in change.aspects if a in _BEHAVIOUR) + " changed",
                because=[
                    prose.claim("The rollout changed the pods", facts[0]),
                    prose.claim("The symptoms began right after it", facts[1]),
                    prose.claim(
                        "Traffic did not rise, so capacity does not explain them",
                        *facts[2:3],
                    ),
                ],
            ),
            facts,
            Action.ROLLBACK,
            target,
            params,
        )
    ]


CHANGE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("change-correlation", (Category.BAD_ROLLOUT,), check_change),
)


def cap_explained(evidence: Evidence, findings: list[Finding]) -> list[Finding]:
    """A capacity finding (raise a limit, add replicas) kept below a strong conclusion when a
    change explains its symptom: it stays a ranked alternative, not the diagnosis."""
    if not findings or explaining_change(evidence) is None:
        return findings
    return [f.model_copy(update={"confidence": min(f.confidence, EXPLAINED_CAP)}) for f in findings]
