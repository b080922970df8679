"""Writes a release moved onto its node's disk. Pure.

An emptyDir volume (not ``medium: Memory``) is a directory of the node's own filesystem, the
one the kubelet keeps its pods in: what a container writes there takes the node's space and
inodes, and nothing but the volume's optional ``sizeLimit`` bounds it (never its inodes). A
release whose env points a setting at a path inside such a volume (a file cache, a spool,
a scratch directory), where the revision before pointed it elsewhere (a cache server's URL,
no value), starts writing to the node's disk with that release, in step with the number of
its pods on each node. ``node_disk_settings`` names those settings, for the tenants of a
node whose filesystem fills (``evidence.tenant_rollouts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.changes import revision_of
from kubetriage.models.objects import JsonDict, as_dict, dicts

# At most this many settings are named per tenant.
MAX_SETTINGS: Final = 3


def _node_dirs(spec: JsonDict) -> dict[str, set[str]]:
    """Container name -> the mount paths of its emptyDir volumes on the node's disk."""
    on_disk = {
        str(v.get("name"))
        for v in dicts(spec.get("volumes"))
        if "emptyDir" in v and as_dict(v.get("emptyDir")).get("medium") != "Memory"
    }
    return {
        str(c.get("name")): {
            str(m.get("mountPath")).rstrip("/")
            for m in dicts(c.get("volumeMounts"))
            if m.get("name") in on_disk and m.get("mountPath")
        }
        for c in dicts(spec.get("containers"))
    }


def _inside(value: str, dirs: set[str]) -> bool:
    return any(value == d or value.startswith(d + "/") for d in dirs if d)


def _env(spec: JsonDict) -> dict[tuple[str, str], str]:
    """(container, variable) -> its literal value."""
    return {
        (str(c.get("name")), str(e.get("name"))): str(e["value"])
        for c in dicts(spec.get("containers"))
        for e in dicts(c.get("env"))
        if isinstance(e.get("value"), str)
    }


def node_disk_settings(history: Iterable[JsonDict]) -> list[str]:
    """``container/VARIABLE`` of each env setting the newest revision in ``history`` (a
    workload's ReplicaSets) points inside an emptyDir on the node's disk that its container
    mounts, where the revision before did not; empty without two revisions."""
    numbered = sorted(
        ((number, template) for obj in history for number, template in [revision_of(obj)]),
        key=lambda entry: entry[0] if entry[0] is not None else -1,
    )
    numbered = [(n, t) for n, t in numbered if n is not None and t]
    if len(numbered) < 2:
        return []
    (_, old), (_, new) = numbered[-2], numbered[-1]
    old_spec, new_spec = as_dict(old.get("spec")), as_dict(new.get("spec"))
    old_dirs, new_dirs = _node_dirs(old_spec), _node_dirs(new_spec)
    old_env = _env(old_spec)
    found = [
        f"{container}/{variable}"
        for (container, variable), value in _env(new_spec).items()
        if _inside(value, new_dirs.get(container, set()))
        and not _inside(old_env.get((container, variable), ""), old_dirs.get(container, set()))
    ]
    return found[:MAX_SETTINGS]
