"""What a pod's application log says about its configuration, traced to the object it
implicates: the ConfigMap or Secret a complaint about a missing variable or file points at
(the source feeding the named variable, the one a missing file would be mounted from, the only
envFrom source), the one optional source that no longer exists, a key of the ConfigMap one
edit from the variable asked for (renamed or misspelt on one side), the one mounted ConfigMap
whose file kind a restarting container's parser rejects, and a host that does not resolve, set
in an env value, one edit from a Service that exists. Read by the config-missing rule.

Pure functions of evidence models; the log words are ``kubetriage.analyzers.log_signatures``'
and ``kubetriage.dns_errors``'.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from kubetriage.analyzers.log_signatures import (
    CONFIG_PARSE_LOGS,
    CONFIG_VARIABLE_GROUPS,
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.support import LogHit, grep_logs, item, logs_of, workload_ref
from kubetriage.dns_errors import DNS_LOG
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import ConfigReference, PodEvidence

# How alike two names must be (difflib ratio) to be one name misspelt: a ConfigMap key and
# the variable the application asks for; a host that does not resolve and a Service.
SIMILAR_KEY = 0.75
SIMILAR_HOST = 0.8


def log_config_target(evidence: Evidence, pod: PodEvidence, hit: LogHit) -> ObjectRef | None:
    """The ConfigMap/Secret a log complaint points at: the one feeding the named variable,
    else the one a missing file would be mounted from, else the only envFrom source."""
    variable = next((hit.match[g] for g in CONFIG_VARIABLE_GROUPS if hit.match[g]), None)
    refs = [r for r in pod.config_refs if r.name != "kube-root-ca.crt"]
    if variable:
        for ref in refs:
            if ref.via.split()[-1:] == [variable] or ref.key == variable:
                return ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
    path = hit.match["path"] or hit.match["path2"]
    volumes = [r for r in refs if r.via.startswith("volume")]
    if path and len(volumes) == 1:
        return ObjectRef(kind=volumes[0].kind, namespace=pod.namespace, name=volumes[0].name)
    env_from = [r for r in refs if r.via.startswith("envFrom")]
    if variable and len(env_from) == 1:
        return ObjectRef(kind=env_from[0].kind, namespace=pod.namespace, name=env_from[0].name)
    if len(refs) == 1:
        return ObjectRef(kind=refs[0].kind, namespace=pod.namespace, name=refs[0].name)
    return workload_ref(evidence, pod)


def unparsable_mount(evidence: Evidence, pod: PodEvidence) -> tuple[ObjectRef, str, LogHit] | None:
    """The one ConfigMap a restarting container of the pod mounts as a volume, the key of it
    whose file kind the container's log says does not parse, and that log line."""
    volumes = {
        r.name
        for r in pod.config_refs
        if r.kind == "ConfigMap" and r.via.startswith("volume") and r.name != "kube-root-ca.crt"
    }
    if len(volumes) != 1:
        return None
    name = next(iter(volumes))
    keys = evidence.config_maps.get(name) or []
    for container in pod.containers:
        if container.init or container.restart_count == 0:
            continue
        for log in logs_of(evidence, pod, container.name):
            for key in keys:
                pattern = CONFIG_PARSE_LOGS.get("." + key.rsplit(".", 1)[-1].lower())
                hits = grep_logs([log], pattern, limit=1) if pattern else []
                if hits:
                    return (
                        ObjectRef(kind="ConfigMap", namespace=pod.namespace, name=name),
                        key,
                        hits[0],
                    )
    return None


def absent_optional_source(pod: PodEvidence, *, file: bool) -> ConfigReference | None:
    """The one optional ConfigMap or Secret the pod references that does not exist, as a
    volume when the complaint is about a file, else as env: the kubelet starts the container
    without it, so its settings are simply not there."""
    absent = [
        r
        for r in pod.config_refs
        if r.optional and r.exists is False and r.via.startswith("volume") == file
    ]
    return absent[0] if len(absent) == 1 else None


def near_miss_key(evidence: Evidence, target: ObjectRef | None, wanted: str | None) -> str | None:
    """A key of the ConfigMap the application reads that nearly matches the variable it says
    is missing: the key was renamed or misspelt on one side."""
    if target is None or wanted is None or target.kind != "ConfigMap":
        return None
    keys = evidence.config_maps.get(target.name)
    if not keys or wanted in keys:
        return None
    scored = [(SequenceMatcher(None, wanted.lower(), k.lower()).ratio(), k) for k in keys]
    ratio, key = max(scored)
    return key if ratio >= SIMILAR_KEY else None


def misspelt_hosts(evidence: Evidence, pod: PodEvidence) -> list[tuple[ObjectRef, EvidenceItem]]:
    """A host that does not resolve, set in an env value, and one edit away from a Service
    that exists: the value is wrong, not the dependency."""
    found: list[tuple[ObjectRef, EvidenceItem]] = []
    names = [s.name for s in evidence.services]
    for hit in grep_logs(logs_of(evidence, pod), DNS_LOG, limit=5):
        for host in hosts_in(hit.line):
            if service_for_host(host, evidence.services) is not None:
                continue
            first = host.split(".")[0]
            close = [
                n
                for n in names
                if n != first and SequenceMatcher(None, n, first).ratio() >= SIMILAR_HOST
            ]
            if not close:
                continue
            for container in pod.containers:
                var = next((k for k, v in container.env.items() if first in v), None)
                if var is None:
                    continue
                ref = next(
                    (r for r in pod.config_refs if r.via.split()[-1:] == [var]),
                    None,
                )
                target = (
                    ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
                    if ref
                    else workload_ref(evidence, pod)
                )
                if target is not None:
                    found.append(
                        (
                            target,
                            item(
                                hit.source,
                                f"{hit.line.strip()[:160]} (env {var} names {first}; the "
                                f"Service is {close[0]})",
                            ),
                        )
                    )
                    return found
    return found
