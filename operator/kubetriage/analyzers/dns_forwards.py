"""The cluster DNS forwards a zone to upstreams that do not answer: the caller's lookups
fail (SERVFAIL, EAI_AGAIN, "no such host") while the DNS server itself runs, and its own
error lines say the queries of names in a zone its configuration forwards (a stub zone of
the Corefile: ``consul:53 { forward . 10.43.112.7 }``) timed out or were refused at that
zone's upstream addresses. The resolvers moved (a reinstalled Service with a new ClusterIP,
retired DNS VMs) and the forward still points at the old address: correct the ConfigMap
that holds that server block. A forward of the root zone (``forward . /etc/resolv.conf``)
is the node's resolver, not a stub zone; failing names outside every forwarded zone, or
upstreams that answer, are not this.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import caller_phrase, named_in_logs
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence, DnsForward
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a stale-forward finding is, by the evidence that earns it."""

    # The caller's failing calls name the cluster DNS, whose own lines say the queries of a
    # forwarded zone time out or are refused at that zone's configured upstreams: above the
    # escalation to the DNS Service's owner (0.7) and the edit-time reading of its
    # ConfigMaps (0.85), which this names more precisely.
    stale_forward: float = 0.87


CONFIDENCE: Final = _Confidence()

# CoreDNS's errors plugin: ``[ERROR] plugin/errors: 2 name.zone. A: read udp
# 10.42.0.5:43211->10.43.112.7:53: i/o timeout`` (the query, and the upstream that failed it).
_UPSTREAM_ERROR: Final = re.compile(
    r"plugin/errors: \d+ (?P<name>\S+?\.) [A-Z]+: .*?"
    r"(?P<upstream>\d{1,3}(?:\.\d{1,3}){3}:\d+): "
    r"(?P<why>i/o timeout|connection refused|no route to host)"
)


def _in_zone(name: str, zone: str) -> bool:
    name = name.lower()
    return name == zone or name.endswith(f".{zone}")


def _failed_upstream(dependency: DependencyEvidence, forward: DnsForward) -> str | None:
    """The first line of the DNS server's own logs where a query of a name in ``forward``'s
    zone failed at one of its upstreams; None when no such line."""
    if forward.zone == ".":
        return None
    for tail in dependency.logs:
        for line in tail.lines:
            match = _UPSTREAM_ERROR.search(line)
            if (
                match is not None
                and match["upstream"] in forward.upstreams
                and _in_zone(match["name"], forward.zone)
            ):
                return line
    return None


def check_dns_forwards(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        if not dependency.dns_forwards or not named_in_logs(dependency):
            continue
        for forward in dependency.dns_forwards:
            line = _failed_upstream(dependency, forward)
            if line is None:
                continue
            caller = caller_phrase(evidence)
            zone = forward.zone.rstrip(".")
            upstreams = ", ".join(forward.upstreams)
            facts = [
                item(
                    object_source(forward.config_map),
                    f"{forward.key}: zone {forward.zone} forwarded to {upstreams}",
                ),
                item("dependency", line.strip()),
                item(
                    "dependency",
                    f"{dependency.named_by_texts(1)[0]} names the cluster DNS",
                ),
            ]
            fix = "point that forward at the zone's current resolvers"
            findings.append(
                make_finding(
                    "dns-stale-forward",
                    Category.CONFIG_MISSING,
                    CONFIDENCE.stale_forward,
                    prose.narrative(
                        prose.fitting_problem(
                            [
                                f"{caller} cannot resolve names in {zone}: "
                                f"{prose.obj(forward.config_map)} forwards that zone to "
                                "upstreams that do not answer",
                                f"{prose.obj(forward.config_map)} forwards {zone} to "
                                "upstreams that do not answer",
                                f"{prose.obj(forward.config_map)} forwards {zone} to dead "
                                "upstreams",
                                f"{prose.obj(forward.config_map)} forwards a stub zone to dead "
                                "upstreams",
                            ],
                            fix,
                        ),
                        fix,
                        because=[
                            prose.claim(
                                f"{prose.obj(forward.config_map)} forwards {zone} to {upstreams}",
                                facts[0],
                            ),
                            prose.claim(
                                f"The DNS server's queries of {zone} fail at those upstreams",
                                facts[1],
                            ),
                            prose.claim(f"The failing calls of {caller} are lookups", facts[2]),
                        ],
                    ),
                    facts,
                    Action.FIX_CONFIG,
                    forward.config_map,
                    {},
                )
            )
            break
    return findings


DNS_FORWARD_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("dns-stale-forward", (Category.CONFIG_MISSING,), check_dns_forwards),
)
