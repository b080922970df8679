"""The refused cloud key rule: a container that signs in to its cloud with a static key it
reads from a Secret (a Google service account key file named by
``GOOGLE_APPLICATION_CREDENTIALS`` under a Secret mount; AWS access keys in
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` from a Secret, or a shared credentials file
under one) and whose cloud refuses that key itself: Google's token endpoint answers
``invalid_grant`` with "Invalid JWT Signature" (the key was deleted or disabled, as key expiry
and rotation policies do) or "account not found"; AWS answers ``InvalidAccessKeyId``,
``InvalidClientTokenId`` or ``SignatureDoesNotMatch``, or ``ExpiredToken`` for temporary
credentials (an STS session key with its ``AWS_SESSION_TOKEN``) put into the Secret by hand:
they expire at a fixed time and nothing renews them there. The cloud does not accept the
credential at all: not an outage of the storage or API called, not a crash to escalate, and
not a release that changed neither the key nor how it is wired in. An SRE puts a key the cloud
accepts into that Secret (fix-config on it); rolling back or restarting sends the same key.

Keys come from a Secret by name (``AWS_ACCESS_KEY_ID`` from a ``secretKeyRef``, a key file
under a Secret mount), or whole: a pod of one container whose only ``envFrom`` Secret is the
only place its environment can carry a key from, with no credential of its own (no workload
identity env, no key file named). A pod with two such Secrets, or with a workload identity,
is not this rule's.

A refusal of the token's timing ("Invalid JWT: Token must be a short-lived token", a node's
clock) is not the key's, and a pod whose credentials come from workload identity (no key file,
no key in its env) is the cloud identity rule's (``kubetriage.analyzers.workload_identity``).
A rollout that created the refused pod while changing its env, args or volumes is a rival
explanation (the new wiring): the finding then stays weaker, and the rollout rules keep it.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.api_tokens import failing, rewired
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.mounts import mount_for
from kubetriage.analyzers.support import LogHit, grep_logs, item, logs_of, pod_source, workload_ref
from kubetriage.analyzers.workload_identity import OWN_CREDENTIAL_ENV
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a refused-cloud-key finding is, by the evidence that earns it."""

    refused_failing: float = 0.84  # the cloud refuses the key and the container fails
    refused: float = 0.76  # ... while it runs: the calls that need the cloud fail, not its start
    rewired: float = 0.55  # ... but the rollout that created the pod changed its wiring


CONFIDENCE: Final = _Confidence()


@dataclass(frozen=True, slots=True)
class _Cloud:
    """A cloud's refusal of a static key, and where a container keeps that key."""

    name: str
    refused: re.Pattern[str]
    key_file_env: tuple[str, ...]  # env variables naming a key file
    key_env: tuple[str, ...]  # env variables holding the key itself


_CLOUDS: Final = (
    _Cloud(
        "Google Cloud",
        re.compile(
            r"Invalid JWT Signature|invalid_grant\W{1,8}(?:\w+\W{1,8}){0,4}account not found"
        ),
        ("GOOGLE_APPLICATION_CREDENTIALS",),
        (),
    ),
    _Cloud(
        "AWS",
        re.compile(
            r"\bInvalidAccessKeyId\b|\bInvalidClientTokenId\b|\bSignatureDoesNotMatch\b"
            r"|The AWS Access Key Id you provided does not exist in our records"
            r"|The security token included in the request is invalid"
            # Temporary (session) credentials past their expiry, as S3 and STS word it.
            r"|\bExpiredToken\b|The provided token has expired"
            r"|The security token included in the request is expired"
        ),
        ("AWS_SHARED_CREDENTIALS_FILE",),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ),
)


def key_refused(line: str) -> bool:
    """Whether a line is a cloud's refusal of a static key (any cloud known here)."""
    return any(cloud.refused.search(line) for cloud in _CLOUDS)


# The refusals that say the credential's time ran out rather than that it is unknown.
_EXPIRED: Final = re.compile(r"(?i)expired")


@dataclass(frozen=True, slots=True)
class _RefusedKey:
    pod: PodEvidence
    container: ContainerEvidence
    cloud: _Cloud
    hit: LogHit
    secret: ObjectRef
    via: str


