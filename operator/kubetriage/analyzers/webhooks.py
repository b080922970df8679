"""Admission-webhook analyzer: the API server could not call a webhook while creating or
changing the incident's objects (``failed calling webhook``), so the cause is the webhook's,
not the blocked workload's:

- the webhook's serving certificate expired, is signed by a CA its caBundle does not hold, or
  does not name its Service: certificate-expiry, renew the cert-manager Certificate behind it
  (the cainjector's ``inject-ca-from``, or the Certificate whose Secret its pods mount or
  whose DNS names are its Service's), else the Secret its pods mount or its logs name;
- its Service has no ready endpoint: its Service selects no pod (network: fix the Service);
  its pods fail since a new revision (bad-rollout: roll the webhook's workload back); its pods
  cannot be scheduled (unschedulable: free capacity for the webhook's workload); its pods
  are killed for exceeding their memory limit (oom-killed: raise the webhook workload's
  memory); its pods crash and their last log lines name a file of a Secret they mount (a
  CA or key bundle the process refuses at start: config-missing, fix that Secret); its pods
  crash otherwise (crash-loop: escalate to the webhook's workload); otherwise the
  webhook is failing (dependency-failure: escalate to its owner at the Service);
- the call times out while the Service has ready endpoints and a NetworkPolicy of the
  backend's namespace isolates its pods with no rule admitting the API server on the webhook's
  port (the API server is no pod: only a rule with no peers, or an ipBlock, lets it in):
  network, fix the policy that denies (one with no ingress rule first);
- the call times out while the Service has ready endpoints and the backend's containers are
  throttled by their CPU limit for HEAVILY_THROTTLED_SHARE of their CFS periods or more (it
  cannot answer within the webhook's timeout): cpu-throttling, raise the backend's CPU;
- the call is refused or times out otherwise: dependency-failure, escalate at the Service.

A webhook whose ``failurePolicy`` is ``Ignore`` blocks nothing and is passed over. A webhook
no failed call names (``observed`` False: a custom resource of a group it intercepts is not
Ready while its Service has no ready endpoint) is decided the same way, a little less sure.
Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cert_targets import TLS_NAME, dependency_tls_secrets
from kubetriage.analyzers.cfs import HEAVILY_THROTTLED_SHARE, workload_throttle_shares
from kubetriage.analyzers.support import item, object_source
from kubetriage.evidence.conversion_webhooks import CRD
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ConfigMount,
    GenericObjectEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, Flow, ingress_verdict


@dataclass(frozen=True, slots=True)
class _WebhookConfidence:
    """How sure a webhook finding is, by the evidence that earns it."""

    certificate: float = 0.93  # an x509 failure, and the Certificate or Secret behind it
    certificate_service: float = 0.8  # ... but only its Service is known (escalate)
    untrusted: float = 0.8  # unknown authority or wrong host: replace, not merely renew
    no_pods: float = 0.9  # no endpoint because the Service selects no pod
    rollout: float = 0.9  # no endpoint; its pods fail since a new revision
    unschedulable: float = 0.9  # no endpoint; its pods cannot be scheduled
    oom: float = 0.88  # no endpoint; its pods are OOMKilled, no new revision behind it
    crashing: float = 0.85  # no endpoint; its pods crash, no new revision behind it
    secret_content: float = 0.86  # ... and their logs name a file of a Secret they mount
    failing: float = 0.82  # no endpoint, refused or timed out, no cause behind it in view
    isolated: float = 0.88  # timed out; ready endpoints; a policy denies the API server
    throttled: float = 0.84  # timed out; ready endpoints; its containers heavily throttled
    minor: float = 0.1  # less when few calls failed (fewer than MANY_CALLS)
    inferred: float = 0.05  # less when no failed call is seen, only a stuck object it admits


CONFIDENCE: Final = _WebhookConfidence()
# Fewer failed calls than this and the webhook is not yet the incident.
MANY_CALLS = 3
_CERTIFICATE_FAILURES = frozenset({"expired", "not-yet-valid", "unknown-authority", "hostname"})
_UNREACHABLE_FAILURES = frozenset({"no-endpoints", "refused", "timeout"})
_SCHEDULING = ("FailedScheduling", "Unschedulable", "didn't match", "Insufficient")


def _dependency(evidence: Evidence, service: ObjectRef | None) -> DependencyEvidence | None:
    if service is None:
        return None
    for dependency in evidence.dependencies:
        found = dependency.service
        if found is not None and (found.namespace, found.name) == (service.namespace, service.name):
            return dependency
    return None


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def serving_certificate(
    hook: WebhookEvidence, dependency: DependencyEvidence | None
) -> GenericObjectEvidence | ObjectRef | None:
    """The cert-manager Certificate the webhook serves: the one cainjector copies its CA
    from, else the one whose Secret its pods mount, else the one naming its Service."""
    certificates = hook.certificates
    if hook.ca_injected_from is not None:
        injected = hook.ca_injected_from
        for cert in certificates:
            if (cert.ref.namespace, cert.ref.name) == (injected.namespace, injected.name):
                return cert
        return injected
    mounted = set(dependency.mounted_secrets) if dependency is not None else set()
    for cert in certificates:
        if cert.fields.get("secretName") in mounted:
            return cert
    if hook.service is not None:
        host = f"{hook.service.name}.{hook.service.namespace}.svc"
        for cert in certificates:
            names = _listed(cert.fields.get("dnsNames")) + _listed(cert.fields.get("commonName"))
            if any(n == host or n.startswith(host + ".") for n in names):
                return cert
    return None


def _serving_secret(hook: WebhookEvidence, dependency: DependencyEvidence | None) -> str | None:
    """The Secret holding the webhook's certificate: a TLS-looking Secret its pods mount,
    else one its logs name (a webhook that rotates its own certificate says so there)."""
    if dependency is not None and (mounted := dependency_tls_secrets(dependency)):
        return mounted[0]
    return next((name for name in hook.secrets_named if TLS_NAME.search(name)), None)


def _converts(hook: WebhookEvidence) -> bool:
    """Whether the webhook is a CRD's conversion webhook (its failures are read from the log
    of the client whose list failed, ``kubetriage.evidence.conversion_webhooks``)."""
    return hook.configuration is not None and hook.configuration.kind == CRD


def _blocked_fact(hook: WebhookEvidence) -> EvidenceItem:
    blocked = ", ".join(prose.obj(r) for r in hook.blocked[:2]) or "the incident's objects"
    if _converts(hook) and hook.service is not None:
        return item(f"log {hook.service.namespace}", f"{hook.count}x: {hook.message}")
    if not hook.observed:
        return item(blocked, f"not Ready; webhook {hook.name} admits its writes: {hook.message}")
    return item(f"events of {blocked}", f"{hook.count}x: {hook.message}")


def _blocked_claim(hook: WebhookEvidence) -> str:
    if _converts(hook):
        return "The API server cannot convert the objects of the kind, so listing them fails"
    if not hook.observed:
        return "An object whose writes the webhook admits stays not Ready while it has no endpoint"
    return "The API server rejects the requests the webhook must admit"


def _penalty(hook: WebhookEvidence) -> float:
    """How much less sure: no failed call seen, or fewer than MANY_CALLS."""
    if not hook.observed:
        return CONFIDENCE.inferred
    return CONFIDENCE.minor if hook.count < MANY_CALLS else 0.0


def _configuration_fact(hook: WebhookEvidence) -> EvidenceItem | None:
    if hook.configuration is None:
        return None
    where = f" calls {prose.obj(hook.service)}" if hook.service is not None else ""
    source = f"{hook.configuration.kind.lower()}/{hook.configuration.name}"
    if _converts(hook):
        return item(source, f"converts its objects between versions: conversion webhook{where}")
    return item(source, f"webhook {hook.name} failurePolicy={hook.failure_policy or 'Fail'}{where}")


# The API server as a NetworkPolicy sees it: not a pod of any namespace (a peer naming no
# namespace matches it only when its selector is empty, a conservative reading), no known IP.
_API_SERVER = Endpoint(namespace="", labels={})


def _policy_denying(
    hook: WebhookEvidence, dependency: DependencyEvidence | None
) -> ObjectRef | None:
    """The NetworkPolicy that keeps the API server's call from the webhook's ready pods: of
    those isolating them for ingress with no rule admitting the call, the one closest to
    admitting it (``networkpolicy``: a deny-all when no rule was written for the API
    server). None when a policy admits it, an ipBlock might, or no pod is ready."""
    svc = dependency.service if dependency is not None else None
    if hook.failure != "timeout" or hook.service is None or not hook.policies:
        return None
    if svc is not None and svc.ready_endpoints == 0:
        return None
    namespace = hook.service.namespace or ""
    flow = Flow(
        source=_API_SERVER,
        destination=Endpoint(namespace=namespace, labels=hook.backend_labels),
        port=hook.backend_port,
        port_name=hook.backend_port_name,
    )
    verdict = ingress_verdict(hook.policies, flow)
    if verdict.allowed or verdict.ip_block_caveat:
        return None
    if not verdict.blocking:
        return None
    return ObjectRef(kind="NetworkPolicy", namespace=namespace, name=verdict.blocking[0])


def _refused_secret(hook: WebhookEvidence, dependency: DependencyEvidence) -> ConfigMount | None:
    """The Secret volume whose file the crashing backend's log lines name (a path under its
    mount path, with or without the leading slash): the content it refuses at start."""
    for mount in dependency.secret_mounts:
        if mount.kind != "Secret":
            continue
        where = mount.path.strip("/")
        if where and any(f"{where}/" in line for line in hook.log_lines):
            return mount
    return None


def _recent_rollout(dependency: DependencyEvidence) -> ChangeEvidence | None:
    return next((c for c in dependency.changes if c.kind == "rollout"), None)


def _certificate_finding(
    hook: WebhookEvidence, dependency: DependencyEvidence | None, facts: list[EvidenceItem]
) -> Finding | None:
    cert = serving_certificate(hook, dependency)
    what = {
        "expired": "has expired",
        "not-yet-valid": "is not yet valid",
        "unknown-authority": "is signed by a CA the webhook's caBundle does not hold",
        "hostname": "does not name the webhook's Service",
    }[hook.failure]
    confidence = (
        CONFIDENCE.certificate
        if hook.failure in ("expired", "not-yet-valid")
        else CONFIDENCE.untrusted
    )
    target: ObjectRef
    action = Action.RENEW_CERTIFICATE
    if isinstance(cert, GenericObjectEvidence):
        target = cert.ref
        source = object_source(cert.ref)
        state = cert.fields.get("notAfter")
        facts.append(
            item(
                source,
                f"serves {hook.service.name if hook.service else hook.name}"
                + (f"; notAfter {state}" if state else ""),
            )
        )
    elif isinstance(cert, ObjectRef):
        target = cert
    elif (secret := _serving_secret(hook, dependency)) is not None and hook.service is not None:
        target = ObjectRef(kind="Secret", namespace=hook.service.namespace, name=secret)
        facts += [item(f"log {hook.service.namespace}", line) for line in hook.log_lines[-2:]]
    elif hook.service is not None:
        target, action = hook.service, Action.ESCALATE
        confidence = CONFIDENCE.certificate_service
    else:
        return None
    holder = "served by" if target.kind == "Service" else "in"
    role = "conversion" if _converts(hook) else "admission"
    problem = f"The {role} webhook certificate {holder} {prose.obj(target)} {what}"
    return make_finding(
        "admission-webhook",
        Category.CERTIFICATE_EXPIRY,
        confidence - _penalty(hook),
        prose.narrative(
            problem,
            "renew it" if action is Action.RENEW_CERTIFICATE else "escalate to its owner",
            because=[
                prose.claim(_blocked_claim(hook), facts[0]),
                prose.claim(f"The webhook's TLS handshake fails: its certificate {what}"),
                prose.claim(
                    f"{prose.obj(target)} {'serves' if target.kind == 'Service' else 'holds'} "
                    "that certificate",
                    *facts[1:3],
                ),
            ],
        ),
        facts,
        action,
        target,
        {"webhook": hook.name},
    )


def _throttled(
    hook: WebhookEvidence, dependency: DependencyEvidence | None, shares: dict[str, float]
) -> tuple[str, float] | None:
    """The backend container most throttled by its CPU limit, when the call timed out while
    the Service had a ready endpoint and that container spent HEAVILY_THROTTLED_SHARE of its
    CFS periods or more throttled."""
    svc = dependency.service if dependency is not None else None
    if hook.failure != "timeout" or svc is None or svc.ready_endpoints == 0 or not shares:
        return None
    container, share = max(shares.items(), key=lambda kv: kv[1])
    return (container, share) if share >= HEAVILY_THROTTLED_SHARE else None


def _unreachable_finding(
    hook: WebhookEvidence,
    dependency: DependencyEvidence | None,
    facts: list[EvidenceItem],
    shares: dict[str, float],
) -> Finding | None:
    service = hook.service
    if service is None:
        return None
    category, action, target = Category.DEPENDENCY_FAILURE, Action.ESCALATE, service
    confidence = CONFIDENCE.failing
    cause = f"{prose.obj(service)} does not answer"
    svc = dependency.service if dependency is not None else None
    denying = _policy_denying(hook, dependency)
    # A policy that drops the call is surer than a slow backend: it never gets the call.
    throttled = None if denying is not None else _throttled(hook, dependency, shares)
    if throttled is not None and dependency is not None and dependency.workload is not None:
        container, share = throttled
        category, action, target = (
            Category.CPU_THROTTLING,
            Action.INCREASE_CPU,
            dependency.workload,
        )
        confidence = CONFIDENCE.throttled
        cause = (
            f"container {container} of {prose.obj(dependency.workload)} is throttled by its "
            "CPU limit and answers too late"
        )
        facts.append(
            item(
                object_source(dependency.workload),
                f"container {container}: {prose.percent(share)} of CFS periods throttled",
            )
        )
    elif denying is not None:
        category, action, target = Category.NETWORK, Action.FIX_NETWORK, denying
        confidence = CONFIDENCE.isolated
        port = hook.backend_port or hook.backend_port_name
        cause = f"{prose.obj(denying)} lets no call from the API server reach port {port}"
        facts.append(
            item(
                f"networkpolicy/{denying.namespace}/{denying.name}",
                "isolates the webhook's pods for ingress; no rule admits the API server"
                + (f" on port {port}" if port else ""),
            )
        )
        if svc is not None:
            facts.append(
                item(
                    object_source(service),
                    prose.ready_endpoints(svc.ready_endpoints),
                )
            )
    elif dependency is not None:
        facts += [
            item(f"dependency {prose.obj(service)}", prose.pod_trouble(p))
            for p in dependency.failing_pods[:2]
        ]
        rollout = _recent_rollout(dependency)
        scheduling = [w for w in dependency.warnings if any(s in w for s in _SCHEDULING)]
        crashing = [
            p
            for p in dependency.failing_pods
            if p.waiting == "CrashLoopBackOff" or p.last_terminated == "Error"
        ]
        oom_killed = [p for p in dependency.failing_pods if p.last_terminated == "OOMKilled"]
        if hook.failure == "no-endpoints" and svc is not None and svc.matching_pods == 0:
            category, action = Category.NETWORK, Action.FIX_NETWORK
            confidence = CONFIDENCE.no_pods
            cause = f"{prose.obj(service)} selects no pod"
            selector = ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items()))
            facts.append(item(object_source(service), f"selector {selector}: no pod"))
        elif scheduling and dependency.workload is not None:
            category, action, target = (
                Category.UNSCHEDULABLE,
                Action.FREE_CAPACITY,
                dependency.workload,
            )
            confidence = CONFIDENCE.unschedulable
            cause = f"{prose.obj(dependency.workload)} cannot schedule its pods"
            facts.append(item(f"dependency {prose.obj(service)}", scheduling[0]))
        elif rollout is not None and dependency.failing_pods and dependency.workload is not None:
            category, action, target = Category.BAD_ROLLOUT, Action.ROLLBACK, dependency.workload
            confidence = CONFIDENCE.rollout
            cause = f"the new revision of {prose.obj(dependency.workload)} fails"
            facts.append(
                item(
                    f"dependency {prose.obj(service)}",
                    f"rollout {rollout.from_revision}->{rollout.to_revision}: "
                    + ", ".join(rollout.details[:2] or rollout.aspects),
                )
            )
        elif hook.failure == "no-endpoints" and oom_killed and dependency.workload is not None:
            category, action, target = (
                Category.OOM_KILLED,
                Action.INCREASE_MEMORY,
                dependency.workload,
            )
            confidence = CONFIDENCE.oom
            cause = f"the pods of {prose.obj(dependency.workload)} exceed their memory limit"
        elif (
            hook.failure == "no-endpoints"
            and crashing
            and service.namespace
            and (refused := _refused_secret(hook, dependency)) is not None
        ):
            category, action = Category.CONFIG_MISSING, Action.FIX_CONFIG
            target = ObjectRef(kind="Secret", namespace=service.namespace, name=refused.name)
            confidence = CONFIDENCE.secret_content
            cause = (
                f"its pods exit at start on the content of {prose.obj(target)}, "
                f"mounted at {refused.path}"
            )
            facts += [item(f"log {service.namespace}", line) for line in hook.log_lines[-1:]]
        elif hook.failure == "no-endpoints" and crashing and dependency.workload is not None:
            category, action, target = Category.CRASH_LOOP, Action.ESCALATE, dependency.workload
            confidence = CONFIDENCE.crashing
            cause = f"the pods of {prose.obj(dependency.workload)} crash"
    fix = {
        Action.FIX_NETWORK: "fix its selector",
        Action.FREE_CAPACITY: "free capacity for it",
        Action.ROLLBACK: "roll it back",
        Action.INCREASE_MEMORY: "raise its memory limit",
        Action.FIX_CONFIG: "restore a valid content of that Secret",
        Action.INCREASE_CPU: "raise its CPU limit",
    }.get(action, "escalate to its owner")
    if target.kind == "NetworkPolicy":
        fix = "let the API server's calls in"
    state, backend_state = "down", "unavailable"
    if target.kind == "NetworkPolicy":
        state = "cut off"
    elif category is Category.CPU_THROTTLING:
        state, backend_state = "too slow", "too slow"
    return make_finding(
        "admission-webhook",
        category,
        confidence - _penalty(hook),
        prose.narrative(
            f"Admission webhook {state}: {cause}",
            fix,
            because=[
                prose.claim(_blocked_claim(hook), facts[0]),
                prose.claim(f"The webhook's backend is {backend_state}: {cause}", *facts[1:4]),
            ],
        ),
        facts,
        action,
        target,
        {"webhook": hook.name},
    )


def check_webhooks(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for hook in evidence.webhooks:
        if hook.failure_policy == "Ignore":
            continue
        dependency = _dependency(evidence, hook.service) or hook.backend
        facts = [_blocked_fact(hook)]
        if (configured := _configuration_fact(hook)) is not None:
            facts.append(configured)
        finding: Finding | None = None
        if hook.failure in _CERTIFICATE_FAILURES:
            finding = _certificate_finding(hook, dependency, facts)
        elif hook.failure in _UNREACHABLE_FAILURES:
            backend = dependency.workload if dependency is not None else None
            shares = workload_throttle_shares(evidence, backend) if backend is not None else {}
            finding = _unreachable_finding(hook, dependency, facts, shares)
        if finding is not None:
            findings.append(finding)
    return findings


WEBHOOK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "admission-webhook",
        (
            Category.CERTIFICATE_EXPIRY,
            Category.NETWORK,
            Category.BAD_ROLLOUT,
            Category.UNSCHEDULABLE,
            Category.OOM_KILLED,
            Category.CPU_THROTTLING,
            Category.CONFIG_MISSING,
            Category.CRASH_LOOP,
            Category.DEPENDENCY_FAILURE,
        ),
        check_webhooks,
    ),
)
