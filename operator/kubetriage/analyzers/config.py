"""Missing configuration files: an application that cannot open a file under a path where a
ConfigMap or Secret is mounted is missing that object's key (or the object itself), not
broken: the fix is the ConfigMap or Secret, even when a rollout is what surfaced it.

"open /etc/app/app.yaml: no such file or directory", Node's "ENOENT ... '/etc/app/x'",
Python's FileNotFoundError, Java's FileNotFoundException and .NET's "Could not find file
'/etc/app/x'" are matched to the container's config mounts
(``ContainerEvidence.config_mounts``); the file name under a directory mount is the missing
key, which the ConfigMap's key list confirms. Of the sources a projected volume merges into
one directory, the file is not that of a ConfigMap known to hold it.

A file the application cannot open outside every config mount, whose name is a key of a
ConfigMap the container mounts elsewhere, is that mount's path: the workload mounts the right
ConfigMap at the wrong place (fixed in the workload, not the ConfigMap).

A ``subPath`` mount of a ConfigMap volume whose key the ConfigMap does not hold (no ``items``
mapping) is decided from the objects alone: the kubelet creates an empty directory where the
file should be, so a failing container there lacks that key, whatever its log says ("Is a
directory", EISDIR, IsADirectoryError naming the path only confirm it).

Missing values, the same way: an application that says a setting is missing ("Missing
`secret_key_base`", "DATABASE_URL is not set", Python's ``KeyError: 'API_TOKEN'``) while the
env var that carries it comes from a ConfigMap or Secret key lacks that key there, above all
when the reference is optional (the pod starts, without the variable). The object is named
by the pod spec; a Secret's data is never read.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.mounts import mount_for
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
    logs_of,
    pod_source,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import (
    ConfigMount,
    ConfigReference,
    ContainerEvidence,
    PodEvidence,
)
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a config-mounted-file finding is, by the evidence that earns it."""

    missing_file: float = 0.8  # the application cannot open a file under a config mount
    restarting_bonus: float = 0.05  # ... and the container restarts
    no_key_bonus: float = 0.07  # the mounted ConfigMap has no key of that file's name
    cap: float = 0.92  # the most a config-mounted-file finding claims
    wrong_mount_path: float = 0.78  # the file it cannot open is a key of a ConfigMap the
    # container mounts under another directory
    subpath_key_absent: float = 0.9  # a failing container mounts, by subPath, a key its
    # ConfigMap does not hold (the kubelet mounts an empty directory there): a referenced key
    # that does not exist, as sure as config-missing's own absent key
    directory_log_bonus: float = 0.02  # ... and its log finds a directory at that path
    missing_value: float = 0.78  # the app reports a setting empty that an env var takes from a key
    missing_value_key_absent: float = 0.86  # ... and the key is known absent (or optional)


CONFIDENCE: Final = _Confidence()

_FILE = r"/[\w./@-]+"
MISSING_FILE = re.compile(
    r"(?i)("
    rf"(?:open|stat|read|reading|load|loading|cannot find|could not (?:open|read|find|load))\s+"
    rf"(?:file\s+|config(?:uration)?\s+(?:file\s+)?)?[\"'`]?(?P<p1>{_FILE})[\"'`]?:?\s*"
    r"(?:no such file or directory|ENOENT|not found|does not exist|is missing)"
    rf"|ENOENT[^'\"\n]*?['\"](?P<p2>{_FILE})['\"]"
    rf"|No such file or directory: ['\"](?P<p3>{_FILE})['\"]"
    rf"|FileNotFoundException: (?P<p4>{_FILE}) \(No such file"
    # .NET: FileNotFoundException "Could not find file '/x'", DirectoryNotFoundException
    # "Could not find a part of the path '/x/y'".
    rf"|Could not find (?:file|a part of the path) ['\"](?P<p5>{_FILE})['\"]"
    # An application's own words for a file it looked for: "password file /x not found",
    # "key file '/x' does not exist".
    rf"|\bfile\s+[\"'`]?(?P<p6>{_FILE})[\"'`]?\s+(?:not found|does not exist|is missing)"
    r")"
)

_PATH_GROUPS: Final = ("p1", "p2", "p3", "p4", "p5", "p6")


