"""Turn raw Kubernetes objects and log tails into bounded, typed ``Evidence``.

Pure: no I/O, no clock (``now`` is passed in). Called by ``KubeEvidenceCollector`` with what it
read from the API server, and by the case replay with a case file's ``cluster`` and ``logs``;
both hand over objects exactly as the API serialises them (camelCase dicts).

The builder decides what is in scope (the target, its workload found through ownerReferences,
the workload's pods, ReplicaSets, nodes, volumes, Services...), summarises each object into the
models of ``kubetriage.models.evidence`` and cuts every list to ``EvidenceLimits``. Objects come
from clusters in every state, so nothing here trusts a field's presence or type: unusable
objects are skipped and named in ``collection_errors``, and cuts are named in ``truncated``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from kubetriage.evidence.changes import change_timeline
from kubetriage.evidence.dependencies import (
    cluster_dns_named,
    event_texts,
    mentioned_objects,
    named_hosts,
    pod_texts,
    resolve,
    summarise_dependency,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.mounts import config_mounts
from kubetriage.evidence.targets import candidate_targets, focus_containers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import (
    AlertEvidence,
    AutoscalerEvidence,
    ConfigReference,
    ContainerEvidence,
    ContainerState,
    DependencyEvidence,
    EventEvidence,
    Evidence,
    GenericObjectEvidence,
    LogTail,
    NetworkPolicyEvidence,
    NodeEvidence,
    PodCondition,
    PodEvidence,
    ProbeSpec,
    PVCEvidence,
    QuotaEvidence,
    RevisionEvidence,
    ServiceEvidence,
    WorkloadEvidence,
)
from kubetriage.models.incident import Alert
from kubetriage.models.objects import controller_ref, selector_matches, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.networkpolicy import rules_of, selector_of

JsonDict = dict[str, Any]
_T = TypeVar("_T")

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
# Kinds summarised by dedicated code; everything else in scope becomes GenericObjectEvidence.
_DEDICATED_KINDS = frozenset(
    {
        "Pod",
        "ReplicaSet",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ControllerRevision",
        "Event",
        "Node",
        "PersistentVolumeClaim",
        "Service",
        "Endpoints",
        "EndpointSlice",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "ResourceQuota",
        "ConfigMap",
        "Secret",
        "Namespace",
    }
)
# Published into every namespace by the control plane and mounted by every pod through the
# service-account volume; listing it as a dependency would only add noise.
_IMPLICIT_CONFIG_MAPS = frozenset({"kube-root-ca.crt", "openshift-service-ca.crt"})
# Added to every pod by the DefaultTolerationSeconds admission plugin; not a user decision.
_DEFAULT_TOLERATION_KEYS = frozenset(
    {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
)
_NOISY_ANNOTATIONS = frozenset(
    {"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"}
)
_REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


# --- tolerant accessors -------------------------------------------------------------------


def _d(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[JsonDict]:
    return [item for item in _l(value) if isinstance(item, dict)]


def _s(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _i(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _str_map(value: Any, limits: EvidenceLimits, *, drop: Collection[str] = ()) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, raw in _d(value).items():
        text = _s(raw)
        if not isinstance(key, str) or text is None or key in drop:
            continue
        if len(result) >= limits.max_labels:
            break
        result[key] = _clip(text, limits.max_string_length) or ""
    return result


def _kind(obj: JsonDict) -> str:
    return str(obj.get("kind"))


def _display(obj: JsonDict) -> str:
    ns = _ns(obj)
    return f"{_kind(obj)}/{ns}/{_name(obj)}" if ns else f"{_kind(obj)}/{_name(obj)}"


def _ref(obj: JsonDict) -> ObjectRef:
    return ObjectRef(
        kind=_kind(obj),
        name=_name(obj),
        namespace=_ns(obj) or None,
        api_version=_s(obj.get("apiVersion")),
    )


def _obj_key(obj: JsonDict) -> tuple[str, str, str]:
    return (_kind(obj), _ns(obj), _name(obj))


def _ref_key(ref: ObjectRef) -> tuple[str, str, str]:
    return (ref.kind, ref.namespace or "", ref.name)


# --- selectors ----------------------------------------------------------------------------


def _render_selector(selector: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted(_d(selector.get("matchLabels")).items())]
    for expression in _dicts(selector.get("matchExpressions")):
        values = ",".join(v for v in _l(expression.get("values")) if isinstance(v, str))
        parts.append(f"{expression.get('key')} {expression.get('operator')} ({values})")
    return ",".join(parts) if parts else "*"


# --- bookkeeping --------------------------------------------------------------------------


@dataclass
class _Notes:
    errors: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def cut(self, what: str, kept: int, total: int, order: str = "") -> None:
        if total > kept:
            suffix = f", {order}" if order else ""
            self.truncated.append(f"{what}: kept {kept} of {total}{suffix}")


def _bounded(items: list[_T], limit: int, what: str, notes: _Notes, order: str = "") -> list[_T]:
    notes.cut(what, min(limit, len(items)), len(items), order)
    return items[:limit]


def _safe(notes: _Notes, obj: JsonDict, summarise: Callable[[], _T]) -> _T | None:
    """Run one object's summary; a malformed object is skipped, not fatal."""
    try:
        return summarise()
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        notes.error(f"skipped malformed {_display(obj)}: {type(exc).__name__}")
        return None


class _Index:
    """The objects by kind and by (kind, namespace, name), after basic validation."""

    def __init__(self, objects: Iterable[Any], notes: _Notes) -> None:
        self.by_kind: dict[str, list[JsonDict]] = {}
        self.by_key: dict[tuple[str, str, str], JsonDict] = {}
        for position, obj in enumerate(objects):
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("kind"), str)
                or not isinstance(_meta(obj).get("name"), str)
            ):
                notes.error(f"skipped object #{position}: no kind or metadata.name")
                continue
            self.by_kind.setdefault(_kind(obj), []).append(obj)
            self.by_key.setdefault(_obj_key(obj), obj)

    def get(self, kind: str, namespace: str | None, name: str | None) -> JsonDict | None:
        if name is None:
            return None
        return self.by_key.get((kind, namespace or "", name))

    def kind(self, kind: str) -> list[JsonDict]:
        return self.by_kind.get(kind, [])

    def in_namespace(self, kind: str, namespace: str) -> list[JsonDict]:
        return [obj for obj in self.kind(kind) if _ns(obj) == namespace]

    def exists(self, ref: ObjectRef) -> bool:
        if ref.kind == "Namespace":
            return self.get("Namespace", None, ref.name) is not None or any(
                key[1] == ref.name for key in self.by_key
            )
        return self.get(ref.kind, ref.namespace, ref.name) is not None


# --- ownership ----------------------------------------------------------------------------


def _owner(index: _Index, obj: JsonDict) -> JsonDict | None:
    ref = controller_ref(obj)
    if ref is None:
        return None
    owner = index.get(_s(ref.get("kind")) or "", _ns(obj), _s(ref.get("name")))
    if owner is None and ref.get("kind") == "ReplicaSet" and _kind(obj) == "Pod":
        # The ReplicaSet may be missing from a partial snapshot; its Deployment's name is the
        # ReplicaSet's name without the pod-template-hash suffix.
        rs_name = _s(ref.get("name")) or ""
        template_hash = _labels(obj).get("pod-template-hash")
        if template_hash and rs_name.endswith(f"-{template_hash}"):
            return index.get("Deployment", _ns(obj), rs_name[: -len(template_hash) - 1])
    return owner


def _workload_of(index: _Index, obj: JsonDict) -> JsonDict | None:
    """The top-most workload controlling ``obj`` (Pod -> ReplicaSet -> Deployment...)."""
    current = obj
    found: JsonDict | None = obj if _kind(obj) in WORKLOAD_KINDS else None
    for _ in range(4):  # Pod -> ReplicaSet -> Deployment is the deepest built-in chain
        owner = _owner(index, current)
        if owner is None:
            break
        if _kind(owner) in WORKLOAD_KINDS:
            found = owner
        current = owner
    return found


def _same(a: JsonDict | None, b: JsonDict | None) -> bool:
    return a is not None and b is not None and _obj_key(a) == _obj_key(b)


def _owned_by(obj: JsonDict, owner: JsonDict) -> bool:
    ref = controller_ref(obj)
    if ref is None or _ns(obj) != _ns(owner):
        return False
    owner_uid = _meta(owner).get("uid")
    if ref.get("uid") and owner_uid and ref.get("uid") != owner_uid:
        return False
    return ref.get("kind") == _kind(owner) and ref.get("name") == _name(owner)


