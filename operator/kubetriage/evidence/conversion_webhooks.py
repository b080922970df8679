"""CRD conversion webhooks behind a custom resource an alert names. A CustomResourceDefinition
that serves more than one version with ``conversion.strategy: Webhook`` has the API server
call its webhook Service to convert objects between versions, on every read of an object
stored in another version than asked: a list of that kind fails whole when the call fails
("conversion webhook for <group>/<version>, Kind=<Kind> failed: ..."). The operator that
reconciles the kind lists it through its cache, so it cannot start its controller and acts on
none of them; an alert about one of those objects (a pipeline that never ran) has no pod of
its own to show. The failure is reported where the list was made: in the log of the
controller that listed (often the webhook's own backend), quoting the API server's call to
the webhook (an expired serving certificate: "x509: certificate has expired").

``named_conversions`` picks the CRDs with a conversion webhook whose kind an alert's labels or
annotations name; the webhook walk follows their Services as admission webhooks' (the
backend's pods, workload, Certificates and log tails); ``conversion_summaries`` reports each
with the backend's lines saying the conversion failed, as a ``WebhookEvidence`` that fails
closed (a failed conversion serves nothing). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Final

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_str, clip_text, ref_of
from kubetriage.evidence.summaries.generic import generic_summary
from kubetriage.evidence.summaries.webhooks import failure_of, service_backend
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict

CRD: Final = "CustomResourceDefinition"
# The API server's words for a conversion it could not make, as a lister's client reports them.
_CONVERSION_FAILED = re.compile(
    r"conversion webhook for (?P<group>[a-z0-9.-]+)/\S+ Kind=(?P<kind>\w+) failed"
)


def conversion_service(crd: JsonDict) -> ObjectRef | None:
    """The Service a CRD's conversion webhook calls (None: no webhook, or a URL)."""
    conversion = as_dict(as_dict(crd.get("spec")).get("conversion"))
    if conversion.get("strategy") != "Webhook":
        return None
    config = as_dict(as_dict(conversion.get("webhook")).get("clientConfig"))
    service = as_dict(config.get("service"))
    name, namespace = as_str(service.get("name")), as_str(service.get("namespace"))
    if not name or not namespace:
        return None
    return ObjectRef(kind="Service", namespace=namespace, name=name)


def _kind(crd: JsonDict) -> str:
    return as_str(as_dict(as_dict(crd.get("spec")).get("names")).get("kind")) or ""


def alert_texts(alerts: Iterable[Alert]) -> list[str]:
    """What alerts say: their label values and annotations."""
    return [v for a in alerts for v in (*a.labels.values(), *a.annotations.values())]


def named_conversions(crds: Iterable[JsonDict], texts: Iterable[str]) -> list[JsonDict]:
    """The CRDs with a conversion webhook whose kind ``texts`` name as a word."""
    said = list(texts)
    return [
        crd
        for crd in crds
        if conversion_service(crd) is not None
        and (kind := _kind(crd))
        and any(re.search(rf"\b{re.escape(kind)}\b", text) for text in said)
    ]


def _failed_conversions(logs: Iterable[LogTail], namespace: str, kind: str) -> list[str]:
    """Lines of ``namespace``'s tails saying a conversion of ``kind`` failed, newest last."""
    return [
        line
        for tail in logs
        if tail.namespace == namespace
        for line in tail.lines
        if (match := _CONVERSION_FAILED.search(line)) and match["kind"] == kind
    ]


def conversion_summaries(
    index: ObjectIndex,
    alerts: Iterable[Alert],
    logs: list[LogTail],
    now: datetime,
    limits: EvidenceLimits,
    unavailable: Collection[str] = (),
) -> list[WebhookEvidence]:
    """Each conversion webhook of a CRD an alert names whose backend's tails (``logs``, read
    for webhooks) say a conversion of that kind failed."""
    found: list[WebhookEvidence] = []
    for crd in named_conversions(index.kind(CRD), alert_texts(alerts)):
        service = conversion_service(crd)
        if service is None or not service.namespace:
            continue
        failed = _failed_conversions(logs, service.namespace, _kind(crd))
        if not failed:
            continue
        backend = service_backend(index, service, unavailable, limits, "conversion webhook")
        found.append(
            WebhookEvidence(
                name=as_str(as_dict(crd.get("metadata")).get("name")) or _kind(crd),
                failure=failure_of(failed[-1]),
                message=clip_text(failed[-1], limits.max_string_length * 2) or "",
                count=len(failed),
                configuration=ref_of(crd),
                failure_policy="Fail",
                service=service,
                certificates=[
                    generic_summary(c, now, limits)
                    for c in index.in_namespace("Certificate", service.namespace)
                ][: limits.max_other_objects],
                log_lines=[clip_text(x, limits.max_log_line_bytes) or "" for x in failed[-2:]],
                backend=backend,
            )
        )
    return found[: limits.max_dependencies]