def _projected_source(
    located: tuple[ConfigMount, str | None], mounts: list[ConfigMount], evidence: Evidence
) -> tuple[ConfigMount, str | None]:
    """Of the sources a projected volume merges into one directory, the one that should hold
    the missing file: a ConfigMap known to hold that key does not lack it, so the file is
    another source's (one known to lack it first)."""
    mount, key = located
    if key is None or mount.sub_path is not None or key in mount.items.values():
        # No file named, one key mounted by subPath, or the source whose items write it.
        return located
    sharing = [m for m in mounts if m.path == mount.path and m.sub_path is None]
    lacking = [
        m
        for m in sharing
        if not (m.kind == "ConfigMap" and key in evidence.config_maps.get(m.name, []))
    ]
    known_absent = [m for m in lacking if m.kind == "ConfigMap" and m.name in evidence.config_maps]
    chosen = next(iter(known_absent or lacking), mount)
    return chosen, key


def check_mounted_config(evidence: Evidence) -> list[Finding]:
    found: dict[str, tuple[ObjectRef, float, list[EvidenceItem], dict[str, str]]] = {}
    for pod in evidence.pods:
        for container in pod.containers:
            if not container.config_mounts:
                continue
            for hit in grep_logs(logs_of(evidence, pod, container.name), MISSING_FILE, limit=3):
                path = next((hit.match[g] for g in _PATH_GROUPS if hit.match[g]), None)
                located = mount_for(path, container.config_mounts) if path else None
                if located is None:
                    continue
                mount, key = _projected_source(located, container.config_mounts, evidence)
                target = ObjectRef(kind=mount.kind, namespace=pod.namespace, name=mount.name)
                restarting = container.restart_count > 0
                confidence = CONFIDENCE.missing_file + (
                    CONFIDENCE.restarting_bonus if restarting else 0.0
                )
                facts = [
                    item(hit.source, hit.line),
                    item(
                        pod_source(pod),
                        f"{container.name} mounts {mount.kind} {mount.name} at {mount.path}",
                    ),
                ]
                params: dict[str, str] = {}
                keys = evidence.config_maps.get(mount.name) if mount.kind == "ConfigMap" else None
                if key:
                    params["key"] = key
                    if keys is not None and key not in keys:
                        confidence += CONFIDENCE.no_key_bonus
                        facts.append(
                            item(
                                f"configmap/{pod.namespace}/{mount.name}",
                                f"has no key {key} (keys: {', '.join(keys[:8]) or 'none'})",
                            )
                        )
                _, best, old_facts, old_params = found.get(target.key(), (target, 0.0, [], {}))
                found[target.key()] = (
                    target,
                    max(best, confidence),
                    old_facts + [f for f in facts if f not in old_facts],
                    {**params, **old_params},
                )
    return [
        make_finding(
            "config-mounted-file",
            Category.CONFIG_MISSING,
            min(confidence, CONFIDENCE.cap),
            prose.narrative(
                f"{prose.obj(target)} lacks "
                + (f"the file {params['key']}" if "key" in params else "a file")
                + " the application reads",
                f"add {params['key']} to {target.name}"
                if "key" in params
                else f"fix {target.name}",
                because=[
                    prose.claim("The application cannot open a file it needs", facts[0]),
                    prose.claim(f"That path is where {prose.obj(target)} is mounted", facts[1]),
                ],
            ),
            facts,
            Action.FIX_CONFIG,
            target,
            params,
        )
        for target, confidence, facts, params in found.values()
    ]


def check_mount_path(evidence: Evidence) -> list[Finding]:
    found: dict[str, Finding] = {}
    for pod in evidence.pods:
        target = workload_ref(evidence, pod)
        if target is None:
            continue
        for container in pod.containers:
            for hit in grep_logs(logs_of(evidence, pod, container.name), MISSING_FILE, limit=3):
                path = next((hit.match[g] for g in _PATH_GROUPS if hit.match[g]), None)
                if path is None or mount_for(path, container.config_mounts) is not None:
                    continue
                name = path.rstrip("/").rsplit("/", 1)[-1]
                mount = next(
                    (
                        m
                        for m in container.config_mounts
                        if m.kind == "ConfigMap"
                        and m.sub_path is None
                        and name in (evidence.config_maps.get(m.name) or [])
                    ),
                    None,
                )
                if mount is None:
                    continue
                wanted = path.rsplit("/", 1)[0] or "/"
                facts = [
                    item(hit.source, hit.line),
                    item(
                        pod_source(pod),
                        f"{container.name} mounts ConfigMap {mount.name} (key {name}) at "
                        f"{mount.path}",
                    ),
                ]
                confidence = CONFIDENCE.wrong_mount_path + (
                    CONFIDENCE.restarting_bonus if container.restart_count > 0 else 0.0
                )
                finding = make_finding(
                    "config-mount-path",
                    Category.CONFIG_MISSING,
                    confidence,
                    prose.narrative(
                        f"{prose.obj(target)} mounts ConfigMap {mount.name} where the "
                        "application does not read it",
                        f"mount it at {wanted}",
                        because=[
                            prose.claim(f"The application cannot open {path}", facts[0]),
                            prose.claim(
                                f"ConfigMap {mount.name} holds it as key {name}, but the "
                                f"container mounts it at {mount.path}",
                                facts[1],
                            ),
                        ],
                    ),
                    facts,
                    Action.FIX_CONFIG,
                    target,
                    {"key": name, "mountPath": mount.path},
                )
                kept = found.get(target.key())
                if kept is None or kept.confidence < finding.confidence:
                    found[target.key()] = finding
    return list(found.values())


