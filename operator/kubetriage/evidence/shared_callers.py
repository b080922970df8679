"""The other callers of the dependencies the incident's workload names: the Deployments and Jobs
whose pod template names the same Service (a shared database, a shared API), or whose SQL
database URL comes from a Secret while the dependency is a SQL database (``secret_clients``),
each with its recent rollouts and the log tails of its first pod.

Pure; used by the collector (``kubetriage.evidence.caller_walk``, to decide whose revisions and
tails to read) and by ``build_evidence`` (``with_shared_callers``, to summarise what was read).
An SRE facing a failing dependency asks "does anyone else that calls it, unchanged, fail on it
too, at the same time?": then the dependency is at fault rather than the incident's own
release; and "who else loads it, and which of them changed right before?". Callers are named
and summarised as the incident's own callers are (``kubetriage.evidence.callers``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kubetriage.evidence.callers import (
    MAX_CALLERS,
    callee_services,
    find_callers,
    names_callee,
    others,
    owned_history,
    summarise_caller,
)
from kubetriage.evidence.dependencies import named_hosts, pod_texts
from kubetriage.evidence.index import ObjectIndex, sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import LogRequest, log_requests
from kubetriage.models.naming import NamingSource, env_source
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, selector_matches
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import DependencyEvidence

# Dependencies (Services the incident's workload names) whose other callers are read.
MAX_SHARED = 3
# Log tails read of each other caller of a shared dependency (its first pod's containers).
MAX_CALLER_TAILS = 2
# The kinds whose pods may share a dependency: a Job (a backfill, an export) loads it as well.
SHARING_KINDS = ("Deployment", "Job")

# An env (or Secret key) name for a SQL database's connection: a URL, URI, DSN or .NET
# connection string (DATABASE_URL, DB_DSN, JDBC_URL, SQLALCHEMY_DATABASE_URI, PG_URI,
# ConnectionStrings__Billing, database-url).
_DATABASE_ENV = re.compile(
    r"(?i)(?:(?:database|db|jdbc|postgres(?:ql)?|pg|mysql|mariadb|sql)[_-]?"
    r"(?:url|uri|dsn|conn(?:ection)?(?:[_-]?string)?)$|^connectionstrings__)"
)
# Well-known SQL database ports: PostgreSQL (and PgBouncer), MySQL (and ProxySQL), SQL
# Server, Oracle, CockroachDB.
_SQL_PORTS = frozenset({5432, 6432, 3306, 6033, 1433, 1521, 26257})


def _database_ports(service: JsonDict) -> set[int]:
    """The well-known SQL database ports among the Service's ports."""
    ports = {p.get("port") for p in (service.get("spec") or {}).get("ports") or []}
    return {p for p in ports if isinstance(p, int) and p in _SQL_PORTS}


