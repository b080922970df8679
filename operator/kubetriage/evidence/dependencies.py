"""Dependencies of the incident's workload, followed across namespaces.

Pure; used by the collector (``kubetriage.evidence.kube``, to decide which Services of other
namespaces to read) and by ``build_evidence`` (to summarise what was read). A dependency is
a Service the workload names:

- by cluster DNS name in its logs, env values or ConfigMaps (``svc.ns.svc.cluster.local:port``,
  ``svc.ns.svc``, ``svc.ns:port``, ``scheme://svc.ns``, ``scheme://svc:port``), or after a
  key that names the peer called (``upstream=svc``, ``backend: svc.ns``, ``peer_host=svc``);
- or, for a Service of its own namespace, by the word its name is built on in an error line
  ("failed to convert currency" names ``currencyservice``);
- by a whole env value when the var's name says it holds an address (``FLAGD_HOST=flagd``),
  and by a whole ConfigMap value ``svc.ns`` under such a key (``REDIS_HOST: redis.cache``);
- or, when its pods' lookups fail at the resolver on some nodes, the DaemonSet serving DNS on
  those nodes' own network (NodeLocal DNSCache), followed first.

For each, the evidence keeps the Service (endpoints), the workload behind it (replicas), its
failing pods, its rollouts (``kubetriage.evidence.changes``) and its Warning events, so an
analyzer can tell "the callee is down" or "the callee changed" from "the caller is broken";
that summary is ``kubetriage.evidence.dependency_summary``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from kubetriage.dns_errors import DNS_LOG
from kubetriage.evidence.config_values import ConfigMaps, config_env
from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.evidence.log_levels import warns
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.evidence.triggers import pod_template
from kubetriage.models.naming import (
    NamingSource,
    alert_label_source,
    args_source,
    config_map_source,
    env_source,
    event_source,
    log_source,
)
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import meta as _meta
from kubetriage.models.relations import DependencyRoute

JsonDict = dict[str, Any]

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# name.namespace.svc[.cluster.local][:port], or a pod's own name under a headless Service
# (pod.name.namespace.svc...: a StatefulSet's members, such as kafka-0.kafka-headless.ns.svc)
_CLUSTER_HOST = re.compile(
    rf"(?<![\w.-])(?:{_LABEL}\.)?(?P<name>{_LABEL})\.(?P<ns>{_LABEL})\.svc(?:\.[a-z0-9-]+)*(?::(?P<port>\d{{2,5}}))?(?![\w-])"
)
# scheme://name[.namespace][:port] (a URL to a Service by its short names)
_URL_HOST = re.compile(
    rf"(?i)\b[a-z][a-z0-9+.-]*://(?:[^@/\s\"']+@)?(?P<name>{_LABEL})(?:\.(?P<ns>{_LABEL}))?"
    r"(?::(?P<port>\d{2,5}))?(?=[/\s\"'?,;)]|$)"
)
# name.namespace:port (a Go dial target, a JDBC host...)
_SHORT_HOST = re.compile(
    rf"(?<![\w.-])(?P<name>{_LABEL})\.(?P<ns>{_LABEL}):(?P<port>\d{{2,5}})(?![\w.-])"
)
# "name.ext:line" where ext is a programming language's file extension is where a log line was
# written ("server.go:262" in a zap or klog caller field, "views.py:88"), not a Service in a
# namespace "go" at port 262.
_SOURCE_EXTENSIONS = frozenset(
    {
        "c", "cc", "cjs", "clj", "cpp", "cs", "cxx", "dart", "erl", "ex", "exs", "go", "groovy",
        "h", "hpp", "java", "js", "kt", "lua", "mjs", "php", "pl", "py", "rb", "rs", "scala",
        "swift", "ts",
    }
)  # fmt: skip
# A StatefulSet member's hostname: its name and ordinal ("cache-0"). "cache-0.cache:11211"
# is first looked up (the pod's resolv.conf search path) as that member under the headless
# Service "cache" of the caller's own namespace, before as a Service "cache-0" of a
# namespace "cache".
_MEMBER = re.compile(r"-[0-9]+$")
# "name:port" inside a line, the name a word with a letter (not a time or a count).
_DIAL_TARGET = re.compile(rf"(?<![\w.:/-])(?P<name>[a-z]{_LABEL}):(?P<port>\d{{2,5}})(?![\w.:-])")
# A whole configuration value "name[.namespace]:port".
_BARE_ADDRESS = re.compile(rf"(?P<name>{_LABEL})(?:\.(?P<ns>{_LABEL}))?:(?P<port>\d{{2,5}})")
# The same as a quoted string inside a structured value (a JSON or YAML file held under one
# key: ``"ProfileMongoAddress": "mongodb-profile:27017"``): a setting of its own.
_QUOTED_ADDRESS = re.compile(
    rf"(?P<q>[\"'])(?P<name>[a-z]{_LABEL})(?:\.(?P<ns>{_LABEL}))?:(?P<port>\d{{2,5}})(?P=q)"
)
# An env var whose name says it holds the address of a peer ("FLAGD_HOST", "CART_ADDR",
# "PAYMENT_SERVICE", "OTLP_ENDPOINT"): its last word. "OTEL_SERVICE_NAME" names itself.
# libpq's own variable, read by every PostgreSQL client built on it, is one word: PGHOST.
_ADDRESS_KEY = re.compile(
    r"(?i)(?:(?:^|_)(?:host|hostname|addr|address|url|uri|endpoint|service|svc|server)|^pghost)$"
)
# ... and a whole value that is a bare host: "name[.namespace][:port]", a word first.
_BARE_HOST = re.compile(
    rf"(?P<name>[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?)(?:\.(?P<ns>{_LABEL}))?(?::(?P<port>\d{{2,5}}))?"
)
# upstream=name[.namespace][:port]: a structured log's key naming the peer it called
# (access logs, proxies, HTTP clients: "upstream", "backend", "peer", "dependency"...), or
# the datastore a client connects to ("database URL: orders-db:5432", "redis_addr=cache:6379").
_KEYED_HOST = re.compile(
    r"(?i)\b(?:(?:upstream|backend|peer|remote|dependency|destination|dst|callee)"
    r"(?:[_-]?(?:host|service|svc|name|addr|address))?"
    r"|(?:database|db|datastore|cache|redis|mongo(?:db)?|broker|amqp|kafka)"
    r"[_\s-]?(?:host|addr|address|url|uri|server))[\"']?\s*[=:]\s*[\"']?"
    rf"(?P<name>[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?)(?:\.(?P<ns>{_LABEL}))?(?::(?P<port>\d{{2,5}}))?(?![\w.-])"
)
# An Envoy cluster named after its Kubernetes backend, as ingress controllers built on Envoy
# name them: Contour's "<namespace>/<service>/<port>/<hash>", spelled
# "<namespace>_<service>_<port>[_<hash>]" in its envoy_cluster_* stats (Kubernetes names
# hold no "_" or "/", so the split is unambiguous). Istio's
# "outbound|<port>||<service>.<namespace>.svc..." is a cluster DNS name already. In free text
# only where a key says it is a cluster name.
_DNS_NAME = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ENVOY_CLUSTER = (
    rf"(?P<ns>{_DNS_NAME})(?P<sep>[_/])(?P<name>{_DNS_NAME})(?P=sep)(?P<port>\d{{2,5}})"
    r"(?:(?P=sep)[0-9a-f]{6,})?"
)
_ENVOY_CLUSTER_NAME = re.compile(_ENVOY_CLUSTER)
_KEYED_ENVOY_CLUSTER = re.compile(
    rf"\b(?:envoy_cluster_name|upstream_cluster|cluster_name|cluster)[\"']?\s*[=:]\s*[\"']?"
    rf"{_ENVOY_CLUSTER}(?![\w.-])"
)
# Suffixes a Service name adds to the word it is built on: "currencyservice", "payment-api".
_NAME_SUFFIX = re.compile(r"(?:-?(?:service|svc|api|server|backend|srv|app))+$")
# Qualifiers a name carries after its base: a version, an instance or region number, an
# environment ("currencyservice-v2", "payments-eu1", "checkout-prod").
_NAME_QUALIFIER = re.compile(
    r"(?:-(?:[a-z]{0,2}\d[a-z0-9]?|\d+|dev|qa|uat|stg|prd|prod|staging|test|blue|green))+$"
)
ERROR_LINE = re.compile(r"(?i)(error|fail|refused|timeout|timed out|unavailable|exception)")
_WORD = re.compile(r"[a-z][a-z0-9]{4,}")
_CAMEL_CASE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class ServiceHost:
    """A Service named by a host: ``namespace`` None when only the short name was given."""

    name: str
    namespace: str | None
    port: int | None
    source: NamingSource | None
    kind: str = "Service"  # or the workload kind an error line names
    cluster_dns: bool = False  # spelled name.namespace.svc[...]: certainly a Service
    # How the walk reached it when not as a callee the workload names (an Ingress's backend,
    # a node agent, a registry, ...): carried to ``DependencyEvidence.routes``.
    route: DependencyRoute | None = None
    # The resolver the pods' lookups go to, named by convention: ``cluster_dns`` finds its
    # Service by what it serves.
    resolver: bool = False


# The Service cluster DNS is served from in every mainstream distribution (CoreDNS kept the
# kube-dns name for compatibility), as the resolver of a pod with the default dnsPolicy.
CLUSTER_DNS: Final = ServiceHost(
    name="kube-dns", namespace="kube-system", port=53, source=None, cluster_dns=True, resolver=True
)


def envoy_cluster_service(cluster: str) -> ServiceHost | None:
    """The Service (with its namespace and port) an Envoy cluster name such as
    ``shop_cart_8080`` or ``shop/cart/8080/da39a3ee5e`` stands for; None for any other name."""
    match = _ENVOY_CLUSTER_NAME.fullmatch(cluster.strip().lower())
    if match is None:
        return None
    return ServiceHost(match["name"], match["ns"], int(match["port"]), None)


# Alert labels an Envoy proxy's stats name the upstream cluster by.
ENVOY_CLUSTER_LABELS: Final = ("envoy_cluster_name", "cluster_name")
# Of those, the ones that name nothing but an Envoy cluster: there a plain value is the
# cluster a static configuration named after the Service it sends to ("frontend").
_UPSTREAM_CLUSTER_LABELS: Final = ("envoy_cluster_name", "upstream_cluster")
_PLAIN_NAME = re.compile(_DNS_NAME)


def alert_upstreams(alerts: Iterable[Mapping[str, str]]) -> list[ServiceHost]:
    """The Services the alerts' Envoy cluster labels name as the upstream a proxy calls:
    a Contour-style name (``ns_svc_port``) as its Service, a plain one (``frontend``) as the
    Service of that name in the proxy's namespace."""
    found: list[ServiceHost] = []
    for labels in alerts:
        for label in _UPSTREAM_CLUSTER_LABELS:
            value = label_value(dict(labels), label)
            if value is None:
                continue
            source = alert_label_source(label)
            backend = envoy_cluster_service(value)
            if backend is not None:
                found.append(replace(backend, source=source))
            elif _PLAIN_NAME.fullmatch(value):
                found.append(ServiceHost(value, None, None, source))
    return found