# The application finding a directory where it expected a file (libc, Node, Python, Go, Java).
IS_A_DIRECTORY = re.compile(r"(?i)\bis a directory\b|\bEISDIR\b|IsADirectoryError")


def _failing(container: ContainerEvidence) -> bool:
    """Whether a container is not serving: restarting, waiting, or not ready."""
    return (
        container.restart_count > 0
        or container.state.state in ("waiting", "terminated")
        or container.ready is False
    )


def _maps_items(pod: PodEvidence, mount: ConfigMount) -> bool:
    """Whether the pod's volume of that ConfigMap maps keys to paths (``items``): a subPath
    then names an item's path, not a key."""
    return any(
        r.kind == mount.kind and r.name == mount.name and r.via.startswith("volume") and r.key
        for r in pod.config_refs
    )


def check_subpath_key(evidence: Evidence) -> list[Finding]:
    found: dict[str, Finding] = {}
    for pod in evidence.pods:
        for container in pod.containers:
            if not _failing(container):
                continue
            for mount in container.config_mounts:
                if mount.sub_path is None or mount.kind != "ConfigMap":
                    continue
                keys = evidence.config_maps.get(mount.name)
                key = mount.sub_path.split("/")[0]
                if keys is None or not key or key in keys or _maps_items(pod, mount):
                    continue
                target = ObjectRef(kind="ConfigMap", namespace=pod.namespace, name=mount.name)
                facts = [
                    item(
                        pod_source(pod),
                        f"{container.name} mounts key {key} of ConfigMap {mount.name} at "
                        f"{mount.path} (subPath)",
                    ),
                    item(
                        f"configmap/{pod.namespace}/{mount.name}",
                        f"has no key {key} (keys: {', '.join(keys[:8]) or 'none'})",
                    ),
                ]
                confidence = CONFIDENCE.subpath_key_absent
                seen = [
                    h
                    for h in grep_logs(logs_of(evidence, pod, container.name), IS_A_DIRECTORY)
                    if mount.path in h.line
                ]
                if seen:
                    confidence += CONFIDENCE.directory_log_bonus
                    facts.insert(0, item(seen[0].source, seen[0].line))
                finding = make_finding(
                    "config-subpath-key",
                    Category.CONFIG_MISSING,
                    min(confidence, CONFIDENCE.cap),
                    prose.narrative(
                        f"{prose.obj(target)} lacks the key {key} a container mounts",
                        f"add {key} to {mount.name}",
                        because=[
                            prose.claim(
                                f"Container {container.name} mounts key {key} by subPath "
                                f"at {mount.path}",
                                facts[-2],
                            ),
                            prose.claim(
                                f"{prose.obj(target)} has no such key, so the kubelet mounts an "
                                "empty directory there",
                                facts[-1],
                            ),
                        ],
                    ),
                    facts,
                    Action.FIX_CONFIG,
                    target,
                    {"key": key},
                )
                kept = found.get(target.key())
                if kept is None or kept.confidence < finding.confidence:
                    found[target.key()] = finding
    return list(found.values())


