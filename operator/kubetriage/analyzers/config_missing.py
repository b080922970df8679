"""The config-missing rule: a ConfigMap or Secret (or one of its keys) that a pod references
and that does not exist, as the kubelet, the Events and the application's own log lines say
it; a secret an external store (Vault, a cloud secret manager) does not hold or refuses, as a
Secrets Store CSI mount or a container that cannot start says it; a key that was renamed (a
near miss in the ConfigMap's keys); a host in an env value one edit away from a Service that
exists. Aimed at the ConfigMap or Secret when the evidence names it, else at the workload.
What the application's own log says is traced to its object by ``config_complaints``.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.config_complaints import (
    absent_optional_source,
    log_config_target,
    misspelt_hosts,
    near_miss_key,
    unparsable_mount,
)
from kubetriage.analyzers.config_readers import read_key_reports
from kubetriage.analyzers.container_texts import (
    ABSENT,
    ABSENT_OPTIONAL,
    CLAIM_SECRET_ABSENT,
    MISSPELT_HOST,
    REJECTED,
    STORE_MISSING,
    STORE_REFUSED,
    ConfigProblem,
    log_problem,
    no_key,
    read_no_key,
    unparsable,
)
from kubetriage.analyzers.log_signatures import (
    CONFIG_LOG,
    CONFIG_VARIABLE_GROUPS,
    SECRET_STORE_MISSING,
    SECRET_STORE_REFUSED,
    SECRETS_STORE_MOUNT,
)
from kubetriage.analyzers.pods import pod_events
from kubetriage.analyzers.revisions import image_changed_from_serving
from kubetriage.analyzers.secret_writers import writer_down, writer_input
from kubetriage.analyzers.support import (
    event_fact,
    grep_logs,
    item,
    logs_of,
    parse_quantity,
    pod_source,
    states,
    workload_ref,
)
from kubetriage.config_errors import MISSING_KEY as _MISSING_KEY
from kubetriage.config_errors import MISSING_OBJECT as _MISSING_OBJECT
from kubetriage.config_errors import claim_missing_secret, image_user_refused
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import EventEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a config-missing finding is, by the evidence that earns it (the best
    observation of a target counts)."""

    kubelet: float = 0.95  # the kubelet cannot create the container and names what is missing
    config_error: float = 0.8  # CreateContainerConfigError that names nothing: the workload's
    absent: float = 0.9  # a referenced ConfigMap, Secret or key does not exist
    absent_started: float = 0.4  # ... though the process started, so it had it then
    event: float = 0.9  # an Event names the missing ConfigMap, Secret or key
    log_names: float = 0.75  # the application's log names the missing variable or file
    log_generic: float = 0.6  # the application's log complains of its configuration, unnamed
    # A restarting container's log has a parser's syntax error for the kind of file that the
    # one ConfigMap it mounts as a volume holds (a .json key and a JSON parse error): the file
    # is the input every start fails on (above an unexplained crash loop, 0.75).
    unparsable: float = 0.8
    crashing_bonus: float = 0.05  # ... and the container restarts
    renamed_bonus: float = 0.1  # ... and the ConfigMap has a key that nearly matches it
    supporting: float = 0.0  # a supporting fact (the near-miss key itself) raises nothing
    misspelt_host: float = 0.75  # an env value names a host one edit away from a Service
    absent_optional: float = 0.85  # the log says configuration is missing, and the one optional
    # ConfigMap/Secret the pod takes it from does not exist (the pod started without it)
    # A failed container of the pod that reads a ConfigMap or Secret through the API itself (a
    # workflow executor, a controller) says, in its log or termination message, that the object
    # lacks a named key: the same fault the kubelet reports for a referenced key, in the words
    # of another reader (between the application's own naming, 0.75, and the kubelet's, 0.95).
    read_key: float = 0.85
    # A claim's provisioning or resize Event says the Secret its StorageClass names for the CSI
    # sidecar does not exist, while the claim is not yet bound or resized: the same naming as
    # a kubelet Event's (0.9), from the volume's controller.
    claim_secret: float = 0.9
    store: float = 0.9  # a secret store says the secret the pod asks for does not exist (or
    # refuses it to the pod), in a Secrets Store CSI mount event or the log of a container
    # that fails to start


