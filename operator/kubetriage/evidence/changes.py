"""The change timeline: what changed around an incident's target, and when.

Pure; called by ``kubetriage.evidence.build.build_evidence`` with raw objects (camelCase dicts,
as the API serialises them). An SRE's first question is "what changed?"; the answers here are:

- rollouts: each revision of the workload (Deployment ReplicaSets, StatefulSet/DaemonSet
  ControllerRevisions) compared with the one before it, naming the parts of the pod template
  that differ (image, command, args, env, resources, probes, DNS settings, and config
  checksums such as Helm's ``checksum/config`` pod annotation, which is how a ConfigMap or
  Secret edit shows up in a rollout);
- ConfigMaps the pods use, from metadata only (the last ``managedFields`` write, else the
  creation time); Secrets are never read, so their changes are known only from metadata
  around them: rollouts (checksum annotations; Stakater Reloader's ``STAKATER_<NAME>_SECRET``
  env var or ``last-reloaded-from`` annotation, which name the Secret), and the events of
  the Secret or of what writes it (an ExternalSecret's or SealedSecret's sync);
- nodes created recently (a node pool replacement moves every pod onto fresh nodes);
- autoscaler rescaling events (``SuccessfulRescale``);
- a tag that now points at another image: pods of one revision running the same image
  reference with different digests, where health splits along the digest.

Each entry has its time; the list is newest first and bounded by ``EvidenceLimits``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from kubetriage.evidence.index import SECRET_WRITERS
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_int, as_time, dicts
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ChangeEvidence, EventEvidence
from kubetriage.models.objects import JsonDict, controller_ref, meta
from kubetriage.pod_dns import dns_settings

# A node or ConfigMap written this long before the diagnosis is part of the timeline; older
# writes are the steady state, not a change.
RECENT_CHANGE = timedelta(hours=24)
_REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# Pod-template annotations whose value is a hash of configuration (Helm's checksum/config
# idiom, kustomize/reloader variants): a new value means the configuration changed.
_CONFIG_HASH = re.compile(r"(?i)(checksum|config-?hash|secret-?hash|reloader)")
# ``kubectl rollout restart`` stamps this pod-template annotation with the time: not a hash of
# anything, so a new value changes nothing the pods run. The restart re-reads what the pods
# reference (ConfigMaps, Secrets, a moved tag), which the timeline shows as changes of their
# own (config edits, Secret writes, image digests).
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
# Stakater Reloader restarts a workload when a Secret or ConfigMap it uses changes, by
# writing a hash of it into an env var named after it, or (annotation strategy) this
# pod-template annotation naming it.
_RELOADER_ENV = re.compile(r"^STAKATER_(?P<name>[A-Z0-9_]+)_(?P<kind>SECRET|CONFIGMAP)$")
_RELOADED_FROM = "reloader.stakater.com/last-reloaded-from"
# Pod-template annotations and labels that decide whether and how a pod joins a service mesh
# (its sidecar injected, which control plane, how its traffic is intercepted): Istio's
# sidecar.istio.io/inject and istio.io/rev, Linkerd's linkerd.io/inject and config.linkerd.io/*.
_MESH_KEY = re.compile(
    r"(?i)^(sidecar\.istio\.io/|traffic\.sidecar\.istio\.io/|proxy\.istio\.io/|istio\.io/rev$"
    r"|linkerd\.io/inject$|config\.linkerd\.io/|config\.alpha\.linkerd\.io/)"
)
# Events saying a Secret was (re)written, by the Secret's own controller or its source's.
_SECRET_WRITTEN = frozenset({"Updated", "Created", "Unsealed", "Synced", "SecretSynced"})
_MAX_DETAIL = 160


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _containers(template: JsonDict) -> dict[str, JsonDict]:
    spec = as_dict(template.get("spec"))
    return {
        str(c.get("name")): c
        for c in dicts(spec.get("initContainers")) + dicts(spec.get("containers"))
        if isinstance(c.get("name"), str)
    }


def _env(container: JsonDict) -> dict[str, str]:
    """Env vars by name: plain values as written, references by what they point at (a
    Secret's value is never known, only which key of which Secret)."""
    result: dict[str, str] = {}
    for entry in dicts(container.get("env")):
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        if "value" in entry:
            result[name] = str(entry.get("value"))
        else:
            source = as_dict(entry.get("valueFrom"))
            ref = as_dict(source.get("secretKeyRef")) or as_dict(source.get("configMapKeyRef"))
            kind = "secret" if source.get("secretKeyRef") else "configmap"
            result[name] = f"<{kind} {ref.get('name')}/{ref.get('key')}>" if ref else "<ref>"
    for entry in dicts(container.get("envFrom")):
        ref = as_dict(entry.get("configMapRef")) or as_dict(entry.get("secretRef"))
        if ref.get("name"):
            result[f"envFrom:{ref.get('name')}"] = "<all keys>"
    return result


def _template_diff(
    old: JsonDict, new: JsonDict
) -> tuple[dict[str, list[str]], list[str], list[tuple[str, str]]]:
    """The display lines of each aspect of the pod template that differs (in the order first
    seen), all those lines in order, and the (kind, name) of each ConfigMap or Secret the
    template names as changed (Reloader)."""
    aspects: dict[str, list[str]] = {}
    details: list[str] = []
    configs: list[tuple[str, str]] = []

    def note(aspect: str, detail: str) -> None:
        line = _clip(detail)
        aspects.setdefault(aspect, []).append(line)
        details.append(line)

    before, after = _containers(old), _containers(new)
    for name, container in after.items():
        previous = before.get(name)
        if previous is None:
            note("containers", f"container {name} added")
            continue
        if previous.get("image") != container.get("image"):
            note("image", f"{name} image {previous.get('image')} -> {container.get('image')}")
        for field in ("command", "args"):
            if (previous.get(field) or []) != (container.get(field) or []):
                note(field, f"{name} {field} changed")
        env_before, env_after = _env(previous), _env(container)
        changed = sorted(
            k for k in set(env_before) | set(env_after) if env_before.get(k) != env_after.get(k)
        )
        for match in filter(None, (_RELOADER_ENV.match(k) for k in changed)):
            kind = "Secret" if match["kind"] == "SECRET" else "ConfigMap"
            # Reloader upper-cases the name and turns "-" and "." into "_".
            config_name = match["name"].lower().replace("_", "-")
            configs.append((kind, config_name))
            note("config", f"{kind} {config_name} changed (Reloader)")
        changed = [k for k in changed if not _RELOADER_ENV.match(k)]
        if changed:
            note("env", f"{name} env changed: {', '.join(changed[:6])}")
        if as_dict(previous.get("resources")) != as_dict(container.get("resources")):
            note("resources", f"{name} resources {_resources(previous)} -> {_resources(container)}")
        probes = [p for p in _PROBES if previous.get(p) != container.get(p)]
        if probes:
            note("probes", f"{name} {', '.join(probes)} changed")
    for name in before:
        if name not in after:
            note("containers", f"container {name} removed")
    hashes_before = _config_hashes(old)
    hashes_after = _config_hashes(new)
    changed_hashes = sorted(
        k
        for k in set(hashes_before) | set(hashes_after)
        if hashes_before.get(k) != hashes_after.get(k)
    )
    if changed_hashes:
        note("config", f"pod template annotation {', '.join(changed_hashes[:3])} changed")
    if _annotation(old, RESTARTED_AT) != _annotation(new, RESTARTED_AT):
        note("restart", f"pod template annotation {RESTARTED_AT} changed (kubectl rollout restart)")
    reloaded = _reloaded_from(hashes_after.get(_RELOADED_FROM))
    if reloaded is not None and hashes_before.get(_RELOADED_FROM) != hashes_after.get(
        _RELOADED_FROM
    ):
        configs.append(reloaded)
        note("config", f"{reloaded[0]} {reloaded[1]} changed (Reloader)")
    mesh_before, mesh_after = _mesh_settings(old), _mesh_settings(new)
    for key in sorted(k for k in set(mesh_before) | set(mesh_after)):
        if mesh_before.get(key) != mesh_after.get(key):
            was, now = mesh_before.get(key, "unset"), mesh_after.get(key, "unset")
            note("mesh", f"pod template {key} {was} -> {now}")
    # The priority class decides which scoped ResourceQuotas count the pods (and whom they
    # may preempt): a change of it can get the new pods refused where the old ones were not.
    classes = [as_dict(t.get("spec")).get("priorityClassName") or "unset" for t in (old, new)]
    if classes[0] != classes[1]:
        note("priority", f"priorityClassName {classes[0]} -> {classes[1]}")
    dns = [dns_settings(as_dict(t.get("spec"))) for t in (old, new)]  # ``kubetriage.pod_dns``
    for key in sorted(k for k in set(dns[0]) | set(dns[1]) if dns[0].get(k) != dns[1].get(k)):
        note("dns", f"{key} {dns[0].get(key, 'unset')} -> {dns[1].get(key, 'unset')}")
    accounts = [as_dict(t.get("spec")).get("serviceAccountName") or "default" for t in (old, new)]
    if accounts[0] != accounts[1]:
        note("serviceAccount", f"serviceAccountName {accounts[0]} -> {accounts[1]}")
    old_volumes = {_volume_source(v) for v in dicts(as_dict(old.get("spec")).get("volumes"))}
    new_volumes = {_volume_source(v) for v in dicts(as_dict(new.get("spec")).get("volumes"))}
    if old_volumes != new_volumes:
        note("volumes", "volumes changed: " + ", ".join(sorted(new_volumes ^ old_volumes))[:120])
    return aspects, details, configs


def _reloaded_from(value: str | None) -> tuple[str, str] | None:
    """The kind and name in Reloader's ``last-reloaded-from`` annotation (JSON)."""
    if not value:
        return None
    try:
        body = json.loads(value)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return None
    kind = "Secret" if str(body.get("type", "")).upper() == "SECRET" else "ConfigMap"
    return kind, body["name"]


def _volume_source(volume: JsonDict) -> str:
    for key in ("configMap", "secret", "persistentVolumeClaim"):
        source = as_dict(volume.get(key))
        name = source.get("name") or source.get("secretName") or source.get("claimName")
        if source:
            return f"{key} {name}"
    return f"volume {volume.get('name')}"


def _resources(container: JsonDict) -> str:
    resources = as_dict(container.get("resources"))
    parts = []
    for section in ("requests", "limits"):
        values = as_dict(resources.get(section))
        if values:
            parts.append(section + " " + ",".join(f"{k}={v}" for k, v in sorted(values.items())))
    return "; ".join(parts) or "none"


def _mesh_settings(template: JsonDict) -> dict[str, str]:
    """The pod template's service-mesh settings (``_MESH_KEY``), from its annotations and
    labels."""
    metadata = as_dict(template.get("metadata"))
    found = {**as_dict(metadata.get("labels")), **as_dict(metadata.get("annotations"))}
    return {str(k): str(v) for k, v in found.items() if isinstance(k, str) and _MESH_KEY.search(k)}


def _annotation(template: JsonDict, key: str) -> str | None:
    value = as_dict(as_dict(template.get("metadata")).get("annotations")).get(key)
    return None if value is None else str(value)


def _config_hashes(template: JsonDict) -> dict[str, str]:
    annotations = as_dict(as_dict(template.get("metadata")).get("annotations"))
    return {
        str(k): str(v)
        for k, v in annotations.items()
        if isinstance(k, str) and _CONFIG_HASH.search(k)
    }


def revision_of(obj: JsonDict) -> tuple[int | None, JsonDict]:
    """A ReplicaSet's or ControllerRevision's revision number and pod template."""
    if obj.get("kind") == "ControllerRevision":
        template = as_dict(as_dict(as_dict(obj.get("data")).get("spec")).get("template"))
        return as_int(obj.get("revision")), template
    number = as_int(as_dict(meta(obj).get("annotations")).get(_REVISION_ANNOTATION))
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
        aspects, details, configs = _template_diff(old, new)
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
                    for kind, name in dict.fromkeys(configs)
                ],
            )
        )
    return changes