def _key_secrets(cloud: _Cloud, pod: PodEvidence, container: ContainerEvidence) -> dict[str, str]:
    """The Secrets the container reads ``cloud``'s key from, by name, with how it reads it."""
    found: dict[str, str] = {}
    mounts = [m for m in container.config_mounts if m.kind == "Secret"]
    for variable in cloud.key_file_env:
        path = container.env.get(variable)
        if path is None:
            continue
        located = mount_for(path, mounts)
        if located is not None:
            found.setdefault(located[0].name, f"the key file {path} ({variable})")
        elif len(mounts) == 1:
            # The value may be redacted (its name says credentials); the one Secret mounted
            # is then where it points.
            found.setdefault(
                mounts[0].name, f"the key file {variable} names, in its only Secret mount"
            )
    for ref in pod.config_refs:
        if ref.kind == "Secret" and ref.via.removeprefix("env ") in cloud.key_env:
            found.setdefault(ref.name, ref.via)
    if not found and cloud.key_env:
        found.update(_whole_env_secret(cloud, pod, container))
    return found


def _whole_env_secret(
    cloud: _Cloud, pod: PodEvidence, container: ContainerEvidence
) -> dict[str, str]:
    """The one Secret a single-container pod takes its whole environment from, when nothing
    else can carry ``cloud``'s key: no credential env of its own and no key file named."""
    own = (*OWN_CREDENTIAL_ENV, *cloud.key_file_env)
    if any(variable in container.env for variable in own):
        return {}
    if sum(not c.init for c in pod.containers) != 1:
        return {}
    whole = {r.name for r in pod.config_refs if r.kind == "Secret" and r.via.startswith("envFrom")}
    if len(whole) != 1:
        return {}
    (name,) = whole
    return {name: "envFrom, the only Secret its environment comes from"}


def _refused_keys(evidence: Evidence) -> list[_RefusedKey]:
    found: dict[str, _RefusedKey] = {}
    for pod in evidence.pods:
        for container in pod.containers:
            own = [log for log in logs_of(evidence, pod, container.name) if log.source == "scope"]
            for cloud in _CLOUDS:
                secrets = _key_secrets(cloud, pod, container)
                if len(secrets) != 1:
                    continue
                hits = grep_logs(own, cloud.refused, limit=1)
                ((name, via),) = secrets.items()
                secret = ObjectRef(kind="Secret", namespace=pod.namespace, name=name)
                if hits and secret.key() not in found:
                    found[secret.key()] = _RefusedKey(pod, container, cloud, hits[0], secret, via)
    return list(found.values())


def check_refused_cloud_key(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for refused in _refused_keys(evidence):
        pod, container, secret, cloud = (
            refused.pod,
            refused.container,
            refused.secret,
            refused.cloud,
        )
        workload = workload_ref(evidence, pod)
        confidence = (
            CONFIDENCE.rewired
            if workload is not None and rewired(evidence, pod, workload)
            else CONFIDENCE.refused_failing
            if failing(container)
            else CONFIDENCE.refused
        )
        facts = [
            item(refused.hit.source, prose.quote(refused.hit.line)),
            item(
                pod_source(pod),
                f"{container.name} signs in to {cloud.name} with the key in Secret "
                f"{secret.name}, read as {refused.via}",
            ),
        ]
        findings.append(
            make_finding(
                "refused-cloud-key",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"{cloud.name} refuses the key in {prose.obj(secret)}",
                    "put a key the cloud accepts into that Secret",
                    because=[
                        prose.claim(
                            f"{cloud.name} answers {container.name}'s sign-in with "
                            f"{refused.hit.match.group(0)}: it does not accept the key itself",
                            facts[0],
                        ),
                        prose.claim(
                            f"The key is the one read from {prose.obj(secret)}: "
                            + (
                                "temporary credentials past their expiry"
                                if _EXPIRED.search(refused.hit.match.group(0))
                                else "a deleted, disabled or replaced key"
                            )
                            + ", which neither a rollback nor a restart changes",
                            facts[1],
                        ),
                    ],
                ),
                facts,
                Action.FIX_CONFIG,
                secret,
            )
        )
    return findings


CLOUD_KEY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("refused-cloud-key", (Category.CONFIG_MISSING,), check_refused_cloud_key),
)