def secret_database_env(workload: JsonDict) -> tuple[str, str] | None:
    """(env name, Secret name) of the first env of the workload's template that takes a SQL
    database's connection URL, URI, DSN or connection string from a Secret (its env name
    or the Secret's key says so: ``DATABASE_URL``, ``ConnectionStrings__Orders``,
    ``database-url``): the URL holds the password, so the database it names is read from the
    Secret, never from the template. Secret data is never read."""
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for env in (container or {}).get("env") or []:
            ref = ((env or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            name, secret = str(env.get("name") or ""), str(ref.get("name") or "")
            if secret and any(_DATABASE_ENV.search(w) for w in (name, str(ref.get("key") or ""))):
                return name, secret
    return None


def secret_clients(
    workloads: Iterable[JsonDict],
    callees: list[JsonDict],
    exclude: Iterable[JsonDict],
    room: int = MAX_CALLERS,
) -> list[tuple[JsonDict, JsonDict, tuple[str, str]]]:
    """(workload, database Service, (env var, Secret)) of each workload whose database URL
    comes from a Secret (``secret_database_env``), as a possible caller of the first callee
    that is a SQL database (by its well-known port), at most ``room``, by namespace and name;
    weaker than a caller naming it (``find_callers``), and never one of those."""
    database = next((c for c in callees if _database_ports(c)), None)
    if database is None or room <= 0:
        return []
    found: list[tuple[JsonDict, JsonDict, tuple[str, str]]] = []
    for workload in others(workloads, exclude):
        env = secret_database_env(workload)
        if env is None or names_callee(workload, callees) is not None:
            continue
        found.append((workload, database, env))
        if len(found) >= room:
            break
    return found


def secret_source(workload: JsonDict, env: tuple[str, str]) -> NamingSource:
    """How a caller known only by its Secret-sourced database URL is named: its env var and
    the Secret it is taken from ("Deployment x env DATABASE_URL from Secret x-db")."""
    return env_source(str(workload.get("kind")), _name(workload), env[0], secret=env[1])


def named_services(
    services: Iterable[JsonDict], pods: Iterable[JsonDict], workload: JsonDict | None
) -> list[JsonDict]:
    """The Services (any namespace) the incident's pods or workload template name in env or
    args, besides those that front the pods themselves: the dependencies it is configured to
    call, whose other callers share them. At most ``MAX_SHARED``, by namespace and name."""
    pods = list(pods)
    services = list(services)
    home = _ns(workload) if workload is not None else (_ns(pods[0]) if pods else "")
    named = {
        (h.namespace or home, h.name)
        for h in named_hosts(pod_texts(pods, workload), [])
        if h.kind == "Service"
    }
    own = {(_ns(s), _name(s)) for s in callee_services(services, pods)}
    found = [s for s in services if (_ns(s), _name(s)) in named - own]
    return sorted(found, key=lambda s: (_ns(s), _name(s)))[:MAX_SHARED]


def caller_log_requests(
    workload: JsonDict, pods: Iterable[JsonDict], limits: EvidenceLimits
) -> list[LogRequest]:
    """The tails read of another caller of a shared dependency: the containers of its first
    pod (troubled first, then newest, then by name) among ``pods``, at most
    ``MAX_CALLER_TAILS``. Whether it fails on
    the dependency too, at the same time, while it did not change, says the dependency is
    at fault rather than the incident's own release."""
    selector = (workload.get("spec") or {}).get("selector") or {}
    if not isinstance(selector, dict) or not selector:
        return []
    mine = [p for p in pods if _ns(p) == _ns(workload) and selector_matches(selector, _labels(p))]
    # By name first, as the API lists them: the pod picked does not depend on list order.
    first = sort_pods(sorted(mine, key=_name))[:1]
    return log_requests(first, [], limits)[:MAX_CALLER_TAILS]


def _caller_tails(
    workload: JsonDict, index: ObjectIndex, logs: Sequence[LogTail], limits: EvidenceLimits
) -> list[LogTail]:
    wanted = set(caller_log_requests(workload, index.in_namespace("Pod", _ns(workload)), limits))
    return [t for t in logs if (t.namespace, t.pod, t.container, t.previous) in wanted]


def with_shared_callers(
    index: ObjectIndex,
    dependencies: list[DependencyEvidence],
    pods: list[JsonDict],
    own: JsonDict | None,
    logs: Sequence[LogTail] = (),
    limits: EvidenceLimits | None = None,
) -> list[DependencyEvidence]:
    """``dependencies`` with the other callers of each one the incident's workload names
    (``named_services``) among the Deployments and Jobs of ``index``, with their rollouts and, among
    ``logs`` (the tails read for other reasons than the incident's own), those the collector
    reads of them (``caller_log_requests``)."""
    limits = limits or EvidenceLimits()
    shared = {(_ns(s), _name(s)): s for s in named_services(index.kind("Service"), pods, own)}
    # ... and the broker it reaches through a Secret-sourced URL (``secret_urls``).
    for dependency in dependencies:
        svc = dependency.service
        by_secret = any(n.kind == "env" and n.secret for n in dependency.named_by)
        broker = index.get("Service", svc.namespace, svc.name) if svc and by_secret else None
        if svc is not None and broker is not None:
            shared.setdefault((svc.namespace, svc.name), broker)
    if not shared:
        return dependencies
    replica_sets = index.kind("ReplicaSet")
    deployments = [w for kind in SHARING_KINDS for w in index.kind(kind)]
    exclude = [own] if own is not None else []
    updated: list[DependencyEvidence] = []
    for dependency in dependencies:
        svc = dependency.service
        service = shared.get((svc.namespace, svc.name)) if svc is not None else None
        if service is None or not dependency.followed:
            updated.append(dependency)
            continue
        named = find_callers(deployments, [service], exclude)
        found: list[tuple[JsonDict, JsonDict, list[NamingSource], str | None]] = [
            (workload, callee, sources, None) for workload, callee, sources in named
        ]
        found += [
            (workload, database, [secret_source(workload, env)], env[0])
            for workload, database, env in secret_clients(
                deployments, [service], exclude, MAX_CALLERS - len(named)
            )
        ]
        callers = [
            summarise_caller(
                workload, callee, sources, owned_history(workload, replica_sets), secret_env
            ).model_copy(update={"logs": _caller_tails(workload, index, logs, limits)})
            for workload, callee, sources, secret_env in found
        ]
        updated.append(dependency.model_copy(update={"callers": callers}))
    return updated
