"""Replicas of one revision that differ only in the mesh sidecar: a service mesh injects its
proxy (Istio's istio-proxy, Linkerd's linkerd-proxy) when a pod is admitted, as the pod's
namespace (or template) asks at that moment. Pods of the same ReplicaSet share one template,
so when some carry the proxy and others do not, injection was switched off (a namespace label
dropped by a sync, an injector down) between their admissions. The replicas without the proxy
speak plaintext outside the mesh, and a callee that requires mutual TLS resets or refuses
them, while the replicas with it keep serving. An SRE reads the failing calls from the bare
replicas only, restores injection, and recreates those pods (restart); escalating to the
callee, which serves the meshed replicas, changes nothing.

The callee's side tells the same from its own proxy: a mesh proxy whose inbound policy admits
only mesh identities names the clients it denies for presenting none (Linkerd's "Request
denied ... client.tls=None ... client.ip=...", ``Evidence.refused_clients`` "unmeshed"). When
the pod at that address runs no mesh proxy at all, the policy is doing its job: the client was
admitted without the injection, and that client (restored injection, pods recreated), not the
denying callee, is what an SRE fixes (``unmeshed-clients``). When the mutating webhook that
injects that pod fails open (``failurePolicy: Ignore``) and its Service has no ready endpoint
because its pods are OOM-killed (``Evidence.webhooks``, not observed, the client's pod among
those it selects), the pods were created while the injector was down: the injector's memory is
what an SRE raises first (oom-killed), then the clients are restarted onto the proxy.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    logs_of,
    object_source,
    owner_workload,
    pod_source,
)
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.object_evidence import ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an uninjected-replicas finding is."""

    # Pods of one ReplicaSet, some with the mesh proxy and some without; only those without
    # log failing calls.
    uninjected_replicas: float = 0.9
    # The callee's mesh proxy denies a client for presenting no mesh identity, and that
    # client's pod runs no mesh proxy: below the replicas compared with each other.
    unmeshed_client: float = 0.75
    # ... and the fail-open webhook that injects it has no ready endpoint, its pods
    # OOM-killed: above the client's own restart.
    injector_oom: float = 0.85


CONFIDENCE: Final = _Confidence()

# The containers a service mesh's injector adds to a pod (Istio, Linkerd).
MESH_SIDECARS: Final = frozenset({"istio-proxy", "linkerd-proxy"})


def _meshed(pod: PodEvidence) -> bool:
    """Whether the pod carries a mesh proxy (a regular container, or a native sidecar)."""
    return _runs_proxy(pod.containers)


def _runs_proxy(containers: list[ContainerEvidence]) -> bool:
    """Whether these containers include a mesh proxy."""
    return any(c.name in MESH_SIDECARS for c in containers)


def check_uninjected_replicas(evidence: Evidence) -> list[Finding]:
    if evidence.workload is None:
        return []
    ours = evidence.workload.ref
    pods = [
        p
        for p in evidence.pods
        if (owned := owner_workload(p)) is not None and owned.same_object(ours)
    ]
    if len({p.owner.name for p in pods if p.owner is not None}) != 1:
        return []
    meshed = [p for p in pods if _meshed(p)]
    bare = [p for p in pods if not _meshed(p)]
    if not meshed or not bare:
        return []
    failing = [h for p in bare for h in grep_logs(logs_of(evidence, p), DEPENDENCY_LOG, limit=1)]
    if not failing or any(grep_logs(logs_of(evidence, p), DEPENDENCY_LOG, limit=1) for p in meshed):
        return []
    sidecar = next(c.name for c in meshed[0].containers if c.name in MESH_SIDECARS)
    with_proxy = item(pod_source(meshed[0]), f"runs the mesh proxy {sidecar}")
    without = item(
        pod_source(bare[0]),
        f"same ReplicaSet, no {sidecar} container"
        + (f" ({prose.count(len(bare), 'replica')} like it)" if len(bare) > 1 else ""),
    )
    said = item(failing[0].source, failing[0].line)
    return [
        make_finding(
            "uninjected-replicas",
            Category.NETWORK,
            CONFIDENCE.uninjected_replicas,
            prose.narrative(
                f"Replicas of {prose.obj(ours)} lack the mesh proxy and fail",
                "restore sidecar injection, then restart it",
                because=[
                    prose.claim(
                        "Pods of one ReplicaSet differ in the proxy the mesh injects at "
                        "admission: injection was off when the bare ones were created",
                        with_proxy,
                        without,
                    ),
                    prose.claim(
                        "Only the replicas without the proxy log failing calls; the mesh's "
                        "callees refuse plaintext from outside it",
                        said,
                    ),
                ],
            ),
            [without, with_proxy, said],
            Action.RESTART,
            ours,
            {"container": sidecar},
        )
    ]


