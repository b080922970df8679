"""The caller rule: a callee whose load or rejections stepped up while its own traffic from
outside did not rise and nothing of its own changed, right after a workload that calls it
(names its Service in env or args, ``Evidence.callers``) rolled out a revision that changed
how it behaves (image, env, args, command, resources), is driven by that caller: retries or
hedging multiplied, compression turned off, a pool or batch size raised. An SRE asks "who
calls this, and which of them changed right before the onset?" and rolls THAT caller back;
scaling or escalating the callee treats the surface. The same holds for a callee whose pods
ran under their memory limit for long and are OOM-killed only from right after the caller's
rollout (``caller_drove_memory``): what the caller now sends (more data per call, more
distinct keys or series to keep) fills the memory, and a higher limit only delays the kill.
A caller whose rollout only carried an edited ConfigMap or Secret into its pods (a gateway or
proxy that a mounted file routes to the callee, restarted by Reloader or a config checksum)
changed nothing but that file: its limits, routes or timeouts are what changed in front of
the callee, so the edit is corrected (``config-missing``, ``fix-config``), not the caller
rolled back. A caller the callee's own error lines name as their client (an identity
provider's ``clientId``) is trusted above its timing alone.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.carried_configs import carried_configs
from kubetriage.analyzers.demand import flat_demand, traffic_rose
from kubetriage.analyzers.onset import ONSET_AFTER_CHANGE, earliest_onset, follows_within
from kubetriage.analyzers.support import item, pod_source, states, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import ChangeEvidence, PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a caller-rollout finding is, by the evidence that earns it."""

    # The callee's request rate stayed flat: the load is the caller's, above a saturated
    # callee's doubted autoscaler (0.55) and a named dependency's claim.
    flat_demand: float = 0.78
    # Not measured, but the callee's autoscaler scaled it up right after the caller's rollout
    # (its load stepped up then), above a doubted autoscaler at its maximum (0.55).
    scaled_after: float = 0.7
    # No request-rate series to tell: the caller's timing alone, a weak lead.
    unmeasured: float = 0.5
    # Not measured either, but the caller is the proxy or cache in front of the callee (a
    # mounted file routes it there: every request the callee serves passes it) and the
    # symptom began within FRONT_LEAD of its rollout: above a saturated callee's doubted
    # autoscaler (0.55), below a measured flat demand.
    front_prompt: float = 0.62
    # The callee's own error lines name that caller as the client whose calls fail (an
    # identity provider's clientId): the errors are the caller's, whatever the rates say.
    named_by_errors: float = 0.8
    # The callee's pods, running since long before the caller's rollout, are OOM-killed only
    # from right after it: above the kill itself, which ``oom`` keeps at EXPLAINED_CAP (0.75).
    memory_driven: float = 0.8


CONFIDENCE: Final = _Confidence()

# Parts of a pod template whose change changes how a caller calls (labels do not), and the
# identity it calls with (its ServiceAccount: what an auth server admits or refuses).
_BEHAVIOUR = frozenset({"image", "env", "args", "command", "resources", "serviceAccount"})
# Changes of the callee's own that would explain its symptom instead.
_OWN_CHANGES = frozenset({"rollout", "config", "image-digest"})
# "Right after": a caller's new traffic fills a callee's memory within minutes, not hours.
MEMORY_AFTER = timedelta(minutes=30)
# How long before the caller's rollout the callee's killed pods must have been running for
# their limit to have served them (the kills are new, not the pods).
RAN_BEFORE = timedelta(minutes=30)
# "Right after" for the proxy or cache in front of the callee: its change reaches every
# request at once, so the callee's symptom follows within minutes.
FRONT_LEAD = timedelta(minutes=15)
# An autoscaler's scale-up decision: "New size: 6; reason: cpu ... above target".
_SCALED_UP = re.compile(r"(?i)\babove (?:the )?target")


def _suspect(
    callers: list[CallerEvidence], onset: datetime
) -> tuple[CallerEvidence, ChangeEvidence] | None:
    """The caller whose behaviour-changing rollout came last before the onset."""
    found: list[tuple[float, CallerEvidence, ChangeEvidence]] = []
    for caller in callers:
        if caller.ref.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
            continue
        for change in caller.changes:
            delay = follows_within(change.at, onset)
            changed = _BEHAVIOUR & set(change.aspects) or carried_configs(change)
            if delay is not None and changed:
                found.append((delay, caller, change))
                break
    if not found:
        return None
    _, caller, change = min(found, key=lambda f: f[0])
    return caller, change


