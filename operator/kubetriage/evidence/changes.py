"""The change timeline: what changed around an incident's target, and when.

Pure; called by ``kubetriage.evidence.build.build_evidence`` with raw objects (camelCase dicts,
as the API serialises them). An SRE's first question is "what changed?"; the answers here are:

- rollouts: each revision of the workload (Deployment ReplicaSets, StatefulSet/DaemonSet
  ControllerRevisions) compared with the one before it, naming the parts of the pod template
  that differ (``kubetriage.evidence.template_diff``: image, command, args, env, resources,
  probes, DNS settings, and config checksums such as Helm's ``checksum/config`` pod
  annotation, which is how a ConfigMap or Secret edit shows up in a rollout);
- ConfigMaps the pods use, from metadata only (the last ``managedFields`` write, else the
  creation time); Secrets are never read, so their changes are known only from metadata
  around them: rollouts (checksum annotations; Stakater Reloader's ``STAKATER_<NAME>_SECRET``
  env var or ``last-reloaded-from`` annotation, which name the Secret), and the events of
  the Secret or of what writes it (an ExternalSecret's or SealedSecret's sync);
- nodes created recently (a node pool replacement moves every pod onto fresh nodes);
- autoscaler rescaling events (``SuccessfulRescale``);
- a tag that now points at another image: pods of one revision (or of revisions differing only
  in a restart stamp or config hash) running the same image
  reference with different digests, where health splits along the digest.

Each entry has its time; the list is newest first and bounded by ``EvidenceLimits``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from kubetriage.evidence.index import SECRET_WRITERS
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_int, as_time, dicts
from kubetriage.evidence.template_diff import clip_detail, template_diff
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ChangeEvidence, EventEvidence
from kubetriage.models.objects import DEPLOYMENT_REVISION, JsonDict, controller_ref, meta

# A node or ConfigMap written this long before the diagnosis is part of the timeline; older
# writes are the steady state, not a change.
RECENT_CHANGE = timedelta(hours=24)
# A rollout that changed only these carried a configuration change into the pods (a config
# checksum or Reloader hash in the template): the configuration is what changed.
CARRIER = frozenset({"config", "template"})
# The aspect of a rollout made by ``kubectl rollout restart`` (its restartedAt stamp).
RESTART = "restart"
# Events saying a Secret was (re)written, by the Secret's own controller or its source's.
_SECRET_WRITTEN = frozenset({"Updated", "Created", "Unsealed", "Synced", "SecretSynced"})


def revision_of(obj: JsonDict) -> tuple[int | None, JsonDict]:
    """A ReplicaSet's or ControllerRevision's revision number and pod template."""
    if obj.get("kind") == "ControllerRevision":
        template = as_dict(as_dict(as_dict(obj.get("data")).get("spec")).get("template"))
        return as_int(obj.get("revision")), template
    number = as_int(as_dict(meta(obj).get("annotations")).get(DEPLOYMENT_REVISION))
    return number, as_dict(as_dict(obj.get("spec")).get("template"))


def rollout_changes(workload: JsonDict, history: Iterable[JsonDict]) -> list[ChangeEvidence]:
    """One entry per revision that differs from the revision before it."""
    numbered: list[tuple[int, JsonDict, JsonDict]] = []
    for obj in history:
        number, template = revision_of(obj)
        if number is not None and template:
            numbered.append((number, obj, template))
    numbered.sort(key=lambda entry: entry[0])
    ref = ObjectRef(
        kind=str(workload.get("kind")),
        namespace=meta(workload).get("namespace"),
        name=str(meta(workload).get("name")),
    )
    changes: list[ChangeEvidence] = []
    for (old_number, _, old), (new_number, obj, new) in pairwise(numbered):
        diff = template_diff(old, new)
        aspects, details = diff.aspects, diff.details
        if not aspects:
            details = ["pod template changed (labels or other fields)"]
            aspects = {"template": details}
        changes.append(
            ChangeEvidence(
                at=as_time(meta(obj).get("creationTimestamp")),
                kind="rollout",
                object=ref,
                aspects=list(aspects),
                aspect_details=aspects,
                details=[f"revision {old_number} -> {new_number}", *details],
                from_revision=old_number,
                to_revision=new_number,
                configs=[
                    ObjectRef(kind=kind, namespace=ref.namespace, name=name)
                    for kind, name in dict.fromkeys(diff.configs)
                ],
            )
        )
    return changes


def recent_rollouts(
    workload: JsonDict, history: Iterable[JsonDict], limit: int
) -> list[ChangeEvidence]:
    """The workload's last ``limit`` rollouts (``rollout_changes``), newest first."""
    return rollout_changes(workload, history)[-limit:][::-1]


