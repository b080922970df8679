"""The scaler-auth rule: a KEDA scaler of the incident's workload fails (its ScaledObject or
ScaledJob not Ready, ``KEDAScalerFailed`` events) with an error about its own parameters or
credentials ("error parsing ... metadata: no connection setting given", "password is
required", "authentication failed", a 401 or 403), not about reaching its source, and its
TriggerAuthentication takes parameters from Secret keys (``evidence.scalers``'
``secret_params``). KEDA resolves a missing Secret key to an empty parameter without a word,
so the scaler's parse or login error is all that shows: the Secret (a key renamed or
removed, a credential rotated) is the config at fault, and the workload stays at whatever
count it had. The Secret aimed at is the one whose parameter the error names, else one that
was just written (``evidence.changes``), else the first.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import event_fact, item
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ScalerEvidence, ScalerSecretParam
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import EventEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a scaler-auth finding is, by the evidence that earns it."""

    # The error names a parameter the TriggerAuthentication takes from a Secret key, or that
    # Secret was just written: the Secret is the config at fault.
    secret_named: float = 0.85
    # A parameter or credential error, and the trigger takes parameters from a Secret.
    secret_behind: float = 0.75


CONFIDENCE: Final = _Confidence()

# The events KEDA records when a scaler cannot be built or queried.
_FAILED_REASONS: Final = frozenset(
    {"KEDAScalerFailed", "ScaledObjectCheckFailed", "ScaledJobCheckFailed"}
)
# A scaler's error about its own parameters or credentials (KEDA's scalers' metadata
# parsing, and the sources' login refusals).
_PARAMETER_ERROR: Final = re.compile(
    r"metadata|\b(?:given|provided|required)\b|missing|empty|unauthori[sz]ed|authenticat"
    r"|credential|password|\b40[13]\b|forbidden|access ?denied|invalid",
    re.IGNORECASE,
)
# An error about reaching the source: a network or a source fault, not the parameters.
_TRANSPORT_ERROR: Final = re.compile(
    r"dial tcp|connection refused|i/o timeout|no such host|deadline exceeded|connection reset"
    r"|\bEOF\b|tls:|x509|no route to host|network is unreachable",
    re.IGNORECASE,
)


def parameter_failures(evidence: Evidence, scaler: ScalerEvidence) -> list[EventEvidence]:
    """The events saying ``scaler``'s ScaledObject or ScaledJob fails on its parameters or
    credentials rather than on reaching its source."""
    ref = scaler.ref
    return [
        e
        for e in evidence.events
        if e.reason in _FAILED_REASONS
        and (e.involved.kind, e.involved.namespace, e.involved.name)
        == (ref.kind, ref.namespace, ref.name)
        and _PARAMETER_ERROR.search(e.message)
        and not _TRANSPORT_ERROR.search(e.message)
    ]


def _named(params: list[ScalerSecretParam], messages: list[str]) -> ScalerSecretParam | None:
    """The parameter a failure message names as a word ("no connection setting given")."""
    for param in params:
        word = re.compile(rf"\b{re.escape(param.parameter)}\b", re.IGNORECASE)
        if any(word.search(m) for m in messages):
            return param
    return None


def _changed(
    evidence: Evidence, namespace: str | None, params: list[ScalerSecretParam]
) -> ScalerSecretParam | None:
    """The parameter whose Secret the change timeline says was written."""
    written = {
        c.object.name
        for c in evidence.changes
        if c.kind == "config" and c.object.kind == "Secret" and c.object.namespace == namespace
    }
    return next((p for p in params if p.secret in written), None)


def check_scaler_auth(evidence: Evidence) -> list[Finding]:
    for scaler in evidence.scalers:
        if scaler.ready is not False or not scaler.secret_params:
            continue
        failures = parameter_failures(evidence, scaler)
        if not failures:
            continue
        params = scaler.secret_params
        namespace = scaler.ref.namespace
        named = _named(params, [e.message for e in failures])
        changed = _changed(evidence, namespace, params)
        chosen = named or changed or params[0]
        confidence = CONFIDENCE.secret_named if named or changed else CONFIDENCE.secret_behind
        secret = ObjectRef(kind="Secret", namespace=namespace, name=chosen.secret)
        source = f"{scaler.ref.kind.lower()}/{namespace}/{scaler.ref.name}"
        failed = item(source, event_fact(failures[0]))
        auth = item(
            f"{source}/auth",
            f"its {scaler.trigger} trigger takes "
            + prose.listing(f"{p.parameter} from {p.secret}/{p.key}" for p in params),
        )
        because = [
            prose.claim(
                f"The {scaler.trigger} scaler of {prose.obj(scaler.ref)} fails on its "
                "parameters or credentials, not on reaching its source",
                failed,
            ),
            prose.claim(
                f"Its {chosen.parameter} comes from key {chosen.key} of {prose.obj(secret)}",
                auth,
            ),
        ]
        return [
            make_finding(
                "scaler-auth",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"{prose.obj(scaler.ref)} cannot read its trigger's {chosen.parameter}",
                    f"restore key {chosen.key} of {prose.obj(secret)}",
                    aside="so nothing scales the workload",
                    because=because,
                ),
                [failed, auth],
                Action.FIX_CONFIG,
                secret,
            )
        ]
    return []


SCALER_AUTH_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("scaler-auth", (Category.CONFIG_MISSING,), check_scaler_auth),
)