def service_hosts(source: NamingSource | None, text: str) -> list[ServiceHost]:
    """Every Service-shaped host in ``text`` (lower-cased), in order, deduplicated; an Envoy
    cluster name (``ns_svc_port``, ``ns/svc/port/hash``) counts as its Service."""
    found: list[ServiceHost] = []
    seen: set[tuple[str, str | None]] = set()
    lowered = text.lower()
    for match in _KEYED_ENVOY_CLUSTER.finditer(lowered):
        if (match["name"], match["ns"]) not in seen:
            seen.add((match["name"], match["ns"]))
            found.append(ServiceHost(match["name"], match["ns"], int(match["port"]), source))
    for pattern in (_CLUSTER_HOST, _URL_HOST, _SHORT_HOST, _KEYED_HOST):
        for match in pattern.finditer(lowered):
            name, namespace = match["name"], match["ns"]
            key = (name, namespace)
            if key in seen or (pattern is _SHORT_HOST and namespace in _SOURCE_EXTENSIONS):
                continue
            seen.add(key)
            port = int(match["port"]) if match["port"] else None
            found.append(
                ServiceHost(
                    name=name,
                    namespace=namespace,
                    port=port,
                    source=source,
                    cluster_dns=pattern is _CLUSTER_HOST,
                )
            )
    for match in _SHORT_HOST.finditer(lowered):
        if (
            _MEMBER.search(match["name"])
            and (match["ns"], None) not in seen
            and match["ns"] not in _SOURCE_EXTENSIONS
        ):
            seen.add((match["ns"], None))
            port = int(match["port"]) if match["port"] else None
            found.append(ServiceHost(name=match["ns"], namespace=None, port=port, source=source))
    # A cluster host also matches the shorter patterns; keep the most specific reading.
    qualified = {(h.name, h.namespace) for h in found if h.namespace is not None}
    return [
        h for h in found if h.namespace is not None or not any(q[0] == h.name for q in qualified)
    ]


