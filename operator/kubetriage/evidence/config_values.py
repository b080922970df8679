"""The env a container takes from ConfigMaps, as the variables its process sees.

A container's environment is its ``env`` values, the keys it takes one by one from a
ConfigMap (``valueFrom.configMapKeyRef``), and every key of a ConfigMap it takes whole
(``envFrom.configMapRef``, each key prefixed by the source's ``prefix``). The collector drops
a ConfigMap's values as soon as it reads one (``reader.strip_config_map``) and keeps only
those a decider needs: here the topics, queues, streams and subjects its keys say they hold
(``CELERY_QUEUES: exports``, ``KAFKA_TOPIC: orders``), as ``topicValues``. A case file or a
test hands over the values themselves; ``config_map_topics`` reads both the same way, so a
live collection and a replay see the same variables.

Pure; ``dependencies.pod_texts`` (the one list of a container's configured values) reads
these as env values of the variables they set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts

JsonDict = dict[str, Any]
# (namespace, name) -> the ConfigMap.
ConfigMaps = Mapping[tuple[str, str], JsonDict]

# A key whose name says it holds a topic, queue, stream or subject ("REQUEST_TOPIC",
# "PAYMENT_REPLY_TOPIC", "KAFKA_TOPICS", "JOBS_QUEUE_NAME", "NATS_SUBJECT", "CELERY_QUEUES").
TOPIC_KEY: Final = re.compile(r"(?i)(?:^|_)(?:topic|queue|stream|subject)(?:s|_?name)?$")
# One topic or queue name.
TOPIC_VALUE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,}")
# A list of names is short; a longer value under such a key is not one.
_MAX_VALUE: Final = 256
_MAX_KEYS: Final = 20


def topic_names(value: str) -> list[str]:
    """The topic or queue names of a comma-separated value, in order."""
    names: list[str] = []
    for part in value.split(","):
        name = part.strip()
        if TOPIC_VALUE.fullmatch(name) and name not in names:
            names.append(name)
    return names


def config_map_topics(config_map: JsonDict) -> dict[str, str]:
    """Key -> value of a ConfigMap's entries whose key says it holds topics or queues and
    whose value is a list of such names: what the collector keeps of its values
    (``topicValues``), or the same entries of a ConfigMap as written."""
    kept = config_map.get("topicValues")
    if isinstance(kept, dict):
        return {str(k): v for k, v in kept.items() if isinstance(v, str)}
    found: dict[str, str] = {}
    for key, value in _d(config_map.get("data")).items():
        if len(found) >= _MAX_KEYS:
            break
        if not isinstance(value, str) or len(value) > _MAX_VALUE:
            continue
        if TOPIC_KEY.search(str(key)) and topic_names(value):
            found[str(key)] = value
    return found


def by_name(config_maps: Iterable[JsonDict]) -> dict[tuple[str, str], JsonDict]:
    """The ConfigMaps keyed by (namespace, name)."""
    found: dict[tuple[str, str], JsonDict] = {}
    for cm in config_maps:
        meta = _d(cm.get("metadata"))
        found[(str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = cm
    return found


def config_env(
    container: JsonDict, namespace: str, config_maps: ConfigMaps
) -> list[tuple[str, str]]:
    """(variable, value) the container takes from the ConfigMaps of ``config_maps`` (those of
    its namespace), one key by ``valueFrom`` or all by ``envFrom`` (with its prefix), of the
    values ``config_map_topics`` keeps."""
    found: list[tuple[str, str]] = []
    for var in _dicts(container.get("env")):
        ref = _d(_d(var.get("valueFrom")).get("configMapKeyRef"))
        cm = config_maps.get((namespace, str(ref.get("name"))))
        if cm is not None and isinstance(var.get("name"), str):
            value = config_map_topics(cm).get(str(ref.get("key")))
            if value is not None:
                found.append((var["name"], value))
    for source in _dicts(container.get("envFrom")):
        cm = config_maps.get((namespace, str(_d(source.get("configMapRef")).get("name"))))
        if cm is None:
            continue
        prefix = source.get("prefix") if isinstance(source.get("prefix"), str) else ""
        found += [(f"{prefix}{key}", value) for key, value in config_map_topics(cm).items()]
    return found
