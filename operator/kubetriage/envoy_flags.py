"""Envoy's access-log response flags, read the way Envoy documents them. Pure.

Envoy (and every proxy built on it: Istio's sidecars and gateways, Contour, Emissary,
Gloo, Envoy Gateway) logs after the response code the flags saying why a response was what
it was (``%RESPONSE_FLAGS%``: "503 UO", "503 UF,URX", "-" for none), and Istio's
``istio_requests_total`` carries the same flags in its ``response_flags`` label. A 503 from
the proxy is not the proxy's own fault nor a server's 5xx: the flag says whose it is.

- ``UO`` upstream overflow: the *callee's* cluster circuit breaker (max connections, max
  pending or max requests) shed the request, because the callee does not keep up with what
  is sent to it: its capacity, not its health.
- ``UH`` no healthy upstream, ``UF`` upstream connection failure, ``URX`` retries or
  connect attempts exhausted, ``UT`` upstream request timeout, ``UC`` upstream connection
  termination, ``UR`` upstream remote reset, ``UPE`` upstream protocol error, ``UMSDR``
  upstream max stream duration reached: the callee is down, unreachable or failing.
- ``NR`` no route configured, ``NC`` no cluster, ``DPE`` downstream protocol error,
  ``UAEX`` unauthorized by an external authorization service, ``RLSE`` rate-limit service
  error, ``IH`` strictly-checked header invalid, ``SI`` stream idle timeout: the proxy's own
  configuration or policy.
- ``DC`` downstream connection termination, ``DT`` downstream request timeout, ``DI``
  delayed by fault injection, ``FI`` aborted by fault injection: the client side or a test.
- ``LR`` connection local reset, ``LH`` local service failed its health check, ``RL``
  rate limited locally, ``OM`` overload manager: the proxy itself shed or reset it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

OVERFLOW: Final = "UO"
# The flags saying the callee is down, unreachable or failing its requests.
UPSTREAM_FAILURE: Final = frozenset({"UH", "UF", "URX", "UT", "UC", "UR", "UPE", "UMSDR"})
# The flags saying the proxy's own routing, configuration or policy answered.
PROXY_OWN: Final = frozenset(
    {"NR", "NC", "DPE", "UAEX", "RLSE", "IH", "SI", "LR", "LH", "RL", "OM"}
)
# The flags saying the client gave up or a fault was injected on purpose.
DOWNSTREAM: Final = frozenset({"DC", "DT", "DI", "FI"})
KNOWN: Final = frozenset({OVERFLOW}) | UPSTREAM_FAILURE | PROXY_OWN | DOWNSTREAM

# An access-log line: the request line in quotes, the response code, then the flags
# (comma-separated in Envoy 1.x, "-" for none): "GET /x HTTP/1.1" 503 UO ...
_ACCESS_LOG = re.compile(
    r"\"[A-Z]+ \S+ HTTP/[\d.]+\" (?P<code>[1-5]\d\d) "
    r"(?P<flags>[A-Z]{2,5}(?:,[A-Z]{2,5})*|-)(?=\s|$)"
)
# Envoy's own log of a reset for overflow: "upstream_reset_before_response_started{overflow}"
# (the reason an Istio access log also prints after the flags).
_OVERFLOW_RESET = re.compile(r"upstream_reset_before_response_started\{overflow\}")
# Labels Istio's and Envoy's metrics carry the flags in.
FLAG_LABELS: Final = ("response_flags", "response_flag")


def line_flags(line: str) -> tuple[int, frozenset[str]] | None:
    """The response code and the documented flags of one Envoy access-log line (an empty
    set for "-"), or None when the line is not one. Unknown words are not flags."""
    match = _ACCESS_LOG.search(line)
    if match is None:
        return None
    flags = frozenset(match["flags"].split(",")) & KNOWN
    return int(match["code"]), flags


def says_overflow(line: str) -> bool:
    """Whether an Envoy log line says a request was shed by the upstream's circuit breaker:
    an access-log line flagged ``UO``, or the overflow reset reason."""
    read = line_flags(line)
    if read is not None and OVERFLOW in read[1]:
        return True
    return _OVERFLOW_RESET.search(line) is not None


def label_flags(labels: Mapping[str, str]) -> frozenset[str]:
    """The documented flags an alert's or a series' labels carry (``response_flags="UO"``)."""
    found: set[str] = set()
    for label in FLAG_LABELS:
        value = labels.get(label)
        if value:
            found.update(value.split(","))
    return frozenset(found) & KNOWN


def alerts_say_overflow(alerts: Iterable[Mapping[str, str]]) -> bool:
    """Whether an alert's labels carry the ``UO`` flag."""
    return any(OVERFLOW in label_flags(labels) for labels in alerts)
