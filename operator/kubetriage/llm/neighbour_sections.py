"""The prompt's sections about what surrounds the workload: nodes, claims, Services,
NetworkPolicies, autoscalers, quotas, ConfigMaps and other objects; the metrics; the change
timeline; what stands behind each dependency (its autoscalers too); the other components
of the application that are degraded; the PodDisruptionBudgets that hold a drain; the
event-driven autoscalers' scalers and who writes
the Secrets the pods cannot get. Each item carries its citation id. Pure.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.llm import citations as ids
from kubetriage.llm.section_text import (
    MAX_FIELD_CHARS,
    MAX_LINE_CHARS,
    clip,
    conditions_text,
    known,
    pairs,
    ref_text,
    state_text,
    when,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    EventEvidence,
    PodEvidence,
    PVCEvidence,
)

# Of each sibling: its first pods and warning events shown.
_MAX_SIBLING_PODS = 3
_MAX_SIBLING_EVENTS = 2


def pvc_text(pvc: PVCEvidence) -> str:
    return (
        f"pvc {pvc.namespace}/{pvc.name} phase={pvc.phase} class={pvc.storage_class} "
        f"requested={pvc.requested} capacity={pvc.capacity} volume={pvc.volume_name}"
    )


def autoscaler_text(hpa: AutoscalerEvidence) -> str:
    """An HPA: its target, bounds, replicas and conditions (why it cannot scale)."""
    return clip(
        f"hpa {hpa.namespace}/{hpa.name} target={ref_text(hpa.target)} min={hpa.min_replicas} "
        f"max={hpa.max_replicas} current={hpa.current_replicas} "
        f"desired={hpa.desired_replicas} {conditions_text(hpa.conditions, only_bad=False)}",
        MAX_LINE_CHARS,
    )


def related_lines(evidence: Evidence) -> list[str]:
    lines: list[str] = []
    for index, node in enumerate(evidence.nodes):
        text = ids.cite(ids.NODE, index, f"node {node.name} ready={node.ready}")
        if node.unschedulable:
            text += " cordoned"
        # Pressure conditions are healthy when False; show only the ones that are not.
        bad = conditions_text(
            [c for c in node.conditions if c.type != "Ready" and c.status != "False"],
            only_bad=False,
        )
        if node.taints:
            text += f" taints[{clip('; '.join(node.taints), MAX_FIELD_CHARS)}]"
        if node.allocatable:
            text += f" allocatable[{pairs(node.allocatable)}]"
        lines.append(text)
        if bad:
            lines.append(f"  conditions: {bad}")
    for index, pvc in enumerate(evidence.pvcs):
        lines.append(ids.cite(ids.CLAIM, index, pvc_text(pvc)))
    for index, svc in enumerate(evidence.services):
        lines.append(
            f"[{ids.tag(ids.SERVICE, index)}] "
            f"service {svc.namespace}/{svc.name} type={svc.type} selector[{pairs(svc.selector)}] "
            f"ports[{', '.join(svc.port_texts())}] ready_endpoints={known(svc.ready_endpoints)} "
            f"not_ready={svc.not_ready_endpoints} matching_pods={known(svc.matching_pods)}"
            + (f" externalName={svc.external_name}" if svc.external_name else "")
            + (
                f" scaled_to_zero={svc.scaled_to_zero.display()}"
                if svc.scaled_to_zero is not None
                else ""
            )
        )
    for index, policy in enumerate(evidence.network_policies):
        lines.append(
            f"[{ids.tag(ids.POLICY, index)}] "
            f"networkpolicy {policy.namespace}/{policy.name} selects_target={policy.selects_target}"
            f" podSelector[{pairs(policy.pod_selector)}] types={','.join(policy.policy_types)}"
        )
        lines.extend(f"  {clip(rule, MAX_FIELD_CHARS)}" for rule in policy.rules)
    for index, hpa in enumerate(evidence.autoscalers):
        lines.append(f"[{ids.tag(ids.AUTOSCALER, index)}] {autoscaler_text(hpa)}")
    for index, quota in enumerate(evidence.quotas):
        used = ", ".join(f"{k}={quota.used.get(k, '?')}/{v}" for k, v in quota.hard.items())
        lines.append(
            f"[{ids.tag(ids.QUOTA, index)}] "
            f"quota {quota.namespace}/{quota.name} used/hard: {clip(used, 400)}"
        )
    for index, (name, keys) in enumerate(evidence.config_maps.items()):
        lines.append(
            f"[{ids.tag(ids.CONFIG_MAP, index)}] "
            f"configmap {name} keys: {clip(', '.join(keys), MAX_FIELD_CHARS)}"
        )
    for index, obj in enumerate(evidence.other_objects):
        text = ids.cite(ids.OBJECT, index, f"{obj.ref.display()} {pairs(obj.fields)}")
        conds = conditions_text(obj.conditions, only_bad=False)
        lines.append(text + (f" conditions: {conds}" if conds else ""))
    return lines


def num(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


def metric_lines(evidence: Evidence) -> list[str]:
    lines = []
    for index, metric in enumerate(evidence.metrics):
        text = f"[{ids.tag(ids.METRIC, index)}] " + (
            f"{metric.name}{{{pairs(metric.labels, 200)}}}: last={num(metric.last)} "
            f"min={num(metric.min)} max={num(metric.max)} first={num(metric.first)} "
            f"trend={metric.trend} samples={metric.samples}"
        )
        if metric.changed_at is not None:
            text += f" changed_at={when(metric.changed_at)}"
        if metric.shape != "unknown":
            text += f" shape={metric.shape}"
        if metric.before is not None and metric.after is not None:
            text += f" before={num(metric.before)} after={num(metric.after)}"
        lines.append(text)
    return lines


def change_lines(evidence: Evidence) -> list[str]:
    """The change timeline: "did it start right after something changed?" is the first
    question; the model sees each change with its time next to the symptoms' times."""
    return [
        clip(
            ids.cite(
                ids.CHANGE,
                index,
                f"{when(change.at)} {change.kind} {change.object.display()}: "
                + "; ".join(change.details),
            ),
            MAX_LINE_CHARS,
        )
        for index, change in enumerate(evidence.changes)
    ]


