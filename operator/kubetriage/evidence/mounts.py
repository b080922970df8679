"""Where a container's configuration files come from: its volume mounts backed by a
ConfigMap or Secret (directly or through a projected volume), by mount path.

Pure; used by ``build_evidence`` for ``ContainerEvidence.config_mounts``, so that "open
/etc/app/app.yaml: no such file or directory" can be traced to the ConfigMap mounted at
/etc/app (and the missing key ``app.yaml``, or the key a source's ``items`` writes at that
path).
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.object_evidence import ConfigMount

JsonDict = dict[str, Any]


def _items(source: JsonDict) -> dict[str, str]:
    """A source's ``items``: the file path within the volume to the key written there."""
    found: dict[str, str] = {}
    for entry in _dicts(source.get("items")):
        key, path = entry.get("key"), entry.get("path")
        if isinstance(key, str) and isinstance(path, str) and key and path:
            found[path.strip("/")] = key
    return found


def _sources(volume: JsonDict) -> list[tuple[str, str, dict[str, str]]]:
    config_map, secret = _d(volume.get("configMap")), _d(volume.get("secret"))
    if config_map.get("name"):
        return [("ConfigMap", str(config_map["name"]), _items(config_map))]
    if secret.get("secretName"):
        return [("Secret", str(secret["secretName"]), _items(secret))]
    found: list[tuple[str, str, dict[str, str]]] = []
    for projected in _dicts(_d(volume.get("projected")).get("sources")):
        if _d(projected.get("configMap")).get("name"):
            source = projected["configMap"]
            found.append(("ConfigMap", str(source["name"]), _items(source)))
        elif _d(projected.get("secret")).get("name"):
            source = projected["secret"]
            found.append(("Secret", str(source["name"]), _items(source)))
    return found


def config_mounts(pod_spec: JsonDict, container: JsonDict, limit: int) -> list[ConfigMount]:
    """The container's mounts of ConfigMap/Secret volumes, longest mount path first."""
    volumes = {
        str(v.get("name")): _sources(v) for v in _dicts(pod_spec.get("volumes")) if v.get("name")
    }
    mounts: list[ConfigMount] = []
    for mount in _dicts(container.get("volumeMounts")):
        path = mount.get("mountPath")
        if not isinstance(path, str):
            continue
        sub_path = mount.get("subPath") if isinstance(mount.get("subPath"), str) else None
        for kind, name, items in volumes.get(str(mount.get("name")), []):
            mounts.append(
                ConfigMount(path=path, kind=kind, name=name, sub_path=sub_path, items=items)
            )
    mounts.sort(key=lambda m: -len(m.path))
    return mounts[:limit]
