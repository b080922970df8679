"""Any other object in scope (cert-manager Certificates and CertificateRequests, Ingresses,
Jobs, CronJobs by name; anything else as its flattened spec and status). Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from kubetriage.evidence.dapr_components import component_fields, is_component
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import (
    as_dict,
    as_list,
    as_str,
    as_time,
    clip_text,
    dicts,
    kind_of,
    ref_of,
)
from kubetriage.evidence.summaries.conditions import conditions
from kubetriage.evidence.summaries.gateway_routes import gateway_credentials, is_istio_gateway
from kubetriage.evidence.workload_queues import is_queued_workload
from kubetriage.models.object_evidence import GenericObjectEvidence
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import meta as _meta


def _flatten(
    prefix: str, value: Any, out: dict[str, str], limits: EvidenceLimits, depth: int
) -> None:
    if len(out) >= limits.max_labels:
        return
    text = as_str(value)
    if text is not None:
        out[prefix] = clip_text(text, limits.max_string_length) or ""
    elif isinstance(value, dict) and depth > 0:
        for key, child in value.items():
            if key != "conditions":
                _flatten(f"{prefix}.{key}", child, out, limits, depth - 1)


# Custom resources whose controller creates pods for them step by step (workflow and pipeline
# engines: group, version, kind, plural), read in the incident's namespace: their status is
# where the engine says why a step has no pod (the API server refused it, an artifact is
# missing) when no ReplicaSet event or Pending pod can.
POD_RUNNER_APIS: Final = (
    ("argoproj.io", "v1alpha1", "Workflow", "workflows"),
    ("tekton.dev", "v1", "PipelineRun", "pipelineruns"),
    ("tekton.dev", "v1", "TaskRun", "taskruns"),
)

# How deep a controller's per-step records sit in its status (Argo Workflows ``status.nodes.<id>
# .message``, Tekton ``status.childReferences``...): deeper than the flattened fields reach.
_MESSAGE_DEPTH = 4


def _status_messages(value: Any, depth: int, out: list[str]) -> None:
    """The ``message`` strings a controller left anywhere in an object's status (its steps,
    nodes or children), in document order and once each: where a workflow engine says why a
    step did not start (a refused pod, a missing artifact) when no condition does."""
    if depth < 0:
        return
    if isinstance(value, dict):
        text = as_str(value.get("message"))
        if text and text not in out:
            out.append(text)
        for key, child in value.items():
            if key not in ("conditions", "message"):
                _status_messages(child, depth - 1, out)
    elif isinstance(value, list):
        for child in value:
            _status_messages(child, depth - 1, out)


def generic_summary(obj: JsonDict, now: datetime, limits: EvidenceLimits) -> GenericObjectEvidence:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    kind = kind_of(obj)
    fields: dict[str, str] = {}
    clip = limits.max_string_length
    if kind == "Certificate":
        for key in ("notBefore", "notAfter", "renewalTime"):
            if as_str(status.get(key)):
                fields[key] = str(status[key])
        not_after = as_time(status.get("notAfter"))
        if not_after is not None:
            fields["expired"] = "true" if not_after <= now else "false"
            fields["expiresInHours"] = str(int((not_after - now).total_seconds() // 3600))
        issuer = as_dict(spec.get("issuerRef"))
        for key, value in (
            ("secretName", as_str(spec.get("secretName"))),
            ("issuer", f"{issuer.get('kind', 'Issuer')}/{issuer.get('name')}" if issuer else None),
            ("commonName", as_str(spec.get("commonName"))),
            ("dnsNames", ",".join(n for n in as_list(spec.get("dnsNames")) if isinstance(n, str))),
        ):
            if value:
                fields[key] = clip_text(value, clip) or ""
    elif kind == "CertificateRequest":
        annotations = as_dict(_meta(obj).get("annotations"))
        owner = controller_ref(obj) or {}
        certificate = as_str(annotations.get("cert-manager.io/certificate-name")) or (
            as_str(owner.get("name")) if owner.get("kind") == "Certificate" else None
        )
        issuer = as_dict(spec.get("issuerRef"))
        for key, value in (
            ("certificate", certificate),
            ("issuer", f"{issuer.get('kind', 'Issuer')}/{issuer.get('name')}" if issuer else None),
            ("failureTime", as_str(status.get("failureTime"))),
        ):
            if value:
                fields[key] = clip_text(value, clip) or ""
    elif kind == "Ingress":
        backends = []
        for rule in dicts(spec.get("rules")):
            for path in dicts(as_dict(rule.get("http")).get("paths")):
                service = as_dict(as_dict(path.get("backend")).get("service"))
                port = as_dict(service.get("port"))
                backends.append(
                    f"{rule.get('host', '*')}{path.get('path', '/')}"
                    f"->{service.get('name')}:{port.get('number') or port.get('name')}"
                )
        fields["rules"] = clip_text(" ".join(backends), clip) or ""
        tls = [as_str(t.get("secretName")) or "" for t in dicts(spec.get("tls"))]
        if tls:
            fields["tlsSecretNames"] = clip_text(",".join(tls), clip) or ""
        if as_str(spec.get("ingressClassName")):
            fields["ingressClassName"] = str(spec["ingressClassName"])
    elif kind == "Job":
        for key in ("active", "succeeded", "failed", "startTime", "completionTime"):
            if as_str(status.get(key)) is not None:
                fields[key] = str(status[key])
        for key in ("completions", "parallelism", "backoffLimit", "activeDeadlineSeconds"):
            if as_str(spec.get(key)) is not None:
                fields[key] = str(spec[key])
    elif is_queued_workload(obj):
        # The Job it holds and the LocalQueue it waits in; its conditions say why.
        owner = controller_ref(obj) or {}
        for key, value in (
            ("ownerKind", as_str(owner.get("kind"))),
            ("ownerName", as_str(owner.get("name"))),
            ("queueName", as_str(spec.get("queueName"))),
        ):
            if value:
                fields[key] = clip_text(value, clip) or ""
    elif kind == "CronJob":
        for key in ("schedule", "suspend", "concurrencyPolicy"):
            if as_str(spec.get(key)) is not None:
                fields[key] = as_str(spec[key]) or ""
        for key in ("lastScheduleTime", "lastSuccessfulTime"):
            if as_str(status.get(key)) is not None:
                fields[key] = str(status[key])
        fields["active"] = str(len(as_list(status.get("active"))))
    else:
        if is_istio_gateway(obj):
            # Which Secret each host is served with, resolved in the gateway workload's
            # namespace; a list the flattened fields do not reach.
            credentials = " ".join(f"{h}={c}" for h, c in gateway_credentials(obj))
            if credentials:
                fields["tlsSecretNames"] = clip_text(credentials, clip) or ""
        messages: list[str] = []
        _status_messages(status, _MESSAGE_DEPTH, messages)
        nested = [m for m in messages if m != as_str(status.get("message"))]
        if nested:
            # First, so that a long spec cannot push it out of the bounded fields.
            fields["status.messages"] = clip_text(" | ".join(nested), clip) or ""
        if is_component(obj):
            # A Dapr Component's Secret references, first: a list the flattened fields do not
            # reach.
            fields.update(component_fields(obj))
        _flatten("spec", spec, fields, limits, 2)
        _flatten("status", status, fields, limits, 2)
    return GenericObjectEvidence(
        ref=ref_of(obj),
        conditions=conditions(status.get("conditions"), limits),
        fields=dict(list(fields.items())[: limits.max_labels]),
    )