def dependency_lines(evidence: Evidence) -> list[str]:
    """What stands behind each Service the workload calls, in any namespace."""
    lines: list[str] = []
    for index, dep in enumerate(evidence.dependencies):
        name = (
            f"Service/{dep.service.namespace}/{dep.service.name} "
            f"endpoints ready={known(dep.service.ready_endpoints)}"
            if dep.service is not None
            else (
                dep.workload.display()
                if dep.workload
                else (dep.ref.display() if dep.ref else "?") + " (not readable here)"
            )
        )
        workload = (
            f" workload {dep.workload.display()}"
            f" ready={known(dep.ready_replicas)}/{known(dep.desired_replicas)}"
            if dep.workload is not None
            else ""
        )
        lines.append(
            clip(
                ids.cite(
                    ids.DEPENDENCY,
                    index,
                    f"{name}{workload} named by {', '.join(dep.named_by_texts(2))}",
                ),
                MAX_LINE_CHARS,
            )
        )
        lines += [
            clip(f"  failing pod {prose.pod_trouble(p)}", MAX_LINE_CHARS)
            for p in dep.failing_pods[:3]
        ]
        lines += [
            clip(f"  {when(c.at)} {c.kind}: " + "; ".join(c.details), MAX_LINE_CHARS)
            for c in dep.changes[:2]
        ]
        lines += [clip(f"  warning {w}", MAX_LINE_CHARS) for w in dep.warnings[:2]]
        lines += [
            clip(f"  pod {v.pod} mounts {pvc_text(v.claim)}", MAX_LINE_CHARS)
            for v in dep.volumes[:3]
        ]
        # The autoscalers of the callee's workload (one that cannot scale it is a cause).
        lines += [
            f"  [{ids.dependency_autoscaler_tag(index, number)}] {autoscaler_text(hpa)}"
            for number, hpa in enumerate(dep.autoscalers)
        ]
    return lines


