"""What a dependency that is up but cannot serve says about itself: the log lines of a
followed database, cache or broker (``Evidence.dependencies[*].logs``) read with the words
those servers print, and the caller's errors that carry a server's refusal.

- it refuses work (no connection slots, a memory alarm or ``maxmemory``, too few in-sync
  replicas, a read-only index, transaction ID wraparound, writes refused by a database that
  only serves reads: a standby or demoted primary, ``read_only``, a replica), refuses the
  caller's login with nothing changed on the caller's side (a user dropped or revoked on the
  server), or denies the logged-in caller the operations it runs (MongoDB ``not authorized
  on <db> to execute command``, PostgreSQL ``permission denied for table``, MySQL ``command
  denied to user``, Redis ``NOPERM``: a role or grant revoked on the server):
  ``dependency-failure``, escalate to the dependency's Service; but a server whose own
  refusals begin right after its own workload rolled out, its caller unchanged since, refuses
  because of its new revision (a limit or threshold derived from changed resources, a lower
  cap): ``bad-rollout``, roll the dependency back, as for any callee's change;
- it refuses the caller's login right after the caller's own configuration changed (a
  ConfigMap edit, a Secret rotated on one side, a Reloader restart): ``config-missing``,
  correct that ConfigMap or Secret.

Its volume being full is ``kubetriage.analyzers.dependency_volumes``'s rule, which reads the
same lines (``said_lines``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.dependencies import own_rollout_after
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.onset import follows_within
from kubetriage.analyzers.support import item, log_source, object_source, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence, LogTail
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding from a dependency's own words is; the server saying why it refuses
    outweighs the caller's surface (its crash, its probe, its latency)."""

    refusing: float = 0.9  # it says it refuses work (slots, memory, replicas, read-only)
    login_refused: float = 0.86  # it refuses the caller's login, the caller unchanged
    caller_words: float = 0.82  # only the caller quotes the server's refusal (or denial)
    after_change: float = 0.55  # ... but the caller itself changed just before
    credentials_changed: float = 0.9  # a refused login right after the caller's config changed
    # It refuses work in its own words from right after its own rollout, the caller unchanged:
    # above its plain refusal, which the rollout explains.
    refusing_since_rollout: float = 0.92


CONFIDENCE: Final = _Confidence()

# A change of the caller this close before the diagnosis may be what the server refuses.
RECENT_CHANGE = timedelta(hours=2)
# The words servers print when they refuse work while running. A database that only answers
# reads refuses every write in its own words: PostgreSQL on a standby or a demoted primary
# (SQLSTATE 25006, and "recovery is in progress"), MySQL under read_only / super_read_only
# (error 1290), a Redis replica, a MongoDB secondary.
REFUSING = re.compile(
    r"(?i)(sorry, too many clients already|remaining connection slots are reserved"
    r"|too many connections|too many open connections|max number of clients reached"
    r"|memory resource limit alarm set|OOM command not allowed|used memory > 'maxmemory'"
    r"|NotEnoughReplicas|NOT_ENOUGH_REPLICAS|fewer in-sync replicas than required"
    r"|index read-only|read-only-allow-delete block|cluster_block_exception"
    r"|not accepting commands .*wraparound|Publishers will be blocked"
    r"|blocked by the broker|connection\.blocked"
    r"|cannot execute \w+(?: \w+)? in a read-only transaction|recovery is in progress"
    r"|running with the --(?:super-)?read-only option"
    r"|READONLY You can't write against a read only replica"
    r"|NotWritablePrimary|not master and secondaryOk=false"
    r"|MISCONF .*unable to persist)"
)
# ... when they refuse a client's login.
LOGIN_REFUSED = re.compile(
    r"(?i)(password authentication failed for user|no pg_hba\.conf entry"
    r"|authentication failed|failed to authenticate|UserNotFound|access denied for user"
    r"|invalid username-password pair|WRONGPASS|PLAIN login refused|ACCESS_REFUSED"
    r"|SASL authentication step|AuthenticationFailed)"
)

