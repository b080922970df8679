"""Who writes a Secret the incident's pods cannot get, from what, and why they did not. Pure.

Many Secrets are written by no person but by a controller, from a source object; when one is
absent (or lacks a key) the fix is at that source, not at the pods reading it. The writers:

- a Crossplane claim (or composite resource) whose ``spec.writeConnectionSecretToRef`` names
  the Secret: the connection details are written once its managed resources are ready, and
  a managed resource that is not ``Synced`` says why (``cannot get credentials secret``): its
  ProviderConfig's ``spec.credentials.secretRef`` is what is broken;
- a Kyverno ``generate`` rule (ClusterPolicy or Policy) whose generated Secret (kind, name,
  namespace, possibly templated) is a ``clone`` of a source Secret: the copy holds what the
  source holds, so a key missing from the copy is missing at the source;
- a Strimzi KafkaUser: the user operator (a container of the Kafka cluster's entity operator
  Deployment) writes a Secret named after the user; a KafkaUser not Ready while that
  operator's containers keep dying has no Secret because its writer is down.

The collector (``kubetriage.evidence.secret_writer_walk``) reads these custom resources, the
builder summarises them with the same rules; Secrets themselves are never read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kubetriage.config_errors import missing_secret
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import (
    api_group,
    as_dict,
    as_int,
    as_str,
    clip_text,
    condition,
    dicts,
    kind_of,
    ready_status,
    ref_of,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import SecretWriterEvidence
from kubetriage.models.objects import JsonDict, selector_matches
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# (group, version, kind, plural) of the custom resources read to find a Secret's writer.
Api = tuple[str, str, str, str]
CROSSPLANE_XRD: Api = (
    "apiextensions.crossplane.io",
    "v1",
    "CompositeResourceDefinition",
    "compositeresourcedefinitions",
)
# The kinds naming a Crossplane provider's credentials (cluster-scoped).
PROVIDER_CONFIG_KINDS = ("ProviderConfig", "ClusterProviderConfig")
# What a ``generate`` rule names its target namespace with when it is templated per trigger.
_TEMPLATE = "{{"


def _generated_clone(policy: JsonDict, namespace: str, name: str) -> ObjectRef | None:
    """The source Secret a Kyverno generate rule of ``policy`` clones into ``namespace/name``."""
    for rule in dicts(as_dict(policy.get("spec")).get("rules")):
        generate = as_dict(rule.get("generate"))
        if as_str(generate.get("kind")) != "Secret" or as_str(generate.get("name")) != name:
            continue
        where = as_str(generate.get("namespace")) or _ns(policy)
        if where and _TEMPLATE not in where and where != namespace:
            continue
        clone = as_dict(generate.get("clone"))
        source = as_str(clone.get("name"))
        source_ns = as_str(clone.get("namespace")) or _ns(policy)
        if source and (source_ns, source) != (namespace, name):
            return ObjectRef(kind="Secret", namespace=source_ns or None, name=source)
    return None


def _kafka_user_secret(user: JsonDict, namespace: str, name: str) -> bool:
    """Whether the KafkaUser's user operator writes ``namespace/name`` (named after the user,
    or as its status reports once written)."""
    written = as_str(as_dict(user.get("status")).get("secret")) or _name(user)
    return _ns(user) == namespace and written == name


def _user_operator(user: JsonDict) -> dict[str, str] | None:
    """The labels of the Deployment running the KafkaUser's user operator: the entity
    operator of the Kafka cluster the user is labelled with."""
    cluster = _labels(user).get("strimzi.io/cluster")
    if not cluster:
        return None
    return {"strimzi.io/cluster": cluster, "strimzi.io/name": f"{cluster}-entity-operator"}


@dataclass(frozen=True)
class WriterKind:
    """A kind of object whose controller writes a Secret: which of its objects write
    ``namespace/name`` (``clones``: the source it copies, else None), and the labels of the
    workload running that controller, when the kind says (``controller``)."""

    api: Api
    cluster: bool  # a cluster-scoped kind, listed across the cluster
    how: str  # for a person: "<writer> <how> <secret>"
    clones: Callable[[JsonDict, str, str], ObjectRef | None] | None = None
    writes: Callable[[JsonDict, str, str], bool] | None = None
    controller: Callable[[JsonDict], dict[str, str] | None] | None = None


WRITER_KINDS: tuple[WriterKind, ...] = (
    WriterKind(
        ("kyverno.io", "v1", "ClusterPolicy", "clusterpolicies"),
        True,
        "generates",
        clones=_generated_clone,
    ),
    WriterKind(
        ("kyverno.io", "v1", "Policy", "policies"),
        False,
        "generates",
        clones=_generated_clone,
    ),
    WriterKind(
        ("kafka.strimzi.io", "v1beta2", "KafkaUser", "kafkausers"),
        False,
        "has its user operator write",
        writes=_kafka_user_secret,
        controller=_user_operator,
    ),
)


def wanted_secrets(pods: Iterable[JsonDict], events: Iterable[JsonDict]) -> list[tuple[str, str]]:
    """The Secrets (namespace, name) the kubelet says the pods cannot get: a container that
    cannot be created, a volume that cannot be mounted, because the Secret or a key of it
    is missing."""
    found: list[tuple[str, str]] = []
    names: set[tuple[str, str]] = set()
    for pod in pods:
        names.add((_ns(pod), _name(pod)))
        status = as_dict(pod.get("status"))
        for container in dicts(status.get("containerStatuses")) + dicts(
            status.get("initContainerStatuses")
        ):
            waiting = as_dict(as_dict(container.get("state")).get("waiting"))
            secret = missing_secret(as_str(waiting.get("message")) or "")
            if secret and (_ns(pod), secret) not in found:
                found.append((_ns(pod), secret))
    for event in events:
        involved = as_dict(event.get("involvedObject"))
        key = (as_str(involved.get("namespace")) or "", as_str(involved.get("name")) or "")
        if as_str(involved.get("kind")) != "Pod" or key not in names:
            continue
        secret = missing_secret(as_str(event.get("message")) or "")
        if secret and (key[0], secret) not in found:
            found.append((key[0], secret))
    return found


def writes_connection(obj: JsonDict, namespace: str, name: str) -> bool:
    """Whether a Crossplane claim or composite resource writes its connection details to
    ``namespace/name`` (a claim's ref has no namespace: its own)."""
    ref = as_dict(as_dict(obj.get("spec")).get("writeConnectionSecretToRef"))
    return as_str(ref.get("name")) == name and (as_str(ref.get("namespace")) or _ns(obj)) == (
        namespace
    )


def composed_refs(obj: JsonDict) -> list[JsonDict]:
    """What a claim or composite resource is made of: a claim's composite
    (``spec.resourceRef``), a composite's resources (``spec.resourceRefs``, or
    ``spec.crossplane.resourceRefs`` in Crossplane v2)."""
    spec = as_dict(obj.get("spec"))
    refs = dicts(spec.get("resourceRefs")) or dicts(
        as_dict(spec.get("crossplane")).get("resourceRefs")
    )
    single = as_dict(spec.get("resourceRef"))
    return ([single] if single.get("name") else []) + refs


def not_synced(obj: JsonDict) -> str | None:
    """What a managed resource that cannot reconcile says (``Synced=False``), else None."""
    synced = condition(obj, "Synced")
    if synced is None or synced.get("status") != "False":
        return None
    return as_str(synced.get("message")) or as_str(synced.get("reason")) or ""


def provider_groups(managed_group: str) -> list[str]:
    """Where a managed resource's ProviderConfig may be served: its own API group and the
    groups it is a subgroup of (``rds.aws.upbound.io`` → ``aws.upbound.io``)."""
    parts = managed_group.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


def provider_config_name(managed: JsonDict) -> str:
    ref = as_dict(as_dict(managed.get("spec")).get("providerConfigRef"))
    return as_str(ref.get("name")) or "default"


def credentials_secret(config: JsonDict) -> ObjectRef | None:
    """The Secret a ProviderConfig reads its credentials from."""
    credentials = as_dict(as_dict(config.get("spec")).get("credentials"))
    ref = as_dict(credentials.get("secretRef"))
    if as_str(credentials.get("source")) != "Secret" or not as_str(ref.get("name")):
        return None
    return ObjectRef(
        kind="Secret", namespace=as_str(ref.get("namespace")), name=as_str(ref.get("name")) or ""
    )


def controller_failures(pods: Sequence[JsonDict]) -> tuple[list[str], bool]:
    """The containers of a controller's pods that keep failing, for a person, and whether
    one was OOM-killed."""
    failures: list[str] = []
    oom = False
    for pod in pods:
        for status in dicts(as_dict(pod.get("status")).get("containerStatuses")):
            restarts = as_int(status.get("restartCount")) or 0
            ended = [
                as_dict(as_dict(status.get(part)).get("terminated"))
                for part in ("state", "lastState")
            ]
            reason = next((as_str(t.get("reason")) for t in ended if t.get("reason")), None)
            if status.get("ready") is True or (restarts == 0 and reason is None):
                continue
            oom = oom or reason == "OOMKilled"
            code = next((as_int(t.get("exitCode")) for t in ended if t.get("exitCode")), None)
            failures.append(
                f"{_name(pod)}/{status.get('name')}: {reason or 'not ready'}"
                + (f" (exit {code})" if code is not None else "")
                + f", {restarts} restarts"
            )
    return failures, oom


def _claim_summary(
    index: ObjectIndex, claim: JsonDict, secret: ObjectRef, limits: EvidenceLimits
) -> SecretWriterEvidence:
    """A Crossplane claim (or composite) writing ``secret``, and the first resource under it
    that cannot reconcile, with the credentials Secret its ProviderConfig reads when what it
    says blames credentials or names that Secret."""
    found = SecretWriterEvidence(
        secret=secret,
        writer=ref_of(claim),
        how="writes its connection details to",
        ready=ready_status(claim),
    )
    queue, seen = composed_refs(claim), 0
    while queue and seen < limits.max_list_items:
        ref = queue.pop(0)
        seen += 1
        part = index.get(as_str(ref.get("kind")) or "", None, as_str(ref.get("name")))
        if part is None:
            continue
        queue += composed_refs(part)
        message = not_synced(part)
        if message is None:
            continue
        found.failing, found.message = (
            ref_of(part),
            clip_text(message, limits.max_string_length) or "",
        )
        groups = provider_groups(api_group(as_str(part.get("apiVersion"))))
        configs = [
            c
            for kind in PROVIDER_CONFIG_KINDS
            for c in index.kind(kind)
            if _name(c) == provider_config_name(part)
            and api_group(as_str(c.get("apiVersion"))) in groups
        ]
        for config in configs:
            source = credentials_secret(config)
            if source is not None and ("credential" in message.lower() or source.name in message):
                found.source = source
                found.source_role = f"its {kind_of(config)} {_name(config)} reads credentials from"
                break
        return found
    return found


def secret_writer_summaries(
    index: ObjectIndex, pods: Sequence[JsonDict], limits: EvidenceLimits
) -> list[SecretWriterEvidence]:
    """Who writes each Secret the pods in scope cannot get, as far as the objects read say."""
    summaries: list[SecretWriterEvidence] = []
    for namespace, name in wanted_secrets(pods, index.kind("Event"))[: limits.max_dependencies]:
        secret = ObjectRef(kind="Secret", namespace=namespace, name=name)
        for writer_kind in WRITER_KINDS:
            kind = writer_kind.api[2]
            objects = (
                index.kind(kind) if writer_kind.cluster else index.in_namespace(kind, namespace)
            )
            for obj in objects:
                summary = _writer_summary(index, writer_kind, obj, secret)
                if summary is not None:
                    summaries.append(summary)
        for objects in index.by_kind.values():
            for obj in objects:
                if _ns(obj) == namespace and writes_connection(obj, namespace, name):
                    summaries.append(_claim_summary(index, obj, secret, limits))
    return summaries[: limits.max_dependencies]


def controller_pods(index: ObjectIndex, workload: JsonDict) -> list[JsonDict]:
    selector = as_dict(as_dict(workload.get("spec")).get("selector"))
    return [
        p
        for p in index.in_namespace("Pod", _ns(workload))
        if selector and selector_matches(selector, _labels(p))
    ]


def _writer_summary(
    index: ObjectIndex, writer_kind: WriterKind, obj: JsonDict, secret: ObjectRef
) -> SecretWriterEvidence | None:
    namespace, name = secret.namespace or "", secret.name
    if writer_kind.clones is not None:
        source = writer_kind.clones(obj, namespace, name)
        if source is None:
            return None
        return SecretWriterEvidence(
            secret=secret,
            writer=ref_of(obj),
            how=writer_kind.how,
            source=source,
            source_role="as a clone of",
            ready=ready_status(obj),
        )
    if writer_kind.writes is None or not writer_kind.writes(obj, namespace, name):
        return None
    found = SecretWriterEvidence(
        secret=secret, writer=ref_of(obj), how=writer_kind.how, ready=ready_status(obj)
    )
    wanted = writer_kind.controller(obj) if writer_kind.controller else None
    if not wanted or found.ready:
        return found
    for workload in index.kind("Deployment"):
        if all(_labels(workload).get(k) == v for k, v in wanted.items()):
            found.controller = ref_of(workload)
            failures, oom = controller_failures(controller_pods(index, workload))
            found.controller_failures, found.controller_oom_killed = failures, oom
            break
    return found