def last_write(obj: JsonDict) -> datetime | None:
    """When the object was last written: its newest managedFields entry, else its creation."""
    writes = [as_time(entry.get("time")) for entry in dicts(meta(obj).get("managedFields"))]
    known = [w for w in writes if w is not None]
    return max(known) if known else as_time(meta(obj).get("creationTimestamp"))


def config_changes(config_maps: Iterable[JsonDict], now: datetime) -> list[ChangeEvidence]:
    """ConfigMaps the pods use that were written recently (metadata only)."""
    changes: list[ChangeEvidence] = []
    for cm in config_maps:
        at = last_write(cm)
        if at is None or now - at > RECENT_CHANGE or at > now:
            continue
        created = as_time(meta(cm).get("creationTimestamp"))
        edited = created is not None and at > created
        changes.append(
            ChangeEvidence(
                at=at,
                kind="config",
                object=ObjectRef(
                    kind="ConfigMap",
                    namespace=meta(cm).get("namespace"),
                    name=str(meta(cm).get("name")),
                ),
                aspects=["data"] if edited else ["created"],
                details=["last written" if edited else "created"],
            )
        )
    return changes


def node_changes(nodes: Iterable[JsonDict], now: datetime) -> list[ChangeEvidence]:
    """Nodes that joined the cluster recently (a replaced node or node pool)."""
    changes: list[ChangeEvidence] = []
    seen: set[str] = set()
    for node in nodes:
        name = str(meta(node).get("name"))
        created = as_time(meta(node).get("creationTimestamp"))
        if name in seen:
            continue
        seen.add(name)
        if created is None or now - created > RECENT_CHANGE or created > now:
            continue
        changes.append(
            ChangeEvidence(
                at=created,
                kind="node",
                object=ObjectRef(kind="Node", name=name),
                aspects=["created"],
                details=["node joined the cluster"],
            )
        )
    return changes


def scaling_changes(events: Iterable[EventEvidence]) -> list[ChangeEvidence]:
    """Autoscaler decisions, from their events."""
    return [
        ChangeEvidence(
            at=event.last_seen,
            kind="scaling",
            object=event.involved,
            aspects=["replicas"],
            details=[clip_detail(event.message)],
        )
        for event in events
        if event.reason == "SuccessfulRescale"
    ]


def secret_changes(events: Iterable[EventEvidence]) -> list[ChangeEvidence]:
    """Secrets written recently, known from events only (a Secret's own, or its source's: an
    ExternalSecret or SealedSecret writes the Secret of the same name by default)."""
    changes: list[ChangeEvidence] = []
    for event in events:
        if event.involved.kind not in SECRET_WRITERS or event.reason not in _SECRET_WRITTEN:
            continue
        source = "" if event.involved.kind == "Secret" else f" by {event.involved.kind}"
        changes.append(
            ChangeEvidence(
                at=event.last_seen or event.first_seen,
                kind="config",
                object=ObjectRef(
                    kind="Secret", namespace=event.involved.namespace, name=event.involved.name
                ),
                aspects=["metadata"],
                details=[clip_detail(f"{event.reason}{source}: {event.message}")],
            )
        )
    return changes


def _healthy(status: JsonDict) -> bool:
    state = as_dict(status.get("state"))
    return (
        bool(status.get("ready")) and "running" in state and not as_int(status.get("restartCount"))
    )


def image_may_move(image: str, pull_policy: Any = None) -> bool:
    """Whether an image reference can resolve to another build on the next pull."""
    if "@" in image:
        return False
    name = image.rsplit("/", 1)[-1]
    tag = name.split(":", 1)[1] if ":" in name else ""
    return tag in ("", "latest") or pull_policy == "Always"


def same_template_lineage(
    history: Iterable[JsonDict], rollouts: Iterable[ChangeEvidence]
) -> dict[str, str]:
    """Each revision object's name mapped to the first revision of its run of revisions that
    differ only in what restarts pods without changing what they run (a config checksum or
    Reloader hash, a ``rollout restart`` stamp). Pods of one run run the same image
    references, so a digest that differs between them was pulled, not rolled out."""
    named = sorted(
        (number, str(meta(obj).get("name")))
        for obj in history
        if (number := revision_of(obj)[0]) is not None
    )
    carried_only = {c.to_revision for c in rollouts if set(c.aspects) <= CARRIER | {RESTART}}
    lineage: dict[str, str] = {}
    first = ""
    for number, name in named:
        if not first or number not in carried_only:
            first = name
        lineage[name] = first
    return lineage


