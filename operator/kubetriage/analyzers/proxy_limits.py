"""The proxy in front of a healthy workload rejects requests by a limit of its own
configuration: the workload's pods run and are ready, and the ingress controller serving its
Ingress (followed as a dependency that fronts it, ``DependencyEvidence.fronts_workload``)
says in its own log tails that it answered requests itself because they exceed one of its
limits (nginx's ``client intended to send too large body`` for ``client_max_body_size``,
``client sent too large request`` and ``Request Header Or Cookie Too Large`` for its header
buffers, ``upstream sent too big header`` for its proxy buffers; Envoy's and Traefik's
``payload too large`` and ``request entity too large``, Envoy's
``request_payload_too_large`` response detail, ``Request Header Fields Too Large``). Those
requests never reach the workload, so its own metrics and logs show nothing.

An SRE then asks what changed in the proxy's settings: a ConfigMap the controller reads (the
one its ``--configmap`` flag names, those its pods mount) written shortly before the first
rejection is what to correct or revert (fix-config on that ConfigMap). With no such write,
the rejection by the proxy's own limit is still the finding, at lower confidence: the
controller's settings (or the Ingress's own override of them) are what to raise. Unless every
refusal is of the upstream's own response headers (``upstream sent too big header``) and the
workload rolled out new code or settings shortly before the first one: the proxy stayed as it
was and the release grew its headers (cookies, tokens), so the release is rolled back.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.own_sockets import CODE_OR_SETTINGS, settings_rollout
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.revisions import current_and_previous_revision
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
    object_source,
    timestamp,
    workload_ref,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a proxy-limit finding is, by the evidence that earns it."""

    # The controller in front of the healthy workload rejects requests by its own limit, and
    # a ConfigMap of its settings was written shortly before the first rejection: above a
    # healthy workload's unexplained alert and the escalation of a dependency.
    limit_after_edit: float = 0.87
    # ... the same rejections with no write of its settings in view: the limit is the
    # finding, which setting changed (or whether the requests grew) is not known.
    limit_only: float = 0.62
    # The proxy refuses the workload's own response headers (they outgrow its proxy buffers),
    # its settings were not written, and the workload rolled out new code or settings shortly
    # before the first refusal: the release grew its headers (cookies, tokens), above the
    # limit-only reading and a rollout's generic breakage without a measured onset.
    headers_grew_with_release: float = 0.8


CONFIDENCE: Final = _Confidence()
NAME: Final = "proxy-limit"

# The proxy's own words when it answers a request itself because it exceeds a configured
# limit (body size, header buffers, upstream header buffers); see the module docstring.
PROXY_LIMIT_LOG: Final = re.compile(
    r"(?i)client intended to send too large body"
    r"|client sent too large request"
    r"|request header or cookie too large"
    r"|upstream sent too big header"
    r"|request entity too large"
    r"|payload too large"
    r"|request_payload_too_large"
    r"|request header fields too large"
)
# The proxy's words when the upstream's response headers (not the client's request) exceed
# its buffers: the workload behind it sent them.
UPSTREAM_HEADERS_LOG: Final = re.compile(r"(?i)upstream sent too big header")
# How long before the first rejection a write of the proxy's settings still explains it.
EDIT_WINDOW: Final = timedelta(hours=6)
# A write logged a little after the first rejection line (clocks, the reload) still counts.
EDIT_TOLERANCE: Final = timedelta(minutes=2)
_FIX = "correct or revert that edit"
_RAISE = "raise that limit in the controller's settings or on the Ingress"
_ROLL_BACK = "roll back that release"


def _first_rejection(hits: list[LogHit], now: datetime) -> datetime | None:
    times = [when for hit in hits if (when := line_time(hit.line, now)) is not None]
    return min(times, key=timestamp, default=None)


def _edit_before(dependency: DependencyEvidence, first: datetime | None) -> ChangeEvidence | None:
    """The newest write of the proxy's settings shortly before the first rejection."""
    if first is None:
        return None
    edits = [
        c
        for c in dependency.config_changes
        if c.at is not None
        and "data" in c.aspects
        and -EDIT_TOLERANCE.total_seconds()
        <= timestamp(first) - timestamp(c.at)
        <= EDIT_WINDOW.total_seconds()
    ]
    return max(edits, key=lambda c: timestamp(c.at or first), default=None)


def _release_before(evidence: Evidence, first: datetime | None) -> ChangeEvidence | None:
    """The workload's rollout of new code or settings shortly before the first refusal."""
    current, _ = current_and_previous_revision(evidence)
    target = workload_ref(evidence)
    if current is None or first is None or target is None:
        return None
    if target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return None
    change = settings_rollout(evidence, current)
    if change is None or change.at is None:
        return None
    before = timestamp(first) - timestamp(change.at)
    return change if 0 <= before <= EDIT_WINDOW.total_seconds() else None


