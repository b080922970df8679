"""The refused client secret rule: a container that signs in to an OAuth 2.0 / OpenID Connect
provider as a confidential client (an auth proxy such as oauth2-proxy in front of an app, an
app's own single sign-on, a client-credentials grant to an API) with a client secret it takes
from a Secret, and whose token requests the provider refuses as client authentication failure:
``invalid_client`` (RFC 6749 section 5.2), in Microsoft Entra ID's words AADSTS7000222 (the
client secret expired; they live at most two years) or AADSTS7000215 (an invalid secret), in
Keycloak's "Invalid client credentials". The provider does not accept the credential at all:
not an outage of the provider, not the app behind the proxy, and not a release that changed
neither the secret nor how it is wired in. An SRE replaces the secret in that Secret with one
the provider accepts (fix-config on it); rolling the workload back or restarting it sends the
same secret again.

Which Secret: the one the pod reads its client secret from, by the env variable's or the key's
name (``OAUTH2_PROXY_CLIENT_SECRET``, ``client-secret``); a pod with none, or with two such
Secrets, is not this rule's. A rollout that created the refused pod while changing its env,
args or volumes is a rival explanation (the new wiring, not the old credential): the finding
then stays weaker, and the rollout rules keep it.

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
from kubetriage.models.object_evidence import ConfigReference, ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a refused-client-secret finding is, by the evidence that earns it."""

    refused_failing: float = 0.86  # the provider refuses the client and the container fails
    refused: float = 0.76  # ... while it runs: the sign-ins it serves fail, not its start
    rewired: float = 0.55  # ... but the rollout that created the pod changed its wiring


CONFIDENCE: Final = _Confidence()

# A token endpoint's refusal of the client's own authentication, as RFC 6749 names it and as
# Entra ID and Keycloak word it.
CLIENT_REFUSED = re.compile(
    r"\binvalid_client\b"
    r"|\bAADSTS7000222\b|\bAADSTS7000215\b"
    r"|\bInvalid client (?:or Invalid client )?credentials\b"
)
# An env variable or Secret key that carries an OAuth client secret.
_CLIENT_SECRET = re.compile(r"(?i)client[-_.]?secret")


@dataclass(frozen=True, slots=True)
class RefusedClient:
    """A pod whose container the provider refuses, and the Secret its client secret is in."""

    pod: PodEvidence
    container: ContainerEvidence
    hit: LogHit
    secret: ObjectRef
    reference: ConfigReference


def _client_secret_refs(pod: PodEvidence) -> dict[str, ConfigReference]:
    """The Secrets the pod reads a client secret from, by name."""
    return {
        ref.name: ref
        for ref in pod.config_refs
        if ref.kind == "Secret"
        and (_CLIENT_SECRET.search(ref.via) or (ref.key and _CLIENT_SECRET.search(ref.key)))
    }


def refused_clients(evidence: Evidence) -> list[RefusedClient]:
    """Every pod (one per Secret) whose own log says the provider refuses its client
    authentication while it reads its client secret from exactly one Secret."""
    found: dict[str, RefusedClient] = {}
    for pod in evidence.pods:
        refs = _client_secret_refs(pod)
        if len(refs) != 1:
            continue
        (reference,) = refs.values()
        secret = ObjectRef(kind="Secret", namespace=pod.namespace, name=reference.name)
        for container in pod.containers:
            own = [log for log in logs_of(evidence, pod, container.name) if log.source == "scope"]
            hits = grep_logs(own, CLIENT_REFUSED, limit=1)
            if hits and secret.key() not in found:
                found[secret.key()] = RefusedClient(pod, container, hits[0], secret, reference)
    return list(found.values())


def unrewired_refused_client(evidence: Evidence) -> RefusedClient | None:
    """A refused client no rollout rewired as it created the pod: the Secret, not the latest
    change, names the fix (a rollback's pods send the same secret)."""
    for refused in refused_clients(evidence):
        workload = workload_ref(evidence, refused.pod)
        if workload is None or not rewired(evidence, refused.pod, workload):
            return refused
    return None


def check_refused_client_secret(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for refused in refused_clients(evidence):
        pod, container, hit, secret = refused.pod, refused.container, refused.hit, refused.secret
        workload = workload_ref(evidence, pod)
        was_rewired = workload is not None and rewired(evidence, pod, workload)
        confidence = (
            CONFIDENCE.rewired
            if was_rewired
            else CONFIDENCE.refused_failing
            if failing(container)
            else CONFIDENCE.refused
        )
        facts = [
            item(hit.source, prose.quote(hit.line)),
            item(
                pod_source(pod),
                f"{container.name} takes its client secret from Secret {secret.name} "
                f"({refused.reference.via})",
            ),
        ]
        findings.append(
            make_finding(
                "refused-client-secret",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"the identity provider refuses the client secret in {prose.obj(secret)}",
                    "put a client secret the provider accepts into that Secret",
                    because=[
                        prose.claim(
                            f"The provider answers {container.name}'s token requests with "
                            f"{hit.match.group(0)}: it does not accept the client's credential",
                            facts[0],
                        ),
                        prose.claim(
                            f"The credential is the one read from {prose.obj(secret)}: an "
                            "expired or replaced client secret, which neither a rollback nor a "
                            "restart changes",
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


CLIENT_SECRET_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("refused-client-secret", (Category.CONFIG_MISSING,), check_refused_client_secret),
)
