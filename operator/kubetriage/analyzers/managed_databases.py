"""The managed-database rule: the incident's pods log a database server's own refusal (a
resource limit reached, the service busy or unavailable: SQL Server's and Azure SQL's error
numbers 10928, 10936, 40501, 40613, 40197, PostgreSQL's "too many clients" or MySQL's "Too
many connections"), without naming the host (the connection string lives in a Secret, which
is never read), and the namespace reaches one managed database of that engine through an
ExternalName Service (``*.database.windows.net``, ``*.postgres.database.azure.com``,
``*.rds.amazonaws.com``...). The server answers and says no: the database is saturated by
its whole load, not by one caller's pods, so an SRE hands that Service to the database's
owner with the refusals. A pod rescheduled just before (a node consolidated or drained) is
then only the timing.

No finding when two managed databases of that engine are in view (which one is unknown), or
when the refusal names another Service's host (the dependency rules follow a named callee).
Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import hosts_in, service_for_host
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    log_source,
    same_service,
    service_source,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a managed-database finding is, by the evidence that earns it."""

    # The pods log the server's refusal of one engine and one ExternalName Service of the
    # namespace points at a managed database of that engine.
    refused: float = 0.72
    # ... and every pod that logged anything logs it: not one pod's connection.
    every_pod: float = 0.78


CONFIDENCE: Final = _Confidence()

# A database server's own refusal, by engine: it answers, and says it has no room or is
# not serving now.
_REFUSALS: Final = {
    "sqlserver": re.compile(
        r"The (?:request|session) limit for the (?:database|elastic pool) is \d+ and has been "
        r"reached|Error Number:\s*(?:10928|10936|40501|40613|40197|49918|49919|49920)\b"
        r"|The service is currently busy|is not currently available\. Please retry",
        re.IGNORECASE,
    ),
    "postgres": re.compile(
        r"sorry, too many clients already|remaining connection slots are reserved"
        r"|\b53300\b",
        re.IGNORECASE,
    ),
    "mysql": re.compile(r"\bToo many connections\b|\bER_CON_COUNT_ERROR\b|\berror 1040\b", re.I),
}
# The endpoints of the cloud providers' managed databases, by engine (RDS hosts every
# engine under one suffix).
_HOSTS: Final = {
    "sqlserver": (".database.windows.net", ".rds.amazonaws.com"),
    "postgres": (".postgres.database.azure.com", ".rds.amazonaws.com"),
    "mysql": (".mysql.database.azure.com", ".rds.amazonaws.com"),
}


def _managed(services: list[ServiceEvidence], engine: str) -> list[ServiceEvidence]:
    """The ExternalName Services pointing at a managed database of ``engine``."""
    return [
        svc
        for svc in services
        if svc.external_name and svc.external_name.lower().rstrip(".").endswith(_HOSTS[engine])
    ]


def _names_other(line: str, svc: ServiceEvidence, services: list[ServiceEvidence]) -> bool:
    """The line names a host that designates another Service in view than ``svc``."""
    return any(
        (other := service_for_host(host, services)) is not None and not same_service(other, svc)
        for host in hosts_in(line)
    )


def _finding(evidence: Evidence, engine: str) -> Finding | None:
    namespace = evidence.workload.ref.namespace if evidence.workload is not None else None
    candidates = _managed([s for s in evidence.services if s.namespace == namespace], engine)
    if len(candidates) != 1:
        return None
    svc = candidates[0]
    own = [log for log in evidence.logs if log.source == "scope"]
    hits = grep_logs(own, _REFUSALS[engine], limit=20)
    if not hits or any(_names_other(hit.line, svc, evidence.services) for hit in hits):
        return None
    refusing = {hit.log.pod for hit in hits}
    logging = {log.pod for log in own if log.lines}
    confidence = CONFIDENCE.every_pod if refusing >= logging else CONFIDENCE.refused
    refusals = [item(log_source(hit.log), hit.line) for hit in hits[:2]]
    alias = item(service_source(svc), f"ExternalName service -> {svc.external_name}")
    return make_finding(
        "managed-database",
        Category.DEPENDENCY_FAILURE,
        confidence,
        prose.narrative(
            f"The database behind {prose.obj(svc.ref())} refuses the work of "
            f"{prose.count(len(refusing), 'pod')}: it has reached its limits",
            "escalate to its owner",
            aside=f"it points at {svc.external_name}",
            because=[
                prose.claim(
                    f"{len(refusing)} of {prose.count(len(logging), 'pod')} "
                    "log the database server's own refusal",
                    *refusals,
                ),
                prose.claim(
                    f"{prose.obj(svc.ref())} is the one managed database of that kind in view",
                    alias,
                ),
            ],
        ),
        [*refusals, alias],
        Action.ESCALATE,
        svc.ref(),
        {"service": svc.name},
    )


def check_managed_databases(evidence: Evidence) -> list[Finding]:
    return [f for engine in _REFUSALS if (f := _finding(evidence, engine)) is not None]


MANAGED_DATABASE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("managed-database", (Category.DEPENDENCY_FAILURE,), check_managed_databases),
)
