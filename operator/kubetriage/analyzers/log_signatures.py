"""The log signatures several analyzers must agree on: missing configuration (and secrets a
secret store does not hold), failing calls
to a dependency (refused, reset, timed out, DNS, an upstream 5xx, gRPC unavailable, a pool
that waited in vain), crashes, exhausted worker pools, out-of-memory and full disks; and the
hosts a log line names (``hosts_in``) with the Service a host designates
(``service_for_host``), and the ExternalName Services whose outside host a line quotes in
any words (``external_services_named``).

Called only by the analyzer modules in this package (and ``support``'s log look-ups). Pure:
the compiled patterns are immutable constants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.models.object_evidence import ServiceEvidence

# Missing or wrong configuration, as applications report it when they refuse to start.
CONFIG_LOG = re.compile(
    r"(?i)("
    r"(env(ironment)?( variable| var)?|config(uration)? (key|value|option)|setting)\s+"
    r"[\"'`]?(?P<var1>[A-Z][A-Z0-9_]{2,})[\"'`]?\s+(is\s+)?(not set|unset|missing|required|"
    r"must be set|is empty|not defined|not found)"
    r"|(missing|required)\s+(required\s+)?(env(ironment)?( variable| var)?|config(uration)?"
    r"( key| value| option)?|setting)s?[:\s]+[\"'`]?(?P<var2>[A-Z][A-Z0-9_]{2,})"
    r"|[\"'`]?(?P<var3>[A-Z][A-Z0-9_]{2,})[\"'`]?\s+(environment variable|env var)\s+"
    r"(is\s+)?(not set|missing|required|must be set)"
    r"|KeyError: '(?P<var4>[A-Z][A-Z0-9_]{2,})'"
    r"|required key (?P<var5>[A-Z][A-Z0-9_]{2,}) missing value"
    r"|(could not|cannot|can't|unable to|failed to) resolve (placeholder|variable|env(ironment)?"
    r"( variable)?) [\"'`$({]*(?P<var6>[A-Za-z_][\w.-]{2,}?)[\"'`})]*(\s|$|:|,)"
    r"|unresolved (placeholder|variable|env(ironment)? variable)[:\s]+[\"'`$({]*"
    r"(?P<var7>[A-Za-z_][\w.-]{2,}?)[\"'`})]*(\s|$|:|,)"
    r"|(open|read|load(ing)?|stat)\s+(config(uration)?\s+(file\s+)?)?[\"']?(?P<path>/[\w./-]+"
    r"\.(conf|cfg|ya?ml|json|toml|ini|properties|env))[\"']?:?\s+(no such file or directory|"
    r"not found|does not exist)"
    r"|config(uration)? file [\"']?(?P<path2>/[\w./-]+)[\"']? (not found|does not exist|"
    r"is missing)"
    r"|(failed to (parse|load|read) config(uration)?|invalid config(uration)?)"
    r"|validation errors? for \w*(Settings|Config)\b"  # pydantic-settings: fields missing
    r")"
)

# A configuration file that does not parse, in its parser's own words, by the file kind it
# reads (the extension of the key a ConfigMap volume holds): nlohmann::json, Python's json,
# Jackson and Node's JSON.parse; PyYAML, SnakeYAML, go-yaml and js-yaml; TOML parsers; nginx.
CONFIG_PARSE_LOGS: dict[str, re.Pattern[str]] = {
    ".json": re.compile(
        r"\[json\.exception\.parse_error\.\d+\]|json\.decoder\.JSONDecodeError"
        r"|JsonParseException|SyntaxError: (Unexpected token .* in JSON|.* is not valid JSON)"
    ),
    ".yaml": re.compile(
        r"yaml\.(scanner\.ScannerError|parser\.ParserError)|snakeyaml\.\w+\.\w*Exception"
        r"|\byaml: line \d+:|YAMLException"
    ),
    ".toml": re.compile(r"\btoml: line \d+|TomlDecodeError"),
    ".conf": re.compile(r"\[emerg\] .* in /etc/nginx/"),
}
CONFIG_PARSE_LOGS[".yml"] = CONFIG_PARSE_LOGS[".yaml"]

# A server refusing to start on its configuration, in its own words, whatever the file kind:
# the parsers above, CoreDNS/Caddy ("Corefile:12 - Error during parsing: Unknown directive"),
# nginx and HAProxy's fatal config errors, Envoy's and Prometheus' loaders, and the generic
# "failed to parse/load config".
CONFIG_REJECTED_LOG: Final = re.compile(
    "|".join(p.pattern for p in CONFIG_PARSE_LOGS.values())
    + r"|Error during parsing|\[emerg\] |\[ALERT\].*\bparsing\b"
    r"|error initializing configuration|error loading config"
    r"|(?i:failed to (parse|load) config(uration)?)"
)


# Calls that timed out, in three words: could not connect in time (a dial or connect timeout),
# no answer in time (a read or request timeout: connected, then waited), and timeouts that
# do not say which (a Go i/o timeout or deadline, ETIMEDOUT, "timed out waiting"). A Java
# SocketTimeoutException is read-side unless its message says "connect timed out", which the
# connect family also matches.
_CONNECT_TIMEOUT = (
    r"connect(?:ion)? timed? ?out|timed? ?out (?:while |after )?(?:connecting|dialing)"
    r"|timeout expired while connecting"  # libpq's connect_timeout
    # libpq 14+ naming the server it gave up on ("connection to server at "10.0.0.5", port
    # 5432 failed: timeout expired", as psql, psycopg and Ruby's pg relay it), and psycopg 3's
    # own connect timeout ("connection timeout expired").
    r"|port \d+ failed: timeout expired|connection timeout expired"
    # .NET's SocketsHttpHandler giving up on its ConnectTimeout.
    r"|could not be established within the configured ConnectTimeout"
)
_ANSWER_TIMEOUT = (
    r"read timed? ?out|SocketTimeoutException|timeout of \d+ ?ms exceeded|ECONNABORTED"
    # The JDK's java.net.http client: "HttpTimeoutException: request timed out".
    r"|HttpTimeoutException: request timed out"
    # Cassandra and ScyllaDB (CQL): gocql's request timeout, and the coordinator's
    # ReadTimeout/WriteTimeout as every driver relays it ("... received only 0 responses").
    r"|no response received from cassandra within timeout period"
    r"|operation timed out (?:for [\w.]+ )?- received only \d+ responses?"
    # Kafka producers: the Java client expiring batches the brokers never acknowledged
    # ("Expiring 37 record(s) for orders-3:120004 ms has passed since batch creation"), a
    # produce response REQUEST_TIMED_OUT, and librdkafka's "Local: Message timed out".
    r"|Expiring \d+ record\(s\) for \S+ ?\d+ ms has passed since"
    r"|\bREQUEST_TIMED_OUT\b|Local: Message timed out"
)
_EITHER_TIMEOUT = (
    r"i/o timeout|context deadline exceeded|ETIMEDOUT|timed? ?out (?:while |after )?waiting"
    # A client's own call timeout, with its budget ("call timed out after 300 ms", "request
    # timed out after 5s"), Go's http.Client and grpc-java's deadline.
    r"|timed? ?out after \d+(?:\.\d+)? ?(?:ms|milliseconds?|s|secs?|seconds?)\b"
    r"|Client\.Timeout exceeded|deadline exceeded after"
)
# A client's own call timeout as a structured logger writes it, the budget in a field after
# the message ("msg":"call timed out","timeoutMs":800; timed out ... timeout=5s). Only an
# answer timeout for a callee already in question: alone it does not say the call failed
# elsewhere (an event loop starved of CPU spends its budgets too).
_BUDGET_TIMEOUT = (
    r"timed? ?out\b[^\n]{0,60}?\btimeout_?(?:ms|millis|seconds|secs|s)?\"?\s*[=:]\s*\"?\d"
)
# A callee turning a call away as overloaded, in the caller's words: HTTP 503 (RFC 9110
# 15.6.4, "temporary overload") or 429 answered with a Retry-After, the server's own "come back
# later". A 503 without Retry-After says no more than "unavailable" (no endpoints, a proxy).
OVERLOAD_REJECTION_LOG = re.compile(
    r"(?i)\b(?:503|429)\b[^\n]{0,80}?\bretry[-_ ]?after\b"
    r"|\bretry[-_ ]?after\b[^\n]{0,80}?\b(?:503|429)\b"
)
# Could not connect in time, or a timeout that does not say (a path blocked or a host gone).
CONNECT_TIMEOUT_LOG = re.compile(rf"(?i)({_CONNECT_TIMEOUT}|{_EITHER_TIMEOUT})")
# Waited in vain for an answer, or a timeout that does not say (a callee up but slow).
ANSWER_TIMEOUT_LOG = re.compile(rf"(?i)({_ANSWER_TIMEOUT}|{_EITHER_TIMEOUT}|{_BUDGET_TIMEOUT})")

# A search store refusing work it has no room for, in its own words: Elasticsearch and
# OpenSearch reject a full write or search queue (``es_rejected_execution_exception``, HTTP
# 429) and trip a circuit breaker when a request would push the heap past its limit
# (``circuit_breaking_exception``, "Data too large"). The server is up and loaded.
SEARCH_STORE_BUSY = re.compile(
    r"(?i)(es_rejected_execution_exception|EsRejectedExecutionException"
    r"|OpenSearchRejectedExecutionException|circuit_breaking_exception)"
)

# A failing call to something else: refused, reset, timed out, DNS, or an upstream 5xx.
# A gRPC client told the callee is unavailable (status 14), in the words of grpc-js, grpc-go,
# grpc-python and grpc-java's client exception.
GRPC_UNAVAILABLE = re.compile(
    r"\b14 UNAVAILABLE\b|code = Unavailable\b|StatusCode\.UNAVAILABLE"
    r"|StatusRuntimeException: UNAVAILABLE"
)
# A client connection pool that waited in vain for a connection to its database: every
# connection it holds is busy in the server (HikariCP, node-postgres, Tomcat JDBC, Commons
# DBCP, c3p0, Active Record, Sequelize). The line names no host; the pool's URL is in the env.
POOL_ACQUIRE_TIMEOUT = re.compile(
    r"(connection is not available, request timed out after"
    r"|timeout exceeded when trying to connect|Timeout: Pool empty"
    r"|could not obtain a connection from the pool|Timeout waiting for idle object"
    r"|checkout a Connection has timed out|ConnectionAcquireTimeoutError)",
    re.IGNORECASE,
)
# The Apache Kafka Java client (producers, consumers, admin clients, and every appender or
# framework built on it) failing to reach its brokers: the network thread's warning, and the
# caller's own send or poll giving up on metadata it never got.
KAFKA_CLIENT_UNREACHABLE = re.compile(
    r"(connection to node -?\d+ \([^)]*\) could not be established"
    r"|bootstrap broker \S+ \(id: -?\d+ rack: [^)]*\) disconnected"
    r"|not present in metadata after \d+ ?ms|failed to update metadata after \d+ ?ms)",
    re.IGNORECASE,
)
# A connection pooler between the client and its database answering for the server
# connections it holds (PgBouncer's pooler errors, ProxySQL's hostgroup timeout, Odyssey's
# pool limits): the client's query waited for, or was refused, a pooled server connection.
# The line names no host; the pooler's address is in the client's env.
POOLER_ERROR = re.compile(
    r"(?i)(\bquery_wait_timeout\b|no more connections allowed \(max_client_conn\)"
    r"|pgbouncer cannot connect to server|server conn crashed\?"
    r"|Max connect timeout reached while reaching hostgroup"
    r"|client's queue is full|too many clients for route)"
)
DEPENDENCY_LOG = re.compile(
    r"(?i)("
    r"connection refused|ECONNREFUSED|connection reset|ECONNRESET|broken pipe"
    # pgjdbc: "Connection to db.ns.svc:5432 refused. Check that the hostname and port...".
    r"|connection to [\w.:-]+ refused"
    rf"|{_CONNECT_TIMEOUT}|{_ANSWER_TIMEOUT}|{_EITHER_TIMEOUT}"
    r"|no such host|NXDOMAIN|name or service not known|temporary failure in name resolution"
    r"|could not resolve host|getaddrinfo|server misbehaving|ENOTFOUND"
    r"|could not connect to|unable to connect to|failed to connect to|cannot connect to"
    r"|not possible to connect to|\bUnableToConnect\b"  # StackExchange.Redis (.NET)
    r"|upstream connect error|no healthy upstream|bad gateway|service[ _]unavailable"
    # Envoy's access log: the status, then the response flags naming an upstream failure
    # (UH no healthy upstream, UF connect failure, UO overflow, URX retries exhausted, UT
    # upstream timeout, UC upstream reset): "GET /x HTTP/1.1" 503 UH.
    r"|\b5\d\d (?-i:(UH|UF|UO|URX|UT|UC))\b"
    r"|gateway timeout|(status|code|status_code|http)\"?[=: ]+\"?5\d\d\b|\b5\d\d (Service "
    r"Unavailable|Bad Gateway|Gateway Timeout|Internal Server Error)"
    # A client library's error object carrying the callee's 5xx: ApiError(503, ...).
    r"|\b\w*(Error|Exception)\(5\d\d\b"
    r"|circuit breaker( is)? open"
    rf"|{GRPC_UNAVAILABLE.pattern}"
    # A dependency that is up but cannot serve: no elected leader, a sealed secret store.
    r"|no (elected )?master\b|master[ _]not[ _]discovered|no leader\b|\bis sealed\b"
    # OpenSearch 2 renamed Elasticsearch's master_not_discovered_exception.
    r"|cluster[ _]manager[ _]not[ _]discovered"
    r"|CLUSTERDOWN|MASTERDOWN|\bLOADING\b.{0,40}dataset|leader[ _]not[ _]available"
    r"|no ?brokers ?available|not[ _]enough[ _]replicas"
    # A search cluster with shards unassigned, or a stream cluster without quorum (NATS).
    r"|all shards failed|no_shard_available_action_exception"
    r"|jetstream system temporarily unavailable|no response from stream|no responders available"
    # A database that is up but refuses the work: read-only, recovering, out of XIDs or slots.
    r"|database is not accepting commands|read-only transaction|database (system )?is "
    r"(starting up|shutting down|in recovery mode|read[- ]only)|too many (clients|connections)"
    r"|remaining connection slots are reserved|--read-only option|ProgramLimitExceeded"
    rf"|{POOL_ACQUIRE_TIMEOUT.pattern}"
    rf"|{KAFKA_CLIENT_UNREACHABLE.pattern}"
    r")"
)
# A service rejecting a signed token (JWT) because the signature does not verify against the
# keys its issuer publishes (JWKS): the words of golang-jwt and keyfunc, jose, jsonwebtoken,
# PyJWT, Spring Security's Nimbus decoder, auth0 java-jwt, Envoy's and Istio's jwt_authn.
TOKEN_VERIFY_LOG = re.compile(
    r"(?i)(token is unverifiable|token signature is invalid|signature is invalid"
    r"|invalid (?:token |jwt )?signature|signature verification (?:failed|error)"
    r"|jwt verification fails|\bkid\b.{0,60}\bnot found|key id.{0,40}not found"
    r"|no (?:applicable|matching) key|unable to find a signing key"
    r"|jwks doesn't have key|JWKSNoMatchingKey|SignatureVerificationException"
    r"|no matching key\(s\) found)"
)
# A dependency's server telling a client it serves nobody at the moment, as the client relays
# it: PostgreSQL starting, stopping or recovering (a crash or a failover), MySQL shutting down,
# Redis loading its dataset or its cluster without a master, a sealed Vault. No client's
# request puts a server in that state, so a client's change is not what its callers suffer
# from. The line must be the client's (a connection failure, an exception): a database's own
# log says the same words about itself.
SERVER_NOT_SERVING = re.compile(
    r"(?i)(?=.*(connection|exception|error\b|error:|failed))"
    r".*(the database system is (starting up|shutting down|in recovery mode|not yet accepting)"
    r"|server shutdown in progress|\bLOADING\b.{0,40}dataset|CLUSTERDOWN|MASTERDOWN"
    r"|vault is sealed)"
)


# A secret store telling a client that the secret it asked for does not exist, in the words
# of Vault (Agent templates, the CSI provider, the API), AWS Secrets Manager and SSM Parameter
# Store, Google Secret Manager and Azure Key Vault. The name is the pod's own configuration
# (an injector annotation, a SecretProviderClass, an env value): the store is up and answers.
SECRET_STORE_MISSING = re.compile(
    r"no secret exists at \S+|No value found at \S+"
    r"|Secrets Manager can'?t find the specified secret|\bParameterNotFound\b"
    r"|\bSecret (?:Version )?\[projects/[^\]]+\] not found"
    r"|\bSecretNotFound\b|A secret with \(name/id\) \S+ was not found in this key vault",
    re.IGNORECASE,
)
# The same stores refusing the pod's identity the secret (403, access denied), when the
# Secrets Store CSI driver mounts it: the workload's access to its store is configuration.
SECRET_STORE_REFUSED = re.compile(
    r"\bCode: 403\b|StatusCode=403\b|\bAccessDenied(?:Exception)?\b|\bPermissionDenied\b"
    r"|\bpermission denied\b|\bForbidden\b",
    re.IGNORECASE,
)
# The kubelet's FailedMount of a Secrets Store CSI volume (any provider): the driver fetches
# every object its SecretProviderClass lists before the container may start.
SECRETS_STORE_MOUNT = re.compile(r"failed to mount secrets store objects", re.IGNORECASE)
CONFIG_VARIABLE_GROUPS = ("var1", "var2", "var3", "var4", "var5", "var6", "var7")
# An access-log style 5xx the workload itself served is not a failing dependency; require a
# word saying *we* failed to get an answer.
FAILURE_WORDS = re.compile(
    r"(?i)(fail|error|err=|unavailable|upstream|refused|reset|timeout|timed out|unable|"
    r"could not|cannot|giving up|abandon|retry|retrying)"
)

# A request the server failed, as its own log says it: an HTTP 5xx in an access-log or
# structured line, an error-level record, a stack trace.
SERVER_ERROR_LOG = re.compile(
    r'(?i)(\b(status|code|status_?code)"?\s*[=:]\s*"?5\d\d\b|" 5\d\d \d|\bHTTP/[\d.]+"? 5\d\d\b|'
    r'"level"\s*:\s*(50|"error")|\blevel=error\b|\[error\]|(?-i:\bERROR\b)|'
    r"traceback \(most recent call last\)|exception in thread|internal server error)"
)

CRASH_LOG = re.compile(
    r"(?i)(panic:|traceback \(most recent call last\)|\bfatal\b|segmentation fault|"
    r"sigsegv|unhandled (exception|rejection)|uncaught exception|exception in thread|"
    r"unknown (flag|option|argument|command)|flag provided but not defined|unrecognized "
    r"(option|argument)|migration(s)? failed|failed to (run )?migrat|core dumped|"
    r"exited with (code|status) [1-9]|\berror:)"
)

# A server whose worker pool has no free worker, as gunicorn/uWSGI/php-fpm/Puma/Tomcat/nginx
# and thread pools say it: requests (and probes) queue behind busy workers.
POOL_EXHAUSTED = re.compile(
    r"(?i)(worker timeout|no (idle|free|available) workers?|all workers (are )?busy|"
    r"max_children|server reached (pm\.)?max_children|thread pool (is )?(exhausted|full)|"
    r"all threads (\(\d+\) )?are (currently )?busy|"
    r"pool exhausted|rejectedexecution|listen queue (is |of socket .{1,80} )?full|"
    r"backlog (is )?full|"
    r"worker_connections are not enough|too many (open )?connections|"
    # Client connection pools with every connection taken: Npgsql, SQLAlchemy.
    r"connection pool has been exhausted|QueuePool limit of size \d+ overflow \d+ reached)"
)

# A process wedged by its own state, whatever its load: threads deadlocked on each other (the
# JVM's thread dump says so; Go's runtime too), or out of file descriptors (EMFILE from libc,
# Node, Go, Java), so it cannot accept or open anything. A probe that times out on it reports
# the fault, it is not the fault.
WEDGED_LOG = re.compile(
    r"(?i)(found (one|\d+) java-level deadlocks?|found \d+ deadlocks?\b|"
    r"fatal error: all goroutines are asleep - deadlock|"
    r"too many open files|\bEMFILE\b)"
)

OOM_LOG = re.compile(
    r"(?i)(java\.lang\.OutOfMemoryError|JavaScript heap out of memory|\bMemoryError\b|"
    r"runtime: out of memory|fatal error: out of memory|cannot allocate memory|"
    r"out of memory: killed process)"
)

DISK_FULL_LOG = re.compile(
    r"(?i)(no space left on device|ENOSPC|disk (is )?full|could not extend file|"
    r"disk quota exceeded|not enough (free )?(disk )?space|filesystem is full|"
    r"database or disk is full|insufficient storage|storage (resources )?(are|is) "
    r"insufficient|\bstoragefull\b|\bstorage full\b)"
)

# A "no space left on device" about POSIX shared memory: the tmpfs at /dev/shm (64 MB by
# default in a container) refused a segment, not a volume (Postgres "could not resize shared
# memory segment", glibc shm_open, a Python multiprocessing or DataLoader bus error text).
SHARED_MEMORY_SPACE = re.compile(r"(?i)(shared memory segment|/dev/shm\b|\bshm_open\b)")

# Something that filled up over time: memory (a process out of it, a store at its memory cap
# refusing writes) or a disk. What fills since a change shows its effect only once full, so
# such a change can be guilty of a symptom that began long after it.
FILLED_LOG = re.compile(
    "|".join(
        (
            OOM_LOG.pattern.removeprefix("(?i)"),
            DISK_FULL_LOG.pattern.removeprefix("(?i)"),
            r"(OOM command not allowed|used memory > 'maxmemory'|memory resource limit alarm)",
        )
    ),
    re.IGNORECASE,
)

_HOST_PATTERNS = (
    re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://(?:[^@/\s\"']+@)?(?P<host>[a-z0-9][\w.-]*)"),
    re.compile(r"(?i)\bdial (?:tcp|udp)\d? (?P<host>[a-z0-9][\w.-]*):\d+"),
    # Go's resolver: "lookup <name> on <server>:53"; grpc-go prefixes "A record lookup error:".
    re.compile(r"(?i)\blookup (?!errors?\b|failed\b)(?P<host>[a-z0-9][\w.-]*)"),
    # host=..., host: "...", and Python's urllib3 (requests) pool: "HTTPConnectionPool(
    # host='fx.ns.svc.cluster.local', port=8080): Read timed out".
    re.compile(
        r"(?i)\b(?:host|hostname|upstream|server|addr|address|target|endpoint|to|at|url)"
        r"[=:]\s*[\"']?(?P<host>[a-z][\w.-]*)"
    ),
    re.compile(r"(?i)\b(?P<host>[a-z][\w-]*(?:\.[\w-]+)*):\d{2,5}\b"),
    # Istio's Envoy cluster, as its access log prints the upstream cluster:
    # "outbound|8080||search.shop.svc.cluster.local" (direction, port, subset, host).
    re.compile(r"(?i)\b(?:outbound|inbound)\|\d+\|[\w.-]*\|(?P<host>[a-z][\w-]*(?:\.[\w-]+)*)"),
    # Java's socket address, as its clients print it (Kafka, Netty, Lettuce, JDBC drivers):
    # "kafka.ns.svc.cluster.local/10.0.3.7:9092", the name before the resolved address.
    re.compile(r"(?i)\b(?P<host>[a-z][\w-]*(?:\.[\w-]+)*)/(?:\d{1,3}\.){3}\d{1,3}:\d{2,5}\b"),
    re.compile(
        r"(?i)\b(?:to|connect to|connecting to|calling|reach|from) \"?"
        r"(?P<host>[a-z][\w-]*(?:\.[\w-]+)+)"
    ),
    # libpq (psycopg, the pg gem, every PostgreSQL client built on it) quotes the host it
    # dialled: 'connection to server at "db.ns.svc" (10.0.0.7), port 5432 failed' (14+),
    # 'Is the server running on host "db" (10.0.0.7) and accepting' (before 14).
    re.compile(r"(?i)\b(?:server at|on host) \"(?P<host>[a-z][\w.-]*)\""),
    # pgx (Go's PostgreSQL driver, 5.5+) names each address it dialled with the host it
    # resolved it from: "failed to connect to `user=app database=app`: 10.0.0.7:5432 (db):
    # unexpected EOF".
    re.compile(r"(?i)(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}:\d{1,5} \((?P<host>[a-z][\w.-]*)\)"),
)


# gRPC names the address it dialled with its URI scheme ("ipv4:10.0.0.7:50051").
_ADDRESS = re.compile(
    r"(?:(?<=\bipv4:)|(?<![\w.:]))(?P<ip>(?:\d{1,3}\.){3}\d{1,3}):(?P<port>\d{1,5})(?!\w|\.\d)"
)


def addresses_in(text: str) -> list[tuple[str, int]]:
    """IPv4 address:port pairs a line names, in order: what a client dials when it found its
    callee's pods itself (service discovery such as consul, a headless Service) rather than
    through a Service name."""
    found: list[tuple[str, int]] = []
    for match in _ADDRESS.finditer(text):
        pair = (match["ip"], int(match["port"]))
        if pair not in found and int(match["port"]) <= 65535:
            found.append(pair)
    return found


def hosts_in(text: str) -> list[str]:
    """Host names a line mentions (URLs, dial targets, host=..., name:port), in order."""
    found: list[str] = []
    for pattern in _HOST_PATTERNS:
        for match in pattern.finditer(text):
            host = match["host"].lower().rstrip(".")
            if host not in found:
                found.append(host)
    return found


def service_for_host(host: str, services: Iterable[ServiceEvidence]) -> ServiceEvidence | None:
    """The Service a host name designates: its DNS names, or an ExternalName's target."""
    host = host.lower().rstrip(".")
    labels = host.split(".")
    for svc in services:
        if svc.external_name and host == svc.external_name.lower().rstrip("."):
            return svc
        namespace = svc.namespace.lower()
        if labels[1:2] == [svc.name.lower()] and labels[2:4] == [namespace, "svc"]:
            return svc  # "pod.svc.ns.svc...": one member behind a headless Service
        if labels[0] != svc.name.lower():
            continue
        rest = labels[1:]
        # "svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.<cluster domain>"
        if not rest or rest == [namespace] or rest[:2] == [namespace, "svc"]:
            return svc
    return None


def external_services_named(
    text: str, services: Iterable[ServiceEvidence]
) -> list[ServiceEvidence]:
    """The ExternalName Services whose outside host ``text`` names anywhere, as a whole host
    name (not a part of a longer one): a provider's own error quotes its API host in words no
    host pattern reads ("Quota exceeded ... of service 'maps.example.com'"), and that host is
    only ever the provider the alias stands for."""
    lowered = text.lower()
    found: list[ServiceEvidence] = []
    for svc in services:
        host = (svc.external_name or "").lower().rstrip(".")
        if "." not in host:
            continue  # a bare word is not an outside host a line could quote unambiguously
        if re.search(rf"(?<![\w.-]){re.escape(host)}(?![\w-]|\.[\w-])", lowered):
            found.append(svc)
    return found
