"""A dependency whose pods reject an edited configuration: some of its pods crash, each saying
in its own words that the configuration does not parse, while a ConfigMap its pods mount was
edited within the day. A server that reloads its configuration keeps the last good one when
a reload fails (CoreDNS's reload plugin, nginx, Envoy), so the pods that were running go on
serving; every pod started since the edit (a new node's DaemonSet pod, a rescheduled
replica) reads the broken file and exits. The calls the workload makes through those pods
fail. An SRE reads the crashing pods' parse error, finds the edit of the file they read, and
corrects or reverts it (fix-config on that ConfigMap); escalating to the dependency's owner
or restarting it changes nothing, and a restart would take the healthy pods down too.

Also a dependency whose pods cannot start at all because a ConfigMap or Secret they reference
(or one of its keys) is missing: the kubelet says so on each pod (``couldn't find key k in
ConfigMap ns/x``, ``secret "x" not found``) and the dependency has fewer ready replicas than
it wants. Such an edit stays latent until the pods are recreated (a node drained or
consolidated, a restart), so no change of the dependency need be near. The object the kubelet
names is what to correct; its owner would be handed a config fix anyway.

Also the finding of a dependency that rolled out only to load an edited ConfigMap or Secret
right before the caller's errors began (``carried_edit``, built for the dependency-change
rule of ``kubetriage.analyzers.dependencies``): the edit is what changed, and rolling the
dependency back would mount the same edit again, so the edit is corrected or reverted.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import CONFIG_REJECTED_LOG
from kubetriage.analyzers.support import LogHit, grep_logs, item, seconds_before
from kubetriage.config_errors import MISSING_KEY, MISSING_OBJECT
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EXPLAINS, Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a rejected-configuration finding is."""

    # Pods of a dependency the workload calls crash saying their configuration does not
    # parse, and a ConfigMap they mount was edited within EDIT_WINDOW.
    rejected_edit: float = 0.86
    # The kubelet cannot create the containers of a dependency short of ready replicas
    # because a ConfigMap or Secret (or key) they reference is missing.
    missing_reference: float = 0.88
    # A dependency rolled out only to load an edited ConfigMap or Secret (its template
    # otherwise unchanged) right before the caller's errors began, and its pods fail or warn:
    # as sure as the dependency-change rule's rollback would be (``changed_and_failing``).
    carried_edit_failing: float = 0.82
    # ... its pods do not fail: the edit changed how it serves (``changed``).
    carried_edit: float = 0.78


CONFIDENCE: Final = _Confidence()

# How recent an edit must be to explain pods that reject their configuration now.
EDIT_WINDOW: Final = timedelta(hours=24)


def carried_edit(
    dependency: DependencyEvidence,
    config: ObjectRef,
    facts: list[EvidenceItem],
    caller: str,
    called: Claim,
) -> Finding:
    """The dependency rolled out only to load an edit of ``config`` right before the errors
    of ``caller`` began: correct or revert that edit. ``facts`` are the rollout, the onset
    and the naming of the dependency; ``called`` says why the caller's failures are its."""
    workload = dependency.workload
    assert workload is not None  # the dependency-change rule only follows workloads
    fix = f"correct or revert the edit of {prose.obj(config)}"
    failing = bool(dependency.failing_pods or dependency.warnings)
    return make_finding(
        "dependency-change",
        Category.CONFIG_MISSING,
        CONFIDENCE.carried_edit_failing if failing else CONFIDENCE.carried_edit,
        prose.narrative(
            prose.fitting_problem(
                [
                    f"{caller} fails since its dependency {prose.obj(workload)} restarted "
                    f"to load an edit of {prose.obj(config)}",
                    f"{caller} fails since {workload.name} loaded an edit of {config.name}",
                ],
                fix,
            ),
            fix,
            because=[
                prose.claim(
                    f"{prose.obj(workload)} rolled out to load an edit of {prose.obj(config)}, "
                    "with nothing else of its template changed; rolling it back would mount "
                    "the same edit again",
                    facts[0],
                ),
                prose.claim(f"The errors of {caller} began right after", facts[1]),
                called,
            ],
        ),
        facts,
        Action.FIX_CONFIG,
        config,
        {},
    )


def _tails(evidence: Evidence, dependency: DependencyEvidence, pods: set[str]) -> list[LogTail]:
    """The log tails of the dependency's failing pods, its own and the incident's."""
    return [t for t in [*dependency.logs, *evidence.logs] if t.pod in pods]


def _rejection(evidence: Evidence, dependency: DependencyEvidence) -> LogHit | None:
    crashing = {
        p.pod
        for p in dependency.failing_pods
        if p.waiting == "CrashLoopBackOff" or p.last_terminated == "Error"
    }
    if not crashing:
        return None
    hits = grep_logs(_tails(evidence, dependency, crashing), CONFIG_REJECTED_LOG, limit=1)
    return hits[0] if hits else None