CONFIDENCE: Final = _Confidence()


def _store_mount_problem(event: EventEvidence) -> ConfigProblem | None:
    """A Secrets Store CSI volume that cannot mount because its store does not hold a listed
    secret, or refuses it to the pod: the workload's configuration, not its storage."""
    if event.reason != "FailedMount" or not SECRETS_STORE_MOUNT.search(event.message):
        return None
    if SECRET_STORE_MISSING.search(event.message):
        return STORE_MISSING
    return STORE_REFUSED if SECRET_STORE_REFUSED.search(event.message) else None


def _not_started(pod: PodEvidence, container: str) -> bool:
    """Whether ``container`` of ``pod`` is kept from running: restarting, waiting, or an init
    container that has not completed."""
    return any(
        c.name == container
        and (c.restart_count > 0 or c.state.state == "waiting" or (c.init and not c.ready))
        for c in pod.containers
    )


def _config_target(namespace: str, kind: str, name: str) -> ObjectRef:
    canonical = "Secret" if kind.lower().startswith("secret") else "ConfigMap"
    return ObjectRef(kind=canonical, namespace=namespace, name=name)


def _process_started(pod: PodEvidence) -> bool:
    """Whether an app container of the pod is running or has run (exited with a code)."""
    for container in pod.containers:
        if container.init:
            continue
        if container.state.state == "running":
            return True
        if any(s.state == "terminated" and s.exit_code is not None for s in states(container)):
            return True
    return False


# The Events of a claim's CSI sidecars that name the Secrets their StorageClass gives them.
_CLAIM_SECRET_REASONS = ("ProvisioningFailed", "VolumeResizeFailed")


def _claim_secrets(evidence: Evidence) -> list[tuple[ObjectRef, EventEvidence]]:
    """The Secrets a claim's provisioning or resize Events say do not exist, while the claim
    still waits on that step (Pending, or asking for more than it has): a claim bound and at
    its requested size since got its volume, and the Event is history."""
    claims = {(p.namespace, p.name): p for p in evidence.pvcs}
    named: list[tuple[ObjectRef, EventEvidence]] = []
    for event in evidence.events:
        if event.involved.kind != "PersistentVolumeClaim":
            continue
        if event.reason not in _CLAIM_SECRET_REASONS:
            continue
        secret = claim_missing_secret(event.message)
        claim = claims.get((event.involved.namespace or "", event.involved.name))
        if secret is None or claim is None:
            continue
        if event.reason == "ProvisioningFailed":
            waiting = claim.phase != "Bound"
        else:
            has, wants = parse_quantity(claim.capacity), parse_quantity(claim.requested)
            waiting = has is not None and wants is not None and has < wants
        if waiting:
            named.append((ObjectRef(kind="Secret", namespace=secret[0], name=secret[1]), event))
    return named


