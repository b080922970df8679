"""The expired license rule: a container of commercial software that checks its license key
(Hazelcast Enterprise, and the many products that read a key from ``*_LICENSE*`` env or a
license file) and whose own log says the key has expired or is invalid, while it reads that
key from exactly one Secret or ConfigMap (an env variable or key named for the license, or a
mount at a license path). A license carries a fixed expiry date: running members often keep
serving, and the failure shows when one starts again (a node upgrade, a rollout, an
eviction), as a crash that looks like the software's own. An SRE puts a valid key into that
Secret or ConfigMap (fix-config on it); rolling back or restarting starts with the same key.

A log that only warns of the coming expiry ("license will expire in 29 days") is not this
rule's, nor a pod reading no license from its configuration, nor one reading it from two
places. A rollout that created the pod while changing its env, args or volumes is a rival
explanation (the new wiring, not the old key): the finding then stays weaker.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.api_tokens import failing, rewired
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import LogHit, grep_logs, item, logs_of, pod_source, workload_ref
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an expired-license finding is, by the evidence that earns it."""

    refused_failing: float = 0.84  # the software refuses its license and the container fails
    refused: float = 0.72  # ... while it runs: its licensed features fail, not its start
    rewired: float = 0.55  # ... but the rollout that created the pod changed its wiring


CONFIDENCE: Final = _Confidence()

# The software's own refusal of its license key: expired or invalid, in either word order
# ("License has expired!", "license key is invalid", "Invalid license key").
LICENSE_REFUSED: Final = re.compile(
    r"(?i)\blicen[cs]e(?:[ _-]?key)?\b[^\n]{0,60}?\b(?:has expired|is expired|expired"
    r"|is (?:not |in)valid|invalid)\b"
    r"|\b(?:expired|invalid)\s+(?:\w+\s+)?licen[cs]e\b"
)
# An env variable, key or mount path that carries a license.
_LICENSE: Final = re.compile(r"(?i)licen[cs]e")


@dataclass(frozen=True, slots=True)
class _Refused:
    pod: PodEvidence
    container: ContainerEvidence
    hit: LogHit
    source: ObjectRef
    via: str


def _license_sources(
    pod: PodEvidence, container: ContainerEvidence
) -> dict[tuple[str, str], tuple[ObjectRef, str]]:
    """The Secrets and ConfigMaps the pod reads a license from, by (kind, name), with how it
    reads each."""
    found: dict[tuple[str, str], tuple[ObjectRef, str]] = {}
    for ref in pod.config_refs:
        if _LICENSE.search(ref.via) or (ref.key and _LICENSE.search(ref.key)):
            source = ObjectRef(kind=ref.kind, namespace=pod.namespace, name=ref.name)
            found.setdefault((ref.kind, ref.name), (source, ref.via))
    for mount in container.config_mounts:
        if mount.kind in ("Secret", "ConfigMap") and _LICENSE.search(mount.path):
            source = ObjectRef(kind=mount.kind, namespace=pod.namespace, name=mount.name)
            found.setdefault((mount.kind, mount.name), (source, f"the file under {mount.path}"))
    return found


def _refused(evidence: Evidence) -> list[_Refused]:
    found: dict[str, _Refused] = {}
    for pod in evidence.pods:
        for container in pod.containers:
            sources = _license_sources(pod, container)
            if len(sources) != 1:
                continue
            own = [log for log in logs_of(evidence, pod, container.name) if log.source == "scope"]
            hits = grep_logs(own, LICENSE_REFUSED, limit=1)
            ((source, via),) = sources.values()
            if hits and source.key() not in found:
                found[source.key()] = _Refused(pod, container, hits[0], source, via)
    return list(found.values())


def check_expired_license(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for refused in _refused(evidence):
        pod, container, hit, source = refused.pod, refused.container, refused.hit, refused.source
        workload = workload_ref(evidence, pod)
        confidence = (
            CONFIDENCE.rewired
            if workload is not None and rewired(evidence, pod, workload)
            else CONFIDENCE.refused_failing
            if failing(container)
            else CONFIDENCE.refused
        )
        facts = [
            item(hit.source, prose.quote(hit.line)),
            item(
                pod_source(pod),
                f"{container.name} reads its license from {source.kind} {source.name} "
                f"({refused.via})",
            ),
        ]
        findings.append(
            make_finding(
                "expired-license",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"the license key in {prose.obj(source)} is refused",
                    f"put a valid license key into that {source.kind}",
                    because=[
                        prose.claim(
                            f"{container.name} says {hit.match.group(0)!r}: the software "
                            "refuses the key it was given, not a fault of its own code",
                            facts[0],
                        ),
                        prose.claim(
                            f"The key is the one read from {prose.obj(source)}: a license has a "
                            "fixed expiry, and neither a rollback nor a restart changes the key",
                            facts[1],
                        ),
                    ],
                ),
                facts,
                Action.FIX_CONFIG,
                source,
            )
        )
    return findings


LICENSE_KEY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("expired-license", (Category.CONFIG_MISSING,), check_expired_license),
)