def caller_rollout(evidence: Evidence) -> tuple[CallerEvidence, ChangeEvidence] | None:
    """The caller whose behaviour-changing rollout came last before the callee's symptom,
    when the callee's own request rate did not rise and nothing of its own changed."""
    onset = earliest_onset(evidence)
    if onset is None or not evidence.callers or traffic_rose(evidence):
        return None
    if any(
        c.kind in _OWN_CHANGES and follows_within(c.at, onset) is not None for c in evidence.changes
    ):
        return None
    return _suspect(evidence.callers, onset)


def oom_killed_pods(evidence: Evidence) -> list[PodEvidence]:
    """The incident's pods one of whose containers last ended (or now ends) OOMKilled."""
    return [
        pod
        for pod in evidence.pods
        if any(
            (state.reason or "").lower() == "oomkilled"
            for container in pod.containers
            for state in states(container)
        )
    ]


def caller_drove_memory(evidence: Evidence) -> tuple[CallerEvidence, ChangeEvidence] | None:
    """The caller whose behaviour-changing rollout came at most MEMORY_AFTER before the
    callee's symptom began, when the callee's OOM-killed pods had been running since RAN_BEFORE
    or more before that rollout (the same pods under the same limit served until then) and
    nothing of the callee's own changed (``caller_rollout``)."""
    suspect = caller_rollout(evidence)
    onset = earliest_onset(evidence)
    if suspect is None or onset is None or suspect[1].at is None:
        return None
    changed = timestamp(suspect[1].at)
    if timestamp(onset) - changed > MEMORY_AFTER.total_seconds():
        return None
    killed = oom_killed_pods(evidence)
    ran_before = all(
        pod.created_at is not None
        and changed - timestamp(pod.created_at) >= RAN_BEFORE.total_seconds()
        for pod in killed
    )
    return suspect if killed and ran_before else None


def scaled_up_after(evidence: Evidence, change: ChangeEvidence) -> ChangeEvidence | None:
    """The callee's first autoscaler scale-up after the caller's ``change`` (within
    ONSET_AFTER_CHANGE): its load stepped up then."""
    if change.at is None:
        return None
    start = timestamp(change.at)
    ups = [
        (when, c)
        for c in evidence.changes
        if c.kind == "scaling"
        and c.at is not None
        and any(_SCALED_UP.search(d) for d in c.details)
        and 0 <= (when := timestamp(c.at)) - start <= ONSET_AFTER_CHANGE.total_seconds()
    ]
    return min(ups, key=lambda u: u[0], default=(0.0, None))[1]


def caller_doubt(evidence: Evidence) -> tuple[str, EvidenceItem] | None:
    """Why a callee's autoscaler at its maximum is not short of replicas: it scaled up right
    after a caller's rollout, with no change of its own; the load is the caller's."""
    if (suspect := caller_rollout(evidence)) is None:
        return None
    caller, change = suspect
    if (up := scaled_up_after(evidence, change)) is None:
        return None
    return (
        f"It scaled up right after its caller {prose.obj(caller.ref)} rolled out a new "
        "revision, with no change of its own: the load is the caller's",
        item(f"hpa/{up.object.namespace}/{up.object.name}", up.details[0]),
    )


