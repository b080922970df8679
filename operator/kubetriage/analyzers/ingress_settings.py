"""The ingress controller's settings rewritten in front of a healthy workload: the workload's
pods run and are ready, it did not change itself, and the settings ConfigMap of the ingress
controller serving its Ingress (``IngressControllerEvidence.settings``, the controller's
``--configmap``) was written right before the symptom began.

The controller applies such an edit to every Ingress at once, without a rollout of anything
in front of the backends: a key dropped when a chart upgrade rewrote the ConfigMap from a
values file that no longer sets it (``use-forwarded-headers`` behind a TLS-offloading load
balancer, so the backends see ``X-Forwarded-Proto: http`` and redirect to https forever; a
header or body size, a timeout, the real-IP source) changes what reaches an unchanged
backend. An SRE seeing edge failures with healthy, unchanged backends asks what changed in
front of them and restores the setting (fix-config on that ConfigMap); rolling the
controller's workload back would keep the rewritten ConfigMap.

A ConfigMap written long before the symptom, a workload that rolled out itself since, or
pods of its own that fail are not this finding; nor is a controller that rolled out and whose
own log names the Ingress as refused (``ingress_rollout``: its words tie the failure to the
new version, and a chart upgrade rewrites the ConfigMap in the same moment).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import onset_follows, own_rollout_after
from kubetriage.analyzers.ingress_rollout import check_ingress_controller_rollout
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.support import item, object_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an ingress-settings finding is, by the evidence that earns it."""

    # The controller's settings were written right before the symptom, the workload is
    # healthy and unchanged: the timeline alone ties the edit to the requests, as for the
    # only callee that changed (``callee_changes``, 0.62), above "nothing found".
    rewritten_before: float = 0.62


CONFIDENCE: Final = _Confidence()
NAME: Final = "ingress-settings"


def check_ingress_settings(evidence: Evidence) -> list[Finding]:
    if not evidence.pods or any(pod_failing(p) for p in evidence.pods):
        return []
    if check_ingress_controller_rollout(evidence):
        return []
    findings: list[Finding] = []
    for controller in evidence.ingress_controllers:
        settings, written = controller.settings, controller.settings_written
        if settings is None or written is None:
            continue
        edit = ChangeEvidence(at=written, kind="config", object=settings, aspects=["data"])
        onset = onset_follows(evidence, edit)
        if onset is None or own_rollout_after(evidence, timestamp(written)):
            continue
        edited = item(object_source(settings), f"last written {written:%H:%M}")
        served = item(
            "ingress",
            f"Ingress {controller.ingress} is served by {controller.controller or 'its controller'}"
            + (f", whose pods name {settings.name} as their settings" if controller.pods else ""),
        )
        healthy = item(
            "pods", f"{prose.count(len(evidence.pods), 'pod')} of the workload running and ready"
        )
        fix = "restore the setting the edit changed"
        findings.append(
            make_finding(
                NAME,
                Category.CONFIG_MISSING,
                CONFIDENCE.rewritten_before,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"the ingress controller's settings {prose.obj(settings)} were "
                            "rewritten right before the symptom",
                            f"{prose.obj(settings)}, the ingress controller's settings, changed "
                            "before the symptom",
                            f"{prose.obj(settings)} changed just before the symptom",
                        ],
                        fix,
                    ),
                    fix,
                    because=[
                        prose.claim(
                            f"The ingress controller serving Ingress {controller.ingress} takes "
                            f"its settings from {prose.obj(settings)}, written at {written:%H:%M}",
                            served,
                            edited,
                        ),
                        prose.claim(
                            "The workload's own pods run and are ready and it did not roll out; "
                            "its symptom began right after the edit, which applies to every "
                            "request the controller forwards",
                            healthy,
                            onset,
                        ),
                    ],
                ),
                [edited, served, healthy, onset],
                Action.FIX_CONFIG,
                settings,
                {},
            )
        )
    return findings


INGRESS_SETTINGS_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CONFIG_MISSING,), check_ingress_settings),
)
