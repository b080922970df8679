"""The cloud identity rule: a pod whose cloud credentials are refused because its workload
identity binding is wrong. On EKS (IAM roles for service accounts), GKE (Workload Identity)
and AKS (Azure Workload Identity) a pod gets cloud credentials by exchanging its projected
ServiceAccount token for the role or identity its ServiceAccount names; when the role's trust
does not name that ServiceAccount (or the ServiceAccount names the wrong role), the cloud
refuses the exchange in words of its own and the application cannot start or work. An SRE
reads that refusal as configuration (the ServiceAccount's annotation or the role's trust), not
as a crash to escalate or a cloud outage: fix the identity binding of the workload. A pod of
the same workload that still runs with another role in its webhook-injected env shows the
binding changed under it (the webhook injects it only when a pod is created).

The same webhooks can miss a pod altogether: a pod created while the webhook had no ready
replica (a node drain took both at once) is admitted unmutated when the webhook fails open,
and runs without the injected identity env and token its ReplicaSet siblings carry. Its
template is the siblings' template, so nothing in the workload changed: the pod lacks what
admission should have added, and recreating it (a rolling restart) lets the webhook mutate it.

The Kubernetes API refusing the pod's own ServiceAccount is the same family inside the
cluster: ``jobs.batch is forbidden: User "system:serviceaccount:<ns>:<sa>" cannot create
resource "jobs"``, logged by the workload about its own calls. Its Role or RoleBinding lacks
that verb (often pruned by whoever owns RBAC); the workload itself is as it was: escalate to
the owner of its binding. Some in-cluster clients log the 403 in words of their own, without
the API server's message (Akka/Pekko Management's Kubernetes API discovery, the fabric8
client of Hazelcast and Spring Cloud Kubernetes): the same refusal, its verb unnamed. (A
dependency's refusals are in the dependency's tails, not here.)

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    logs_of,
    object_source,
    pod_source,
    workload_ref,
)
from kubetriage.api_refusals import API_FORBIDDEN
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a cloud-identity finding is, by the evidence that earns it."""

    refused_failing: float = 0.86  # the cloud refuses the pod's identity and the pod fails
    refused: float = 0.6  # ... while the pod still runs ready (a call path, not its start)
    other_identity_bonus: float = 0.04  # a ready replica runs with another injected identity
    api_forbidden_failing: float = 0.84  # the API refuses the pod's own ServiceAccount, and the
    # pod fails (it exits on the refusal)
    api_forbidden: float = 0.72  # ... while the pod runs: its work fails call after call
    api_forbidden_switched: float = 0.6  # ... but a rollout of the workload switched its
    # ServiceAccount: that change is the cause, the rollout rule's to undo
    node_identity_switched: float = 0.9  # the cloud denies a call made as the node, and the
    # workload's latest rollout switched its ServiceAccount: the switch lost the identity
    node_identity: float = 0.8  # ... with no such rollout: the binding itself is missing
    not_injected: float = 0.87  # failing pods lack the identity env a ready pod of the same
    # ReplicaSet carries: admission did not mutate them (above the crash loop they cause)


CONFIDENCE: Final = _Confidence()

