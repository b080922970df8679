"""The rate-limited dependency rule: the workload's calls to something else are answered
"429 Too Many Requests" (or a provider's throttling error: AWS ``ThrottlingException``,
"rate limit exceeded"). The callee caps the caller's request rate, so the work retries,
queues up and drives an autoscaler to its maximum, and every extra replica only earns more
refusals: the limit belongs to whoever owns the callee (raise the quota, spread the calls),
so it is escalated there. The callee is the Service a failing line names (its DNS name or
an ExternalName's target, in a URL or quoted in the provider's own words), or the host the
same container says it retries the call against (a database driver quotes the server's
refusal, then "retrying ... on host:port"), else the one dependency the workload's
configuration names.

``rate_limited_calls`` is also read by the saturation rule, which doubts an autoscaler at
its maximum while its calls are refused for rate.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import (
    caller,
    followed_services,
    own_services,
    service_fact,
    services_elsewhere,
)
from kubetriage.analyzers.log_signatures import (
    SEARCH_STORE_BUSY,
    external_services_named,
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
)
from kubetriage.evidence.quota_peers import PROVIDER_THROTTLING
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a rate-limited dependency finding is, by the evidence that earns it."""

    # The refused calls name the Service (its DNS name or external host), or quote the own
    # refusal of the one kind of server it is (``quoted_server``).
    named: float = 0.8
    configured: float = 0.75  # the workload's configuration names this one dependency only


CONFIDENCE: Final = _Confidence()

# What a client logs when a callee refuses it for rate: the HTTP status (with its reason or
# in a status field), and the words (the reason phrase, "rate limited", "throttled", the
# cloud providers' throttling errors, the Retry-After the callee asks for). A line with both
# is a refusal on its own; lines with one of them count once each.
_STATUS = (
    r"\b429\b\s*(\(|:|-)?\s*too many requests|\bHTTP[ /]?429\b|"
    r"(status|code|status_code|http)\"?[=: ]+\"?429\b|"
    # Google APIs' canonical status for a spent quota (the gRPC and JSON form of their 429).
    r"\bRESOURCE_EXHAUSTED\b"
)
_WORDS = (
    r"too many requests|rate[ _-]?limited\b|rate[ _-]?limit (exceeded|reached|hit)|"
    rf"\bthrottled\b|{PROVIDER_THROTTLING}|"
    r"\bTooManyRequests\b|quota exceeded|retry[-_ ]?after|"
    # Azure Cosmos DB's own 429 (error 16500 on its MongoDB API): "Request rate is large".
    r"request rate is large|"
    # An API's own error code and its SDKs' exception for a 429 (Stripe's ``rate_limit`` and
    # ``StripeRateLimitError``, OpenAI's and Anthropic's ``RateLimitError``).
    r"\brate_limit\b|RateLimitError\b"
)
_STATUS_429 = re.compile(_STATUS, re.IGNORECASE)
_RATE_WORDS = re.compile(_WORDS, re.IGNORECASE)
_REFUSED_FOR_RATE = re.compile(f"{_STATUS}|{_WORDS}", re.IGNORECASE)
# Enough to call it a limit: one line with the status and the words, or two with either.
ENOUGH = 2
# The workload refusing its own clients (an access log of a request it served), or its own
# CPU throttling: neither is a callee's limit.
_SERVED = re.compile(
    r"(?i)(HTTP/\d(\.\d)?\"?\s+429\b|\b(responded|returned|sent|rejected|rejecting)\s+429\b|"
    r"\bcpu\b.{0,30}throttl|"
    # gRPC's RESOURCE_EXHAUSTED for a message over the size limit is no rate.
    r"message (exceeds|larger than) (the )?max)"
)
# A client retrying a call (its driver's "retrying command find on db:27017 after 400ms"):
# the host it retries against is the one that refused it.
_RETRYING = re.compile(r"(?i)\bretry(ing)?\b|\bback(ing)?[ -]?off\b")
# Words that say the workload made the call and got the refusal back.
_RECEIVED = re.compile(
    r"(?i)(request|call|calling|client|retry|backoff|backing off|throttled|exception|error|"
    r"failed|\battempt\b)"
)


def _weight(line: str) -> int:
    if _SERVED.search(line) or not _RECEIVED.search(line):
        return 0
    return (_STATUS_429.search(line) is not None) + (_RATE_WORDS.search(line) is not None)


def refused_for_rate(line: str) -> re.Match[str] | None:
    """Where ``line`` says a call the workload made was refused for rate, else None."""
    return _REFUSED_FOR_RATE.search(line) if _weight(line) else None


def rate_limited_calls(evidence: Evidence) -> list[LogHit]:
    """Log lines where the workload's calls to something else are refused for rate, when
    they are enough to say a callee caps it (else none)."""
    hits = [h for h in grep_logs(evidence.logs, _REFUSED_FOR_RATE, limit=40) if _weight(h.line)]
    return hits if sum(_weight(h.line) for h in hits) >= ENOUGH else []


