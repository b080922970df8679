"""The workload's calls to Services, as the traffic analyzers read them: which log lines are
failing calls to something else (not errors the workload served), which Services those lines,
blackbox probes and cluster DNS names designate, which of them refuse connections although
their endpoints are ready, how a Service is quoted as evidence, and how failing calls fail in
the words of a person reading them (``failure_kind``).

Shared by ``dependency_failure``, ``unnamed_calls``, ``network`` and ``certificates``; pure
functions of Evidence.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from kubetriage import prose
from kubetriage.analyzers.log_signatures import (
    ANSWER_TIMEOUT_LOG,
    CONNECT_TIMEOUT_LOG,
    DEPENDENCY_LOG,
    FAILURE_WORDS,
    GRPC_UNAVAILABLE,
    KAFKA_CLIENT_UNREACHABLE,
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
    service_source,
    workload_ref,
)
from kubetriage.analyzers.worker_timeouts import WORKER_TIMEOUT_LOG
from kubetriage.dns_errors import DNS_LOG, DNS_RESOLVER_FAILURE
from kubetriage.models.alerts_view import CLUSTER_SERVICE_HOST
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import LogTail, MetricSummary, ServiceEvidence
from kubetriage.models.objects import service_selects as _selects

REFUSED = re.compile(r"(?i)(connection refused|ECONNREFUSED|connect: refused)")
_INSTANCE = re.compile(r'instance="(?P<instance>[^"]+)"')


def own_services(evidence: Evidence, hits: Sequence[LogHit] = ()) -> set[str]:
    """Services that front the workload's own pods: failures there are not a dependency.
    A namespace-wide incident (its alert names no workload) holds every pod of the namespace,
    callees included: there the caller is whoever logs the failing ``hits``, and only the
    Services in front of those pods are its own."""
    pods = evidence.pods
    if _namespace_wide(evidence) and hits:
        callers = {(h.log.namespace, h.log.pod) for h in hits}
        pods = [p for p in pods if (p.namespace, p.name) in callers]
    return {s.name for s in evidence.services if any(_selects(s.selector, p.labels) for p in pods)}


def _namespace_wide(evidence: Evidence) -> bool:
    return (
        evidence.workload is None
        and evidence.target is not None
        and evidence.target.kind == "Namespace"
    )


# A response the workload itself served ("Completed 500 Internal Server Error in 12ms",
# '"GET /x HTTP/1.1" 500', a structured access log with the request's path or URL and its
# status, as pino's "statusCode" or "status_code"): its own error (an exception raised in its
# own code), not a call to something else that failed.
_SERVED_5XX = re.compile(
    r"(?i)(\b(completed|responded|returned|sent)\s+5\d\d\b|HTTP/\d(\.\d)?\"?\s+5\d\d\b"
    r"|\"(method|path|route|uri|url)\"\s*:.*\"(status|status_?code)\"\s*:\s*\"?5\d\d\b)"
)
_CALL_FAILED = re.compile(
    r"(?i)(refused|reset|timed? ?out|timeout|no such host|unreachable|upstream|could not connect|"
    r"unable to connect|failed to connect|dial |lookup "
    # A client exception quoting the callee's answer: Apache HttpClient's status line, as the
    # Elasticsearch and OpenSearch REST clients' ResponseException print it ("method [POST],
    # host [https://...], URI [/x/_search], status line [HTTP/1.1 503 Service Unavailable]").
    r"|status line \[)"
)


def dependency_hits(evidence: Evidence) -> list[LogHit]:
    """Log lines of the workload that report a failing call to something else."""
    return failing_calls(evidence.logs)


def failing_calls(logs: Iterable[LogTail]) -> list[LogHit]:
    """Log lines of ``logs`` that report a failing call to something else (not an error the
    pod served itself)."""
    return [
        h
        for h in grep_logs(logs, DEPENDENCY_LOG, limit=40)
        if FAILURE_WORDS.search(h.line)
        and not (_SERVED_5XX.search(h.line) and not _CALL_FAILED.search(h.line))
    ]


def probe_instance(metric: MetricSummary) -> str | None:
    """The target a blackbox probe series measures (its ``instance`` label)."""
    if "instance" in metric.labels:
        return metric.labels["instance"]
    match = _INSTANCE.search(metric.query)
    return match["instance"] if match else None


def services_elsewhere(evidence: Evidence, hosts: list[str]) -> list[ServiceEvidence]:
    """Services in other namespaces that hosts name by their cluster DNS name
    (``name.namespace.svc...``): the name alone identifies the Service even when the evidence
    did not collect that namespace. Names in the workload's own namespaces are not trusted,
    since its Services were collected and an absent one does not exist."""
    local = {p.namespace for p in evidence.pods} | {s.namespace for s in evidence.services}
    found: list[ServiceEvidence] = []
    for host in hosts:
        match = CLUSTER_SERVICE_HOST.match(host)
        if match is None or match["namespace"] in local:
            continue
        svc = ServiceEvidence(name=match["name"], namespace=match["namespace"])
        if svc not in found:
            found.append(svc)
    return found


def followed_services(evidence: Evidence) -> list[ServiceEvidence]:
    """The Services of the dependencies the evidence followed (possibly in other namespaces,
    an ExternalName in front of an external provider among them), as they were read."""
    return [d.service for d in evidence.dependencies if d.service is not None]


def caller(evidence: Evidence, hits: Sequence[LogHit] = ()) -> str:
    """The workload that makes the calls, as a person reads it: in a namespace-wide incident,
    the one whose pod logs the first failing call."""
    pod = None
    if _namespace_wide(evidence) and hits:
        where = (hits[0].log.namespace, hits[0].log.pod)
        pod = next((p for p in evidence.pods if (p.namespace, p.name) == where), None)
    ref = workload_ref(evidence, pod)
    return prose.obj(ref) if ref is not None else "the workload"


def service_fact(svc: ServiceEvidence) -> EvidenceItem:
    """A Service as evidence: its ExternalName target, or its selector and endpoints."""
    if svc.type == "ExternalName":
        return item(service_source(svc), f"ExternalName service -> {svc.external_name}")
    if svc.ready_endpoints is None and svc.matching_pods is None and not svc.selector:
        return item(
            service_source(svc),
            "named by its cluster DNS name; its namespace was not collected",
        )
    selects = prose.selector(svc.selector, empty="none (its Endpoints are written for it)")
    return item(
        service_source(svc),
        f"selector {selects}, "
        f"{prose.ready_endpoints(svc.ready_endpoints, svc.not_ready_endpoints)}",
    )


def refusing_services(evidence: Evidence) -> dict[str, tuple[ServiceEvidence, LogHit]]:
    """Services that refuse connections although they have ready endpoints. A refusal (TCP
    reset) means the endpoint is up but nothing listens on the port traffic is sent to; with
    the pods behind it passing readiness, the process runs, so the Service sends to the wrong
    port (its targetPort). Timeouts and 5xx say nothing of the kind and are not counted."""
    own = own_services(evidence)
    candidates = [
        s
        for s in evidence.services
        if s.selector and (s.ready_endpoints or 0) > 0 and s.name not in own
    ]
    found: dict[str, tuple[ServiceEvidence, LogHit]] = {}
    refused_only = True
    for hit in dependency_hits(evidence):
        for host in hosts_in(hit.line):
            svc = service_for_host(host, candidates)
            if svc is None:
                continue
            if REFUSED.search(hit.line) and not DNS_RESOLVER_FAILURE.search(hit.line):
                # (the resolver refusing a lookup of the Service's name is not the Service)
                found.setdefault(svc.name, (svc, hit))
            else:
                refused_only = False
            break
    return found if refused_only else {}


# How calls fail, in the words of a person reading the log lines.
_FAILURE_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (REFUSED, "connection refused"),
    (DNS_LOG, "name resolution errors"),
    (CONNECT_TIMEOUT_LOG, "timeouts"),
    (ANSWER_TIMEOUT_LOG, "timeouts"),
    (
        re.compile(
            r"(?i)(not accepting commands|read-only|in recovery mode|too many (clients|"
            r"connections)|connection slots are reserved|ProgramLimitExceeded)"
        ),
        "the database refusing work",
    ),
    (
        re.compile(r"(?i)(connection reset|ECONNRESET|broken pipe|unexpected EOF)"),
        "connection resets",
    ),
    (GRPC_UNAVAILABLE, "gRPC UNAVAILABLE"),
    (KAFKA_CLIENT_UNREACHABLE, "broker connection failures"),
    (WORKER_TIMEOUT_LOG, "workers killed past their request timeout"),
)
# A status code as a line states it: after a status or code key, after the HTTP version,
# inside a client's error object, or before its reason phrase.
_STATED_5XX = re.compile(
    r"(?i)(?:\b(?:status|code|status_?code)\b[\"']?\s*[=:]?\s*[\"']?|\bHTTP/[\d.]+\"?\s+"
    r"|\b\w*(?:Error|Exception)\()(?P<code>5\d\d)\b"
    r"|\b(?P<phrased>5\d\d) (?:Service Unavailable|Bad Gateway|Gateway Time-?out"
    r"|Internal Server Error)"
)
# A bare number that may be a status code: not the fraction of a timestamp ("09:58:03.551"),
# a duration ("1.503s", "500 ms") or a size.
_BARE_5XX = re.compile(
    r"(?i)(?<!\d[.,:])\b(?P<code>5\d\d)\b(?![.,]\d)(?!\s*(?:ms|s|sec|seconds|bytes|[kmg]i?b)\b)"
)


def _status_code(text: str) -> str | None:
    """The 5xx status the lines state most often, else the first bare 5xx number."""
    stated = [m["code"] or m["phrased"] for m in _STATED_5XX.finditer(text)]
    if stated:
        return Counter(stated).most_common(1)[0][0]
    bare = _BARE_5XX.search(text)
    return bare["code"] if bare else None


def failure_kind(text: str) -> str:
    """How the calls quoted in ``text`` fail, in a reader's words (a timeout, a status code)."""
    for pattern, kind in _FAILURE_KINDS:
        if pattern.search(text):
            return kind
    code = _status_code(text)
    if code:
        return f"HTTP {code}"
    if re.search(r"(?i)(unavailable|bad gateway|no healthy upstream)", text):
        return "HTTP 5xx"
    return "errors"
