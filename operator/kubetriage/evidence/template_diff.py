"""What differs between two revisions' pod templates, aspect by aspect.

Pure; called by ``kubetriage.evidence.changes.rollout_changes`` for each pair of consecutive
revisions. The aspects are the parts of a pod template an SRE asks about when a release
broke something: containers added or removed, image, command, args, env (references by what
they point at, never a Secret's value), resources, probes, config checksums (Helm's
``checksum/config`` idiom), a ``kubectl rollout restart``, Stakater Reloader's markers, the
service-mesh settings, another pod injector's annotations, the priority class, DNS settings,
the service account (and whether its token is mounted), the security settings
(securityContext of the pod and of each container, host ports, AppArmor and seccomp
annotations) and volumes. Each aspect keeps its
own display lines (``ChangeEvidence.aspect_details``).
"""

from __future__ import annotations

import dataclasses
import json
import re

from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.models.objects import RESTARTED_AT, JsonDict
from kubetriage.pod_dns import dns_settings

# Pod-template annotations whose value is a hash of configuration (Helm's checksum/config
# idiom, kustomize/reloader variants): a new value means the configuration changed.
_CONFIG_HASH = re.compile(r"(?i)(checksum|config-?hash|secret-?hash|reloader)")
# ``kubectl rollout restart``'s RESTARTED_AT pod-template annotation holds a time: not a hash of
# anything, so a new value changes nothing the pods run. The restart re-reads what the pods
# reference (ConfigMaps, Secrets, a moved tag), which the timeline shows as changes of their
# own (config edits, Secret writes, image digests).
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
# Pod-template annotations that tell a pod injector other than a mesh's what to add to the
# pod at admission, and how (HashiCorp's Vault Agent Injector: whether the agent runs as a
# sidecar or only as an init container, the secrets it renders, the role it logs in with;
# Dapr's sidecar injector): a change of them changes the containers the new pods run, though
# the template's own containers stay the same.
_INJECTOR_KEY = re.compile(r"(?i)^(vault\.hashicorp\.com/|dapr\.io/)")
# Pod-template annotations that set a container's AppArmor or seccomp profile (the fields'
# predecessors, still honoured by the kubelet and judged by Pod Security Admission).
_PROFILE_ANNOTATION = re.compile(
    r"^(container\.apparmor\.security\.beta\.kubernetes\.io/|seccomp\.security\.alpha\.kubernetes\.io/)"
)
_MAX_DETAIL = 160


def clip_detail(text: str) -> str:
    """``text`` cut to the length of one display line of a change."""
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


@dataclasses.dataclass(frozen=True)
class TemplateDiff:
    """How one pod template differs from the one before it."""

    # The display lines of each aspect that differs, aspects in the order first seen.
    aspects: dict[str, list[str]]
    # All those lines, in the order noted.
    details: list[str]
    # The (kind, name) of each ConfigMap or Secret the template names as changed (Reloader).
    configs: list[tuple[str, str]]


def template_diff(old: JsonDict, new: JsonDict) -> TemplateDiff:
    """What differs between pod templates ``old`` and ``new`` (``TemplateDiff``)."""
    aspects: dict[str, list[str]] = {}
    details: list[str] = []
    configs: list[tuple[str, str]] = []

    def note(aspect: str, detail: str) -> None:
        line = clip_detail(detail)
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
    injection = [_annotations_matching(t, _INJECTOR_KEY) for t in (old, new)]
    for key in sorted(k for k in set(injection[0]) | set(injection[1])):
        if injection[0].get(key) != injection[1].get(key):
            was, now = injection[0].get(key, "unset"), injection[1].get(key, "unset")
            note("injection", f"pod template annotation {key} {was} -> {now}")
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
    # Whether the pods get their API token mounted (unset: they do): a process that calls the
    # API in-cluster reads it from /var/run/secrets/kubernetes.io/serviceaccount.
    tokens = [
        _setting(as_dict(t.get("spec")).get("automountServiceAccountToken")) for t in (old, new)
    ]
    if tokens[0] != tokens[1]:
        note("serviceAccount", f"automountServiceAccountToken {tokens[0]} -> {tokens[1]}")
        if tokens[1] == "false":
            # Its own aspect too, for deciders: the new pods get no API token at all.
            aspects.setdefault("tokenUnmounted", []).append(details[-1])
    security = [_security_settings(t) for t in (old, new)]
    for key in sorted(k for k in set(security[0]) | set(security[1])):
        if security[0].get(key) != security[1].get(key):
            note(
                "security",
                f"{key} {security[0].get(key, 'unset')} -> {security[1].get(key, 'unset')}",
            )
    old_volumes = {_volume_source(v) for v in dicts(as_dict(old.get("spec")).get("volumes"))}
    new_volumes = {_volume_source(v) for v in dicts(as_dict(new.get("spec")).get("volumes"))}
    if old_volumes != new_volumes:
        note("volumes", "volumes changed: " + ", ".join(sorted(new_volumes ^ old_volumes))[:120])
    return TemplateDiff(aspects, details, configs)


def _security_settings(template: JsonDict) -> dict[str, str]:
    """The pod template's security settings as display values, by where they are set: each
    field of the pod's and of each container's securityContext (what Pod Security Admission,
    an OpenShift SCC and the container runtime judge: user, group, fsGroup, capabilities,
    privilege, read-only root, seccomp, AppArmor, SELinux, sysctls), each container's host
    ports, and the profile annotations (``_PROFILE_ANNOTATION``). Host namespaces are DNS
    settings (``kubetriage.pod_dns``), volumes their own aspect."""
    spec = as_dict(template.get("spec"))
    found: dict[str, str] = {}
    contexts = [("pod", as_dict(spec.get("securityContext")))]
    contexts += [
        (name, as_dict(c.get("securityContext"))) for name, c in _containers(template).items()
    ]
    for owner, context in contexts:
        for field, value in context.items():
            found[f"{owner} securityContext.{field}"] = json.dumps(value, sort_keys=True)
    for name, container in _containers(template).items():
        ports = sorted(
            str(p["hostPort"]) for p in dicts(container.get("ports")) if p.get("hostPort")
        )
        if ports:
            found[f"{name} hostPort"] = ",".join(ports)
    annotations = as_dict(as_dict(template.get("metadata")).get("annotations"))
    for key, value in annotations.items():
        if isinstance(key, str) and _PROFILE_ANNOTATION.match(key):
            found[key] = str(value)
    return found


def _setting(value: object) -> str:
    """A pod spec's boolean as written: ``true``, ``false`` or ``unset``."""
    return "unset" if value is None else str(value).lower()


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


def _annotations_matching(template: JsonDict, pattern: re.Pattern[str]) -> dict[str, str]:
    """The pod template's annotations whose key ``pattern`` matches."""
    annotations = as_dict(as_dict(template.get("metadata")).get("annotations"))
    return {
        str(k): str(v) for k, v in annotations.items() if isinstance(k, str) and pattern.search(k)
    }


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