def log_texts(tails: Iterable[LogTail], last: int | None = None) -> list[tuple[NamingSource, str]]:
    """(source, line) of the lines of ``tails`` (the last ``last`` of each, when given)."""
    return [
        (log_source(t.namespace, t.pod, t.container), line)
        for t in tails
        for line in (t.lines if last is None else t.lines[-last:])
    ]


def pod_texts(
    pods: Iterable[JsonDict], workload: JsonDict | None, config_maps: ConfigMaps | None = None
) -> list[tuple[NamingSource, str]]:
    """(source, text) of the env values and args of the pods and the workload template; with
    ``config_maps``, also the values their containers take from those ConfigMaps (``envFrom``
    with its prefix, ``configMapKeyRef``), as the env variables they set
    (``config_values.config_env``)."""
    specs: list[tuple[str, str, str, JsonDict]] = [
        ("pod", str(_meta(p).get("name")), str(_meta(p).get("namespace")), _d(p.get("spec")))
        for p in pods
    ]
    if workload is not None:
        template = pod_template(workload)
        kind, name = str(workload.get("kind")), str(_meta(workload).get("name"))
        specs.append((kind, name, str(_meta(workload).get("namespace")), _d(template.get("spec"))))
    texts: list[tuple[NamingSource, str]] = []
    for owner_kind, owner, namespace, spec in specs:
        for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
            for env in _dicts(container.get("env")):
                if isinstance(env.get("value"), str):
                    source = env_source(owner_kind, owner, str(env.get("name")))
                    texts.append((source, env["value"]))
            for variable, value in config_env(container, namespace, config_maps or {}):
                texts.append((env_source(owner_kind, owner, variable), value))
            for arg in list(container.get("args") or []) + list(container.get("command") or []):
                if isinstance(arg, str):
                    texts.append((args_source(owner_kind, owner), arg))
    return texts