def recent_rollouts(
    workload: JsonDict, history: Iterable[JsonDict], limit: int
) -> list[ChangeEvidence]:
    """The workload's last ``limit`` rollouts (``rollout_changes``), newest first."""
    return rollout_changes(workload, history)[-limit:][::-1]


def _last_write(obj: JsonDict) -> datetime | None:
    writes = [as_time(entry.get("time")) for entry in dicts(meta(obj).get("managedFields"))]
    known = [w for w in writes if w is not None]
    return max(known) if known else as_time(meta(obj).get("creationTimestamp"))


def config_changes(config_maps: Iterable[JsonDict], now: datetime) -> list[ChangeEvidence]:
    """ConfigMaps the pods use that were written recently (metadata only)."""
    changes: list[ChangeEvidence] = []
    for cm in config_maps:
        at = _last_write(cm)
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
            details=[_clip(event.message)],
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
                details=[_clip(f"{event.reason}{source}: {event.message}")],
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


def digest_changes(workload: JsonDict | None, pods: Iterable[JsonDict]) -> list[ChangeEvidence]:
    """An image reference (tag) that resolved to different digests in pods of one revision,
    where every pod on one digest is healthy and every pod on another is not: the tag was
    moved to a new build. A digest seen on a single pod proves little alone, so the healthy
    side must be two pods agreeing on their digest, or the tag must be one that moves (no
    tag, ``latest``, or pulled ``Always``) with every failing pod newer than every healthy
    one."""
    groups: dict[tuple[str, str, str], dict[str, list[tuple[bool, datetime | None]]]] = {}
    floating: set[str] = set()
    for pod in pods:
        for spec in dicts(as_dict(pod.get("spec")).get("containers")):
            image = spec.get("image")
            if isinstance(image, str) and image_may_move(image, spec.get("imagePullPolicy")):
                floating.add(image)
        owner = controller_ref(pod, controller_only=True) or {}
        revision = str(owner.get("name") or "")
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
                    _clip(
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
    if workload is not None:
        found += rollout_changes(workload, history)
    found += digest_changes(workload, pod_list)
    found += config_changes(config_maps, now)
    found += node_changes(nodes, now)
    event_list = list(events)
    found += scaling_changes(event_list)
    found += secret_changes(event_list)
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    found.sort(key=lambda c: c.at or epoch, reverse=True)
    return found[: limits.max_changes], len(found)