def sibling_lines(evidence: Evidence) -> list[str]:
    """The other components of the workload's application short of ready replicas: the
    labels they share, their state, their troubled pods and warning events."""
    lines: list[str] = []
    for index, sibling in enumerate(evidence.siblings):
        workload = sibling.workload
        component = f" component={sibling.component}" if sibling.component else ""
        conditions = conditions_text(workload.conditions, only_bad=True)
        lines.append(
            clip(
                ids.cite(
                    ids.SIBLING,
                    index,
                    f"{workload.ref.display()}{component} "
                    f"application[{pairs(sibling.application, 200)}] "
                    f"ready={workload.ready_replicas}/{known(workload.desired_replicas)}"
                    + (f" {conditions}" if conditions else "")
                    + (
                        f" restarting-since={sibling.restarts_since:%H:%M}"
                        if sibling.restarts_since is not None
                        else ""
                    ),
                ),
                MAX_LINE_CHARS,
            )
        )
        lines += _pods_and_warnings(sibling.pods, sibling.events)
    return lines


def _pods_and_warnings(pods: list[PodEvidence], events: list[EventEvidence]) -> list[str]:
    """A neighbour workload's first pods, with their containers that are not ready, and its
    first warning events, as indented lines under its cited line."""
    lines: list[str] = []
    for pod in pods[:_MAX_SIBLING_PODS]:
        states = [
            f"{c.name} {state_text(c.state)} restarts={c.restart_count}"
            for c in pod.containers
            if c.ready is not True
        ]
        reason = f" ({pod.reason})" if pod.reason else ""
        lines.append(
            clip(
                f"  pod {pod.name} phase={pod.phase}{reason} " + "; ".join(states),
                MAX_LINE_CHARS,
            )
        )
    lines += [
        clip(f"  warning {e.reason} x{e.count}: {e.message}", MAX_LINE_CHARS)
        for e in [e for e in events if e.type == "Warning"][:_MAX_SIBLING_EVENTS]
    ]
    return lines


def disruption_budget_lines(evidence: Evidence) -> list[str]:
    """The PodDisruptionBudgets that refuse to let a draining node go: their bounds and
    status, the pods they hold on which nodes, the refusals, and the workload behind them
    (a budget with no room is usually a workload with a replica down)."""
    lines: list[str] = []
    for index, budget in enumerate(evidence.disruption_budgets):
        bounds = [
            f"{name}={value}"
            for name, value in (
                ("minAvailable", budget.min_available),
                ("maxUnavailable", budget.max_unavailable),
                ("disruptionsAllowed", budget.disruptions_allowed),
                ("currentHealthy", budget.current_healthy),
                ("desiredHealthy", budget.desired_healthy),
                ("expectedPods", budget.expected_pods),
            )
            if value is not None
        ]
        lines.append(
            clip(
                ids.cite(
                    ids.DISRUPTION_BUDGET,
                    index,
                    f"{budget.ref.display()} selector[{pairs(budget.selector, 200)}] "
                    + " ".join(bounds),
                ),
                MAX_LINE_CHARS,
            )
        )
        if budget.held_pods:
            lines.append(
                clip(
                    f"  holds pods [{', '.join(budget.held_pods[:5])}]"
                    f" on draining nodes [{', '.join(budget.nodes[:3])}]",
                    MAX_LINE_CHARS,
                )
            )
        lines += [clip(f"  refused {r}", MAX_LINE_CHARS) for r in budget.refusals[:2]]
        if budget.workload is not None:
            workload = budget.workload
            conditions = conditions_text(workload.conditions, only_bad=True)
            lines.append(
                clip(
                    f"  workload {workload.ref.display()} "
                    f"ready={workload.ready_replicas}/{known(workload.desired_replicas)}"
                    + (f" {conditions}" if conditions else ""),
                    MAX_LINE_CHARS,
                )
            )
        lines += _pods_and_warnings(budget.pods, budget.events)
    return lines