# Well-known ports of each server family, and the words only that family prints: a caller
# quoting one of them is talking to the followed dependency listening on such a port.
_FAMILIES: Final = (
    (
        (5432, 6432),
        re.compile(
            r"(?i)(too many clients|connection slots|could not extend file"
            r"|read-only transaction|recovery is in progress)"
        ),
    ),
    (
        (3306, 6033),
        re.compile(r"(?i)(too many connections|\b1040\b|disk is full|read-only option)"),
    ),
    ((6379, 26379), re.compile(r"(?i)(maxmemory|OOM command not allowed|READONLY|MISCONF)")),
    ((27017,), re.compile(r"(?i)(too many open connections|NotWritablePrimary|not master)")),
    ((9092, 9093, 9094), re.compile(r"(?i)(not_?enough_?replicas|in-sync replicas)")),
    ((9200,), re.compile(r"(?i)(read-only|cluster_block_exception|flood-stage)")),
    ((5672, 5671), re.compile(r"(?i)(blocked by the broker|connection\.blocked|low on memory)")),
)
# ... and the words each family answers a logged-in client with when its user lacks the
# privilege for the operation (a role or grant revoked on the server).
_DENIALS: Final = (
    ((5432, 6432), re.compile(r"(?i)permission denied for (table|relation|schema|sequence)")),
    ((3306, 6033), re.compile(r"(?i)(command denied to user|\b1142\b)")),
    ((6379, 26379), re.compile(r"NOPERM")),
    ((27017,), re.compile(r"(?i)not authorized on \S+ to execute command")),
)
# Words a server family's errors carry that do not tell one of its Services from another.
_FAMILY_WORDS = frozenset(
    {"mongo", "mongodb", "postgres", "postgresql", "mysql", "redis", "db", "database"}
)


@dataclass(frozen=True, slots=True)
class Said:
    """A line a followed dependency logged (``Evidence.dependencies[*].logs``)."""

    dependency: DependencyEvidence
    log: LogTail
    line: str


def said_lines(evidence: Evidence, pattern: re.Pattern[str]) -> list[Said]:
    """The lines of the followed dependencies' logs that ``pattern`` finds."""
    return [
        Said(dep, log, line)
        for dep in evidence.dependencies
        for log in dep.logs
        for line in log.lines
        if pattern.search(line)
    ]


def service_ref(dep: DependencyEvidence) -> ObjectRef | None:
    """The followed dependency's Service (never one named but not read: its own words are
    what these findings quote)."""
    return dep.service.ref() if dep.service is not None else None


def said_fact(said: Said) -> EvidenceItem:
    """The line as a finding's evidence, sourced at the dependency's log."""
    return item(f"{log_source(said.log)} (dependency)", said.line)


def _recent_caller_changes(evidence: Evidence) -> list[ChangeEvidence]:
    """Changes of the caller (its workload, or a ConfigMap/Secret its pods use) shortly
    before the diagnosis."""
    used: set[tuple[str, str]] = {(r.kind, r.name) for p in evidence.pods for r in p.config_refs}
    if evidence.workload is not None:
        used.add((evidence.workload.ref.kind, evidence.workload.ref.name))
    since = evidence.collected_at - RECENT_CHANGE
    return [
        c
        for c in evidence.changes
        if c.at is not None
        and c.at >= since
        and c.kind in ("rollout", "config")
        and (c.object.kind, c.object.name) in used
    ]


def _caller_quotes(evidence: Evidence) -> tuple[DependencyEvidence, EvidenceItem, str] | None:
    """A caller log line carrying a server's refusal (of work, or of the operation to the
    logged-in user), the one followed dependency of that server's family (by its Service's
    well-known port; of several, the one whose name the line's words pick out), and what the
    server does."""
    for log in evidence.logs:
        for line in log.lines:
            refuses = REFUSING.search(line) is not None
            families = _FAMILIES if refuses else _DENIALS
            for ports, words in families:
                if not words.search(line):
                    continue
                deps = [
                    d
                    for d in evidence.dependencies
                    if d.service is not None and set(d.service.port_numbers) & set(ports)
                ]
                dep = _the_one(deps, line)
                if dep is not None:
                    what = "refuses work" if refuses else "denies the caller's operations"
                    return dep, item(log_source(log), line), what
    return None


