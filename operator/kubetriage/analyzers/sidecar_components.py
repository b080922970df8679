"""A Dapr sidecar that cannot load a component for its credentials. Dapr's sidecar (``daprd``)
loads the namespace's Components once, at its start, and exits when one it must load fails;
its fatal line names the component ("process component statestore error: ... initialization
error occurred for statestore (state.redis/v1): ... NOAUTH Authentication required"). A
Component takes its credentials from a key of a Secret (``secretKeyRef``); when the server
refuses them, or the key is not there, every sidecar started since fails alike, whatever
revision of the app it sits beside, while sidecars started earlier run on what they loaded.
So a release that only created the first new sidecar surfaced it: an SRE fixes the Secret the
Component reads (its key renamed by a re-sync, its value rotated without the server), not
roll the app back. A component failing for anything else (the server unreachable, refusing
connections) is the server's story, not this rule's.

Evidence: the Component's summary (``Evidence.other_objects``, its Secret references kept by
``kubetriage.evidence.dapr_components``), the sidecar's own log lines, and a write of that
Secret in the timeline when there is one. ``config-missing``, fix the Secret. Registered in
``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependency_server import LOGIN_REFUSED
from kubetriage.analyzers.support import item, log_source, object_source, owner_workload
from kubetriage.evidence.dapr_components import SECRET_REF
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import GenericObjectEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a sidecar-component finding is."""

    # The sidecar's own fatal line names a Component failing on its credentials, and that
    # Component reads them from one Secret: above the release that started the sidecar.
    component_credentials: float = 0.9


CONFIDENCE: Final = _Confidence()

# Dapr's words for the component it could not load.
_COMPONENT = re.compile(
    r"(?:process component|[Ff]ailed to init component|initialization error occurred for) "
    r"(?P<name>[a-z0-9][a-z0-9.-]*)"
)
# ... failing on the credentials it was given, or on a key its Secret lacks.
_CREDENTIALS = re.compile(
    r"(?i)(NOAUTH|WRONGPASS|invalid password|unauthori[sz]ed|access denied"
    r"|secret \S+ not found|key \S+ not found|couldn't find key)"
)


def _component(evidence: Evidence, namespace: str, name: str) -> GenericObjectEvidence | None:
    return next(
        (
            o
            for o in evidence.other_objects
            if o.ref.kind == "Component" and (o.ref.namespace, o.ref.name) == (namespace, name)
        ),
        None,
    )


def _secret_refs(component: GenericObjectEvidence) -> list[tuple[str, str, str | None]]:
    """(setting, Secret, key) of each setting the Component reads from a Secret."""
    found = []
    for field, secret in component.fields.items():
        head, _, setting = field.removesuffix(".name").partition(".")
        if head == SECRET_REF and field.endswith(".name") and setting:
            found.append((setting, secret, component.fields.get(f"{SECRET_REF}.{setting}.key")))
    return found


def check_sidecar_components(evidence: Evidence) -> list[Finding]:
    if evidence.workload is None:
        return []
    ours = evidence.workload.ref
    pods = {
        (p.namespace, p.name): p
        for p in evidence.pods
        if (o := owner_workload(p)) is not None and o.same_object(ours)
    }
    for log in evidence.logs:
        pod = pods.get((log.namespace, log.pod))
        failing = pod is not None and any(
            c.name == log.container and c.restart_count > 0 and not c.ready for c in pod.containers
        )
        if not failing:
            continue
        for line in log.lines:
            named = _COMPONENT.search(line)
            refused = _CREDENTIALS.search(line) or LOGIN_REFUSED.search(line)
            if named is None or refused is None:
                continue
            component = _component(evidence, log.namespace, named["name"])
            refs = _secret_refs(component) if component is not None else []
            if component is None or len({secret for _, secret, _ in refs}) != 1:
                continue
            setting, secret, key = refs[0]
            target = ObjectRef(kind="Secret", namespace=log.namespace, name=secret)
            return [_finding(evidence, component, target, setting, key, log_source(log), line)]
    return []


def _finding(
    evidence: Evidence,
    component: GenericObjectEvidence,
    secret: ObjectRef,
    setting: str,
    key: str | None,
    source: str,
    line: str,
) -> Finding:
    said = item(source, line[:240].strip())
    reads = item(
        object_source(component.ref),
        f"setting {setting} from {prose.obj(secret)}" + (f" key {key}" if key else ""),
    )
    facts = [said, reads]
    written = next(
        (
            c
            for c in evidence.changes
            if c.kind == "config" and c.object.same_object(secret) and c.at is not None
        ),
        None,
    )
    because = [
        prose.claim(
            f"The Dapr sidecar exits at start: it cannot load Component {component.ref.name} "
            "with the credentials it was given",
            said,
        ),
        prose.claim(f"That Component reads them from {prose.obj(secret)}", reads),
    ]
    if written is not None and written.at is not None:
        wrote = item(object_source(secret), f"written {written.at:%Y-%m-%d %H:%M}")
        facts.append(wrote)
        because.append(
            prose.claim(
                "The Secret was rewritten; sidecars started before it run on what they loaded",
                wrote,
            )
        )
    return make_finding(
        "sidecar-components",
        Category.CONFIG_MISSING,
        CONFIDENCE.component_credentials,
        prose.narrative(
            f"{prose.obj(secret)} no longer holds what Dapr Component {component.ref.name} reads",
            "restore the key and value the Component expects",
            because=because,
        ),
        facts,
        Action.FIX_CONFIG,
        secret,
        {"key": key} if key else {},
    )


SIDECAR_COMPONENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("sidecar-components", (Category.CONFIG_MISSING,), check_sidecar_components),
)