def _unmeshed_client(client: RefusedClientEvidence) -> Finding:
    pod = f"pod/{client.ref.namespace}/{client.pod}"
    denied = item(pod, f"denied by the callee's mesh policy at {client.address}: {client.line}")
    bare = item(
        pod,
        "runs no mesh proxy: " + prose.listing([c.name for c in client.containers if not c.init]),
    )
    return make_finding(
        "unmeshed-clients",
        Category.NETWORK,
        CONFIDENCE.unmeshed_client,
        prose.narrative(
            f"{prose.obj(client.ref)} calls from outside the mesh and is denied",
            "restore sidecar injection for it, then restart it",
            because=[
                prose.claim(
                    "The callee's mesh proxy denies it for presenting no mesh identity",
                    denied,
                ),
                prose.claim(
                    "Its pod runs no mesh proxy: it was admitted without the injection, so "
                    "the policy refuses its plaintext calls as it should",
                    bare,
                ),
            ],
        ),
        [denied, bare],
        Action.RESTART,
        client.ref,
        {},
    )


def _down_injector(evidence: Evidence, client: RefusedClientEvidence) -> WebhookEvidence | None:
    """The fail-open webhook that injects the client's pod, with no ready endpoint."""
    for hook in evidence.webhooks:
        if hook.failure_policy != "Ignore" or hook.observed or hook.backend is None:
            continue
        if any(
            (b.kind, b.namespace, b.name) == ("Pod", client.ref.namespace, client.pod)
            for b in hook.blocked
        ):
            return hook
    return None


def _injector_oom(client: RefusedClientEvidence, hook: WebhookEvidence) -> Finding | None:
    backend = hook.backend
    if backend is None or backend.workload is None:
        return None
    killed = [p for p in backend.failing_pods if p.last_terminated == "OOMKilled"]
    if not killed:
        return None
    pod = f"pod/{client.ref.namespace}/{client.pod}"
    injector = backend.workload
    denied = item(pod, f"denied by the callee's mesh policy: {client.line}")
    skipped = item(
        f"{hook.configuration.kind.lower()}/{hook.configuration.name}"
        if hook.configuration is not None
        else object_source(injector),
        f"webhook {hook.name} failurePolicy=Ignore injects pods; {hook.message}",
    )
    oom = item(object_source(injector), prose.pod_trouble(killed[0]))
    return make_finding(
        "unmeshed-clients",
        Category.OOM_KILLED,
        CONFIDENCE.injector_oom,
        prose.narrative(
            f"Mesh injector {prose.obj(injector)} is OOM-killed: new pods lack the proxy",
            "raise its memory limit",
            because=[
                prose.claim(
                    f"The callee's mesh policy denies {prose.obj(client.ref)}, whose pod runs "
                    "no mesh proxy",
                    denied,
                ),
                prose.claim(
                    "The webhook that injects that pod fails open and has no ready endpoint: "
                    "the pod was admitted without the injection",
                    skipped,
                ),
                prose.claim("The injector's pods exceed their memory limit", oom),
            ],
        ),
        [oom, skipped, denied],
        Action.INCREASE_MEMORY,
        injector,
        {"container": killed[0].container} if killed[0].container else {},
    )


def check_unmeshed_clients(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for client in evidence.refused_clients:
        if client.refusal != "unmeshed" or not client.containers:
            continue
        if _runs_proxy(client.containers):
            continue
        hook = _down_injector(evidence, client)
        finding = _injector_oom(client, hook) if hook is not None else None
        for found in (finding, _unmeshed_client(client)):
            if found is not None and all(not found.target.same_object(f.target) for f in findings):
                findings.append(found)
    return findings


MESH_INJECTION_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("uninjected-replicas", (Category.NETWORK,), check_uninjected_replicas),
    Analyzer("unmeshed-clients", (Category.NETWORK, Category.OOM_KILLED), check_unmeshed_clients),
)