def retried_hosts(hits: list[LogHit]) -> list[str]:
    """Hosts named by the retry lines of the containers whose calls are refused: a refusal
    often quotes only the server's error, while the client's next line says which server it
    retries the call against."""
    found: list[str] = []
    for log in {id(h.log): h.log for h in hits}.values():
        for line in log.lines:
            if _RETRYING.search(line):
                found += [host for host in hosts_in(line) if host not in found]
    return found


def limiting_service(evidence: Evidence, hits: list[LogHit]) -> tuple[ServiceEvidence, bool] | None:
    """The Service that refuses the calls and whether a refused line names it (else it is the
    one dependency the workload's configuration names)."""
    own = own_services(evidence, hits)
    candidates = [s for s in evidence.services if s.name not in own]
    candidates += [s for s in followed_services(evidence) if s not in candidates]
    hosts = [host for h in hits for host in hosts_in(h.line)]
    hosts += [host for host in retried_hosts(hits) if host not in hosts]
    candidates += [s for s in services_elsewhere(evidence, hosts) if s not in candidates]
    for host in hosts:
        svc = service_for_host(host, candidates)
        if svc is not None and svc.name not in own:
            return svc, True
    # A provider's refusal in its own words, quoting its API host where no host pattern
    # reads it: the ExternalName standing for that host.
    for hit in hits:
        quoted = [s for s in external_services_named(hit.line, candidates) if s.name not in own]
        if quoted:
            return quoted[0], True
    followed = [s for s in followed_services(evidence) if s.name not in own]
    if len(followed) == 1:
        return followed[0], False
    quoting = quoted_server(evidence, hits)
    if quoting is not None and quoting.name not in own:
        return quoting, True
    return None


# Servers that refuse work in words of their own, and the words naming such a server in a
# Service's, its selector's or its workload's names: Elasticsearch and OpenSearch reject a
# full write or search queue with ``es_rejected_execution_exception`` (HTTP 429) and trip
# their circuit breakers with ``circuit_breaking_exception``; a Kafka broker's quotas throttle
# a client with ``ThrottlingQuotaExceededException``.
_SERVER_WORDS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (SEARCH_STORE_BUSY, ("elasticsearch", "opensearch")),
    (re.compile(r"ThrottlingQuotaExceededException"), ("kafka",)),
)


def _identity(dependency: DependencyEvidence) -> str:
    """The names a dependency goes by: its Service, namespace, selector and workload."""
    service = dependency.service
    words = [] if service is None else [service.name, service.namespace or ""]
    if service is not None:
        words += [f"{k}={v}" for k, v in service.selector.items()]
    if dependency.workload is not None:
        words.append(dependency.workload.name)
    return " ".join(words).lower()


def quoted_server(evidence: Evidence, hits: list[LogHit]) -> ServiceEvidence | None:
    """The one followed dependency that is the kind of server whose own refusal the lines
    quote (``_SERVER_WORDS``), when the lines name no host: of a consumer that reads a broker
    and writes an Elasticsearch, a quoted ``es_rejected_execution_exception`` is the
    Elasticsearch's. None when no line quotes such a refusal, or when no dependency, or more
    than one, is that kind of server."""
    names = {
        word
        for pattern, words in _SERVER_WORDS
        if any(pattern.search(h.line) for h in hits)
        for word in words
    }
    if not names:
        return None
    matching = [
        d.service
        for d in evidence.dependencies
        if d.service is not None and any(word in _identity(d) for word in names)
    ]
    return matching[0] if len(matching) == 1 else None


def check_rate_limited(evidence: Evidence) -> list[Finding]:
    hits = rate_limited_calls(evidence)
    if not hits:
        return []
    found = limiting_service(evidence, hits)
    if found is None:
        return []
    svc, named = found
    ref = svc.ref()
    quoted = [item(h.source, h.line) for h in hits[:3]]
    described = service_fact(svc)
    who = caller(evidence, hits)
    because = [
        prose.claim(
            f"{who} logs {prose.count(len(hits), 'call')} refused for rate (429 Too Many "
            "Requests or throttling)",
            *quoted[:2],
        ),
        prose.claim(
            f"The refused calls go to {svc.name}"
            if named
            else f"Its configuration names one dependency, {svc.name}",
            described,
        ),
        prose.claim(
            "A callee that caps the request rate refuses more calls when more replicas make "
            "them: scaling out does not help"
        ),
    ]
    return [
        make_finding(
            "rate-limited-dependency",
            Category.DEPENDENCY_FAILURE,
            CONFIDENCE.named if named else CONFIDENCE.configured,
            prose.narrative(
                f"{prose.obj(ref)} rate-limits the calls of {who}",
                "escalate to its owner to raise the limit",
                aside=f"it points at {svc.external_name}" if svc.external_name else "",
                because=because,
            ),
            [*quoted, described],
            Action.ESCALATE,
            ref,
            {"service": svc.name},
        )
    ]


RATE_LIMIT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("rate-limited-dependency", (Category.DEPENDENCY_FAILURE,), check_rate_limited),
)
