"""What each category needs to see in the evidence before it can be the diagnosis.

Pure; used by ``kubetriage.combine`` to check a model's answer. An LLM (a small one above
all) can answer ``unschedulable`` for an incident with no Pending pod; such an answer is kept
as an unconfirmed hypothesis in the status, never as the diagnosis. Each precondition is a
fact an SRE would point at first: an OOM kill needs an ``OOMKilled`` state (or a working set
at its limit), unschedulable needs a Pending pod or a ``FailedScheduling`` event, a
certificate expiry needs a certificate fact, and so on. ``unknown`` needs nothing. An
answer that cites evidence ids (``kubetriage.llm.citations``) the evidence does not have is
unconfirmed too, whatever its category: it rests on facts that were never shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator

from kubetriage.analyzers.log_signatures import (
    CONFIG_LOG,
    DEPENDENCY_LOG,
    DISK_FULL_LOG,
    OOM_LOG,
)
from kubetriage.analyzers.support import (
    grep_logs,
    grep_tls_failures,
)
from kubetriage.dns_errors import DNS_LOG
from kubetriage.llm.citations import unknown_ids
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import ModelOpinion
from kubetriage.models.object_evidence import ContainerState
from kubetriage.models.vocabulary import Category
from kubetriage.tls_errors import TLS_FAILURES, classify_tls_failure

# What the status says a category would have needed.
NEEDS: dict[Category, str] = {
    Category.OOM_KILLED: "an OOMKilled or exit-137 container, an OOM event or log, or memory "
    "at its limit",
    Category.CRASH_LOOP: "a container that exited or restarts",
    Category.CONFIG_MISSING: "a missing ConfigMap/Secret/key, CreateContainerConfigError, or a "
    "configuration error in the logs",
    Category.IMAGE_PULL: "an image pull error",
    Category.PROBE_FAILURE: "a failing probe (Unhealthy event) on a container with probes",
    Category.UNSCHEDULABLE: "a Pending pod or a FailedScheduling event",
    Category.NODE_FAILURE: "a node not Ready or under pressure, or evicted pods",
    Category.STORAGE: "a volume problem: unbound claim, mount failure or a full disk",
    Category.CPU_THROTTLING: "a CPU limit with CPU usage or throttling metrics",
    Category.BAD_ROLLOUT: "a new revision or another recent change",
    Category.DEPENDENCY_FAILURE: "a failing call to another service, or a failing dependency",
    Category.RESOURCE_SATURATION: "an autoscaler, or traffic, latency, queue or CPU metrics",
    Category.NETWORK: "a Service, NetworkPolicy, or connection or DNS errors",
    Category.CERTIFICATE_EXPIRY: "a certificate: a cert-manager object, an x509 error, or "
    "certificate expiry metrics",
    Category.UNKNOWN: "nothing",
}

_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
_CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})
_METRIC_CPU = re.compile(r"(?i)(cpu|throttl)")
_METRIC_LOAD = re.compile(r"(?i)(request|latency|duration|queue|lag|backlog|cpu|rps|qps)")
_NOT_FOUND = re.compile(r"(?i)(configmap|secret)s? \"?[\w.-]+\"? not found|couldn't find key")


def _states(evidence: Evidence) -> Iterator[ContainerState]:
    for pod in evidence.pods:
        for container in pod.containers:
            yield container.state
            if container.last_state is not None:
                yield container.last_state


def _oom(evidence: Evidence) -> bool:
    if any(
        (s.reason or "").lower() == "oomkilled" or s.exit_code == 137 for s in _states(evidence)
    ):
        return True
    if any(e.reason in ("OOMKilling", "OOMKilled") for e in evidence.events):
        return True
    if grep_logs(evidence.logs, OOM_LOG, limit=1):
        return True
    return any(
        "memory" in m.name and "limit" in m.name and (m.max or 0) >= 0.9 for m in evidence.metrics
    )


def _crash(evidence: Evidence) -> bool:
    return any(
        c.restart_count > 0 or c.state.reason == "CrashLoopBackOff"
        for p in evidence.pods
        for c in p.containers
    ) or any(s.state == "terminated" and (s.exit_code or 0) != 0 for s in _states(evidence))


def _config(evidence: Evidence) -> bool:
    if any(s.reason in _CONFIG_REASONS for s in _states(evidence)):
        return True
    refs = [r for p in evidence.pods for r in p.config_refs if not r.optional]
    if any(r.exists is False or r.key_exists is False for r in refs):
        return True
    if any(_NOT_FOUND.search(e.message) for e in evidence.events):
        return True
    return bool(grep_logs(evidence.logs, CONFIG_LOG, limit=1))


def _image(evidence: Evidence) -> bool:
    return any(s.reason in _PULL_REASONS for s in _states(evidence)) or any(
        "pull" in e.message.lower() and e.type == "Warning" for e in evidence.events
    )


def _probe(evidence: Evidence) -> bool:
    probed = any(c.probes for p in evidence.pods for c in p.containers)
    probed = probed or bool(
        evidence.workload and any(c.probes for c in evidence.workload.containers)
    )
    unhealthy = any(e.reason == "Unhealthy" or "probe failed" in e.message for e in evidence.events)
    return probed and unhealthy


def _unschedulable(evidence: Evidence) -> bool:
    return any(p.phase == "Pending" for p in evidence.pods) or any(
        e.reason == "FailedScheduling" for e in evidence.events
    )


def _node(evidence: Evidence) -> bool:
    pressure = any(
        c.status == "True" and c.type.endswith("Pressure")
        for n in evidence.nodes
        for c in n.conditions
    )
    return (
        pressure
        or any(n.ready != "True" for n in evidence.nodes)
        or any(p.reason == "Evicted" for p in evidence.pods)
        or any(e.reason in ("NodeNotReady", "Evicted", "Rebooted") for e in evidence.events)
    )


def _storage(evidence: Evidence) -> bool:
    return (
        any(p.phase not in (None, "Bound") for p in evidence.pvcs)
        or any(
            e.reason in ("FailedMount", "FailedAttachVolume", "ProvisioningFailed")
            for e in evidence.events
        )
        or bool(grep_logs(evidence.logs, DISK_FULL_LOG, limit=1))
        or any(m.name.startswith("volume_") for m in evidence.metrics)
    )


def _cpu(evidence: Evidence) -> bool:
    limited = any("cpu" in c.limits for p in evidence.pods for c in p.containers) or bool(
        evidence.workload and any("cpu" in c.limits for c in evidence.workload.containers)
    )
    return limited and any(_METRIC_CPU.search(f"{m.name} {m.query}") for m in evidence.metrics)


def _rollout(evidence: Evidence) -> bool:
    return (
        len(evidence.revisions) >= 2
        or any(c.kind in ("rollout", "image-digest", "config") for c in evidence.changes)
        or any(d.changes for d in evidence.dependencies)
    )


def _dependency(evidence: Evidence) -> bool:
    return (
        bool(evidence.dependencies)
        or bool(grep_logs(evidence.logs, DEPENDENCY_LOG, limit=1))
        or any("probe_success" in m.query and (m.last or 0) < 1 for m in evidence.metrics)
    )


def _saturation(evidence: Evidence) -> bool:
    return bool(evidence.autoscalers) or any(
        _METRIC_LOAD.search(f"{m.name} {m.query}") for m in evidence.metrics
    )


def _network(evidence: Evidence) -> bool:
    return (
        bool(evidence.services)
        or bool(evidence.network_policies)
        or bool(grep_logs(evidence.logs, DNS_LOG, limit=1))
        or bool(grep_logs(evidence.logs, DEPENDENCY_LOG, limit=1))
    )


def _certificate(evidence: Evidence) -> bool:
    return (
        any(o.ref.kind in ("Certificate", "CertificateRequest") for o in evidence.other_objects)
        # A certificate a TLS client refused, for any reason, in any library's words.
        or bool(grep_tls_failures(evidence.logs, TLS_FAILURES, limit=1))
        or any(
            classify_tls_failure(e.message) is not None or "x509" in e.message
            for e in evidence.events
        )
        or any("cert" in m.query for m in evidence.metrics)
    )


_CHECKS: dict[Category, Callable[[Evidence], bool]] = {
    Category.OOM_KILLED: _oom,
    Category.CRASH_LOOP: _crash,
    Category.CONFIG_MISSING: _config,
    Category.IMAGE_PULL: _image,
    Category.PROBE_FAILURE: _probe,
    Category.UNSCHEDULABLE: _unschedulable,
    Category.NODE_FAILURE: _node,
    Category.STORAGE: _storage,
    Category.CPU_THROTTLING: _cpu,
    Category.BAD_ROLLOUT: _rollout,
    Category.DEPENDENCY_FAILURE: _dependency,
    Category.RESOURCE_SATURATION: _saturation,
    Category.NETWORK: _network,
    Category.CERTIFICATE_EXPIRY: _certificate,
    Category.UNKNOWN: lambda _: True,
}


def category_supported(category: Category, evidence: Evidence) -> bool:
    """Whether the evidence shows at least one precondition of ``category``."""
    return _CHECKS[category](evidence)


def unconfirmed_reason(
    opinion: ModelOpinion, evidence: Evidence, found: Collection[Category]
) -> str | None:
    """Why the model's answer cannot be the diagnosis, None when it may: it cites evidence
    ids that do not exist, or its category is none of the analyzers' (``found``) and the
    evidence shows none of that category's preconditions."""
    invented = unknown_ids(opinion.cited, evidence)
    if invented:
        return (
            f"it cites evidence that does not exist ({', '.join(invented[:5])}), so its "
            "reasoning cannot be checked"
        )
    if opinion.category not in found and not category_supported(opinion.category, evidence):
        return f"the evidence shows none of what it needs ({NEEDS[opinion.category]})"
    return None