# --- scope --------------------------------------------------------------------------------


@dataclass
class _Scope:
    target: ObjectRef | None
    target_obj: JsonDict | None
    namespace: str | None
    workload: JsonDict | None
    pods: list[JsonDict]  # all pods in scope, most interesting first
    namespace_wide: bool


def _pod_trouble(pod: JsonDict) -> tuple[int, int]:
    """(troubled, restarts) so that pods in trouble and restarting most sort first."""
    status = _d(pod.get("status"))
    statuses = _dicts(status.get("containerStatuses")) + _dicts(status.get("initContainerStatuses"))
    restarts = sum(_i(cs.get("restartCount")) or 0 for cs in statuses)
    troubled = (
        status.get("phase") not in {"Running", "Succeeded"}
        or bool(status.get("reason"))
        or any(cs.get("ready") is not True for cs in _dicts(status.get("containerStatuses")))
        or any("waiting" in _d(cs.get("state")) for cs in statuses)
        or restarts > 0
    )
    return (1 if troubled else 0, restarts)


def sort_pods(pods: list[JsonDict], first: JsonDict | None = None) -> list[JsonDict]:
    """``first`` (the target pod), then troubled pods, most restarts first, then newest."""
    epoch = datetime.min.replace(tzinfo=UTC)

    def key(pod: JsonDict) -> tuple[int, int, int, float]:
        troubled, restarts = _pod_trouble(pod)
        created = _time(_meta(pod).get("creationTimestamp")) or epoch
        return (0 if _same(pod, first) else 1, -troubled, -restarts, -created.timestamp())

    return sorted(pods, key=key)


def _pod_uses_claim(pod: JsonDict, claim: str) -> bool:
    return any(
        _d(volume.get("persistentVolumeClaim")).get("claimName") == claim
        for volume in _dicts(_d(pod.get("spec")).get("volumes"))
    )


