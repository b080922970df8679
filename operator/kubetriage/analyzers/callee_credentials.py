"""The callee's credentials rotated, the caller's copy did not: a followed dependency rolled
out carrying nothing but a changed Secret or ConfigMap (a Reloader hash, a config checksum:
its password was rotated and the server restarted with it), and from then on the caller,
unchanged, logs refused logins (``WRONGPASS``, ``password authentication failed``...). The
server is healthy and rolling it back would only restore the old password; the caller reads
the credential from a Secret of its own that the rotation never reached (a hand-made copy in
its namespace). The fix is to correct that Secret: ``config-missing``.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.carried_configs import carried_configs
from kubetriage.analyzers.dependencies import onset_follows, own_rollout_after
from kubetriage.analyzers.dependency_server import LOGIN_REFUSED
from kubetriage.analyzers.support import item, log_source, object_source, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a stale-credential finding is."""

    # The callee rolled out only to pick up a changed Secret or ConfigMap, the unchanged
    # caller's logins are refused from right after, and it reads the credential from a
    # Secret of its own: above rolling the callee back (``dependency-change``), which would
    # only bring the old password back for this caller and break the ones already rotated.
    stale_copy: float = 0.86


CONFIDENCE: Final = _Confidence()

# Env variables that carry a credential rather than an address or a setting.
_CREDENTIAL_ENV = re.compile(r"(?i)(pass|pwd|auth|cred|token|secret|key)")


def credential_secret(evidence: Evidence) -> ObjectRef | None:
    """The Secret the caller's pods read their credential from: the only Secret they use,
    else the only one an env variable named for a credential reads."""
    refs = [r for p in evidence.pods for r in p.config_refs if r.kind == "Secret"]
    names = sorted({r.name for r in refs})
    if len(names) > 1:
        names = sorted(
            {
                r.name
                for r in refs
                if r.via.startswith("env ") and _CREDENTIAL_ENV.search(r.via.removeprefix("env "))
            }
        )
    if len(names) != 1 or evidence.workload is None:
        return None
    return ObjectRef(kind="Secret", namespace=evidence.workload.ref.namespace, name=names[0])


def check_callee_credentials_rotated(evidence: Evidence) -> list[Finding]:
    refused = [
        item(log_source(log), line)
        for log in evidence.logs
        for line in log.lines
        if LOGIN_REFUSED.search(line)
    ]
    secret = credential_secret(evidence)
    if not refused or secret is None:
        return []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or not dependency.changes:
            continue
        change = dependency.changes[0]
        carried = carried_configs(change) if change.kind == "rollout" else []
        if not carried or change.at is None:
            continue
        if any(c.same_object(secret) for c in carried):
            continue  # the caller reads the very Secret that changed: no stale copy
        if own_rollout_after(evidence, timestamp(change.at)):
            continue  # the caller changed too: its own change is the suspect
        onset = onset_follows(evidence, change)
        if onset is None:
            continue
        rotated = item(
            object_source(workload),
            f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:2]),
        )
        who = caller(evidence)
        return [
            make_finding(
                "callee-credentials-rotated",
                Category.CONFIG_MISSING,
                CONFIDENCE.stale_copy,
                prose.narrative(
                    f"{prose.obj(secret)} holds a credential {prose.obj(workload)} no longer "
                    "accepts",
                    "copy the rotated credential into it",
                    because=[
                        prose.claim(
                            f"{prose.obj(workload)} rolled out only to pick up "
                            f"{prose.listing(prose.obj(c) for c in carried)}",
                            rotated,
                        ),
                        prose.claim(f"{who}'s logins are refused from right after", onset),
                        prose.claim("Its calls fail on a refused login", refused[0]),
                        prose.claim(
                            f"{who} did not change; it reads the credential from "
                            f"{prose.obj(secret)}, which the rollout did not carry"
                        ),
                    ],
                ),
                [rotated, onset, refused[0]],
                Action.FIX_CONFIG,
                secret,
            )
        ]
    return []


CALLEE_CREDENTIAL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "callee-credentials-rotated", (Category.CONFIG_MISSING,), check_callee_credentials_rotated
    ),
)
