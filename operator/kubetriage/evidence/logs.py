"""Log tails: which containers' logs are worth reading (the incident's own pods and a
followed dependency's: ``log_requests``; an admission webhook's backend:
``webhook_log_requests``), and each tail bounded (newest lines kept within the line, per-line
and per-tail byte limits) and ordered, pods in scope first. Pure; used by the collector
(``kubetriage.evidence.kube`` and its walks), which marks each tail with why it read it, and
by the case replay (``kubetriage.replay.snapshot``), which marks a case's tails by the same
requests."""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubetriage.evidence.index import sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes, bounded
from kubetriage.evidence.raw import as_dict, as_str, as_time, dicts
from kubetriage.models.objects import JsonDict, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.signals import LogSource, LogTail

# Pods whose healthy containers' logs are read too (the first ones, troubled pods first).
_HEALTHY_LOG_PODS = 3

# (namespace, pod, container, previous): one log tail to read.
LogRequest = tuple[str, str, str, bool]


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


def scope_says(logs: Iterable[LogTail], pattern: re.Pattern[str]) -> bool:
    """Whether a line of the incident's own tails (``scope``, not a dependency's or a
    webhook backend's) matches ``pattern``."""
    return any(
        pattern.search(line) for tail in logs if tail.source == "scope" for line in tail.lines
    )


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
    source: LogSource = "scope",
) -> LogTail:
    """A bounded LogTail from raw log text (newest last), without splitting all of it;
    ``source`` says why it was read."""
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
        source=source,
    )
    return bound_log_tail(tail, limits)


def select_logs(
    logs: list[LogTail],
    pods: list[JsonDict],
    focus: list[str],
    limits: EvidenceLimits,
    notes: Notes,
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
        for t in bounded(ordered, limits.max_log_tails, "log tails", notes, "pods in scope first")
    ]


def _veteran(pods: list[JsonDict]) -> JsonDict | None:
    """The longest-running ready pod: the one replica whose log spans the whole window (the
    healthy replicas read first are the newest, which an autoscaler may have started minutes
    ago, after the symptom began). None when no pod is ready."""
    ready = [
        (created, pod)
        for pod in pods
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in dicts(as_dict(pod.get("status")).get("conditions"))
        )
        and (created := as_time(as_dict(pod.get("metadata")).get("creationTimestamp")))
    ]
    return min(ready, key=lambda r: r[0])[1] if ready else None


def log_requests(
    pods: list[JsonDict], focus: list[str], limits: EvidenceLimits
) -> list[LogRequest]:
    """(namespace, pod, container, previous) of the log tails worth reading, most useful
    first, bounded: troubled and focus containers, and every container of the first pods and
    of the longest-running ready one (``_veteran``)."""
    wanted: list[tuple[int, LogRequest]] = []
    kept = pods[: limits.max_pods]
    veteran = _veteran(kept)
    for pod_rank, pod in enumerate(kept):
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        statuses = {
            cs.get("name"): cs
            for cs in (status.get("containerStatuses") or [])
            + (status.get("initContainerStatuses") or [])
            if isinstance(cs, dict)
        }
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            name = container.get("name") if isinstance(container, dict) else None
            if not isinstance(name, str):
                continue
            cs = statuses.get(name) or {}
            state = cs.get("state") or {}
            restarted = int(cs.get("restartCount") or 0) > 0 or "terminated" in (
                cs.get("lastState") or {}
            )
            troubled = cs.get("ready") is False or "running" not in state or restarted
            in_focus = name in focus
            # Healthy containers of the first pods too: a failing dependency shows only
            # in the logs of a container that runs fine, and not every replica logs it
            # (only the one that took the failing request).
            sampled = pod_rank < _HEALTHY_LOG_PODS or pod is veteran
            if not (troubled or in_focus or sampled):
                continue
            rank = (
                _HEALTHY_LOG_PODS if pod is veteran and pod_rank > _HEALTHY_LOG_PODS else pod_rank
            )
            priority = (0 if in_focus else 1) * 1000 + rank
            wanted.append((priority, (_ns(pod), _name(pod), name, False)))
            if restarted:
                wanted.append((priority, (_ns(pod), _name(pod), name, True)))
    wanted.sort(key=lambda item: item[0])
    return [request for _, request in wanted[: limits.max_log_tails]]


def webhook_log_requests(service: JsonDict | None, pods: Iterable[JsonDict]) -> list[LogRequest]:
    """The tails read of an admission webhook's backend: the current and previous log of the
    first container of the first of ``pods`` (troubled first) that ``service`` selects, where
    a webhook that manages its own certificate says why it could not."""
    selector = as_dict(as_dict(as_dict(service).get("spec")).get("selector"))
    backends = sort_pods([p for p in pods if service_selects(selector, _labels(p))])
    containers = dicts(as_dict(backends[0].get("spec")).get("containers")) if backends else []
    container = as_str(containers[0].get("name")) if containers else None
    if not container:
        return []
    pod = backends[0]
    return [(_ns(pod), _name(pod), container, previous) for previous in (False, True)]
