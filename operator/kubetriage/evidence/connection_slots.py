"""Connection slots on both ends of a database: the server's limit as its own configuration
says it, and the pool each client pod opens to it as the client's configuration says it.

A database serves at most ``max_connections`` clients (PostgreSQL keeps
``superuser_reserved_connections`` of them for superusers; MySQL and MariaDB read the same
``max_connections``), set in its configuration file (``postgresql.conf``, ``my.cnf``) or on its
command line (``-c max_connections=200``, ``--max-connections=500``). Each client pod keeps a
pool of up to N connections, named by the setting its driver reads (pgx's ``MaxConns``,
database/sql's ``MaxOpenConns``, HikariCP's ``maximumPoolSize``, ``DB_POOL_SIZE``...), so a
client workload asks for N times its replicas. An SRE paged for a database out of slots
multiplies each client's pool by its replicas: a pool raised in a ConfigMap is harmless until
an autoscaler adds the replicas that take it past the limit.

The collector drops a ConfigMap's values as soon as it reads one (``reader.strip_config_map``)
and keeps these two readings of them (``connectionLimit``, ``poolSizes``); a case file or a
test hands over the values themselves, read the same way here.

Pure; ``build_evidence`` reads the incident's own limit (``server_connection_limit``) and each
caller's pool (``with_caller_pools``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.changes import last_write
from kubetriage.evidence.index import ObjectIndex, referenced_config
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import CallerEvidence, ConfiguredPool
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# A server's connection limit in its configuration file or on its command line:
# "max_connections = 200", "max_connections=500", "--max-connections=500", "-c max_connections=200".
_MAX_CONNECTIONS: Final = re.compile(
    r"(?im)(?:^|[\s-])max[_-]connections\s*[=\s]\s*'?(?P<n>\d{1,6})'?(?!\S)"
)
# PostgreSQL's slots kept for superusers (default 3), out of reach of an application's role.
_RESERVED: Final = re.compile(
    r"(?im)(?:^|[\s-])superuser[_-]reserved[_-]connections\s*[=\s]\s*'?(?P<n>\d{1,6})'?(?!\S)"
)
# A client setting naming the largest pool each of its processes opens: DB_MAX_CONNS,
# DB_MAX_OPEN_CONNS, DATABASE_POOL_SIZE, DB_POOL_MAX, PG_POOL_MAX_CONNS,
# SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE (or MAXIMUMPOOLSIZE), DB_POOL.
POOL_KEY: Final = re.compile(
    r"(?i)(?:^|[_.-])(?:(?:max[_.-]?(?:open[_.-]?)?|pool[_.-]?max[_.-]?)conn(?:ection)?s"
    r"|(?:max(?:imum)?[_.-]?)?pool(?:[_.-]?(?:max|size|max[_.-]?size))?)$"
)
_COUNT: Final = re.compile(r"\s*(?P<n>\d{1,6})\s*")
_MAX_KEYS: Final = 10


def connection_limit(texts: Iterable[str]) -> int | None:
    """The connections an application may open to a server whose configuration is ``texts``
    (file values, args): its ``max_connections`` less the superusers' reserved slots."""
    texts = list(texts)
    limits = [int(m["n"]) for t in texts for m in _MAX_CONNECTIONS.finditer(t)]
    if not limits:
        return None
    reserved = [int(m["n"]) for t in texts for m in _RESERVED.finditer(t)]
    return max(limits[-1] - (reserved[-1] if reserved else 0), 0)


def config_map_connection_limit(config_map: JsonDict) -> int | None:
    """The server connection limit a ConfigMap's files set, as the collector keeps it
    (``connectionLimit``) or read from its values as written."""
    if "connectionLimit" in config_map:
        kept = config_map.get("connectionLimit")
        return kept if isinstance(kept, int) else None
    data = as_dict(config_map.get("data"))
    return connection_limit(v[:65536] for v in data.values() if isinstance(v, str))