# The refusal of a workload identity exchange, in the words of AWS STS (IRSA), GKE's metadata
# server (Workload Identity) and Microsoft Entra ID (Azure Workload Identity).
IDENTITY_REFUSED = re.compile(
    r"not authorized to perform:? sts:AssumeRoleWithWebIdentity"
    r"|WebIdentityErr: failed to retrieve credentials"
    r"|InvalidIdentityToken"
    r"|Permission '?iam\.serviceAccounts\.getAccessToken'? denied"
    r"|Unable to generate access token; IAM returned 403"
    r"|AADSTS70021\b|AADSTS700213\b|AADSTS700211\b"
    r"|No matching federated identity record found",
    re.IGNORECASE,
)
# The env the identity webhooks inject at pod creation, naming the role or identity.
IDENTITY_ENV = ("AWS_ROLE_ARN", "AZURE_CLIENT_ID")
# Env that says the pod has a credential of its own (IRSA, EKS Pod Identity, Azure Workload
# Identity, a mounted Google key).
OWN_CREDENTIAL_ENV = (
    *IDENTITY_ENV,
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "GOOGLE_APPLICATION_CREDENTIALS",
)
# A cloud authorization refusal naming the node's own identity as the caller: on EC2 an
# instance profile's session is named after the instance ("assumed-role/<role>/i-0abc..."),
# on GCE the node's default service account is "<project number>-compute@developer...".
# The pod's call went out without a workload identity and fell back to the node's.
NODE_IDENTITY_DENIED = re.compile(
    r"(?P<who>assumed-role/[\w+=,.@-]+/i-[0-9a-f]{8,17}\b"
    r"|\b\d{6,}-compute@developer\.gserviceaccount\.com\b)"
    r"(?=.{0,400}(not authorized|AccessDenied|does not have|denied|Forbidden|\b403\b))"
    r"|(not authorized|AccessDenied|does not have|denied|Forbidden|\b403\b).{0,400}?"
    r"(?P<who2>assumed-role/[\w+=,.@-]+/i-[0-9a-f]{8,17}\b"
    r"|\b\d{6,}-compute@developer\.gserviceaccount\.com\b)",
    re.IGNORECASE,
)

# In-cluster clients' own words for a 403 from the Kubernetes API, which do not quote the API
# server's Status message: Akka/Pekko Management's Kubernetes API discovery (cluster
# bootstrap), and the fabric8 Kubernetes client (Hazelcast, Spring Cloud Kubernetes, Jenkins).
API_FORBIDDEN_BARE = re.compile(
    r"Forbidden when communicating with the Kubernetes API"
    r"|Forbidden! ?Configured service account doesn't have access"
)


def _failing(pod: PodEvidence) -> bool:
    return any(
        not c.init and (c.restart_count > 0 or c.ready is False or c.state.state == "waiting")
        for c in pod.containers
    )


def _identity(pod: PodEvidence) -> dict[str, str]:
    return {
        name: value
        for c in pod.containers
        for name, value in c.env.items()
        if name in IDENTITY_ENV and value
    }


def _other_identity(
    evidence: Evidence, refused: PodEvidence, owner: str | None
) -> EvidenceItem | None:
    """A ready pod of the same controller whose injected identity differs from the refused
    pod's: the binding changed after it was created."""
    mine = _identity(refused)
    for pod in evidence.pods:
        if pod is refused or pod.owner is None or pod.owner.name != owner or _failing(pod):
            continue
        theirs = _identity(pod)
        for name, value in theirs.items():
            if mine.get(name) and mine[name] != value:
                return item(
                    pod_source(pod),
                    f"runs ready with {name}={value}; {refused.name} got {name}={mine[name]}",
                )
    return None


def check_identity_refused(evidence: Evidence) -> list[Finding]:
    seen: set[str] = set()
    findings: list[Finding] = []
    for pod in evidence.pods:
        hits = grep_logs(logs_of(evidence, pod), IDENTITY_REFUSED, limit=2)
        target = workload_ref(evidence, pod)
        if not hits or target is None or target.key() in seen:
            continue
        seen.add(target.key())
        failing = _failing(pod)
        line, match = hits[0].line, hits[0].match
        facts = [item(hits[0].source, line[max(0, match.start() - 160) : match.end() + 80].strip())]
        confidence = CONFIDENCE.refused_failing if failing else CONFIDENCE.refused
        other = _other_identity(evidence, pod, pod.owner.name if pod.owner else None)
        because = [
            prose.claim(
                f"The cloud refuses the identity {prose.obj(target)} presents "
                f"({hits[0].match.group(0)})",
                *facts,
            ),
            prose.claim(
                "Its ServiceAccount's role or identity annotation, or that role's trust of the "
                "ServiceAccount, does not match: configuration, not a crash or an outage"
            ),
        ]
        if other is not None:
            confidence += CONFIDENCE.other_identity_bonus
            facts.append(other)
            because.append(prose.claim("A replica created earlier still runs", other))
        findings.append(
            make_finding(
                "identity-refused",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"the cloud refuses the workload identity of {prose.obj(target)}",
                    "fix its ServiceAccount's role annotation or the role's trust",
                    because=because,
                ),
                facts,
                Action.FIX_CONFIG,
                target,
                {"phrase": hits[0].match.group(0)},
            )
        )
    return findings