def check_callers(evidence: Evidence) -> list[Finding]:
    """A callee strained from right after one of its callers rolled out a revision that
    changed how it calls, while the callee's own traffic stayed flat (or is not measured)
    and the callee itself did not change: roll the caller back."""
    onset = earliest_onset(evidence)
    suspect = caller_rollout(evidence)
    if onset is None or suspect is None:
        return []
    caller, change = suspect
    if configs := carried_configs(change):
        return [_config_finding(evidence, caller, change, configs[0], onset)]
    target = caller.ref
    flat = flat_demand(evidence)
    in_errors = caller.in_errors
    facts: list[EvidenceItem] = [
        item(in_errors.log.text, in_errors.said())
        if in_errors is not None
        else item(
            f"{target.kind.lower()}/{target.namespace}/{target.name}",
            f"names {prose.obj(caller.callee)}: {prose.listing(caller.naming_texts(), limit=2)}",
        ),
        item(
            f"{target.kind.lower()}/{target.namespace}/{target.name}",
            "; ".join(change.details[:3]),
        ),
    ]
    changed = prose.listing(sorted(_BEHAVIOUR & set(change.aspects)))
    lead = prose.duration(max(timestamp(onset) - timestamp(change.at or onset), 0.0))
    because = [
        prose.claim(
            f"The errors of {prose.obj(caller.callee)} name {prose.obj(target)} as the client"
            if in_errors is not None
            else f"{prose.obj(target)} calls {prose.obj(caller.callee)}",
            facts[0],
        ),
        prose.claim(
            f"It rolled out a revision that changed its {changed} {lead} before the symptom began",
            facts[1],
        ),
    ]
    scaled = scaled_up_after(evidence, change)
    driven = caller_drove_memory(evidence) is not None
    in_front = caller.fronts() and (
        timestamp(onset) - timestamp(change.at or onset) <= FRONT_LEAD.total_seconds()
    )
    if driven:
        killed = oom_killed_pods(evidence)[0]
        ran = timestamp(change.at or onset) - timestamp(killed.created_at or onset)
        fact = item(
            pod_source(killed),
            f"OOM-killed only since the caller's rollout, after running for {prose.duration(ran)}"
            " before it",
        )
        facts.append(fact)
        because.append(
            prose.claim(
                "The callee's pods had run under the same memory limit since long before, and "
                "are OOM-killed only from right after that rollout: what the caller now sends "
                "fills their memory",
                fact,
            )
        )
    elif flat is not None:
        facts.append(flat)
        because.append(prose.claim("The callee's own request rate stayed flat", flat))
    elif scaled is not None:
        fact = item(f"hpa/{scaled.object.namespace}/{scaled.object.name}", scaled.details[0])
        facts.append(fact)
        because.append(prose.claim("Its autoscaler scaled the callee up right after", fact))
    elif in_front:
        because.append(
            prose.claim(
                "A mounted file routes it to the callee: every request the callee serves passes "
                "it, so its change reaches them all at once",
                facts[0],
            )
        )
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision changed how it calls {prose.obj(caller.callee)}",
        "roll the caller back",
        because=because,
    )
    confidence = CONFIDENCE.unmeasured
    if in_errors is not None:
        confidence = CONFIDENCE.named_by_errors
    elif driven:
        confidence = CONFIDENCE.memory_driven
    elif flat is not None:
        confidence = CONFIDENCE.flat_demand
    elif scaled is not None:
        confidence = CONFIDENCE.scaled_after
    elif in_front:
        confidence = CONFIDENCE.front_prompt
    return [
        make_finding(
            "caller-rollout",
            Category.BAD_ROLLOUT,
            confidence,
            text,
            facts,
            Action.ROLLBACK,
            target,
            {},
        )
    ]


def _config_finding(
    evidence: Evidence,
    caller: CallerEvidence,
    change: ChangeEvidence,
    config: ObjectRef,
    onset: datetime,
) -> Finding:
    """The caller's rollout only carried an edited ConfigMap or Secret into its pods (a
    gateway or proxy whose file routes to the callee: its limits, routes, timeouts): the
    edit is what changed in front of the callee, so correct or revert it."""
    ref = caller.ref
    source = f"{ref.kind.lower()}/{ref.namespace}/{ref.name}"
    named = item(source, f"routes to {prose.obj(caller.callee)}: {caller.naming_texts()[0]}")
    carried = item(source, "; ".join(change.details[:3]))
    lead = prose.duration(max(timestamp(onset) - timestamp(change.at or onset), 0.0))
    facts = [named, carried]
    flat = flat_demand(evidence)
    if flat is not None:
        facts.append(flat)
    text = prose.narrative(
        f"an edit of {prose.obj(config)} changed how {prose.obj(ref)} calls "
        f"{prose.obj(caller.callee)}",
        "correct or revert that edit",
        because=[
            prose.claim(
                f"{prose.obj(ref)} is configured by {prose.obj(config)} to call "
                f"{prose.obj(caller.callee)}",
                named,
            ),
            prose.claim(
                f"It restarted to load an edit of {prose.obj(config)} {lead} before the symptom "
                "began, with nothing else of its template changed",
                carried,
            ),
            *([prose.claim("The callee's own request rate stayed flat", flat)] if flat else []),
        ],
    )
    return make_finding(
        "caller-rollout",
        Category.CONFIG_MISSING,
        CONFIDENCE.flat_demand if flat is not None else CONFIDENCE.unmeasured,
        text,
        facts,
        Action.FIX_CONFIG,
        config,
        {},
    )


CALLER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("caller-rollout", (Category.BAD_ROLLOUT, Category.CONFIG_MISSING), check_callers),
)