def _the_one(deps: list[DependencyEvidence], line: str) -> DependencyEvidence | None:
    """The only dependency, or of several the only one whose Service name shares a word
    (other than the server family's own) with the line: "not authorized on rate-db" picks
    ``mongodb-rate`` out of ``mongodb-geo`` and ``mongodb-rate``."""
    if len(deps) == 1:
        return deps[0]
    words = set(re.findall(r"[a-z]{3,}", line.lower())) - _FAMILY_WORDS
    named = [
        d for d in deps if d.service is not None and words & set(re.split(r"[-.]", d.service.name))
    ]
    return named[0] if len(named) == 1 else None


def _callers_login(evidence: Evidence, said: Said) -> bool:
    """The refused login is the caller's: it logs a refused login too, or the server's line
    names one of its pods' addresses."""
    ips = [ip for p in evidence.pods for ip in p.ips]
    return any(ip in said.line for ip in ips) or any(
        LOGIN_REFUSED.search(line) for log in evidence.logs for line in log.lines
    )


def _refusing_since_rollout(evidence: Evidence, refusals: list[Said]) -> list[Finding]:
    """The dependency's first dated refusal follows its own rollout within the window after
    a change, and the caller did not roll out since: its new revision refuses."""
    dep = refusals[0].dependency
    workload, ref = dep.workload, service_ref(dep)
    rollouts = [c for c in dep.changes if c.kind == "rollout" and c.at is not None]
    if workload is None or ref is None or not rollouts:
        return []
    if workload.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return []
    dated = sorted(
        (
            (when, said)
            for said in refusals
            if said.dependency is dep and (when := line_time(said.line, evidence.collected_at))
        ),
        key=lambda pair: pair[0],
    )
    change = rollouts[0]
    if not dated or change.at is None or follows_within(change.at, dated[0][0]) is None:
        return []
    if own_rollout_after(evidence, timestamp(change.at)):
        return []
    facts = [
        item(
            object_source(workload),
            f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:3]),
        ),
        said_fact(dated[0][1]),
    ]
    back = f" to revision {change.from_revision}" if change.from_revision else ""
    return [
        make_finding(
            "dependency-refusing",
            Category.BAD_ROLLOUT,
            CONFIDENCE.refusing_since_rollout,
            prose.narrative(
                f"{prose.obj(ref)} refuses work since {prose.obj(workload)} rolled out",
                f"roll {workload.name} back{back}",
                because=[
                    prose.claim(f"{prose.obj(workload)} rolled out", facts[0]),
                    prose.claim(
                        f"{prose.obj(ref)} refuses work from right after, in its own words",
                        facts[1],
                    ),
                    prose.claim(f"{caller(evidence)} did not change since"),
                ],
            ),
            facts,
            Action.ROLLBACK,
            workload,
            {"revision": str(change.from_revision)} if change.from_revision else {},
        )
    ]