def _api_refusal(
    evidence: Evidence, pod: PodEvidence
) -> tuple[EvidenceItem, str, str, dict[str, str]] | None:
    """The pod's own log line where the API server refuses its own ServiceAccount, with the
    account and the refused verb and resource as the line names them (``API_FORBIDDEN``), or
    a client's bare 403 (``API_FORBIDDEN_BARE``: the account and request left unnamed), and
    the finding's details."""
    own = [log for log in logs_of(evidence, pod) if log.source == "scope"]
    for hit in grep_logs(own, API_FORBIDDEN, limit=5):
        match = hit.match
        if match["namespace"] != pod.namespace:
            continue
        line = hit.line[max(0, match.start() - 120) : match.end() + 60]
        account = f"{match['namespace']}/{match['account']}"
        details = {"serviceAccount": account, "verb": match["verb"], "resource": match["resource"]}
        refused = f"{match['verb']} {match['resource']}"
        return item(hit.source, line), f"ServiceAccount {account}", refused, details
    for hit in grep_logs(own, API_FORBIDDEN_BARE, limit=1):
        line = hit.line[max(0, hit.match.start() - 160) : hit.match.end() + 60]
        return item(hit.source, line), "ServiceAccount", "make the calls it logs", {}
    return None


def _switched_account(evidence: Evidence, target: ObjectRef) -> ChangeEvidence | None:
    """The workload's latest rollout, when it switched the pods' ServiceAccount."""
    # The workload's rollouts are in the timeline when it is the incident's subject, and in
    # its dependency entry when the incident reached it through a caller or a log.
    changes = [*evidence.changes, *(c for d in evidence.dependencies for c in d.changes)]
    rollouts = [c for c in changes if c.kind == "rollout" and c.object.same_object(target)]
    latest = max(rollouts, key=lambda c: c.at or datetime.min.replace(tzinfo=UTC), default=None)
    return latest if latest is not None and "serviceAccount" in latest.aspects else None


def check_node_identity_denied(evidence: Evidence) -> list[Finding]:
    """The workload's own calls are refused by the cloud under the node's identity: its pods
    carry no credential of their own, so the SDK fell back to the instance's. When the
    workload's latest rollout switched its ServiceAccount, that switch left the identity
    binding behind (undo it); otherwise the binding is missing (fix it)."""
    seen: set[str] = set()
    findings: list[Finding] = []
    for pod in evidence.pods:
        if any(name in c.env for c in pod.containers for name in OWN_CREDENTIAL_ENV):
            continue
        hits = grep_logs(logs_of(evidence, pod), NODE_IDENTITY_DENIED, limit=2)
        target = workload_ref(evidence, pod)
        if not hits or target is None or target.key() in seen:
            continue
        seen.add(target.key())
        match = hits[0].match
        who = match["who"] or match["who2"]
        line = hits[0].line
        facts = [item(hits[0].source, line[max(0, match.start() - 120) : match.end() + 80])]
        denied = prose.claim(
            f"The cloud refuses the calls of {prose.obj(target)} made as the node ({who}): "
            "its pods carry no workload identity of their own",
            *facts,
        )
        switch = _switched_account(evidence, target)
        if switch is not None:
            change = item(
                object_source(switch.object),
                "; ".join(switch.aspect_details.get("serviceAccount", [])),
            )
            facts.append(change)
            finding = make_finding(
                "node-identity-denied",
                Category.BAD_ROLLOUT,
                CONFIDENCE.node_identity_switched,
                prose.narrative(
                    f"the rollout of {prose.obj(target)} moved it to a ServiceAccount without "
                    "its cloud identity",
                    "roll it back",
                    because=[
                        denied,
                        prose.claim(
                            "Its latest rollout switched the pods' ServiceAccount, and the "
                            "identity binding stayed with the previous one",
                            change,
                        ),
                    ],
                ),
                facts,
                Action.ROLLBACK,
                target,
                {"identity": who},
            )
        else:
            finding = make_finding(
                "node-identity-denied",
                Category.CONFIG_MISSING,
                CONFIDENCE.node_identity,
                prose.narrative(
                    f"{prose.obj(target)} calls the cloud without a workload identity",
                    "bind its ServiceAccount to its cloud role or identity",
                    because=[denied],
                ),
                facts,
                Action.FIX_CONFIG,
                target,
                {"identity": who},
            )
        findings.append(finding)
    return findings


