"""Where a path a container names lies among its ConfigMap and Secret mounts: the mount and
the key that writes it (a source's ``items``, a projected volume's sources, a subPath). Used
by the rules that trace a missing or stale file to the object and key behind it (config,
API tokens, TLS clients).

Pure functions of ``ConfigMount`` models.
"""

from __future__ import annotations

from kubetriage.models.object_evidence import ConfigMount


def mount_for(path: str, mounts: list[ConfigMount]) -> tuple[ConfigMount, str | None] | None:
    """The mount a path lies under (longest first) and the key it names, if any: the key a
    source's ``items`` writes at that path (of the sources a projected volume merges at one
    mount path, the one projecting it), else the path's first segment under the mount."""
    for mount in mounts:
        if mount.sub_path is not None:
            if path == mount.path:
                return _projecting(mount, mounts, mount.sub_path.strip("/"))
            continue
        prefix = mount.path.rstrip("/") + "/"
        if path.startswith(prefix):
            return _projecting(mount, mounts, path[len(prefix) :].strip("/"))
        if path == mount.path:
            return mount, None
    return None


def _projecting(
    mount: ConfigMount, mounts: list[ConfigMount], relative: str
) -> tuple[ConfigMount, str | None]:
    """Of the sources mounted with ``mount`` (same path and subPath), the one whose items
    write ``relative`` and the key it writes there; else ``mount`` and the path's first
    segment (a key written under its own name)."""
    for other in mounts:
        if (other.path, other.sub_path) == (mount.path, mount.sub_path) and relative in other.items:
            return other, other.items[relative]
    if mount.sub_path is not None:
        return mount, mount.sub_path
    return mount, relative.split("/")[0] or None
