"""Pods and their containers: state, probes, resources, env and args, the ConfigMaps and
Secrets they refer to (and whether those exist), tolerations and volume claims. Pure."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from kubetriage.evidence.index import ObjectIndex, claim_names
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.mounts import config_mounts
from kubetriage.evidence.notes import Notes, bounded
from kubetriage.evidence.raw import (
    as_dict,
    as_int,
    as_list,
    as_str,
    as_time,
    clip_text,
    dicts,
    str_map,
)
from kubetriage.evidence.summaries.conditions import conditions
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import (
    DEFAULT_SCHEDULER,
    ConfigReference,
    ContainerEvidence,
    ContainerPort,
    ContainerState,
    PodEvidence,
    ProbeMechanism,
    ProbeSpec,
)
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.pod_dns import dns_policy

# Published into every namespace by the control plane and mounted by every pod through the
# service-account volume; listing it as a dependency would only add noise.
IMPLICIT_CONFIG_MAPS = frozenset({"kube-root-ca.crt", "openshift-service-ca.crt"})
# Added to every pod by the DefaultTolerationSeconds admission plugin; not a user decision.
_DEFAULT_TOLERATION_KEYS = frozenset(
    {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
)


def _why(detail: JsonDict, limits: EvidenceLimits) -> tuple[str | None, str | None]:
    """A waiting or terminated state's reason and (clipped) message."""
    message = clip_text(as_str(detail.get("message")), limits.max_string_length)
    return as_str(detail.get("reason")), message


def _container_state(raw: Any, limits: EvidenceLimits) -> ContainerState | None:
    state = as_dict(raw)
    running, waiting, done = (state.get(key) for key in ("running", "waiting", "terminated"))
    if isinstance(running, dict):
        return ContainerState(state="running", started_at=as_time(running.get("startedAt")))
    if isinstance(waiting, dict):
        reason, message = _why(waiting, limits)
        return ContainerState(state="waiting", reason=reason, message=message)
    if isinstance(done, dict):
        reason, message = _why(done, limits)
        return ContainerState(
            state="terminated",
            reason=reason,
            message=message,
            exit_code=as_int(done.get("exitCode")),
            signal=as_int(done.get("signal")),
            started_at=as_time(done.get("startedAt")),
            finished_at=as_time(done.get("finishedAt")),
        )
    return None


def _probe_handler(
    probe: JsonDict, limits: EvidenceLimits
) -> tuple[ProbeMechanism, str | None, str]:
    """The probe's mechanism, its port (a number or a port name) and its display."""
    if isinstance(probe.get("httpGet"), dict):
        http = probe["httpGet"]
        scheme = "https " if http.get("scheme") == "HTTPS" else ""
        port = as_str(http.get("port"))
        return "httpGet", port, f"httpGet {scheme}{as_str(http.get('path')) or '/'} :{port}"
    if isinstance(probe.get("tcpSocket"), dict):
        port = as_str(probe["tcpSocket"].get("port"))
        return "tcpSocket", port, f"tcpSocket :{port}"
    if isinstance(probe.get("grpc"), dict):
        port = as_str(probe["grpc"].get("port"))
        return "grpc", port, f"grpc :{port}"
    if isinstance(probe.get("exec"), dict):
        command = " ".join(str(part) for part in as_list(probe["exec"].get("command")))
        return "exec", None, clip_text(f"exec {command}", limits.max_string_length) or "exec"
    return "unknown", None, "unknown"


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
        mechanism, port, handler = _probe_handler(probe, limits)
        probes.append(
            ProbeSpec(
                kind=kind,
                handler=handler,
                mechanism=mechanism,
                port=port,
                initial_delay_seconds=as_int(probe.get("initialDelaySeconds")) or 0,
                period_seconds=as_int(probe.get("periodSeconds")) or 10,
                timeout_seconds=as_int(probe.get("timeoutSeconds")) or 1,
                failure_threshold=as_int(probe.get("failureThreshold")) or 3,
            )
        )
    return probes