def _injected_sibling(evidence: Evidence, pod: PodEvidence) -> PodEvidence | None:
    """A ready pod of ``pod``'s own ReplicaSet (the same template) that carries the injected
    identity env ``pod`` lacks."""
    if pod.owner is None or pod.owner.kind != "ReplicaSet":
        return None
    for other in evidence.pods:
        if (
            other is not pod
            and other.owner is not None
            and other.owner.same_object(pod.owner)
            and not _failing(other)
            and _identity(other)
        ):
            return other
    return None


def check_identity_not_injected(evidence: Evidence) -> list[Finding]:
    """Failing pods without the identity env a healthy sibling of the same ReplicaSet carries:
    the identity webhook did not mutate them when they were created; recreate them."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod in evidence.pods:
        if not _failing(pod) or _identity(pod):
            continue
        sibling = _injected_sibling(evidence, pod)
        target = workload_ref(evidence, pod)
        if sibling is None or target is None or target.key() in seen:
            continue
        seen.add(target.key())
        names = ", ".join(sorted(_identity(sibling)))
        facts = [
            item(pod_source(pod), f"fails without {names} in its env"),
            item(pod_source(sibling), f"same ReplicaSet, runs ready with {names} injected"),
        ]
        findings.append(
            make_finding(
                "identity-not-injected",
                Category.CONFIG_MISSING,
                CONFIDENCE.not_injected,
                prose.narrative(
                    f"pods of {prose.obj(target)} were admitted without their workload identity",
                    "restart it so the identity webhook injects it into new pods",
                    because=[
                        prose.claim(
                            f"Pod {pod.name} fails and lacks {names}, which a ready pod "
                            "of the same ReplicaSet carries",
                            *facts,
                        ),
                        prose.claim(
                            "The webhook adds that env when a pod is created; the template is "
                            "the same, so admission skipped these pods (the webhook was "
                            "unavailable and fails open)"
                        ),
                    ],
                ),
                facts,
                Action.RESTART,
                target,
                {"missing": names},
            )
        )
    return findings


def check_api_forbidden(evidence: Evidence) -> list[Finding]:
    """The workload's own log: the API server refuses its own ServiceAccount a verb."""
    seen: set[str] = set()
    findings: list[Finding] = []
    for pod in evidence.pods:
        refusal = _api_refusal(evidence, pod)
        target = workload_ref(evidence, pod)
        if refusal is None or target is None or target.key() in seen:
            continue
        seen.add(target.key())
        fact, account, refused, details = refusal
        facts = [fact]
        switched = any(
            c.kind == "rollout" and "serviceAccount" in c.aspects and c.object.same_object(target)
            for c in evidence.changes
        )
        confidence = (
            CONFIDENCE.api_forbidden_switched
            if switched
            else CONFIDENCE.api_forbidden_failing
            if _failing(pod)
            else CONFIDENCE.api_forbidden
        )
        findings.append(
            make_finding(
                "api-forbidden",
                Category.CONFIG_MISSING,
                confidence,
                prose.narrative(
                    f"the Kubernetes API refuses {prose.obj(target)} to {refused}",
                    "escalate to the owner of its RBAC binding",
                    because=[
                        prose.claim(
                            f"{prose.obj(target)} logs that the API server forbids its own "
                            f"{account} to {refused}",
                            *facts,
                        ),
                        prose.claim(
                            "Its RBAC binding lacks that permission: the workload is as it was, "
                            "its access is not"
                        ),
                    ],
                ),
                facts,
                Action.ESCALATE,
                target,
                details,
            )
        )
    return findings


IDENTITY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("identity-refused", (Category.CONFIG_MISSING,), check_identity_refused),
    Analyzer("api-forbidden", (Category.CONFIG_MISSING,), check_api_forbidden),
    Analyzer("identity-not-injected", (Category.CONFIG_MISSING,), check_identity_not_injected),
    Analyzer(
        "node-identity-denied",
        (Category.BAD_ROLLOUT, Category.CONFIG_MISSING),
        check_node_identity_denied,
    ),
)