def event_texts(events: Iterable[JsonDict]) -> list[tuple[NamingSource, str]]:
    """(source, message) of Warning events: "failed calling webhook ... Post https://
    injector.mesh.svc:443/..." names the Service that failed the call."""
    texts: list[tuple[NamingSource, str]] = []
    for event in events:
        if event.get("type") != "Warning":
            continue
        involved = _d(event.get("involvedObject")) or _d(event.get("regarding"))
        message = event.get("message") or event.get("note")
        if isinstance(message, str):
            kind, name = str(involved.get("kind")), str(involved.get("name"))
            source = event_source(kind, name, str(event.get("reason")))
            texts.append((source, message))
    return texts


def config_map_hosts(config_map: JsonDict) -> list[str]:
    """The Service hosts a ConfigMap's values name, as ``name.namespace`` or ``name``; the
    collector keeps only these from the values it drops (``serviceHosts``)."""
    hosts: list[str] = []
    for key, value in _d(config_map.get("data")).items():
        if not isinstance(value, str):
            continue
        for host in service_hosts(None, value[:65536]) or keyed_value_host(str(key), value):
            text = f"{host.name}.{host.namespace}" if host.namespace else host.name
            text += ".svc" if host.cluster_dns else ""
            if text not in hosts:
                hosts.append(text)
    return hosts[:20]