def _container(
    spec: JsonDict,
    status: JsonDict | None,
    *,
    init: bool,
    limits: EvidenceLimits,
    notes: Notes,
    where: str,
) -> ContainerEvidence:
    resources = as_dict(spec.get("resources"))
    env: dict[str, str] = {}
    plain = [
        e for e in dicts(spec.get("env")) if isinstance(e.get("name"), str) and "valueFrom" not in e
    ]
    for var in plain[: limits.max_env_vars]:
        env[var["name"]] = clip_text(as_str(var.get("value")) or "", limits.max_string_length) or ""
    notes.cut(f"env of {where}", min(len(plain), limits.max_env_vars), len(plain))
    # The argv as far as the spec shows it: a bad flag may sit in command or in args.
    argv = [as_str(a) or "" for a in as_list(spec.get("command")) + as_list(spec.get("args"))]
    notes.cut(f"args of {where}", min(len(argv), limits.max_args), len(argv))
    ports = [
        ContainerPort(
            number=as_int(port.get("containerPort")),
            protocol=as_str(port.get("protocol")) or "TCP",
            name=as_str(port.get("name")),
        )
        for port in dicts(spec.get("ports"))
    ]
    status = status or {}
    ready = status.get("ready")
    started = status.get("started")
    return ContainerEvidence(
        name=as_str(spec.get("name")) or "?",
        image=as_str(spec.get("image")) or as_str(status.get("image")) or "",
        init=init,
        ready=ready if isinstance(ready, bool) else None,
        started=started if isinstance(started, bool) else None,
        restart_count=as_int(status.get("restartCount")) or 0,
        state=_container_state(status.get("state"), limits) or ContainerState(state="unknown"),
        last_state=_container_state(status.get("lastState"), limits),
        requests=str_map(resources.get("requests"), limits),
        limits=str_map(resources.get("limits"), limits),
        probes=_probes(spec, limits),
        ports=ports,
        env=env,
        args=[clip_text(a, limits.max_string_length) or "" for a in argv[: limits.max_args]],
        restart_policy=as_str(spec.get("restartPolicy")),
    )


def container_summaries(
    pod_spec: JsonDict,
    pod_status: JsonDict,
    limits: EvidenceLimits,
    notes: Notes,
    where: str,
) -> list[ContainerEvidence]:
    result: list[ContainerEvidence] = []
    for spec_key, status_key, init in (
        ("initContainers", "initContainerStatuses", True),
        ("containers", "containerStatuses", False),
    ):
        statuses = {
            cs.get("name"): cs for cs in dicts(pod_status.get(status_key)) if cs.get("name")
        }
        for spec in dicts(pod_spec.get(spec_key)):
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
    return bounded(result, limits.max_containers_per_pod, f"containers of {where}", notes)


@dataclass(frozen=True)
class ConfigLookup:
    index: ObjectIndex
    namespace: str
    unavailable_kinds: Collection[str]

    def config_map(self, name: str, key: str | None) -> tuple[bool | None, bool | None]:
        config_map = self.index.get("ConfigMap", self.namespace, name)
        if config_map is None:
            # Absent from a complete ConfigMap list means missing; from a failed list, unknown.
            return (None, None) if "ConfigMap" in self.unavailable_kinds else (False, None)
        if key is None:
            return True, None
        keys = set(as_dict(config_map.get("data"))) | set(as_dict(config_map.get("binaryData")))
        return True, key in keys

    def secret(self, name: str) -> bool | None:
        # Secrets are never read; one only counts as existing when handed over by name.
        return True if self.index.get("Secret", self.namespace, name) is not None else None