def config_map_pool_sizes(config_map: JsonDict) -> dict[str, int]:
    """Key -> size of a ConfigMap's entries whose key names a client's pool maximum and whose
    value is a count, as the collector keeps them (``poolSizes``) or read as written."""
    kept = config_map.get("poolSizes")
    if isinstance(kept, dict):
        return {str(k): v for k, v in kept.items() if isinstance(v, int)}
    found: dict[str, int] = {}
    for key, value in as_dict(config_map.get("data")).items():
        if not isinstance(value, str) or not POOL_KEY.search(str(key)):
            continue
        if (count := _COUNT.fullmatch(value)) is not None and int(count["n"]) > 0:
            found[str(key)] = int(count["n"])
        if len(found) >= _MAX_KEYS:
            break
    return found


def _template(obj: JsonDict) -> JsonDict:
    return as_dict(as_dict(as_dict(obj.get("spec")).get("template")).get("spec"))


def server_connection_limit(
    index: ObjectIndex, workload: JsonDict | None, config_maps: Iterable[str]
) -> int | None:
    """The connection limit of the incident's workload: its containers' args and command,
    then the ConfigMaps its template or its pods use (``config_maps``, of its namespace)."""
    if workload is None:
        return None
    args = [
        str(word)
        for container in dicts(_template(workload).get("containers"))
        for word in [*(container.get("command") or []), *(container.get("args") or [])]
    ]
    if (found := connection_limit([" ".join(args)])) is not None:
        return found
    used = {n for kind, n in referenced_config(_template(workload)) if kind == "ConfigMap"}
    for name in sorted(used | set(config_maps)):
        config_map = index.get("ConfigMap", _ns(workload), name)
        if config_map is not None and (found := config_map_connection_limit(config_map)):
            return found
    return None


def configured_pool(workload: JsonDict, index: ObjectIndex) -> ConfiguredPool | None:
    """The pool size each pod of ``workload`` opens: a pool key of a ConfigMap its containers
    take whole (``envFrom``) or by key (``configMapKeyRef``), else of their own env values."""
    home = _ns(workload)
    for container in dicts(_template(workload).get("containers")):
        for var in dicts(container.get("env")):
            ref = as_dict(as_dict(var.get("valueFrom")).get("configMapKeyRef"))
            if not POOL_KEY.search(str(var.get("name") or "")) or not ref:
                continue
            pool = _from_config_map(index, home, str(ref.get("name")), str(ref.get("key")))
            if pool is not None:
                return pool
        for source in dicts(container.get("envFrom")):
            name = str(as_dict(source.get("configMapRef")).get("name"))
            if (pool := _from_config_map(index, home, name, None)) is not None:
                return pool
        for var in dicts(container.get("env")):
            value = var.get("value")
            key = str(var.get("name") or "")
            count = _COUNT.fullmatch(value) if isinstance(value, str) else None
            if count is not None and POOL_KEY.search(key) and int(count["n"]) > 0:
                return ConfiguredPool(size=int(count["n"]), key=key)
    return None


def _from_config_map(
    index: ObjectIndex, namespace: str, name: str, key: str | None
) -> ConfiguredPool | None:
    config_map = index.get("ConfigMap", namespace, name)
    if config_map is None:
        return None
    sizes = config_map_pool_sizes(config_map)
    chosen = key if key is not None else next(iter(sizes), None)
    if chosen is None or chosen not in sizes:
        return None
    return ConfiguredPool(
        size=sizes[chosen],
        key=chosen,
        config=ObjectRef(kind="ConfigMap", namespace=namespace, name=name),
        written_at=last_write(config_map),
    )


def with_caller_pools(index: ObjectIndex, callers: list[CallerEvidence]) -> list[CallerEvidence]:
    """``callers`` with the pool each of their pods opens, where their configuration says."""
    for caller in callers:
        workload = index.get(caller.ref.kind, caller.ref.namespace or "", caller.ref.name)
        if workload is not None and _name(workload):
            caller.pool = configured_pool(workload, index)
    return callers
