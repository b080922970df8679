"""The other components of a followed callee's own application that its trouble names.

A system deployed as several workloads of one release (Temporal's frontend, history and
matching; Loki's distributor and ingester; Thanos' query and store) names them
``<release>-<component>``, and its front component reports a back one by the component's
word, not by a host: "history client encountered error", "ingester push failed". An SRE
reading that line on ``temporal-frontend`` looks at ``temporal-history`` next, the workload
of the callee's namespace whose name is the callee's own with that word for its last part.
Only words of lines that report trouble (an error word, or a warning level field) count, and
only workloads sharing the callee's release prefix: a workload elsewhere whose name merely
ends in the word is no component of it.

Pure; the next hop of ``kubetriage.evidence.dependency_walk`` (which lists the callee's
namespace's workloads first) and of ``kubetriage.evidence.summaries.dependencies``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from kubetriage.evidence.dependencies import ERROR_LINE, ServiceHost
from kubetriage.evidence.log_levels import warns
from kubetriage.models.naming import NamingSource
from kubetriage.models.objects import JsonDict, pod_workload
from kubetriage.models.objects import name as _name

# The kinds a component runs as.
COMPONENT_KINDS: Final = ("Deployment", "StatefulSet")
# A component's word: letters only, long enough not to be a common fragment ("api", "db").
_COMPONENT = re.compile(r"[a-z]{5,}")
_WORD = re.compile(r"[a-z]+")
_CAMEL_CASE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def troubled(lines: Sequence[tuple[NamingSource, str]]) -> bool:
    """Whether any line reports trouble: an error word, or a warning level field."""
    return any(ERROR_LINE.search(line) or warns(line) for _, line in lines)


def pod_owner_name(pod: JsonDict) -> str | None:
    """The name of the workload controlling ``pod`` (``pod_workload``), if any."""
    owner = pod_workload(pod)
    return owner[1] if owner is not None else None


def release_prefix(name: str) -> str | None:
    """``temporal`` of ``temporal-frontend``: the name without its last part; None for a
    name of one part."""
    prefix, sep, last = name.rpartition("-")
    return prefix if sep and prefix and last else None


def component_hosts(
    callee: str,
    namespace: str,
    lines: Sequence[tuple[NamingSource, str]],
    workloads: Iterable[JsonDict],
) -> list[ServiceHost]:
    """The workloads among ``workloads`` (the callee's namespace's) named ``<prefix>-<word>``,
    where ``<prefix>`` is the callee's own release prefix and ``<word>`` a word of one of its
    trouble lines; the callee itself excluded; in the order the lines name them."""
    prefix = release_prefix(callee)
    if prefix is None:
        return []
    components: dict[str, tuple[str, str]] = {}
    for workload in workloads:
        name = _name(workload)
        part = name.removeprefix(f"{prefix}-")
        if name == callee or part == name or not _COMPONENT.fullmatch(part):
            continue
        components.setdefault(part, (str(workload.get("kind")), name))
    found: list[ServiceHost] = []
    for source, line in lines:
        if not (ERROR_LINE.search(line) or warns(line)):
            continue
        for word in _WORD.findall(_CAMEL_CASE.sub(" ", line).lower()):
            if word in components:
                kind, name = components.pop(word)
                found.append(ServiceHost(name, namespace, None, source, kind=kind))
    return found