def _config_refs(
    pod_spec: JsonDict, lookup: ConfigLookup, limits: EvidenceLimits
) -> list[ConfigReference]:
    refs: list[ConfigReference] = []

    def add(kind: str, name: Any, key: Any, optional: Any, via: str) -> None:
        if not isinstance(name, str) or not name or name in IMPLICIT_CONFIG_MAPS:
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

    containers = dicts(pod_spec.get("initContainers")) + dicts(pod_spec.get("containers"))
    for container in containers:
        for var in dicts(container.get("env")):
            source = as_dict(var.get("valueFrom"))
            for kind, ref_key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = as_dict(source.get(ref_key))
                if ref:
                    via = f"env {var.get('name')}"
                    add(kind, ref.get("name"), ref.get("key"), ref.get("optional"), via)
        for source in dicts(container.get("envFrom")):
            for kind, ref_key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                ref = as_dict(source.get(ref_key))
                if ref:
                    # A prefix names every variable the source sets: "envFrom REDIS_".
                    prefix = source.get("prefix")
                    via = f"envFrom {prefix}" if isinstance(prefix, str) and prefix else "envFrom"
                    add(kind, ref.get("name"), None, ref.get("optional"), via)
    for volume in dicts(pod_spec.get("volumes")):
        via = f"volume {volume.get('name')}"
        sources: list[tuple[str, JsonDict, str]] = []
        if isinstance(volume.get("configMap"), dict):
            sources.append(("ConfigMap", volume["configMap"], "name"))
        if isinstance(volume.get("secret"), dict):
            sources.append(("Secret", volume["secret"], "secretName"))
        for projected in dicts(as_dict(volume.get("projected")).get("sources")):
            if isinstance(projected.get("configMap"), dict):
                sources.append(("ConfigMap", projected["configMap"], "name"))
            if isinstance(projected.get("secret"), dict):
                sources.append(("Secret", projected["secret"], "name"))
        for kind, source, name_key in sources:
            items = dicts(source.get("items"))
            if not items:
                add(kind, source.get(name_key), None, source.get("optional"), via)
            for item in items:
                add(kind, source.get(name_key), item.get("key"), source.get("optional"), via)
    for secret in dicts(pod_spec.get("imagePullSecrets")):
        add("Secret", secret.get("name"), None, False, "imagePullSecrets")
    unique: dict[tuple[str, str, str | None, str], ConfigReference] = {}
    for reference in refs:
        unique.setdefault((reference.kind, reference.name, reference.key, reference.via), reference)
    return list(unique.values())[: limits.max_env_vars]


def _toleration(toleration: JsonDict) -> str | None:
    key = as_str(toleration.get("key"))
    if key in _DEFAULT_TOLERATION_KEYS and toleration.get("tolerationSeconds") == 300:
        return None
    effect = as_str(toleration.get("effect")) or "*"
    if toleration.get("operator") == "Exists":
        return f"{key or '*'}:Exists:{effect}"
    return f"{key}={as_str(toleration.get('value')) or ''}:{effect}"


def pod_summary(
    pod: JsonDict, lookup: ConfigLookup, limits: EvidenceLimits, notes: Notes
) -> PodEvidence:
    spec, status, meta = as_dict(pod.get("spec")), as_dict(pod.get("status")), _meta(pod)
    owner_ref = controller_ref(pod)
    owner = None
    if owner_ref is not None and isinstance(owner_ref.get("name"), str):
        owner = ObjectRef(
            kind=as_str(owner_ref.get("kind")) or "?",
            name=owner_ref["name"],
            namespace=_ns(pod) or None,
            api_version=as_str(owner_ref.get("apiVersion")),
        )
    tolerations = [t for tol in dicts(spec.get("tolerations")) if (t := _toleration(tol))]
    return PodEvidence(
        name=_name(pod),
        namespace=_ns(pod),
        phase=as_str(status.get("phase")),
        reason=as_str(status.get("reason")),
        message=clip_text(as_str(status.get("message")), limits.max_string_length),
        node=as_str(spec.get("nodeName")),
        owner=owner,
        labels=str_map(meta.get("labels"), limits),
        conditions=conditions(status.get("conditions"), limits),
        containers=container_summaries(spec, status, limits, notes, f"pod {_name(pod)}"),
        config_refs=_config_refs(spec, lookup, limits),
        pvc_names=claim_names(pod),
        node_selector=str_map(spec.get("nodeSelector"), limits),
        tolerations=tolerations[: limits.max_labels],
        has_affinity=bool(as_dict(spec.get("affinity"))),
        created_at=as_time(meta.get("creationTimestamp")),
        deleting=meta.get("deletionTimestamp") is not None,
        ips=pod_ips(status)[: limits.max_labels],
        host_network=spec.get("hostNetwork") is True,
        dns_policy=dns_policy(spec),
        scheduler_name=as_str(spec.get("schedulerName")) or DEFAULT_SCHEDULER,
    )


def pod_ips(status: JsonDict) -> list[str]:
    """``status.podIPs`` (dual stack), else ``status.podIP``: what ipBlock peers match."""
    ips = [ip for entry in dicts(status.get("podIPs")) if (ip := as_str(entry.get("ip")))]
    single = as_str(status.get("podIP"))
    return ips or ([single] if single else [])