def check_config_missing(evidence: Evidence) -> list[Finding]:
    # target key -> (target, best confidence, facts, params, problem of the best note)
    found: dict[
        str, tuple[ObjectRef, float, list[EvidenceItem], dict[str, str], ConfigProblem]
    ] = {}

    def note(
        target: ObjectRef | None,
        confidence: float,
        fact: EvidenceItem,
        params: dict[str, str] | None = None,
        problem: ConfigProblem = REJECTED,
    ) -> None:
        if target is None:
            return
        writer: list[EvidenceItem] = []
        if target.kind == "Secret":
            # A Secret a controller writes: aimed at the writer's broken input, or left to
            # the rule blaming its down controller (``analyzers.secret_writers``).
            if writer_down(evidence, target):
                return
            moved = writer_input(evidence, target)
            if moved is not None:
                target, writer = moved[0], [moved[1]]
        key = target.key()
        _, best, facts, old, why = found.get(key, (target, 0.0, [], {}, problem))
        found[key] = (
            target,
            max(best, confidence),
            [*facts, *(w for w in writer if w not in facts), fact],
            {**(params or {}), **old},
            problem if confidence > best else why,
        )

    def note_event(event: EventEvidence, namespace: str) -> None:
        """An Event about a pod that names the missing ConfigMap, Secret or key."""
        if event.type != "Warning" and event.reason not in ("FailedMount", "Failed"):
            return
        key_match = _MISSING_KEY.search(event.message)
        match = key_match or _MISSING_OBJECT.search(event.message)
        if match:
            note(
                _config_target(namespace, match["kind"], match["name"]),
                CONFIDENCE.event,
                item("events", event_fact(event)),
                {"key": key_match["key"]} if key_match else None,
                no_key(key_match["key"]) if key_match else ABSENT,
            )

    # The pods a Job's deadline or backoff limit deleted are gone, their events are not.
    present = {(p.namespace, p.name) for p in evidence.pods}
    for event in evidence.events:
        involved = event.involved
        if involved.kind == "Pod" and (involved.namespace, involved.name) not in present:
            note_event(event, involved.namespace or "")
    for target, event in _claim_secrets(evidence):
        note(
            target,
            CONFIDENCE.claim_secret,
            item("events", event_fact(event)),
            None,
            CLAIM_SECRET_ABSENT,
        )
    for pod in evidence.pods:
        for container in pod.containers:
            state = container.state
            if state.state == "waiting" and state.reason in (
                "CreateContainerConfigError",
                "CreateContainerError",
            ):
                message = state.message or ""
                fact = item(pod_source(pod), f"{container.name}: {state.reason}: {message}")
                key_match = _MISSING_KEY.search(message)
                object_match = _MISSING_OBJECT.search(message)
                if key_match:
                    target = _config_target(pod.namespace, key_match["kind"], key_match["name"])
                    note(
                        target,
                        CONFIDENCE.kubelet,
                        fact,
                        {"key": key_match["key"]},
                        no_key(key_match["key"]),
                    )
                elif object_match:
                    target = _config_target(
                        pod.namespace, object_match["kind"], object_match["name"]
                    )
                    note(target, CONFIDENCE.kubelet, fact, problem=ABSENT)
                elif state.reason == "CreateContainerConfigError" and not (
                    image_user_refused(message)
                    and image_changed_from_serving(evidence, pod, container.name)
                ):
                    # A refused image user under a new image the old spec ran without: the
                    # image is what changed (the rollout rules' case), no configuration.
                    note(workload_ref(evidence, pod), CONFIDENCE.config_error, fact)
        # The kubelet cannot create a container whose non-optional ConfigMap/Secret (or key) is
        # absent; a process that started got what it referenced, so an absence seen now (or
        # an object merely not collected) does not explain its failure.
        resolved = _process_started(pod)
        for ref in pod.config_refs:
            if ref.optional:
                continue
            target = ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
            if ref.exists is False:
                note(
                    target,
                    CONFIDENCE.absent_started if resolved else CONFIDENCE.absent,
                    item(pod_source(pod), f"{ref.kind} {ref.name} ({ref.via}) does not exist"),
                    problem=ABSENT,
                )
            elif ref.key_exists is False and ref.key:
                note(
                    target,
                    CONFIDENCE.absent_started if resolved else CONFIDENCE.absent,
                    item(
                        pod_source(pod),
                        f"{ref.kind} {ref.name} has no key {ref.key} ({ref.via})",
                    ),
                    {"key": ref.key},
                    no_key(ref.key),
                )
        for event in pod_events(evidence, pod):
            note_event(event, pod.namespace)
            store_problem = _store_mount_problem(event)
            if store_problem is not None:
                note(
                    workload_ref(evidence, pod),
                    CONFIDENCE.store,
                    item("events", event_fact(event)),
                    problem=store_problem,
                )
        for log in logs_of(evidence, pod):
            if log.source != "scope" or not _not_started(pod, log.container):
                continue
            for hit in grep_logs([log], SECRET_STORE_MISSING, limit=1):
                note(
                    workload_ref(evidence, pod),
                    CONFIDENCE.store,
                    item(hit.source, hit.line),
                    problem=STORE_MISSING,
                )
        for log in logs_of(evidence, pod):
            for hit in grep_logs([log], CONFIG_LOG, limit=3):
                variable = next(
                    (hit.match[g] for g in CONFIG_VARIABLE_GROUPS if hit.match[g]), None
                )
                generic = variable is None and not (hit.match["path"] or hit.match["path2"])
                confidence = CONFIDENCE.log_generic if generic else CONFIDENCE.log_names
                crashing = any(
                    c.name == log.container and c.restart_count > 0 for c in pod.containers
                )
                log_target = log_config_target(evidence, pod, hit)
                path = hit.match["path"] or hit.match["path2"]
                absent = absent_optional_source(pod, file=bool(path))
                if absent is not None:
                    # Started without an optional source that no longer exists: that is what
                    # the application is missing, whichever source it would have named.
                    log_target = ObjectRef(
                        kind=absent.kind, namespace=pod.namespace, name=absent.name
                    )
                    confidence = max(confidence, CONFIDENCE.absent_optional)
                    note(
                        log_target,
                        CONFIDENCE.supporting,
                        item(
                            pod_source(pod),
                            f"{absent.kind} {absent.name} ({absent.via}, optional) does not exist",
                        ),
                    )
                renamed = near_miss_key(evidence, log_target, variable)
                note(
                    log_target,
                    confidence
                    + (CONFIDENCE.crashing_bonus if crashing else 0.0)
                    + (CONFIDENCE.renamed_bonus if renamed else 0.0),
                    item(hit.source, hit.line),
                    problem=ABSENT_OPTIONAL
                    if absent is not None
                    else log_problem(variable, hit.match["path"] or hit.match["path2"], renamed),
                )
                if renamed is not None and log_target is not None:
                    note(
                        log_target,
                        CONFIDENCE.supporting,
                        item(
                            f"configmap/{pod.namespace}/{log_target.name}",
                            f"has no key {variable} but has {renamed}",
                        ),
                    )
        for target, key, fact in read_key_reports(pod, logs_of(evidence, pod)):
            note(target, CONFIDENCE.read_key, fact, {"key": key}, read_no_key(key))
        if (unparsed := unparsable_mount(evidence, pod)) is not None:
            mounted, key, hit = unparsed
            note(
                mounted, CONFIDENCE.unparsable, item(hit.source, hit.line), problem=unparsable(key)
            )
            note(
                mounted,
                CONFIDENCE.supporting,
                item(pod_source(pod), f"mounts ConfigMap {mounted.name} (key {key}) as a volume"),
            )
        for target, fact in misspelt_hosts(evidence, pod):
            note(target, CONFIDENCE.misspelt_host, fact, problem=MISSPELT_HOST)

    findings: list[Finding] = []
    workload = workload_ref(evidence)
    for target, confidence, facts, params, problem in found.values():
        own = target.kind not in ("ConfigMap", "Secret")
        subject = f"the configuration of {prose.obj(target)}" if own else prose.obj(target)
        because = [prose.claim(f"{subject} {problem.what}", *facts[:2]), prose.claim(problem.why)]
        if len(facts) > 2:
            more = len(facts) - 2
            because.append(
                prose.claim(
                    "another observation agrees"
                    if more == 1
                    else f"{prose.count(more, 'more observation')} agree",
                    *facts[2:4],
                )
            )
        fails = workload is not None and not own and workload.kind != target.kind
        findings.append(
            make_finding(
                "config-missing",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"{subject} {problem.what}",
                    problem.fix,
                    aside=f"{prose.obj(workload)} fails to start" if fails and workload else "",
                    because=because,
                ),
                facts,
                Action.FIX_CONFIG,
                target,
                params,
            )
        )
    return findings


CONFIG_MISSING_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("config-missing", (Category.CONFIG_MISSING,), check_config_missing),
)
