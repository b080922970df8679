"""Optional reversible anonymisation of cluster names.

``Anonymizer`` replaces namespace, workload, pod and node names with stable placeholders
before the LLM sees them and maps the answer back, so the status keeps the real names. Its
state lives on the instance: one anonymiser per diagnosis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.redaction.walk import ModelT, StringRewrite, rewrite_model

# Name boundaries: a name is a whole DNS-label run, so "shop" is not found in "workshop" or
# "my-shop". A workload name may be followed by "-" because pods and ReplicaSets extend it.
# Kubernetes names never contain "_", so it separates names: kubelet writes
# "pod=<name>_<namespace>(<uid>)".
_BEFORE_NAME = r"(?<![A-Za-z0-9-])"
_AFTER_NAME = r"(?![A-Za-z0-9-])"
_AFTER_WORKLOAD = r"(?![A-Za-z0-9])"
# Top-level controllers first, so "checkout-7d9f6c" (ReplicaSet) derives from "checkout".
_WORKLOAD_KIND_ORDER = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "ReplicaSet")
_WORKLOAD_LABELS = frozenset(
    {"deployment", "statefulset", "daemonset", "replicaset", "job_name", "cronjob", "workload"}
)


@dataclass(frozen=True)
class _Names:
    namespaces: list[str]
    workloads: dict[str, list[str]]  # kind -> names
    pods: list[str]
    nodes: list[str]


def _collect_strings(model: BaseModel) -> list[str]:
    """Every string in the model tree, dict keys included (for placeholder collisions)."""
    found: list[str] = []

    def visit(value: object) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                visit(getattr(value, name))
        elif isinstance(value, str):
            found.append(value)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(key)
                visit(item)

    visit(model)
    return found


def _collect_names(evidence: Evidence) -> _Names:
    namespaces: list[str] = []
    workloads: dict[str, list[str]] = {kind: [] for kind in _WORKLOAD_KIND_ORDER}
    pods: list[str] = []
    nodes: list[str] = []

    def add_ref(ref: ObjectRef | None) -> None:
        if ref is None:
            return
        if ref.namespace:
            namespaces.append(ref.namespace)
        if ref.kind in workloads:
            workloads[ref.kind].append(ref.name)
        elif ref.kind == "Pod":
            pods.append(ref.name)
        elif ref.kind == "Node":
            nodes.append(ref.name)
        elif ref.kind == "Namespace":
            namespaces.append(ref.name)

    add_ref(evidence.target)
    if evidence.workload is not None:
        add_ref(evidence.workload.ref)
    for alert in evidence.alerts:
        for label, value in alert.labels.items():
            if label in {"namespace", "exported_namespace"}:
                namespaces.append(value)
            elif label in {"pod", "exported_pod"}:
                pods.append(value)
            elif label == "node":
                nodes.append(value)
            elif label in _WORKLOAD_LABELS:
                workloads["ReplicaSet" if label == "replicaset" else "Deployment"].append(value)
    for pod in evidence.pods:
        namespaces.append(pod.namespace)
        pods.append(pod.name)
        add_ref(pod.owner)
        if pod.node:
            nodes.append(pod.node)
    for event in evidence.events:
        add_ref(event.involved)
    # The degraded siblings of its application: their workloads, pods and events.
    for sibling in evidence.siblings:
        add_ref(sibling.workload.ref)
        for pod in sibling.pods:
            pods.append(pod.name)
        for event in sibling.events:
            add_ref(event.involved)
    # The budgets holding a draining node: their workloads, pods and events.
    for budget in evidence.disruption_budgets:
        add_ref(budget.ref)
        add_ref(budget.workload.ref if budget.workload is not None else None)
        pods.extend(budget.held_pods)
        nodes.extend(budget.nodes)
        for pod in budget.pods:
            pods.append(pod.name)
        for event in budget.events:
            add_ref(event.involved)
    nodes.extend(node.name for node in evidence.nodes)
    for neighbour in (n for node in evidence.nodes for n in node.troubled_neighbours):
        namespaces.append(neighbour.namespace)
        pods.append(neighbour.name)
        add_ref(neighbour.owner)
    workloads["ReplicaSet"].extend(revision.name for revision in evidence.revisions)
    # The dependencies' own log tails name their pods and namespaces as the incident's do.
    for log in [*evidence.logs, *(t for d in evidence.dependencies for t in d.logs)]:
        namespaces.append(log.namespace)
        pods.append(log.pod)
    namespaces.extend(pvc.namespace for pvc in evidence.pvcs)
    namespaces.extend(service.namespace for service in evidence.services)
    namespaces.extend(policy.namespace for policy in evidence.network_policies)
    for autoscaler in evidence.autoscalers:
        namespaces.append(autoscaler.namespace)
        add_ref(autoscaler.target)
    for quota in evidence.quotas:
        namespaces.append(quota.namespace)
    for other in evidence.other_objects:
        add_ref(other.ref)
    # The autoscalers of the dependencies' workloads, as the incident's own.
    for autoscaler in (a for d in evidence.dependencies for a in d.autoscalers):
        namespaces.append(autoscaler.namespace)
        add_ref(autoscaler.target)
    for scaler in evidence.scalers:
        add_ref(scaler.ref)
        add_ref(scaler.source)
        if scaler.reader_namespace:
            namespaces.append(scaler.reader_namespace)
    if evidence.scaler_operator is not None:
        add_ref(evidence.scaler_operator.workload)
        pods.extend(trouble.pod for trouble in evidence.scaler_operator.troubles)
    for writer in evidence.secret_writers:
        for ref in (writer.secret, writer.writer, writer.source, writer.failing, writer.controller):
            add_ref(ref)
    return _Names(namespaces=namespaces, workloads=workloads, pods=pods, nodes=nodes)


class Anonymizer:
    """Reversible renaming of namespaces, workloads, pods and nodes for one diagnosis.

    ``anonymize_evidence`` learns the names in an Evidence and returns a copy where they
    read ``ns-1``, ``workload-1``, ``node-1``; pods and ReplicaSets of a known workload keep
    their suffixes (``workload-1-7d9f6c-x2x9k``), other pods become ``pod-1``. The LLM's
    answer is mapped back with ``restore_text`` / ``restore_ref`` / ``restore_model``.

    Placeholders are chosen so none already occurs in the evidence, which keeps restoring
    exact. Use one instance per diagnosis; reusing it across incidents leaks no names but a
    later Evidence could contain an earlier placeholder.
    """

    def __init__(self) -> None:
        self._namespaces: dict[str, str] = {}
        self._nodes: dict[str, str] = {}
        # real -> placeholder for free text; namespace/node fields use the maps above, so a
        # namespace and a workload sharing one name each keep their own placeholder there.
        self._forward: dict[str, str] = {}
        self._workload_names: set[str] = set()
        self._reverse: dict[str, str] = {}
        self._next_index: dict[str, int] = {}
        self._forward_re: re.Pattern[str] | None = None
        self._reverse_re: re.Pattern[str] | None = None

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder -> real name, for display or audit."""
        return dict(self._reverse)

    # -- learning names ----------------------------------------------------------------

    def _allocate(self, prefix: str, corpus: str) -> str:
        index = self._next_index.get(prefix, 1)
        while True:
            candidate = f"{prefix}-{index}"
            index += 1
            taken = candidate in self._reverse or candidate in self._forward
            clash = re.search(_BEFORE_NAME + re.escape(candidate) + _AFTER_WORKLOAD, corpus)
            if not taken and clash is None:
                self._next_index[prefix] = index
                return candidate

    def _derived(self, name: str) -> bool:
        """Whether ``name`` extends a known workload name (``checkout-7d9f6c``)."""
        return any(name.startswith(f"{workload}-") for workload in self._workload_names)

    def _learn(self, names: _Names, corpus: str) -> None:
        for kind in _WORKLOAD_KIND_ORDER:
            for name in dict.fromkeys(names.workloads[kind]):
                if not name or name in self._forward or self._derived(name):
                    continue
                placeholder_name = self._allocate("workload", corpus)
                self._forward[name] = placeholder_name
                self._reverse[placeholder_name] = name
                self._workload_names.add(name)
        for name in dict.fromkeys(names.pods):
            if not name or name in self._forward or self._derived(name):
                continue
            placeholder_name = self._allocate("pod", corpus)
            self._forward[name] = placeholder_name
            self._reverse[placeholder_name] = name
        for category, prefix, names_in in (
            (self._nodes, "node", names.nodes),
            (self._namespaces, "ns", names.namespaces),
        ):
            for name in dict.fromkeys(names_in):
                if not name or name in category:
                    continue
                placeholder_name = self._allocate(prefix, corpus)
                category[name] = placeholder_name
                self._reverse[placeholder_name] = name
                self._forward.setdefault(name, placeholder_name)
        self._forward_re = None
        self._reverse_re = None

    # -- rewriting ---------------------------------------------------------------------

    def _forward_pattern(self) -> re.Pattern[str] | None:
        if self._forward_re is None and self._forward:
            alternatives = [
                re.escape(name) + (_AFTER_WORKLOAD if name in self._workload_names else _AFTER_NAME)
                for name in sorted(self._forward, key=len, reverse=True)
            ]
            self._forward_re = re.compile(_BEFORE_NAME + "(?:" + "|".join(alternatives) + ")")
        return self._forward_re

    def _reverse_pattern(self) -> re.Pattern[str] | None:
        if self._reverse_re is None and self._reverse:
            alternatives = sorted(self._reverse, key=len, reverse=True)
            self._reverse_re = re.compile(
                _BEFORE_NAME
                + "(?:"
                + "|".join(re.escape(name) for name in alternatives)
                + ")"
                + _AFTER_WORKLOAD
            )
        return self._reverse_re

    def anonymize_text(self, text: str) -> str:
        """``text`` with every learned name replaced by its placeholder."""
        pattern = self._forward_pattern()
        if pattern is None:
            return text
        return pattern.sub(lambda match: self._forward[match.group(0)], text)

    def restore_text(self, text: str) -> str:
        """``text`` (e.g. the LLM's answer) with placeholders turned back into real names."""
        pattern = self._reverse_pattern()
        if pattern is None:
            return text
        return pattern.sub(lambda match: self._reverse[match.group(0)], text)

    def restore_ref(self, ref: ObjectRef) -> ObjectRef:
        """An ObjectRef named with placeholders, pointing back at the real object."""
        namespace = self.restore_text(ref.namespace) if ref.namespace is not None else None
        return ref.model_copy(update={"name": self.restore_text(ref.name), "namespace": namespace})

    def _anonymize_field(self, field: str, value: str) -> str:
        # Structured name fields use their own category's placeholder.
        if field == "namespace" and value in self._namespaces:
            return self._namespaces[value]
        if field == "node" and value in self._nodes:
            return self._nodes[value]
        return self.anonymize_text(value)

    def _anonymizing(self) -> StringRewrite:
        return StringRewrite(
            text=self._anonymize_field,
            text_list=lambda _field, values: [self.anonymize_text(v) for v in values],
            text_dict=lambda _field, values: {
                self.anonymize_text(k): self.anonymize_text(v) for k, v in values.items()
            },
            key=self.anonymize_text,
        )

    def anonymize_evidence(self, evidence: Evidence) -> Evidence:
        """Learn the names in ``evidence`` and return a copy that uses placeholders."""
        self._learn(_collect_names(evidence), "\n".join(_collect_strings(evidence)))
        return rewrite_model(evidence, self._anonymizing())

    def anonymize_model(self, model: ModelT) -> ModelT:
        """A copy of any model (findings, similar incidents) using the placeholders learned
        from the evidence; call ``anonymize_evidence`` first."""
        return rewrite_model(model, self._anonymizing())

    def restore_model(self, model: ModelT) -> ModelT:
        """A copy of any model (a diagnosis, an evidence) with real names restored."""
        rewrite = StringRewrite(
            text=lambda _field, value: self.restore_text(value),
            text_list=lambda _field, values: [self.restore_text(v) for v in values],
            text_dict=lambda _field, values: {
                self.restore_text(k): self.restore_text(v) for k, v in values.items()
            },
            key=self.restore_text,
        )
        return rewrite_model(model, rewrite)
