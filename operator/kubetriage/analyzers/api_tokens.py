"""The stale API token rule: a pod that authenticates to the Kubernetes API with a token it
reads from a mounted Secret (a long-lived ServiceAccount token Secret, a kubeconfig with a
static token) and is answered ``Unauthorized`` (HTTP 401). A 401 is authentication, not
authorization: the API server does not accept the credential at all (the legacy token cleaner
invalidated an unused ``kubernetes.io/service-account-token`` Secret, the ServiceAccount it
belonged to was recreated, the token was revoked or expired). The pod's projected token is
issued and rotated by the kubelet and is not the suspect; the Secret the failing client read
its token from is. An SRE replaces that credential (fix-config on the Secret), rather than
escalating the crash it causes.

Which Secret: the one mounted where the process says it reads its credential, in the lines it
logged before the refusal (``using token from /var/run/secrets/x/token``), else the one path
its args name under a Secret mount. A pod that names no such file (in-cluster config from its
projected token) is not this rule's. A rollout that created the failing pod while changing
its args, env, volumes or ServiceAccount is a rival explanation (the new wiring, not the old
credential): the finding then stays weaker than the rollout rule's.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.mounts import mount_for
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
    logs_of,
    pod_source,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ConfigMount, ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a stale-token finding is, by the evidence that earns it."""

    refused_failing: float = 0.84  # the API answers 401 to the mounted token and the pod fails
    refused: float = 0.62  # ... while the pod still runs ready (a call path, not its start)
    rewired: float = 0.55  # ... but the rollout that created the pod changed its wiring


CONFIDENCE: Final = _Confidence()

# The Kubernetes API server's 401, as client-go, kubectl and the Status body say it.
API_UNAUTHORIZED = re.compile(
    r"failed to (?:list|watch|get) \*?[\w./-]+: Unauthorized\b"
    r"|the server has asked for the client to provide credentials"
    r"|You must be logged in to the server \(Unauthorized\)"
    r"|\"reason\":\s*\"Unauthorized\",\s*\"code\":\s*401"
)
# A file path in a log line or an argument.
_PATH = re.compile(r"(?<![\w.:/-])(/[\w.-]+(?:/[\w.-]+)+)")
# The parts of a pod template that wire the credential in: a rollout changing them is a rival.
_WIRING = frozenset({"args", "command", "env", "volumes", "serviceAccount"})
# How close a rollout must be to the pod's creation to be the one that created it.
_CREATED_BY = timedelta(minutes=15)


def _secret_mounts(container: ContainerEvidence) -> list[ConfigMount]:
    return [m for m in container.config_mounts if m.kind == "Secret"]


def _named_before(hit: LogHit, mounts: list[ConfigMount]) -> tuple[ConfigMount, str] | None:
    """The Secret mount of the newest path the log named at or before the refusal."""
    lines = hit.log.lines[: hit.log.lines.index(hit.line) + 1]
    for line in reversed(lines):
        for path in reversed(_PATH.findall(line)):
            located = mount_for(path, mounts)
            if located is not None:
                return located[0], path
    return None


def _named_by_args(container: ContainerEvidence, mounts: list[ConfigMount]) -> ConfigMount | None:
    """The one Secret mount the container's args name a path under (None when several)."""
    found = {
        located[0].name: located[0]
        for arg in container.args
        for path in _PATH.findall(arg)
        if (located := mount_for(path, mounts)) is not None
    }
    return next(iter(found.values())) if len(found) == 1 else None


def failing(container: ContainerEvidence) -> bool:
    """Whether the container fails itself (restarts, or not ready), beyond the calls it serves."""
    return container.restart_count > 0 or container.ready is False


def rewired(evidence: Evidence, pod: PodEvidence, target: ObjectRef) -> bool:
    """Whether a rollout of the workload that changed its credential wiring created the pod."""
    created = pod.created_at
    return created is not None and any(
        c.kind == "rollout"
        and c.object.same_object(target)
        and set(c.aspects) & _WIRING
        and c.at is not None
        and abs(c.at - created) <= _CREATED_BY
        for c in evidence.changes
    )


def check_stale_api_token(evidence: Evidence) -> list[Finding]:
    seen: set[str] = set()
    findings: list[Finding] = []
    for pod in evidence.pods:
        workload = workload_ref(evidence, pod)
        for container in pod.containers:
            mounts = _secret_mounts(container)
            own = [log for log in logs_of(evidence, pod, container.name) if log.source == "scope"]
            hits = grep_logs(own, API_UNAUTHORIZED, limit=1)
            if not mounts or not hits:
                continue
            hit = hits[0]
            named = _named_before(hit, mounts)
            mount = named[0] if named is not None else _named_by_args(container, mounts)
            if mount is None:
                continue
            secret = ObjectRef(kind="Secret", namespace=pod.namespace, name=mount.name)
            if secret.key() in seen:
                continue
            seen.add(secret.key())
            facts: list[EvidenceItem] = [item(hit.source, prose.quote(hit.line))]
            if named is not None:
                facts.append(item(hit.source, f"reads its credential from {named[1]}"))
            facts.append(
                item(
                    pod_source(pod),
                    f"{container.name} mounts Secret {mount.name} at {mount.path}",
                )
            )
            was_rewired = workload is not None and rewired(evidence, pod, workload)
            confidence = (
                CONFIDENCE.rewired
                if was_rewired
                else CONFIDENCE.refused_failing
                if failing(container)
                else CONFIDENCE.refused
            )
            findings.append(
                make_finding(
                    "stale-api-token",
                    Category.CONFIG_MISSING,
                    confidence,
                    prose.narrative(
                        f"the Kubernetes API rejects the token in {prose.obj(secret)}",
                        "replace that token",
                        because=[
                            prose.claim(
                                f"The API server answers {container.name}'s calls with "
                                "Unauthorized (401): it does not accept the credential at all",
                                facts[0],
                            ),
                            prose.claim(
                                f"The credential is the one mounted from {prose.obj(secret)}, "
                                "not the pod's own projected token: an invalidated, revoked or "
                                "expired long-lived token",
                                *facts[1:],
                            ),
                        ],
                    ),
                    facts,
                    Action.FIX_CONFIG,
                    secret,
                    {"mountPath": mount.path},
                )
            )
    return findings


API_TOKEN_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("stale-api-token", (Category.CONFIG_MISSING,), check_stale_api_token),
)