def keyed_value_host(key: str, value: str) -> list[ServiceHost]:
    """The host a configuration entry names by its whole value when its key says it holds a
    peer's address and the value spells the Service's namespace (``REDIS_HOST:
    redis.cache``): the ``svc.ns`` form the cluster's DNS search path resolves. A bare word
    ("redis") is left alone here: as a ConfigMap value it is as often a driver or a mode."""
    if not _ADDRESS_KEY.search(key):
        return []
    bare = _BARE_HOST.fullmatch(value.strip().lower())
    if bare is None or not bare["ns"]:
        return []
    port = int(bare["port"]) if bare["port"] else None
    return [ServiceHost(bare["name"], bare["ns"], port, None)]


def config_map_endpoints(config_map: JsonDict) -> list[JsonDict]:
    """The Service hosts with a port a ConfigMap's values name, as ``{"key", "service",
    "namespace", "port"}``; the collector keeps these (``serviceEndpoints``) from the values
    it drops, so a port that does not match the Service can be seen."""
    found: list[JsonDict] = []
    for key, value in _d(config_map.get("data")).items():
        if not isinstance(value, str):
            continue
        hosts = service_hosts(None, value[:65536])
        # A value that is nothing but "name:port" is an address, whatever its key.
        if (bare := _BARE_ADDRESS.fullmatch(value.strip().lower())) is not None:
            hosts.append(ServiceHost(bare["name"], bare["ns"], int(bare["port"]), None))
        hosts += [
            ServiceHost(q["name"], q["ns"], int(q["port"]), None)
            for q in _QUOTED_ADDRESS.finditer(value[:65536].lower())
        ]
        for host in hosts:
            if host.port is None:
                continue
            entry: JsonDict = {
                "key": key,
                "service": host.name,
                "namespace": host.namespace,
                "port": host.port,
            }
            if entry not in found:
                found.append(entry)
    return found[:20]


def named_hosts(
    texts: Iterable[tuple[NamingSource, str]], config_maps: Iterable[JsonDict]
) -> list[ServiceHost]:
    """Hosts named by logs/env/args texts and by ConfigMaps' ``serviceHosts``."""
    found: list[ServiceHost] = []
    for source, text in texts:
        hosts = service_hosts(source, text)
        found += hosts or env_host(source, text)
        if source.kind == "log" and DNS_LOG.search(text):
            # A name lookup failed: the resolver timed out, or answered that the name does
            # not exist. Either way the cluster DNS answered it, so it is a callee too, and
            # what changed there (its Corefile) is part of "what changed?".
            found.append(replace(CLUSTER_DNS, source=source))
    for cm in config_maps:
        # The collector keeps only ``serviceHosts`` of a ConfigMap's values; a case file or
        # a test hands over the values themselves.
        listed = cm.get("serviceHosts")
        for host in listed if isinstance(listed, list) else config_map_hosts(cm):
            if isinstance(host, str):
                name, _, rest = host.partition(".")
                namespace, _, svc = rest.partition(".")
                found.append(
                    ServiceHost(
                        name=name,
                        namespace=namespace or None,
                        port=None,
                        source=config_map_source(str(_meta(cm).get("name"))),
                        cluster_dns=svc == "svc",
                    )
                )
    return found