def check_dependency_refusing(evidence: Evidence) -> list[Finding]:
    refusals = said_lines(evidence, REFUSING)
    if refusals and (rolled := _refusing_since_rollout(evidence, refusals)):
        return rolled
    logins = [] if _recent_caller_changes(evidence) else said_lines(evidence, LOGIN_REFUSED)
    logins = [s for s in logins if _callers_login(evidence, s)]
    facts: list[EvidenceItem]
    if refusals or logins:
        said = (refusals or logins)[0]
        dep, facts = said.dependency, [said_fact(s) for s in (refusals or logins)[:2]]
        confidence = CONFIDENCE.refusing if refusals else CONFIDENCE.login_refused
        what = "refuses work" if refusals else "refuses the caller's login"
    elif (quoted := _caller_quotes(evidence)) is not None:
        dep, facts, what = quoted[0], [quoted[1]], quoted[2]
        changed = bool(_recent_caller_changes(evidence))
        confidence = CONFIDENCE.after_change if changed else CONFIDENCE.caller_words
    else:
        return []
    ref = service_ref(dep)
    if ref is None:
        return []
    because = [prose.claim(f"{prose.obj(ref)} {what}, in its own words", *facts)]
    if _recent_caller_changes(evidence):
        named = item(
            object_source(ref),
            f"named by {', '.join(dep.named_by_texts(1)) or 'its caller'}",
        )
        because.append(prose.claim(f"{caller(evidence)} calls it", named))
        facts.append(named)
    else:
        because.append(prose.claim(f"{caller(evidence)} did not change before it began"))
    return [
        make_finding(
            "dependency-refusing",
            Category.DEPENDENCY_FAILURE,
            confidence,
            prose.narrative(
                f"{prose.obj(ref)} is up but {what}", "escalate to its owner", because=because
            ),
            facts,
            Action.ESCALATE,
            ref,
            {"service": ref.name},
        )
    ]


def _changed_config(evidence: Evidence, changes: list[ChangeEvidence]) -> ObjectRef | None:
    """The ConfigMap or Secret of the caller that changed: one a config change names, else
    the one Reloader watches for the workload, else the only Secret its pods use."""
    used = {(r.kind, r.name) for p in evidence.pods for r in p.config_refs}
    for change in changes:
        if change.kind == "config" and (change.object.kind, change.object.name) in used:
            return change.object
    namespace = evidence.workload.ref.namespace if evidence.workload is not None else None
    annotations = evidence.workload.annotations if evidence.workload is not None else {}
    for kind in ("Secret", "ConfigMap"):
        watched = annotations.get(f"{kind.lower()}.reloader.stakater.com/reload", "")
        names = [n.strip() for n in watched.split(",") if (kind, n.strip()) in used]
        if len(names) == 1:
            return ObjectRef(kind=kind, namespace=namespace, name=names[0])
    secrets = sorted({name for kind, name in used if kind == "Secret"})
    if len(secrets) == 1:
        return ObjectRef(kind="Secret", namespace=namespace, name=secrets[0])
    return None


def check_credentials_changed(evidence: Evidence) -> list[Finding]:
    changes = _recent_caller_changes(evidence)
    config_only = [
        c
        for c in changes
        if c.kind == "config" or (c.kind == "rollout" and set(c.aspects) <= {"config", "restart"})
    ]
    if not config_only or len(config_only) < len(changes):
        return []
    refused = said_lines(evidence, LOGIN_REFUSED)
    quoted = [
        item(log_source(log), line)
        for log in evidence.logs
        for line in log.lines
        if LOGIN_REFUSED.search(line)
    ]
    target = _changed_config(evidence, config_only)
    if target is None or not (refused or quoted):
        return []
    facts = [*(said_fact(s) for s in refused[:1]), *quoted[:1]]
    change_fact = item(
        f"change/{config_only[0].object.display()}",
        "; ".join(config_only[0].details) or config_only[0].kind,
    )
    because = [
        prose.claim("Logins to its dependency are refused", *facts),
        prose.claim(f"{caller(evidence)}'s configuration changed just before", change_fact),
    ]
    return [
        make_finding(
            "credentials-changed",
            Category.CONFIG_MISSING,
            CONFIDENCE.credentials_changed,
            prose.narrative(
                f"{caller(evidence)} logs in with credentials its dependency refuses since "
                f"{prose.obj(target)} changed",
                "correct it",
                because=because,
            ),
            [*facts, change_fact],
            Action.FIX_CONFIG,
            target,
        )
    ]


DEPENDENCY_SERVER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("credentials-changed", (Category.CONFIG_MISSING,), check_credentials_changed),
    Analyzer(
        "dependency-refusing",
        (Category.DEPENDENCY_FAILURE, Category.BAD_ROLLOUT),
        check_dependency_refusing,
    ),
)