def check_rejected_config(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        named = dependency.workload
        if named is None or not dependency.config_changes:
            continue
        edit = dependency.config_changes[0]
        age = seconds_before(evidence, edit.at)
        if edit.at is None or age is None or age > EDIT_WINDOW.total_seconds():
            continue
        rejection = _rejection(evidence, dependency)
        if rejection is None:
            continue
        edited = item(
            f"{edit.object.kind.lower()}/{edit.object.namespace}/{edit.object.name}",
            f"data last written at {edit.at:%Y-%m-%d %H:%M}",
        )
        crashing = item(
            f"dependency {named.display()}",
            f"{prose.count(len(dependency.failing_pods), 'pod')} failing"
            + (
                f", {dependency.ready_replicas} of {dependency.desired_replicas} ready"
                if dependency.ready_replicas is not None and dependency.desired_replicas
                else ""
            ),
        )
        said = item(rejection.source, rejection.line)
        called = item("dependency", f"{named.display()} is named by {dependency.named_by[0].text}")
        findings.append(
            make_finding(
                "rejected-config",
                Category.CONFIG_MISSING,
                CONFIDENCE.rejected_edit,
                prose.narrative(
                    f"Pods of {prose.obj(named)} reject the edited {prose.obj(edit.object)}",
                    "correct or revert that edit",
                    because=[
                        prose.claim(
                            f"{prose.obj(edit.object)}, which its pods mount, was edited",
                            edited,
                        ),
                        prose.claim(
                            "Its pods that start since crash, saying the configuration does "
                            "not parse; those still running keep the previous one",
                            said,
                            crashing,
                        ),
                        prose.claim("The workload's failing calls go through it", called),
                    ],
                ),
                [edited, said, crashing, called],
                Action.FIX_CONFIG,
                edit.object,
                {EXPLAINS: f"{named.kind}/{named.namespace or ''}/{named.name}"},
            )
        )
    return findings


def _missing_reference(dependency: DependencyEvidence) -> tuple[ObjectRef, str] | None:
    """The ConfigMap or Secret a kubelet warning on the dependency's pods says is missing (or
    lacks a key), with that warning; None when no warning says so."""
    home = (dependency.workload or dependency.ref or ObjectRef(kind="", name="")).namespace
    for warning in dependency.warnings:
        if not warning.startswith("Pod/"):
            continue
        match = MISSING_KEY.search(warning) or MISSING_OBJECT.search(warning)
        if match is None:
            continue
        kind = "Secret" if match["kind"].lower().startswith("secret") else "ConfigMap"
        namespace = match.groupdict().get("ns") or home
        return ObjectRef(kind=kind, namespace=namespace, name=match["name"]), warning
    return None


def check_callee_missing_reference(evidence: Evidence) -> list[Finding]:
    """A dependency short of ready replicas whose pods the kubelet cannot start because a
    ConfigMap or Secret they reference, or one of its keys, is missing: correct that object
    (fix-config), rather than escalating to the dependency's owner."""
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        callee = dependency.ref or dependency.workload
        if callee is None or not dependency.short_of_ready():
            continue
        missing = _missing_reference(dependency)
        if missing is None:
            continue
        target, warning = missing
        where = f"{callee.kind.lower()}/{callee.namespace}/{callee.name}"
        said = item(where, warning)
        short = item(
            where,
            f"{dependency.ready_replicas} of {dependency.desired_replicas} replicas ready, "
            f"{prose.count(len(dependency.failing_pods), 'pod')} failing",
        )
        named_by = dependency.named_by[0].text if dependency.named_by else "the workload"
        called = item("dependency", f"{callee.display()} is named by {named_by}")
        findings.append(
            make_finding(
                "callee-missing-reference",
                Category.CONFIG_MISSING,
                CONFIDENCE.missing_reference,
                prose.narrative(
                    f"Pods of {prose.obj(callee)} cannot start: {prose.obj(target)} lacks "
                    "what they reference",
                    f"correct {prose.obj(target)}",
                    because=[
                        prose.claim(
                            "The kubelet cannot create their containers: a ConfigMap or "
                            "Secret they reference, or one of its keys, is missing",
                            said,
                        ),
                        prose.claim("So the dependency is short of ready replicas", short),
                        prose.claim("The workload's failing calls go through it", called),
                    ],
                ),
                [said, short, called],
                Action.FIX_CONFIG,
                target,
                {EXPLAINS: f"{callee.kind}/{callee.namespace or ''}/{callee.name}"},
            )
        )
    return findings


CALLEE_CONFIG_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("rejected-config", (Category.CONFIG_MISSING,), check_rejected_config),
    Analyzer(
        "callee-missing-reference", (Category.CONFIG_MISSING,), check_callee_missing_reference
    ),
)