def scaler_lines(evidence: Evidence) -> list[str]:
    """The event-driven autoscalers' scalers of the workload: where each reads its metric and
    which pods run it (a flow a NetworkPolicy may block, an operator that may be down)."""
    lines: list[str] = []
    for index, scaler in enumerate(evidence.scalers):
        reader = (
            f" run by pods in {scaler.reader_namespace} [{pairs(scaler.reader_labels, 200)}]"
            if scaler.reader_namespace is not None
            else " run by pods not found"
        )
        source = (
            f" source={scaler.source.display()} [{pairs(scaler.source_labels, 200)}]"
            if scaler.source is not None
            else ""
        )
        lines.append(
            clip(
                ids.cite(
                    ids.SCALER,
                    index,
                    f"{scaler.ref.display()} trigger={scaler.trigger} "
                    f"hosts[{', '.join(scaler.hosts)}]"
                    + (f" queues[{', '.join(scaler.queues)}]" if scaler.queues else "")
                    + f" ready={known(scaler.ready)}{source}{reader}",
                ),
                MAX_LINE_CHARS,
            )
        )
    operator = evidence.scaler_operator
    if lines and operator is not None:
        # The process running those scalers: when it is down, nothing scales the workload.
        lines.append(
            clip(
                f"  operator {operator.workload.display()} ready pods={operator.ready}/"
                f"{operator.pods}",
                MAX_LINE_CHARS,
            )
        )
        lines += [
            clip(f"  failing pod {prose.pod_trouble(t)}", MAX_LINE_CHARS) for t in operator.troubles
        ]
        lines += [clip(f"  operator log: {line}", MAX_LINE_CHARS) for line in operator.unserved]
    return lines


def secret_writer_lines(evidence: Evidence) -> list[str]:
    """Who writes each Secret the pods cannot get, from what, and why it was not written."""
    lines: list[str] = []
    for index, writer in enumerate(evidence.secret_writers):
        lines.append(
            clip(
                ids.cite(
                    ids.SECRET_WRITER,
                    index,
                    f"{writer.secret.display()} is written by {writer.writer.display()} "
                    f"({writer.how}) ready={writer.ready}",
                ),
                MAX_LINE_CHARS,
            )
        )
        if writer.source is not None:
            role = writer.source_role or "its input"
            lines.append(clip(f"  input {writer.source.display()}: {role}", MAX_LINE_CHARS))
        if writer.failing is not None:
            said = f": {writer.message}" if writer.message else ""
            lines.append(clip(f"  failing {writer.failing.display()}{said}", MAX_LINE_CHARS))
        if writer.controller is not None:
            oom = " (OOMKilled)" if writer.controller_oom_killed else ""
            lines.append(clip(f"  controller {writer.controller.display()}{oom}", MAX_LINE_CHARS))
        lines += [clip(f"  failing {f}", MAX_LINE_CHARS) for f in writer.controller_failures[:3]]
    return lines


def reconciler_lines(evidence: Evidence) -> list[str]:
    """The controllers an overdue Certificate or an unresolved host waits on: their state,
    what they watch now and what their previous revision watched."""
    lines: list[str] = []
    for index, found in enumerate(evidence.reconcilers):
        lines.append(
            clip(
                ids.cite(
                    ids.RECONCILER,
                    index,
                    f"{found.role} {found.workload.display()} ready "
                    f"{found.ready_replicas}/{found.desired_replicas}",
                ),
                MAX_LINE_CHARS,
            )
        )
        lines += [clip(f"  owes {owed}", MAX_LINE_CHARS) for owed in found.owed[:3]]
        lines += [
            clip(f"  failing {prose.pod_trouble(t)}", MAX_LINE_CHARS)
            for t in found.failing_pods[:3]
        ]
        if found.sources or found.previous_sources:
            lines.append(
                clip(
                    f"  sources [{', '.join(found.sources)}]"
                    f" domains [{', '.join(found.domain_filters)}]"
                    f"; previous revision [{', '.join(found.previous_sources)}]"
                    f" domains [{', '.join(found.previous_domain_filters)}]",
                    MAX_LINE_CHARS,
                )
            )
        if found.change is not None:
            lines.append(clip(f"  changed {'; '.join(found.change.details[:3])}", MAX_LINE_CHARS))
    return lines