def _headers_grew(
    evidence: Evidence, hits: list[LogHit], first: datetime | None, because: list[Claim]
) -> Finding | None:
    """Roll back the workload whose release made its response headers outgrow the proxy's
    buffers: every refusal is of the upstream's headers and the workload changed before."""
    upstream = [h for h in hits if UPSTREAM_HEADERS_LOG.search(h.line)]
    change = _release_before(evidence, first)
    target = workload_ref(evidence)
    if len(upstream) < len(hits) or change is None or change.at is None or target is None:
        return None
    released = item(
        object_source(target),
        f"rolled out at {change.at:%H:%M}, changing "
        f"{', '.join(sorted(CODE_OR_SETTINGS & set(change.aspects)))}",
    )
    problems = [
        f"{prose.obj(target)}'s release made its response headers too big for the proxy",
        f"{prose.obj(target)}'s response headers outgrew the proxy's buffer",
    ]
    return make_finding(
        NAME,
        Category.BAD_ROLLOUT,
        CONFIDENCE.headers_grew_with_release,
        prose.narrative(
            prose.fitting_problem(problems, _ROLL_BACK),
            _ROLL_BACK,
            because=[
                *because,
                prose.claim(
                    "The refused headers are the workload's own responses, and it rolled out "
                    "new code or settings shortly before the first refusal while the proxy's "
                    "settings stayed as they were",
                    released,
                ),
            ],
        ),
        [item(upstream[0].source, prose.quote(upstream[0].line)), released],
        Action.ROLLBACK,
        target,
        {},
    )


def check_proxy_limits(evidence: Evidence) -> list[Finding]:
    if not evidence.pods or any(pod_failing(p) for p in evidence.pods):
        return []
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        proxy = dependency.workload or dependency.ref
        if not dependency.fronts_workload() or proxy is None:
            continue
        hits = grep_logs(dependency.logs, PROXY_LIMIT_LOG, limit=20)
        if not hits:
            continue
        first = _first_rejection(hits, evidence.collected_at)
        edit = _edit_before(dependency, first)
        rejected = item(hits[0].source, prose.quote(hits[0].line))
        healthy = item(
            "pods",
            f"{prose.count(len(evidence.pods), 'pod')} of the workload running and ready",
        )
        facts: list[EvidenceItem] = [rejected, healthy]
        because = [
            prose.claim(
                f"The ingress controller {proxy.name} in front of the workload answers "
                "requests itself, rejecting them by a limit of its own configuration",
                rejected,
            ),
            prose.claim("The workload's own pods run and are ready", healthy),
        ]
        if edit is not None and edit.at is not None:
            written = item(object_source(edit.object), f"data last written at {edit.at:%H:%M}")
            facts.append(written)
            because.append(
                prose.claim(
                    f"{prose.obj(edit.object)}, which {proxy.name} reads its settings from, "
                    "was written shortly before the first rejection",
                    written,
                )
            )
            problems = [
                f"the ingress controller {proxy.name} rejects requests by its own limit since "
                f"{prose.obj(edit.object)} was edited",
                f"{proxy.name} rejects requests by its own limit since {edit.object.kind} "
                f"{edit.object.name} was edited",
                "the ingress controller rejects requests by its own limit since its settings "
                "were edited",
            ]
            findings.append(
                make_finding(
                    NAME,
                    Category.CONFIG_MISSING,
                    CONFIDENCE.limit_after_edit,
                    prose.narrative(prose.fitting_problem(problems, _FIX), _FIX, because=because),
                    facts,
                    Action.FIX_CONFIG,
                    edit.object,
                    {},
                )
            )
            continue
        grew = _headers_grew(evidence, hits, first, because)
        if grew is not None:
            findings.append(grew)
            continue
        problems = [
            f"the ingress controller {prose.obj(proxy)} rejects requests by its own limit",
            f"the ingress controller {proxy.name} rejects requests by its own limit",
            "the ingress controller rejects requests by its own limit",
        ]
        findings.append(
            make_finding(
                NAME,
                Category.CONFIG_MISSING,
                CONFIDENCE.limit_only,
                prose.narrative(prose.fitting_problem(problems, _RAISE), _RAISE, because=because),
                facts,
                Action.FIX_CONFIG,
                proxy,
                {},
            )
        )
    return findings


PROXY_LIMIT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CONFIG_MISSING,), check_proxy_limits),
)