# A line saying a setting has no value; the setting's name is matched separately.
MISSING_VALUE = re.compile(
    r"(?i)(missing|not set|is required|must be (set|provided)|undefined|is empty|"
    r"no value|KeyError|not configured|not defined|required (env|environment|config)|"
    # a null argument: .NET's ArgumentNullException ("Value cannot be null. (Parameter
    # 'connectionString')"), Java's "must not be null", "null or empty"
    r"cannot be null|must not be null|null or empty|cannot be empty|must not be empty)"
)


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _names_setting(line: str, names: list[str]) -> bool:
    """Whether a log line names one of the settings (``SECRET_KEY_BASE`` and
    ``secret_key_base`` and ``secretKeyBase`` are one setting)."""
    words = {_normal(w) for w in re.findall(r"[A-Za-z][\w.-]*", line)}
    return any(_normal(n) in words for n in names if len(_normal(n)) >= 4)


def _prefixed_variable(ref: ConfigReference, line: str) -> tuple[str, str] | None:
    """(variable, key) when ``ref`` is an ``envFrom`` source with a prefix and the line names
    a variable of that prefix (``REDIS_PASSWORD`` from prefix ``REDIS_``: key ``PASSWORD``)."""
    via = ref.via.split(" ", 1)
    if via[0] != "envFrom" or len(via) < 2:
        return None
    prefix = via[1]
    for word in re.findall(r"[A-Za-z_][\w]*", line):
        if word.startswith(prefix) and len(word) > len(prefix):
            return word, word[len(prefix) :]
    return None


def _env_references(
    evidence: Evidence, pod: PodEvidence
) -> list[tuple[ConfigReference, str, str, list[LogHit]]]:
    """(reference, variable, key, log lines saying it has no value) of each env variable the
    pod takes from a ConfigMap or Secret key, by name or through a prefixed ``envFrom``."""
    lines = grep_logs(logs_of(evidence, pod), MISSING_VALUE, limit=20)
    found: list[tuple[ConfigReference, str, str, list[LogHit]]] = []
    for ref in pod.config_refs:
        if ref.exists is False:
            continue  # a missing object is the config-missing analyzer's own case
        if ref.via.startswith("env ") and ref.key is not None:
            variable = ref.via.split(" ", 1)[1]
            hits = [h for h in lines if _names_setting(h.line, [variable, ref.key])]
            if hits:
                found.append((ref, variable, ref.key, hits))
            continue
        for hit in lines:
            named = _prefixed_variable(ref, hit.line)
            if named is not None:
                found.append((ref, named[0], named[1], [hit]))
                break
    return found


def check_missing_env(evidence: Evidence) -> list[Finding]:
    findings: dict[str, Finding] = {}
    for pod in evidence.pods:
        for ref, variable, key, hits in _env_references(evidence, pod):
            if ref.key is None:
                # Through a prefixed envFrom: the key is known absent only from a ConfigMap's
                # key list (a Secret's data is never read).
                keys = evidence.config_maps.get(ref.name) if ref.kind == "ConfigMap" else None
                ref = ref.model_copy(
                    update={"key": key, "key_exists": None if keys is None else key in keys}
                )
                if ref.key_exists:
                    continue
            target = ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
            wired = item(
                pod_source(pod),
                f"env {variable} from {ref.kind} {ref.name} key {key}"
                + (f" ({ref.via})" if ref.via.startswith("envFrom") else "")
                + (" (optional)" if ref.optional else ""),
            )
            confidence = CONFIDENCE.missing_value
            if ref.optional or ref.key_exists is False:
                confidence = CONFIDENCE.missing_value_key_absent
            because = [
                prose.claim(
                    "The application reports a setting without a value",
                    item(hits[0].source, hits[0].line),
                ),
                prose.claim(
                    f"That setting comes from key {key} of {prose.obj(target)}"
                    + (
                        ", an optional reference, so the pod starts without it"
                        if ref.optional
                        else ""
                    ),
                    wired,
                ),
            ]
            finding = make_finding(
                "config-missing-value",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"{prose.obj(target)} lacks the key {key} the application needs",
                    f"add {key} to {ref.name}",
                    because=because,
                ),
                [item(hits[0].source, hits[0].line), wired],
                Action.FIX_CONFIG,
                target,
                {"key": key},
            )
            kept = findings.get(target.key())
            if kept is None or kept.confidence < finding.confidence:
                findings[target.key()] = finding
    return list(findings.values())


CONFIG_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("config-mounted-file", (Category.CONFIG_MISSING,), check_mounted_config),
    Analyzer("config-missing-value", (Category.CONFIG_MISSING,), check_missing_env),
    Analyzer("config-subpath-key", (Category.CONFIG_MISSING,), check_subpath_key),
    Analyzer("config-mount-path", (Category.CONFIG_MISSING,), check_mount_path),
)