def digest_changes(
    workload: JsonDict | None, pods: Iterable[JsonDict], lineage: dict[str, str] | None = None
) -> list[ChangeEvidence]:
    """An image reference (tag) that resolved to different digests in pods of one revision
    (or of revisions whose templates differ only in a restart stamp or a config hash,
    ``same_template_lineage``), where every pod on one digest is healthy and every pod on
    another is not: the tag was moved to a new build. A digest seen on a single pod proves
    little alone, so the healthy side must be two pods agreeing on their digest, or the tag
    must be one that moves (no tag, ``latest``, or pulled ``Always``) with every failing pod
    newer than every healthy one."""
    lineage = lineage or {}
    groups: dict[tuple[str, str, str], dict[str, list[tuple[bool, datetime | None]]]] = {}
    floating: set[str] = set()
    for pod in pods:
        for spec in dicts(as_dict(pod.get("spec")).get("containers")):
            image = spec.get("image")
            if isinstance(image, str) and image_may_move(image, spec.get("imagePullPolicy")):
                floating.add(image)
        owner = controller_ref(pod, controller_only=True) or {}
        revision = str(owner.get("name") or "")
        revision = lineage.get(revision, revision)
        created = as_time(meta(pod).get("creationTimestamp"))
        for status in dicts(as_dict(pod.get("status")).get("containerStatuses")):
            image, image_id = status.get("image"), status.get("imageID")
            if not isinstance(image, str) or not isinstance(image_id, str) or "@" not in image_id:
                continue
            if "@" in image:
                continue  # pinned by digest: it cannot move
            key = (revision, str(status.get("name")), image)
            digest = image_id.rsplit("@", 1)[-1]
            groups.setdefault(key, {}).setdefault(digest, []).append((_healthy(status), created))
    changes: list[ChangeEvidence] = []
    ref = (
        ObjectRef(
            kind=str(workload.get("kind")),
            namespace=meta(workload).get("namespace"),
            name=str(meta(workload).get("name")),
        )
        if workload is not None
        else None
    )
    for (_, container, image), by_digest in groups.items():
        if len(by_digest) < 2 or ref is None:
            continue
        healthy = {d for d, pods in by_digest.items() if all(ok for ok, _ in pods)}
        failing = {d for d, pods in by_digest.items() if not any(ok for ok, _ in pods)}
        if not healthy or not failing or healthy | failing != set(by_digest):
            continue
        new_times = [t for d in failing for _, t in by_digest[d] if t is not None]
        old_times = [t for d in healthy for _, t in by_digest[d] if t is not None]
        newer = bool(new_times and old_times) and min(new_times) > max(old_times)
        agreeing = max(len(by_digest[d]) for d in healthy) >= 2
        if not agreeing and not (image in floating and newer):
            continue
        changes.append(
            ChangeEvidence(
                at=min(new_times) if new_times else None,
                kind="image-digest",
                object=ref,
                aspects=["digest"],
                details=[
                    clip_detail(
                        f"{container} image {image} now resolves to "
                        f"{', '.join(sorted(d[:19] for d in failing))} (failing); healthy pods "
                        f"run {', '.join(sorted(d[:19] for d in healthy))}"
                    )
                ],
            )
        )
    return changes


def change_timeline(
    *,
    workload: JsonDict | None,
    history: Iterable[JsonDict],
    pods: Iterable[JsonDict],
    config_maps: Iterable[JsonDict],
    nodes: Iterable[JsonDict],
    events: Iterable[EventEvidence],
    now: datetime,
    limits: EvidenceLimits,
) -> tuple[list[ChangeEvidence], int]:
    """Every change found, newest first (undated last), cut to ``limits.max_changes``; also
    the number found, so the caller can say what was cut."""
    pod_list = list(pods)
    found: list[ChangeEvidence] = []
    history_list = list(history)
    rollouts = rollout_changes(workload, history_list) if workload is not None else []
    found += rollouts
    found += digest_changes(workload, pod_list, same_template_lineage(history_list, rollouts))
    found += config_changes(config_maps, now)
    found += node_changes(nodes, now)
    event_list = list(events)
    found += scaling_changes(event_list)
    found += secret_changes(event_list)
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    found.sort(key=lambda c: c.at or epoch, reverse=True)
    return found[: limits.max_changes], len(found)