def env_host(source: NamingSource, value: str) -> list[ServiceHost]:
    """The host an env var names by its whole value when its name says it holds a peer's
    address (``FLAGD_HOST=flagd``, ``CART_ADDR=cart:8080``, read by ``pod_texts``); none for
    any other var or value. A short name stands
    for a Service of the caller's namespace only if one exists (resolved like any host)."""
    if source.kind != "env" or not _ADDRESS_KEY.search(source.variable or ""):
        return []
    bare = _BARE_HOST.fullmatch(value.strip().lower())
    if bare is None:
        return []
    port = int(bare["port"]) if bare["port"] else None
    return [ServiceHost(bare["name"], bare["ns"], port, source)]


# A DNS server's query log (CoreDNS's log plugin, ``"A IN name. udp 68 false 1232" NXDOMAIN``)
# names what its clients asked for, not what the server calls.
_DNS_QUERY_LOG = re.compile(r'"[A-Z]{1,10} IN \S+ (udp|tcp) \d+ ')


def callee_hosts(
    lines: Sequence[tuple[NamingSource, str]], configured: Sequence[tuple[NamingSource, str]] = ()
) -> list[ServiceHost]:
    """The next hop: the hosts a followed callee's own log lines name, when one of them
    reports an error (a failing callee's trouble may be its own callee's: the profile
    service that logs "no documents" after its database session to ``mongodb-profile:27017``
    was reset), or, when none reports an error, the hosts its lines at warning level name
    (``log_levels``: "vmstorage X is in read-only mode; re-routing rows"). When its errors
    name no such host (an external provider by its public name),
    the hosts its own configuration names (``configured``: its pods' ``pod_texts``, an
    ExternalName alias in front of that provider among them). None for a callee that logs no
    trouble: a healthy one is not walked past."""
    lines = [(source, line) for source, line in lines if not _DNS_QUERY_LOG.search(line)]
    if not any(ERROR_LINE.search(line) for _, line in lines):
        # Only warnings (by their level field): the hosts those lines themselves name.
        return _hosts_said([(source, line) for source, line in lines if warns(line)])
    return _hosts_said(lines) or named_hosts(configured, [])


def _hosts_said(lines: Sequence[tuple[NamingSource, str]]) -> list[ServiceHost]:
    found = named_hosts(lines, [])
    for source, line in lines:
        # A driver's own words name its server by "name:port" ("session to db:27017 lost").
        for match in _DIAL_TARGET.finditer(line.lower()):
            if not any(h.name == match["name"] for h in found):
                found.append(ServiceHost(match["name"], None, int(match["port"]), source))
    return found


def mentioned_objects(
    lines: Iterable[tuple[NamingSource, str]], objects: Iterable[JsonDict]
) -> list[ServiceHost]:
    """Services and workloads of the caller's namespace whose base word (or whole one-word
    name) an error line uses: "failed to convert currency" names ``currencyservice``,
    "SearchHandler: rpc error" names ``search``."""
    stems: dict[str, tuple[str, str]] = {}
    objects = list(objects)
    # A name's own base word first; then the base under a qualifier ("currencyservice-v2"),
    # so a qualified name never takes a word another object's own name has.
    for qualified in (False, True):
        for obj in objects:
            name = str(_meta(obj).get("name"))
            stem = _NAME_SUFFIX.sub("", _NAME_QUALIFIER.sub("", name) if qualified else name)
            if len(stem) >= 5:
                stems.setdefault(stem, (str(obj.get("kind")), name))
    found: list[ServiceHost] = []
    for source, line in lines:
        if not ERROR_LINE.search(line):
            continue
        # Identifiers in camelCase name their parts: "SearchHandler" -> "search handler".
        spaced = _CAMEL_CASE.sub(" ", line)
        for word in sorted(set(_WORD.findall(spaced.lower()))):
            if word in stems:
                kind, name = stems[word]
                found.append(
                    ServiceHost(name=name, namespace=None, port=None, source=source, kind=kind)
                )
    return found