def referenced_config(pod_spec: JsonDict) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod spec refers to."""
    found: set[tuple[str, str]] = set()
    containers = _dicts(pod_spec.get("initContainers")) + _dicts(pod_spec.get("containers"))
    for container in containers:
        for var in _dicts(container.get("env")):
            source = _d(var.get("valueFrom"))
            found.add(("ConfigMap", str(_d(source.get("configMapKeyRef")).get("name"))))
            found.add(("Secret", str(_d(source.get("secretKeyRef")).get("name"))))
        for source in _dicts(container.get("envFrom")):
            found.add(("ConfigMap", str(_d(source.get("configMapRef")).get("name"))))
            found.add(("Secret", str(_d(source.get("secretRef")).get("name"))))
    for volume in _dicts(pod_spec.get("volumes")):
        found.add(("ConfigMap", str(_d(volume.get("configMap")).get("name"))))
        found.add(("Secret", str(_d(volume.get("secret")).get("secretName"))))
        for projected in _dicts(_d(volume.get("projected")).get("sources")):
            found.add(("ConfigMap", str(_d(projected.get("configMap")).get("name"))))
            found.add(("Secret", str(_d(projected.get("secret")).get("name"))))
    for secret in _dicts(pod_spec.get("imagePullSecrets")):
        found.add(("Secret", str(secret.get("name"))))
    return {ref for ref in found if ref[1] != "None"}


def _choose_target(
    index: _Index, target: ObjectRef | None, alerts: list[Alert], notes: _Notes
) -> ObjectRef | None:
    if target is not None:
        if not index.exists(target):
            notes.error(f"target {target.display()} not found")
        return target
    candidates = candidate_targets(None, alerts)
    for candidate in candidates:
        if index.exists(candidate):
            return candidate
    if candidates:
        notes.error("no candidate target exists: " + ", ".join(c.display() for c in candidates[:5]))
        return candidates[0]
    return None


def _resolve_scope(index: _Index, target: ObjectRef | None) -> _Scope:
    target_obj = (
        index.get(target.kind, target.namespace, target.name) if target is not None else None
    )
    namespace = target.namespace if target is not None else None
    if target is not None and target.kind == "Namespace":
        namespace = target.name
    workload: JsonDict | None = None
    pods: list[JsonDict] = []
    all_pods = index.kind("Pod")
    if target_obj is not None:
        kind = _kind(target_obj)
        if kind == "Pod":
            workload = _workload_of(index, target_obj)
            pods = [target_obj]
        elif kind in WORKLOAD_KINDS:
            workload = _workload_of(index, target_obj)
        elif kind == "HorizontalPodAutoscaler":
            ref = _d(_d(target_obj.get("spec")).get("scaleTargetRef"))
            scaled = index.get(_s(ref.get("kind")) or "", _ns(target_obj), _s(ref.get("name")))
            workload = _workload_of(index, scaled) if scaled is not None else None
        elif kind == "Service":
            selector = {
                k: v
                for k, v in _d(_d(target_obj.get("spec")).get("selector")).items()
                if isinstance(v, str)
            }
            pods = [
                p
                for p in all_pods
                if _ns(p) == _ns(target_obj) and service_selects(selector, _labels(p))
            ]
        elif kind == "PersistentVolumeClaim":
            claim = _name(target_obj)
            pods = [p for p in all_pods if _ns(p) == _ns(target_obj) and _pod_uses_claim(p, claim)]
        elif kind == "Node":
            pods = [p for p in all_pods if _d(p.get("spec")).get("nodeName") == _name(target_obj)]
    if target is not None and target.kind in {"ConfigMap", "Secret"}:
        # The object may well be missing (that is the incident); its users are the scope.
        wanted = (target.kind, target.name)
        pods = [
            p
            for p in all_pods
            if _ns(p) == (target.namespace or "") and wanted in referenced_config(_d(p.get("spec")))
        ]
    if target is not None and target.kind in {
        "Service",
        "PersistentVolumeClaim",
        "ConfigMap",
        "Secret",
    }:
        # A workload only when every pod in scope belongs to the same one.
        owners = {_obj_key(w): w for p in pods if (w := _workload_of(index, p)) is not None}
        if len(owners) == 1:
            workload = next(iter(owners.values()))
    namespace_wide = target is None or target.kind == "Namespace"
    if namespace_wide:
        pods = [p for p in all_pods if namespace is None or _ns(p) == namespace]
    if workload is not None:
        owned = [p for p in all_pods if _same(_workload_of(index, p), workload)]
        if not owned:
            selector = _d(_d(workload.get("spec")).get("selector"))
            owned = [
                p
                for p in all_pods
                if _ns(p) == _ns(workload)
                and controller_ref(p) is None
                and selector
                and selector_matches(selector, _labels(p))
            ]
        seen = {_obj_key(p) for p in pods}
        pods = pods + [p for p in owned if _obj_key(p) not in seen]
        namespace = namespace or _ns(workload)
    return _Scope(
        target=target,
        target_obj=target_obj,
        namespace=namespace,
        workload=workload,
        pods=sort_pods(pods, target_obj if target_obj is not None and pods else None),
        namespace_wide=namespace_wide,
    )


# --- containers and pods ------------------------------------------------------------------


def _container_state(raw: Any, limits: EvidenceLimits) -> ContainerState | None:
    state = _d(raw)
    if isinstance(state.get("running"), dict):
        return ContainerState(state="running", started_at=_time(state["running"].get("startedAt")))
    if isinstance(state.get("waiting"), dict):
        waiting = state["waiting"]
        return ContainerState(
            state="waiting",
            reason=_s(waiting.get("reason")),
            message=_clip(_s(waiting.get("message")), limits.max_string_length),
        )
    if isinstance(state.get("terminated"), dict):
        done = state["terminated"]
        return ContainerState(
            state="terminated",
            reason=_s(done.get("reason")),
            message=_clip(_s(done.get("message")), limits.max_string_length),
            exit_code=_i(done.get("exitCode")),
            signal=_i(done.get("signal")),
            started_at=_time(done.get("startedAt")),
            finished_at=_time(done.get("finishedAt")),
        )
    return None


def _probe_handler(probe: JsonDict, limits: EvidenceLimits) -> str:
    if isinstance(probe.get("httpGet"), dict):
        http = probe["httpGet"]
        scheme = "https " if http.get("scheme") == "HTTPS" else ""
        return f"httpGet {scheme}{_s(http.get('path')) or '/'} :{_s(http.get('port'))}"
    if isinstance(probe.get("tcpSocket"), dict):
        return f"tcpSocket :{_s(probe['tcpSocket'].get('port'))}"
    if isinstance(probe.get("grpc"), dict):
        return f"grpc :{_s(probe['grpc'].get('port'))}"
    if isinstance(probe.get("exec"), dict):
        command = " ".join(str(part) for part in _l(probe["exec"].get("command")))
        return _clip(f"exec {command}", limits.max_string_length) or "exec"
    return "unknown"


def _probes(spec: JsonDict, limits: EvidenceLimits) -> list[ProbeSpec]:
    probes: list[ProbeSpec] = []
    for kind, key in (
        ("liveness", "livenessProbe"),
        ("readiness", "readinessProbe"),
        ("startup", "startupProbe"),
    ):
        probe = spec.get(key)
        if not isinstance(probe, dict):
            continue
        probes.append(
            ProbeSpec(
                kind=kind,
                handler=_probe_handler(probe, limits),
                initial_delay_seconds=_i(probe.get("initialDelaySeconds")) or 0,
                period_seconds=_i(probe.get("periodSeconds")) or 10,
                timeout_seconds=_i(probe.get("timeoutSeconds")) or 1,
                failure_threshold=_i(probe.get("failureThreshold")) or 3,
            )
        )
    return probes


def _container(
    spec: JsonDict,
    status: JsonDict | None,
    *,
    init: bool,
    limits: EvidenceLimits,
    notes: _Notes,
    where: str,
) -> ContainerEvidence:
    resources = _d(spec.get("resources"))
    env: dict[str, str] = {}
    plain = [
        e
        for e in _dicts(spec.get("env"))
        if isinstance(e.get("name"), str) and "valueFrom" not in e
    ]
    for var in plain[: limits.max_env_vars]:
        env[var["name"]] = _clip(_s(var.get("value")) or "", limits.max_string_length) or ""
    notes.cut(f"env of {where}", min(len(plain), limits.max_env_vars), len(plain))
    # The argv as far as the spec shows it: a bad flag may sit in command or in args.
    argv = [_s(a) or "" for a in _l(spec.get("command")) + _l(spec.get("args"))]
    notes.cut(f"args of {where}", min(len(argv), limits.max_args), len(argv))
    ports = []
    for port in _dicts(spec.get("ports")):
        number = f"{_s(port.get('containerPort'))}/{_s(port.get('protocol')) or 'TCP'}"
        ports.append(f"{port['name']}:{number}" if isinstance(port.get("name"), str) else number)
    status = status or {}
    ready = status.get("ready")
    started = status.get("started")
    return ContainerEvidence(
        name=_s(spec.get("name")) or "?",
        image=_s(spec.get("image")) or _s(status.get("image")) or "",
        init=init,
        ready=ready if isinstance(ready, bool) else None,
        started=started if isinstance(started, bool) else None,
        restart_count=_i(status.get("restartCount")) or 0,
        state=_container_state(status.get("state"), limits) or ContainerState(state="unknown"),
        last_state=_container_state(status.get("lastState"), limits),
        requests=_str_map(resources.get("requests"), limits),
        limits=_str_map(resources.get("limits"), limits),
        probes=_probes(spec, limits),
        ports=ports,
        env=env,
        args=[_clip(a, limits.max_string_length) or "" for a in argv[: limits.max_args]],
    )


def _containers(
    pod_spec: JsonDict,
    pod_status: JsonDict,
    limits: EvidenceLimits,
    notes: _Notes,
    where: str,
) -> list[ContainerEvidence]:
    result: list[ContainerEvidence] = []
    for spec_key, status_key, init in (
        ("initContainers", "initContainerStatuses", True),
        ("containers", "containerStatuses", False),
    ):
        statuses = {
            cs.get("name"): cs for cs in _dicts(pod_status.get(status_key)) if cs.get("name")
        }
        for spec in _dicts(pod_spec.get(spec_key)):
            container = _container(
                spec,
                statuses.get(spec.get("name")),
                init=init,
                limits=limits,
                notes=notes,
                where=f"{where} container {spec.get('name')}",
            )
            container.config_mounts = config_mounts(pod_spec, spec, limits.max_args)
            result.append(container)
    # Init containers that completed are history; everything else matters more.
    result.sort(key=lambda c: c.init and c.state.state == "terminated" and c.state.exit_code == 0)
    return _bounded(result, limits.max_containers_per_pod, f"containers of {where}", notes)


@dataclass(frozen=True)
class _ConfigLookup:
    index: _Index
    namespace: str
    unavailable_kinds: Collection[str]

    def config_map(self, name: str, key: str | None) -> tuple[bool | None, bool | None]:
        config_map = self.index.get("ConfigMap", self.namespace, name)
        if config_map is None:
            # Absent from a complete ConfigMap list means missing; from a failed list, unknown.
            return (None, None) if "ConfigMap" in self.unavailable_kinds else (False, None)
        if key is None:
            return True, None
        keys = set(_d(config_map.get("data"))) | set(_d(config_map.get("binaryData")))
        return True, key in keys

    def secret(self, name: str) -> bool | None:
        # Secrets are never read; one only counts as existing when handed over by name.
        return True if self.index.get("Secret", self.namespace, name) is not None else None


def _config_refs(
    pod_spec: JsonDict, lookup: _ConfigLookup, limits: EvidenceLimits
) -> list[ConfigReference]:
    refs: list[ConfigReference] = []

    def add(kind: str, name: Any, key: Any, optional: Any, via: str) -> None:
        if not isinstance(name, str) or not name or name in _IMPLICIT_CONFIG_MAPS:
            return
        key_text = key if isinstance(key, str) else None
        if kind == "ConfigMap":
            exists, key_exists = lookup.config_map(name, key_text)
        else:
            exists, key_exists = lookup.secret(name), None
        refs.append(
            ConfigReference(
                kind=kind,
                name=name,
                key=key_text,
                optional=optional is True,
                via=via,
                exists=exists,
                key_exists=key_exists,
            )
        )

    containers = _dicts(pod_spec.get("initContainers")) + _dicts(pod_spec.get("containers"))
    for container in containers:
        for var in _dicts(container.get("env")):
            source = _d(var.get("valueFrom"))
            for kind, ref_key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = _d(source.get(ref_key))
                if ref:
                    via = f"env {var.get('name')}"
                    add(kind, ref.get("name"), ref.get("key"), ref.get("optional"), via)
        for source in _dicts(container.get("envFrom")):
            for kind, ref_key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                ref = _d(source.get(ref_key))
                if ref:
                    add(kind, ref.get("name"), None, ref.get("optional"), "envFrom")
    for volume in _dicts(pod_spec.get("volumes")):
        via = f"volume {volume.get('name')}"
        sources: list[tuple[str, JsonDict, str]] = []
        if isinstance(volume.get("configMap"), dict):
            sources.append(("ConfigMap", volume["configMap"], "name"))
        if isinstance(volume.get("secret"), dict):
            sources.append(("Secret", volume["secret"], "secretName"))
        for projected in _dicts(_d(volume.get("projected")).get("sources")):
            if isinstance(projected.get("configMap"), dict):
                sources.append(("ConfigMap", projected["configMap"], "name"))
            if isinstance(projected.get("secret"), dict):
                sources.append(("Secret", projected["secret"], "name"))
        for kind, source, name_key in sources:
            items = _dicts(source.get("items"))
            if not items:
                add(kind, source.get(name_key), None, source.get("optional"), via)
            for item in items:
                add(kind, source.get(name_key), item.get("key"), source.get("optional"), via)
    for secret in _dicts(pod_spec.get("imagePullSecrets")):
        add("Secret", secret.get("name"), None, False, "imagePullSecrets")
    unique: dict[tuple[str, str, str | None, str], ConfigReference] = {}
    for reference in refs:
        unique.setdefault((reference.kind, reference.name, reference.key, reference.via), reference)
    return list(unique.values())[: limits.max_env_vars]


def _conditions(raw: Any, limits: EvidenceLimits) -> list[PodCondition]:
    result = []
    for condition in _dicts(raw)[: limits.max_conditions]:
        kind, status = _s(condition.get("type")), _s(condition.get("status"))
        if kind is None or status is None:
            continue
        result.append(
            PodCondition(
                type=kind,
                status=status,
                reason=_s(condition.get("reason")),
                message=_clip(_s(condition.get("message")), limits.max_string_length),
            )
        )
    return result


def _toleration(toleration: JsonDict) -> str | None:
    key = _s(toleration.get("key"))
    if key in _DEFAULT_TOLERATION_KEYS and toleration.get("tolerationSeconds") == 300:
        return None
    effect = _s(toleration.get("effect")) or "*"
    if toleration.get("operator") == "Exists":
        return f"{key or '*'}:Exists:{effect}"
    return f"{key}={_s(toleration.get('value')) or ''}:{effect}"


def _pod(
    pod: JsonDict, lookup: _ConfigLookup, limits: EvidenceLimits, notes: _Notes
) -> PodEvidence:
    spec, status, meta = _d(pod.get("spec")), _d(pod.get("status")), _meta(pod)
    owner_ref = controller_ref(pod)
    owner = None
    if owner_ref is not None and isinstance(owner_ref.get("name"), str):
        owner = ObjectRef(
            kind=_s(owner_ref.get("kind")) or "?",
            name=owner_ref["name"],
            namespace=_ns(pod) or None,
            api_version=_s(owner_ref.get("apiVersion")),
        )
    tolerations = [t for tol in _dicts(spec.get("tolerations")) if (t := _toleration(tol))]
    claims = [
        name
        for volume in _dicts(spec.get("volumes"))
        if (name := _s(_d(volume.get("persistentVolumeClaim")).get("claimName")))
    ]
    return PodEvidence(
        name=_name(pod),
        namespace=_ns(pod),
        phase=_s(status.get("phase")),
        reason=_s(status.get("reason")),
        message=_clip(_s(status.get("message")), limits.max_string_length),
        node=_s(spec.get("nodeName")),
        owner=owner,
        labels=_str_map(meta.get("labels"), limits),
        conditions=_conditions(status.get("conditions"), limits),
        containers=_containers(spec, status, limits, notes, f"pod {_name(pod)}"),
        config_refs=_config_refs(spec, lookup, limits),
        pvc_names=claims,
        node_selector=_str_map(spec.get("nodeSelector"), limits),
        tolerations=tolerations[: limits.max_labels],
        has_affinity=bool(_d(spec.get("affinity"))),
        created_at=_time(meta.get("creationTimestamp")),
        deleting=meta.get("deletionTimestamp") is not None,
    )


# --- workload and revisions ---------------------------------------------------------------


def _workload(obj: JsonDict, limits: EvidenceLimits, notes: _Notes) -> WorkloadEvidence:
    spec, status, meta = _d(obj.get("spec")), _d(obj.get("status")), _meta(obj)
    kind = _kind(obj)
    template_spec = _d(_d(spec.get("template")).get("spec"))
    if kind == "DaemonSet":
        desired = _i(status.get("desiredNumberScheduled"))
        ready = _i(status.get("numberReady"))
        available = _i(status.get("numberAvailable"))
        updated = _i(status.get("updatedNumberScheduled"))
        unavailable = _i(status.get("numberUnavailable"))
    elif kind == "Job":
        desired = _i(spec.get("completions")) or _i(spec.get("parallelism"))
        ready = _i(status.get("ready"))
        available = _i(status.get("succeeded"))
        updated = None
        unavailable = _i(status.get("failed"))
    else:
        # Deployment, StatefulSet, ReplicaSet; an absent spec.replicas defaults to 1.
        desired = _i(spec.get("replicas"))
        if desired is None and "replicas" not in spec:
            desired = 1
        ready = _i(status.get("readyReplicas"))
        available = _i(status.get("availableReplicas"))
        updated = _i(status.get("updatedReplicas"))
        unavailable = _i(status.get("unavailableReplicas"))
    annotations = _d(meta.get("annotations"))
    return WorkloadEvidence(
        ref=_ref(obj),
        desired_replicas=desired,
        ready_replicas=ready or 0,
        available_replicas=available or 0,
        updated_replicas=updated or 0,
        unavailable_replicas=unavailable or 0,
        conditions=_conditions(status.get("conditions"), limits),
        selector=_str_map(_d(spec.get("selector")).get("matchLabels"), limits),
        containers=_containers(template_spec, {}, limits, notes, _display(obj)),
        revision=_i(annotations.get(_REVISION_ANNOTATION)),
        generation=_i(meta.get("generation")),
        observed_generation=_i(status.get("observedGeneration")),
        annotations=_str_map(annotations, limits, drop=_NOISY_ANNOTATIONS),
    )


def _images(pod_spec: JsonDict) -> dict[str, str]:
    return {
        c["name"]: _s(c.get("image")) or ""
        for c in _dicts(pod_spec.get("initContainers")) + _dicts(pod_spec.get("containers"))
        if isinstance(c.get("name"), str)
    }


def _revisions(
    index: _Index, workload: JsonDict, limits: EvidenceLimits, notes: _Notes
) -> tuple[list[RevisionEvidence], list[JsonDict]]:
    """The workload's revisions, newest first, and the ReplicaSets (or ControllerRevisions)
    behind them."""
    revisions: list[RevisionEvidence] = []
    replica_sets: list[JsonDict] = []
    kind = _kind(workload)
    if kind == "Deployment":
        current = _i(_d(_meta(workload).get("annotations")).get(_REVISION_ANNOTATION))
        replica_sets = [
            rs for rs in index.in_namespace("ReplicaSet", _ns(workload)) if _owned_by(rs, workload)
        ]
        for rs in replica_sets:
            status = _d(rs.get("status"))
            number = _i(_d(_meta(rs).get("annotations")).get(_REVISION_ANNOTATION))
            if number is None:
                notes.error(f"{_display(rs)} has no revision annotation")
                continue
            revisions.append(
                RevisionEvidence(
                    name=_name(rs),
                    revision=number,
                    images=_images(_d(_d(_d(rs.get("spec")).get("template")).get("spec"))),
                    replicas=_i(status.get("replicas")) or 0,
                    ready_replicas=_i(status.get("readyReplicas")) or 0,
                    available_replicas=_i(status.get("availableReplicas")) or 0,
                    created_at=_time(_meta(rs).get("creationTimestamp")),
                    current=current is not None and number == current,
                )
            )
    elif kind in {"StatefulSet", "DaemonSet"}:
        history = [
            cr
            for cr in index.in_namespace("ControllerRevision", _ns(workload))
            if _owned_by(cr, workload)
        ]
        replica_sets = history
        update_revision = _s(_d(workload.get("status")).get("updateRevision"))
        newest = max((_i(cr.get("revision")) or 0 for cr in history), default=None)
        for cr in history:
            number = _i(cr.get("revision")) or 0
            template = _d(_d(_d(cr.get("data")).get("spec")).get("template"))
            is_current = _name(cr) == update_revision if update_revision else number == newest
            revisions.append(
                RevisionEvidence(
                    name=_name(cr),
                    revision=number,
                    images=_images(_d(template.get("spec"))),
                    created_at=_time(_meta(cr).get("creationTimestamp")),
                    current=is_current,
                )
            )
    revisions.sort(key=lambda r: r.revision, reverse=True)
    return _bounded(revisions, limits.max_revisions, "revisions", notes, "newest first"), (
        replica_sets
    )


# --- events -------------------------------------------------------------------------------


def _event_ref(event: JsonDict) -> tuple[str, str, str] | None:
    involved = _d(event.get("involvedObject")) or _d(event.get("regarding"))
    kind, name = _s(involved.get("kind")), _s(involved.get("name"))
    if kind is None or name is None:
        return None
    # Node events carry no namespace (or "default" in older clusters); nodes are global.
    namespace = "" if kind == "Node" else _s(involved.get("namespace")) or _ns(event)
    return (kind, namespace, name)


def _events(
    index: _Index,
    in_scope: Callable[[tuple[str, str, str]], bool],
    limits: EvidenceLimits,
    notes: _Notes,
) -> list[EventEvidence]:
    """Events about objects in scope, merged by (object, reason, message), newest first."""
    merged: dict[tuple[str, str, str, str, str], EventEvidence] = {}
    for event in index.kind("Event"):
        key = _event_ref(event)
        if key is None or not in_scope(key):
            continue
        summary = _safe(notes, event, partial(_event, event, key, limits))
        if summary is None:
            continue
        dedup = (*key, summary.reason, summary.message)
        seen = merged.get(dedup)
        if seen is None:
            merged[dedup] = summary
            continue
        seen.count += summary.count
        if summary.type == "Warning":
            seen.type = "Warning"
        firsts = [t for t in (seen.first_seen, summary.first_seen) if t is not None]
        lasts = [t for t in (seen.last_seen, summary.last_seen) if t is not None]
        seen.first_seen = min(firsts) if firsts else None
        seen.last_seen = max(lasts) if lasts else None
    epoch = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(merged.values(), key=lambda e: e.last_seen or epoch, reverse=True)
    return _bounded(ordered, limits.max_events, "events", notes, "newest first")


def _event(event: JsonDict, key: tuple[str, str, str], limits: EvidenceLimits) -> EventEvidence:
    series = _d(event.get("series"))
    first = _time(event.get("firstTimestamp")) or _time(event.get("eventTime"))
    last = (
        _time(series.get("lastObservedTime"))
        or _time(event.get("lastTimestamp"))
        or _time(event.get("eventTime"))
        or _time(_meta(event).get("creationTimestamp"))
    )
    count = _i(event.get("count")) or _i(series.get("count")) or _i(event.get("deprecatedCount"))
    source = _s(_d(event.get("source")).get("component")) or _s(event.get("reportingComponent"))
    message = _s(event.get("message")) or _s(event.get("note")) or ""
    return EventEvidence(
        type=_s(event.get("type")) or "Normal",
        reason=_s(event.get("reason")) or "",
        message=_clip(message, limits.max_string_length) or "",
        involved=ObjectRef(kind=key[0], namespace=key[1] or None, name=key[2]),
        count=max(count or 1, 1),
        first_seen=first or last,
        last_seen=last or first,
        source=source or None,
    )


# --- nodes, volumes, services, policies ---------------------------------------------------


def _node_ready(node: JsonDict) -> str:
    for condition in _dicts(_d(node.get("status")).get("conditions")):
        if condition.get("type") == "Ready":
            return _s(condition.get("status")) or "Unknown"
    return "Unknown"


def _node(node: JsonDict, limits: EvidenceLimits) -> NodeEvidence:
    spec, status = _d(node.get("spec")), _d(node.get("status"))
    taints = []
    for taint in _dicts(spec.get("taints")):
        value = _s(taint.get("value"))
        key = _s(taint.get("key")) or "?"
        taints.append(
            f"{key}={value}:{taint.get('effect')}" if value else f"{key}:{taint.get('effect')}"
        )
    return NodeEvidence(
        name=_name(node),
        ready=_node_ready(node),
        conditions=_conditions(status.get("conditions"), limits),
        taints=taints[: limits.max_labels],
        unschedulable=spec.get("unschedulable") is True,
        allocatable=_str_map(status.get("allocatable"), limits),
        capacity=_str_map(status.get("capacity"), limits),
        labels=_str_map(_meta(node).get("labels"), limits),
    )


def _node_troubled(node: JsonDict) -> bool:
    spec = _d(node.get("spec"))
    return (
        _node_ready(node) != "True"
        or bool(_l(spec.get("taints")))
        or bool(spec.get("unschedulable"))
    )


def _pvc(pvc: JsonDict) -> PVCEvidence:
    spec, status = _d(pvc.get("spec")), _d(pvc.get("status"))
    return PVCEvidence(
        name=_name(pvc),
        namespace=_ns(pvc),
        phase=_s(status.get("phase")),
        storage_class=_s(spec.get("storageClassName")),
        requested=_s(_d(_d(spec.get("resources")).get("requests")).get("storage")),
        capacity=_s(_d(status.get("capacity")).get("storage")),
        volume_name=_s(spec.get("volumeName")),
        access_modes=[m for m in _l(spec.get("accessModes")) if isinstance(m, str)],
    )


def _endpoint_counts(index: _Index, service: JsonDict) -> tuple[int | None, int]:
    endpoints = index.get("Endpoints", _ns(service), _name(service))
    if endpoints is not None:
        subsets = _dicts(endpoints.get("subsets"))
        ready = sum(len(_l(s.get("addresses"))) for s in subsets)
        not_ready = sum(len(_l(s.get("notReadyAddresses"))) for s in subsets)
        return ready, not_ready
    slices = [
        s
        for s in index.in_namespace("EndpointSlice", _ns(service))
        if _labels(s).get("kubernetes.io/service-name") == _name(service)
    ]
    if not slices:
        return None, 0
    ready = not_ready = 0
    for endpoint_slice in slices:
        for endpoint in _dicts(endpoint_slice.get("endpoints")):
            # A missing "ready" condition means ready, per the EndpointSlice API.
            if _d(endpoint.get("conditions")).get("ready") is False:
                not_ready += 1
            else:
                ready += 1
    return ready, not_ready


def _service(
    index: _Index, service: JsonDict, unavailable: Collection[str], limits: EvidenceLimits
) -> ServiceEvidence:
    spec = _d(service.get("spec"))
    selector = _str_map(spec.get("selector"), limits)
    ports = []
    for port in _dicts(spec.get("ports")):
        text = f"{_s(port.get('port'))}"
        if port.get("targetPort") is not None:
            text += f"->{_s(port.get('targetPort'))}"
        text += f"/{_s(port.get('protocol')) or 'TCP'}"
        if isinstance(port.get("name"), str):
            text = f"{port['name']}:{text}"
        if port.get("nodePort") is not None:
            text += f" nodePort {_s(port.get('nodePort'))}"
        ports.append(text)
    ready, not_ready = _endpoint_counts(index, service)
    matching: int | None = None
    if selector and "Pod" not in unavailable:
        matching = sum(
            1
            for pod in index.in_namespace("Pod", _ns(service))
            if service_selects(selector, _labels(pod))
        )
    return ServiceEvidence(
        name=_name(service),
        namespace=_ns(service),
        type=_s(spec.get("type")) or "ClusterIP",
        selector=selector,
        ports=ports,
        external_name=_s(spec.get("externalName")),
        ready_endpoints=ready,
        not_ready_endpoints=not_ready,
        matching_pods=matching,
        annotations=_str_map(_meta(service).get("annotations"), limits, drop=_NOISY_ANNOTATIONS),
    )


def _peer(peer: JsonDict) -> str:
    parts = []
    if isinstance(peer.get("namespaceSelector"), dict):
        parts.append(f"ns({_render_selector(peer['namespaceSelector'])})")
    if isinstance(peer.get("podSelector"), dict):
        parts.append(f"pods({_render_selector(peer['podSelector'])})")
    if isinstance(peer.get("ipBlock"), dict):
        block = peer["ipBlock"]
        excepted = [e for e in _l(block.get("except")) if isinstance(e, str)]
        parts.append(f"{block.get('cidr')}" + (f" except {','.join(excepted)}" if excepted else ""))
    return " ".join(parts) or "?"


def _policy_rules(policy: JsonDict, types: list[str], limits: EvidenceLimits) -> list[str]:
    spec = _d(policy.get("spec"))
    rules: list[str] = []
    for direction, key, preposition, peer_key in (
        ("Ingress", "ingress", "from", "from"),
        ("Egress", "egress", "to", "to"),
    ):
        if direction not in types:
            continue
        entries = _dicts(spec.get(key))
        if not entries:
            rules.append(f"{key}: deny all")
        for rule in entries:
            peers = _dicts(rule.get(peer_key))
            peer_text = ", ".join(_peer(p) for p in peers) if peers else "any"
            ports = [
                f":{_s(p.get('port')) or '*'}/{_s(p.get('protocol')) or 'TCP'}"
                for p in _dicts(rule.get("ports"))
            ]
            rules.append(f"{key} {preposition} {peer_text} {' '.join(ports) or 'all ports'}")
    return [
        _clip(r, limits.max_string_length) or "" for r in rules[: limits.max_network_policy_rules]
    ]


def _network_policy(
    policy: JsonDict, pod_labels: list[dict[str, str]], limits: EvidenceLimits
) -> NetworkPolicyEvidence:
    spec = _d(policy.get("spec"))
    selector = _d(spec.get("podSelector"))
    types = [t for t in _l(spec.get("policyTypes")) if isinstance(t, str)]
    if not types:
        # The API defaults policyTypes: Ingress always, Egress when egress rules exist.
        types = ["Ingress"] + (["Egress"] if _l(spec.get("egress")) else [])
    return NetworkPolicyEvidence(
        name=_name(policy),
        namespace=_ns(policy),
        pod_selector=_str_map(selector.get("matchLabels"), limits),
        policy_types=types,
        ingress_rules=len(_l(spec.get("ingress"))),
        egress_rules=len(_l(spec.get("egress"))),
        selects_target=any(selector_matches(selector, labels) for labels in pod_labels),
        rules=_policy_rules(policy, types, limits),
        selector=selector_of(selector),
        ingress=rules_of(spec, "ingress")[: limits.max_network_policy_rules],
        egress=rules_of(spec, "egress")[: limits.max_network_policy_rules],
    )


def _autoscaler(hpa: JsonDict, limits: EvidenceLimits) -> AutoscalerEvidence:
    spec, status = _d(hpa.get("spec")), _d(hpa.get("status"))
    ref = _d(spec.get("scaleTargetRef"))
    target = None
    if isinstance(ref.get("kind"), str) and isinstance(ref.get("name"), str):
        target = ObjectRef(
            kind=ref["kind"],
            name=ref["name"],
            namespace=_ns(hpa) or None,
            api_version=_s(ref.get("apiVersion")),
        )
    return AutoscalerEvidence(
        name=_name(hpa),
        namespace=_ns(hpa),
        target=target,
        min_replicas=_i(spec.get("minReplicas")),
        max_replicas=_i(spec.get("maxReplicas")) or 0,
        current_replicas=_i(status.get("currentReplicas")),
        desired_replicas=_i(status.get("desiredReplicas")),
        conditions=_conditions(status.get("conditions"), limits),
    )


def _quota(quota: JsonDict, limits: EvidenceLimits) -> QuotaEvidence:
    status = _d(quota.get("status"))
    return QuotaEvidence(
        name=_name(quota),
        namespace=_ns(quota),
        hard=_str_map(status.get("hard") or _d(quota.get("spec")).get("hard"), limits),
        used=_str_map(status.get("used"), limits),
    )


# --- other objects ------------------------------------------------------------------------


def _flatten(
    prefix: str, value: Any, out: dict[str, str], limits: EvidenceLimits, depth: int
) -> None:
    if len(out) >= limits.max_labels:
        return
    text = _s(value)
    if text is not None:
        out[prefix] = _clip(text, limits.max_string_length) or ""
    elif isinstance(value, dict) and depth > 0:
        for key, child in value.items():
            if key != "conditions":
                _flatten(f"{prefix}.{key}", child, out, limits, depth - 1)


def _generic(obj: JsonDict, now: datetime, limits: EvidenceLimits) -> GenericObjectEvidence:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    kind = _kind(obj)
    fields: dict[str, str] = {}
    clip = limits.max_string_length
    if kind == "Certificate":
        for key in ("notBefore", "notAfter", "renewalTime"):
            if _s(status.get(key)):
                fields[key] = str(status[key])
        not_after = _time(status.get("notAfter"))
        if not_after is not None:
            fields["expired"] = "true" if not_after <= now else "false"
            fields["expiresInHours"] = str(int((not_after - now).total_seconds() // 3600))
        issuer = _d(spec.get("issuerRef"))
        for key, value in (
            ("secretName", _s(spec.get("secretName"))),
            ("issuer", f"{issuer.get('kind', 'Issuer')}/{issuer.get('name')}" if issuer else None),
            ("commonName", _s(spec.get("commonName"))),
            ("dnsNames", ",".join(n for n in _l(spec.get("dnsNames")) if isinstance(n, str))),
        ):
            if value:
                fields[key] = _clip(value, clip) or ""
    elif kind == "CertificateRequest":
        annotations = _d(_meta(obj).get("annotations"))
        owner = controller_ref(obj) or {}
        certificate = _s(annotations.get("cert-manager.io/certificate-name")) or (
            _s(owner.get("name")) if owner.get("kind") == "Certificate" else None
        )
        issuer = _d(spec.get("issuerRef"))
        for key, value in (
            ("certificate", certificate),
            ("issuer", f"{issuer.get('kind', 'Issuer')}/{issuer.get('name')}" if issuer else None),
            ("failureTime", _s(status.get("failureTime"))),
        ):
            if value:
                fields[key] = _clip(value, clip) or ""
    elif kind == "Ingress":
        backends = []
        for rule in _dicts(spec.get("rules")):
            for path in _dicts(_d(rule.get("http")).get("paths")):
                service = _d(_d(path.get("backend")).get("service"))
                port = _d(service.get("port"))
                backends.append(
                    f"{rule.get('host', '*')}{path.get('path', '/')}"
                    f"->{service.get('name')}:{port.get('number') or port.get('name')}"
                )
        fields["rules"] = _clip(" ".join(backends), clip) or ""
        tls = [_s(t.get("secretName")) or "" for t in _dicts(spec.get("tls"))]
        if tls:
            fields["tlsSecretNames"] = _clip(",".join(tls), clip) or ""
        if _s(spec.get("ingressClassName")):
            fields["ingressClassName"] = str(spec["ingressClassName"])
    elif kind == "Job":
        for key in ("active", "succeeded", "failed", "startTime", "completionTime"):
            if _s(status.get(key)) is not None:
                fields[key] = str(status[key])
        for key in ("completions", "parallelism", "backoffLimit", "activeDeadlineSeconds"):
            if _s(spec.get(key)) is not None:
                fields[key] = str(spec[key])
    elif kind == "CronJob":
        for key in ("schedule", "suspend", "concurrencyPolicy"):
            if _s(spec.get(key)) is not None:
                fields[key] = _s(spec[key]) or ""
        for key in ("lastScheduleTime", "lastSuccessfulTime"):
            if _s(status.get(key)) is not None:
                fields[key] = str(status[key])
        fields["active"] = str(len(_l(status.get("active"))))
    else:
        _flatten("spec", spec, fields, limits, 2)
        _flatten("status", status, fields, limits, 2)
    return GenericObjectEvidence(
        ref=_ref(obj),
        conditions=_conditions(status.get("conditions"), limits),
        fields=dict(list(fields.items())[: limits.max_labels]),
    )


# --- logs ---------------------------------------------------------------------------------


def _clip_bytes(line: str, limit: int) -> tuple[str, bool]:
    """The line cut to ``limit`` UTF-8 bytes (head kept), and whether it was cut."""
    if len(line) * 4 <= limit:  # even four bytes per character would fit
        return line, False
    # Encode at most ``limit`` characters, never the whole of a multi-megabyte line.
    head = line[:limit].encode("utf-8")
    if len(line) <= limit and len(head) <= limit:
        return line, False
    marker = "…[truncated]"
    cut = head[: max(0, limit - len(marker.encode("utf-8")))].decode("utf-8", errors="ignore")
    return cut + marker, True


def bound_log_tail(tail: LogTail, limits: EvidenceLimits) -> LogTail:
    """Keep the newest lines within the line, per-line and per-tail byte limits."""
    source = tail.lines[-limits.max_log_lines :] if limits.max_log_lines else []
    truncated = tail.truncated or len(source) < len(tail.lines)
    kept: list[str] = []
    budget = limits.max_log_tail_bytes
    for raw in reversed(source):  # newest first so the budget keeps the newest
        line, cut = _clip_bytes(raw, limits.max_log_line_bytes)
        size = len(line.encode("utf-8")) + 1
        if size > budget:
            truncated = True
            break
        budget -= size
        truncated = truncated or cut
        kept.append(line)
    kept.reverse()
    return tail.model_copy(update={"lines": kept, "truncated": truncated})


def tail_from_text(
    namespace: str,
    pod: str,
    container: str,
    text: str,
    *,
    previous: bool = False,
    limits: EvidenceLimits,
) -> LogTail:
    """A bounded LogTail from raw log text (newest last), without splitting all of it."""
    # rsplit with maxsplit scans from the end, so a 10 MB log costs only its tail.
    parts = text.rstrip("\n").rsplit("\n", limits.max_log_lines) if text else []
    dropped = len(parts) > limits.max_log_lines
    lines = parts[1:] if dropped else parts
    tail = LogTail(
        namespace=namespace,
        pod=pod,
        container=container,
        previous=previous,
        lines=[line.rstrip("\r") for line in lines],
        truncated=dropped,
    )
    return bound_log_tail(tail, limits)


def _logs(
    logs: list[LogTail],
    pods: list[JsonDict],
    focus: list[str],
    limits: EvidenceLimits,
    notes: _Notes,
) -> list[LogTail]:
    rank = {(_ns(p), _name(p)): position for position, p in enumerate(pods)}

    def key(tail: LogTail) -> tuple[int, int, int]:
        return (
            rank.get((tail.namespace, tail.pod), len(rank)),
            0 if tail.container in focus else 1,
            0 if tail.previous else 1,
        )

    ordered = sorted(logs, key=key)
    return [
        bound_log_tail(t, limits)
        for t in _bounded(ordered, limits.max_log_tails, "log tails", notes, "pods in scope first")
    ]


# --- the builder --------------------------------------------------------------------------


def _alerts(alerts: list[Alert], limits: EvidenceLimits) -> list[AlertEvidence]:
    return [
        AlertEvidence(
            labels=_str_map(alert.labels, limits),
            annotations=_str_map(alert.annotations, limits),
            starts_at=alert.starts_at,
            status=alert.status,
        )
        for alert in alerts[: limits.max_alerts]
    ]


def _summaries(
    objs: Iterable[JsonDict], notes: _Notes, summarise: Callable[[JsonDict], _T]
) -> list[_T]:
    result = []
    for obj in objs:
        summary = _safe(notes, obj, partial(summarise, obj))
        if summary is not None:
            result.append(summary)
    return result


def _env_mentions(pods: list[JsonDict], workload: JsonDict | None) -> set[str]:
    """DNS-label-shaped words in the env values and args of the pods and workload template.

    A Service named in ``EMAIL_API_URL=https://email-api.newsletter.svc...`` is a dependency.
    """
    specs = [_d(p.get("spec")) for p in pods]
    if workload is not None:
        specs.append(_d(_d(_d(workload.get("spec")).get("template")).get("spec")))
    words: set[str] = set()
    for spec in specs:
        for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
            texts = [_s(e.get("value")) or "" for e in _dicts(container.get("env"))]
            texts += [_s(a) or "" for a in _l(container.get("args")) + _l(container.get("command"))]
            for text in texts:
                words.update(m.group(0) for m in _DNS_LABEL.finditer(text.lower()))
    return words


_DEPENDENCY_KINDS = (
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ControllerRevision",
    "Event",
)


def _dependency(
    index: _Index,
    obj: JsonDict,
    sources: list[str],
    objects: list[JsonDict],
    unavailable: Collection[str],
    limits: EvidenceLimits,
) -> DependencyEvidence:
    if _kind(obj) == "Service":
        summary = _service(index, obj, unavailable, limits)
        return summarise_dependency(summary, None, sources, objects, limits)
    return summarise_dependency(None, obj, sources, objects, limits)


def _dependencies(
    index: _Index,
    scope: _Scope,
    pods: list[JsonDict],
    logs: list[LogTail],
    services: list[ServiceEvidence],
    pod_labels: list[dict[str, str]],
    unavailable: Collection[str],
    limits: EvidenceLimits,
    notes: _Notes,
) -> list[DependencyEvidence]:
    """Services the workload names in its env, args, ConfigMaps and log lines, anywhere in
    the objects read, summarised with what stands behind them."""
    namespace = scope.namespace
    if namespace is None:
        return []
    texts = pod_texts(pods[: limits.max_pods], scope.workload)
    lines = [
        (f"log {t.namespace}/{t.pod}/{t.container}", line)
        for t in logs
        if t.namespace == namespace
        for line in t.lines[-limits.max_log_lines :]
    ]
    used = {
        name
        for p in pods
        for kind, name in referenced_config(_d(p.get("spec")))
        if kind == "ConfigMap"
    }
    config_maps = [c for c in index.in_namespace("ConfigMap", namespace) if _name(c) in used]
    # Events of any namespace: a webhook or callee failing a call is named there.
    lines += event_texts(index.kind("Event")[: limits.max_events_fetched])
    hosts = named_hosts(texts + lines, config_maps)
    named = [
        o for kind in ("Service", *WORKLOAD_KINDS) for o in index.in_namespace(kind, namespace)
    ]
    hosts += mentioned_objects(lines, named)
    own = {
        ("Service", namespace, s.name)
        for s in services
        if any(service_selects(s.selector, labels) for labels in pod_labels)
    }
    if scope.workload is not None:
        own.add(_obj_key(scope.workload))
    found: list[DependencyEvidence] = []
    resolved = resolve(hosts, namespace, own)
    certain = cluster_dns_named(hosts)
    for kind, dep_namespace, name, sources in resolved:
        service = index.get(kind, dep_namespace, name)
        if service is None:
            if (dep_namespace, name) in certain and len(found) < limits.max_dependencies:
                # Named by its cluster DNS name but not readable here (tenancy, RBAC): still
                # a flow the workload's own NetworkPolicies can be checked against.
                ref = ObjectRef(kind="Service", namespace=dep_namespace, name=name)
                found.append(DependencyEvidence(ref=ref, named_by=sources[:5], followed=False))
            continue
        if len(found) >= limits.max_dependencies:
            notes.cut("dependencies", len(found), len(resolved))
            break
        objects = [o for kind in _DEPENDENCY_KINDS for o in index.in_namespace(kind, dep_namespace)]
        summary = _safe(
            notes,
            service,
            partial(_dependency, index, service, sources, objects, unavailable, limits),
        )
        if summary is not None:
            found.append(summary)
    return found


def build_evidence(
    objects: list[dict[str, Any]],
    logs: list[LogTail],
    *,
    target: ObjectRef | None,
    alerts: list[Alert],
    title: str,
    description: str | None,
    now: datetime,
    limits: EvidenceLimits,
    unavailable_kinds: Collection[str] = (),
    collection_errors: Iterable[str] = (),
    truncated: Iterable[str] = (),
) -> Evidence:
    """Summarise ``objects`` around ``target`` into bounded Evidence.

    ``target`` None means: the first of ``candidate_targets(None, alerts)`` present in
    ``objects``. ``unavailable_kinds`` names kinds whose listing failed, so their absence means
    "unknown" rather than "missing" (a ConfigMap reference then has ``exists=None``).
    ``collection_errors`` and ``truncated`` notes from the collector are carried over first.
    """
    notes = _Notes(errors=list(collection_errors), truncated=list(truncated))
    index = _Index(objects, notes)
    chosen = _choose_target(index, target, alerts, notes)
    scope = _resolve_scope(index, chosen)
    focus = focus_containers(alerts)
    namespace = scope.namespace

    workload: WorkloadEvidence | None = None
    revisions: list[RevisionEvidence] = []
    replica_sets: list[JsonDict] = []
    if scope.workload is not None:
        workload = _safe(notes, scope.workload, partial(_workload, scope.workload, limits, notes))
        revisions, replica_sets = _revisions(index, scope.workload, limits, notes)

    kept_pods = _bounded(scope.pods, limits.max_pods, "pods", notes, "troubled first")
    pods: list[PodEvidence] = []
    for pod in kept_pods:
        lookup = _ConfigLookup(index, _ns(pod), unavailable_kinds)
        summary = _safe(notes, pod, partial(_pod, pod, lookup, limits, notes))
        if summary is not None:
            pods.append(summary)

    # Nodes: the target node, then the pods' nodes; every node when placement is the question
    # (a pod not scheduled yet, or no narrower target), troubled nodes first.
    node_names: list[str] = []
    if chosen is not None and chosen.kind == "Node":
        node_names.append(chosen.name)
    node_names += [p.node for p in pods if p.node and p.node not in node_names]
    wide = scope.namespace_wide or any(p.node is None for p in pods)
    node_objs = [n for name in node_names if (n := index.get("Node", None, name)) is not None]
    if wide:
        other_nodes = [n for n in index.kind("Node") if _name(n) not in node_names]
        node_objs += sorted(other_nodes, key=lambda n: (not _node_troubled(n), _name(n)))
    node_objs = _bounded(node_objs, limits.max_nodes, "nodes", notes, "pods' nodes first")
    nodes = _summaries(node_objs, notes, lambda n: _node(n, limits))

    # Volumes claimed by the pods or the workload template, plus a PVC target.
    claim_names: list[str] = []
    if chosen is not None and chosen.kind == "PersistentVolumeClaim":
        claim_names.append(chosen.name)
    for pod_summary in pods:
        claim_names += [c for c in pod_summary.pvc_names if c not in claim_names]
    pvc_objs = [
        obj
        for name in claim_names
        if (obj := index.get("PersistentVolumeClaim", namespace, name)) is not None
    ]
    claimed = {_obj_key(p) for p in pvc_objs}
    if scope.workload is not None and _kind(scope.workload) == "StatefulSet":
        prefixes = [
            f"{_name(t)}-{_name(scope.workload)}-"
            for t in _dicts(_d(scope.workload.get("spec")).get("volumeClaimTemplates"))
        ]
        pvc_objs += [
            p
            for p in index.in_namespace("PersistentVolumeClaim", _ns(scope.workload))
            if any(_name(p).startswith(prefix) for prefix in prefixes)
            and _obj_key(p) not in claimed
        ]
        claimed = {_obj_key(p) for p in pvc_objs}
    if scope.namespace_wide:
        pvc_objs += [
            p
            for p in index.kind("PersistentVolumeClaim")
            if (namespace is None or _ns(p) == namespace) and _obj_key(p) not in claimed
        ]
    pvcs = _summaries(
        _bounded(pvc_objs, limits.max_pvcs, "persistent volume claims", notes), notes, _pvc
    )

    # Services in the namespace: the target, those selecting the pods, those the containers
    # name in env or args (dependencies), then the rest.
    # Distinct label sets only: thousands of replicas share a handful.
    pod_labels = list({tuple(sorted(_labels(p).items())): _labels(p) for p in scope.pods}.values())
    if not pod_labels and scope.workload is not None:
        template_meta = _d(_d(_d(scope.workload.get("spec")).get("template")).get("metadata"))
        pod_labels = [
            {k: v for k, v in _d(template_meta.get("labels")).items() if isinstance(v, str)}
        ]
    mentions = _env_mentions(scope.pods[: limits.max_pods], scope.workload)
    services: list[ServiceEvidence] = []
    if namespace is not None:

        def service_rank(svc: JsonDict) -> tuple[int, str]:
            selector = _str_map(_d(svc.get("spec")).get("selector"), limits)
            if _same(svc, scope.target_obj):
                return (0, _name(svc))
            if any(service_selects(selector, labels) for labels in pod_labels):
                return (1, _name(svc))
            if _name(svc) in mentions:
                return (2, _name(svc))
            return (3, _name(svc))

        service_objs = sorted(index.in_namespace("Service", namespace), key=service_rank)
        service_objs = _bounded(
            service_objs, limits.max_services, "services", notes, "related first"
        )
        services = _summaries(
            service_objs, notes, lambda s: _service(index, s, unavailable_kinds, limits)
        )
    else:
        service_objs = []

    policies: list[NetworkPolicyEvidence] = []
    autoscalers: list[AutoscalerEvidence] = []
    quotas: list[QuotaEvidence] = []
    config_maps: dict[str, list[str]] = {}
    if namespace is not None:
        policies = _summaries(
            index.in_namespace("NetworkPolicy", namespace),
            notes,
            lambda p: _network_policy(p, pod_labels, limits),
        )
        policies.sort(key=lambda p: (not p.selects_target, p.name))
        policies = _bounded(
            policies, limits.max_network_policies, "network policies", notes, "selecting first"
        )

        hpa_objs = [
            h
            for h in index.in_namespace("HorizontalPodAutoscaler", namespace)
            if scope.namespace_wide
            or _same(h, scope.target_obj)
            or (
                scope.workload is not None
                and _d(_d(h.get("spec")).get("scaleTargetRef")).get("kind") == _kind(scope.workload)
                and _d(_d(h.get("spec")).get("scaleTargetRef")).get("name") == _name(scope.workload)
            )
        ]
        autoscalers = _summaries(
            _bounded(hpa_objs, limits.max_autoscalers, "autoscalers", notes),
            notes,
            lambda h: _autoscaler(h, limits),
        )
        quotas = _summaries(
            _bounded(
                index.in_namespace("ResourceQuota", namespace), limits.max_quotas, "quotas", notes
            ),
            notes,
            lambda q: _quota(q, limits),
        )
        referenced = {r.name for p in pods for r in p.config_refs if r.kind == "ConfigMap"}
        cm_objs = sorted(
            (
                c
                for c in index.in_namespace("ConfigMap", namespace)
                if _name(c) not in _IMPLICIT_CONFIG_MAPS
            ),
            key=lambda c: (_name(c) not in referenced, _name(c)),
        )
        for cm in _bounded(
            cm_objs, limits.max_config_maps, "config maps", notes, "referenced first"
        ):
            keys = sorted(
                k
                for k in list(_d(cm.get("data"))) + list(_d(cm.get("binaryData")))
                if isinstance(k, str)
            )
            notes.cut(f"keys of ConfigMap {_name(cm)}", limits.max_config_map_keys, len(keys))
            config_maps[_name(cm)] = keys[: limits.max_config_map_keys]

    # Everything else in the namespace (and cluster-scoped kinds we have no model for).
    other_objs = [
        obj
        for kind, objs in index.by_kind.items()
        if kind not in _DEDICATED_KINDS
        for obj in objs
        if (_ns(obj) == namespace if namespace is not None else True) or not _ns(obj)
    ]
    other_rank = {
        "Certificate": 0,
        "CertificateRequest": 1,
        "Issuer": 1,
        "Ingress": 2,
        "Job": 3,
        "CronJob": 4,
    }
    other_objs.sort(
        key=lambda o: (not _same(o, scope.target_obj), other_rank.get(_kind(o), 9), _name(o))
    )
    other_objs = _bounded(other_objs, limits.max_other_objects, "other objects", notes)
    others = _summaries(other_objs, notes, lambda o: _generic(o, now, limits))

    scope_keys = {_obj_key(o) for o in scope.pods + replica_sets + node_objs + pvc_objs}
    scope_keys |= {_obj_key(o) for o in service_objs + other_objs}
    scope_keys |= {("Node", "", _name(n)) for n in node_objs}
    for extra in (scope.target_obj, scope.workload):
        if extra is not None:
            scope_keys.add(_obj_key(extra))
    if chosen is not None:
        scope_keys.add(_ref_key(chosen))  # events outlive a deleted target
    scope_keys |= {("HorizontalPodAutoscaler", a.namespace, a.name) for a in autoscalers}

    def in_scope(key: tuple[str, str, str]) -> bool:
        if key in scope_keys:
            return True
        return scope.namespace_wide and (namespace is None or key[1] == namespace)

    events = _events(index, in_scope, limits, notes)
    used_config = {r.name for p in pods for r in p.config_refs if r.kind == "ConfigMap"}
    changes, found = change_timeline(
        workload=scope.workload,
        history=replica_sets,
        pods=kept_pods,
        config_maps=[
            c for c in index.in_namespace("ConfigMap", namespace or "") if _name(c) in used_config
        ],
        nodes=node_objs,
        events=events,
        now=now,
        limits=limits,
    )
    notes.cut("changes", len(changes), found, "newest first")
    dependencies = _dependencies(
        index, scope, kept_pods, logs, services, pod_labels, unavailable_kinds, limits, notes
    )
    # The callees' own NetworkPolicies decide whether they accept the workload's calls.
    callee_namespaces = {
        ref.namespace
        for d in dependencies
        for ref in ([d.workload] if d.workload else [])
        + (
            [ObjectRef(kind="Service", namespace=d.service.namespace, name=d.service.name)]
            if d.service
            else []
        )
        if ref.namespace and ref.namespace != namespace
    }
    callee_policies = _summaries(
        [p for ns in sorted(callee_namespaces) for p in index.in_namespace("NetworkPolicy", ns)],
        notes,
        lambda p: _network_policy(p, [], limits),
    )
    policies += _bounded(
        callee_policies, limits.max_network_policies, "network policies of dependencies", notes
    )

    return Evidence(
        collected_at=now,
        title=_clip(title, limits.max_string_length) or "",
        description=_clip(description, limits.max_string_length * 4),
        alerts=_alerts(alerts, limits),
        target=chosen,
        workload=workload,
        pods=pods,
        events=events,
        nodes=nodes,
        revisions=revisions,
        pvcs=pvcs,
        services=services,
        network_policies=policies,
        autoscalers=autoscalers,
        quotas=quotas,
        config_maps=config_maps,
        other_objects=others,
        logs=_logs(logs, kept_pods, focus, limits, notes),
        changes=changes,
        namespace_labels={
            _name(n): _labels(n) for n in index.kind("Namespace")[: limits.max_list_items]
        },
        dependencies=dependencies,
        collection_errors=notes.errors,
        truncated=notes.truncated,
    )
