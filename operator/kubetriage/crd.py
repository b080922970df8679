"""The Incident CustomResourceDefinition, built from the vocabulary so enums cannot drift.

``kubetriage crd --write`` renders it into ``crds/incidents.kubetriage.io.yaml`` and the Helm
chart's ``crds/`` (identical by construction; a unit test checks both files equal this
output). The replay tooling loads it into the API emulator. The schema mirrors
``kubetriage.models.incident``; a unit test validates model dumps against it.
"""

from __future__ import annotations

from typing import Any

import yaml

from kubetriage.bounds import STATUS_SHARES
from kubetriage.models.incident import GROUP, KIND, PLURAL, VERSION, Phase
from kubetriage.models.quantity import QUANTITY_PATTERN
from kubetriage.models.remediation import CONFIG_KEY_PATTERN, CONTAINER_PATTERN, MAX_COUNT
from kubetriage.models.vocabulary import Action, Category, Risk, Severity

JSON = dict[str, Any]


def _str(max_length: int, **extra: Any) -> JSON:
    return {"type": "string", "maxLength": max_length, **extra}


def _enum(values: list[str], **extra: Any) -> JSON:
    return {"type": "string", "enum": values, **extra}


def _string_map(max_properties: int, max_value: int) -> JSON:
    return {
        "type": "object",
        "maxProperties": max_properties,
        "additionalProperties": _str(max_value),
    }


def _object_ref(description: str) -> JSON:
    return {
        "type": "object",
        "description": description,
        "required": ["kind", "name"],
        "properties": {
            "apiVersion": _str(253),
            "kind": _str(63, minLength=1, pattern="^[A-Z][A-Za-z0-9]*$"),
            "name": _str(253, minLength=1),
            "namespace": _str(63),
        },
    }


def _alert() -> JSON:
    return {
        "type": "object",
        "properties": {
            "status": _enum(["firing", "resolved"]),
            "labels": _string_map(64, 1024),
            "annotations": _string_map(64, 8192),
            "startsAt": _str(64, format="date-time"),
            "endsAt": _str(64, format="date-time"),
            "fingerprint": _str(64),
            "generatorURL": _str(4096),
        },
    }


def _spec() -> JSON:
    return {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": _str(256, minLength=1),
            "description": _str(8192),
            "severity": _enum([s.value for s in Severity], default=Severity.WARNING.value),
            "source": _enum(["manual", "alertmanager"], default="manual"),
            "target": _object_ref(
                "The workload or object the incident is about; optional when alert labels "
                "identify it."
            ),
            "alerts": {"type": "array", "maxItems": 100, "items": _alert()},
            "feedback": {
                "type": "object",
                "description": "Set by a person after resolution; kubectl patch --type merge.",
                "properties": {
                    "helpful": {"type": "boolean"},
                    "correctCategory": _enum([c.value for c in Category]),
                    "resolution": _str(4096),
                    "actionTaken": _enum([a.value for a in Action]),
                    "by": _str(256),
                },
            },
            "approve": _str(
                64, description="The id of one remediation a person approves for execution."
            ),
            "approvedBy": _str(
                256, description="Who approves; set in the same patch as approve and recorded."
            ),
        },
    }


def _evidence_item() -> JSON:
    return {
        "type": "object",
        "required": ["source", "fact"],
        "properties": {"source": _str(256), "fact": _str(1024), "id": _str(16)},
    }


def _remediation_parameters() -> JSON:
    """The union of every action's parameter fields (``kubetriage.models.remediation``); the
    operator validates which fields an action takes."""
    count = {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}
    return {
        "type": "object",
        "description": "What approval executes, typed per action.",
        "properties": {
            "container": _str(63, pattern=CONTAINER_PATTERN),
            "memory": _str(32, pattern=QUANTITY_PATTERN),
            "cpu": _str(32, pattern=QUANTITY_PATTERN),
            "size": _str(32, pattern=QUANTITY_PATTERN),
            "replicas": count,
            "revision": count,
            "key": _str(253, pattern=CONFIG_KEY_PATTERN),
            "missing": _enum(["object"]),
        },
    }


def _remediation() -> JSON:
    return {
        "type": "object",
        "required": ["id", "action", "title", "target", "command", "risk"],
        "properties": {
            "id": _str(64),
            "action": _enum([a.value for a in Action]),
            "title": _str(256),
            "description": _str(2048),
            "target": _object_ref("The object this remediation acts on."),
            "parameters": _remediation_parameters(),
            "command": _str(
                2048,
                description="Rendered from action, target and parameters for display; approval "
                "executes the parameters, never this text.",
            ),
            "risk": _enum([r.value for r in Risk]),
            "proposedBy": {
                "type": "array",
                "maxItems": 3,
                "items": _enum(["analyzer", "llm", "memory"]),
            },
            "score": {"type": "number"},
        },
    }


def _similar() -> JSON:
    return {
        "type": "object",
        "required": ["name", "score", "category"],
        "properties": {
            "name": _str(253),
            "score": {"type": "number"},
            "category": _enum([c.value for c in Category]),
            "resolution": _str(2048),
            "action": _enum([a.value for a in Action]),
            "namespace": _str(63),
            "cluster": _str(253),
        },
    }


def _timeline_entry() -> JSON:
    return {
        "type": "object",
        "required": ["change", "object"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "change": _str(32),
            "object": _str(512),
            "summary": _str(512),
        },
    }


def _llm_usage() -> JSON:
    return {
        "type": "object",
        "required": ["used"],
        "properties": {
            "used": {"type": "boolean"},
            "model": _str(256),
            "provider": _str(64),
            "inputTokens": {"type": "integer", "minimum": 0},
            "outputTokens": {"type": "integer", "minimum": 0},
            "durationMs": {"type": "integer", "minimum": 0},
            "responseFormat": _str(32),
            "attempts": {"type": "integer", "minimum": 0},
            "cached": {"type": "boolean"},
            "reason": _str(1024),
            "skipped": _str(64),
        },
    }


def _diagnosis() -> JSON:
    return {
        "type": "object",
        "required": ["summary", "category", "confidence"],
        "properties": {
            "summary": _str(1024),
            "category": _enum([c.value for c in Category]),
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rootCause": _str(4096),
            "evidence": {"type": "array", "maxItems": 30, "items": _evidence_item()},
            "remediations": {"type": "array", "maxItems": 10, "items": _remediation()},
            "similarIncidents": {"type": "array", "maxItems": 10, "items": _similar()},
            "analyzers": {"type": "array", "maxItems": 64, "items": _str(128)},
            "llm": _llm_usage(),
            "timeline": {"type": "array", "maxItems": 10, "items": _timeline_entry()},
            "disagreement": _str(2048),
            "hypothesis": _str(2048),
            "evidenceHash": _str(128),
            "signature": _str(2000),
        },
    }


def _alert_group() -> JSON:
    count: JSON = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "description": "The Alertmanager group behind this Incident; written by the receiver.",
        "properties": {
            "groupKey": _str(4096),
            "receiver": _str(256),
            "notifications": count,
            "firstSeen": _str(64, format="date-time"),
            "lastSeen": _str(64, format="date-time"),
            "firing": count,
            "resolved": count,
            "omitted": count,
            "omittedFingerprints": {"type": "array", "maxItems": 1000, "items": _str(64)},
            "truncated": count,
            "clipped": count,
            "reopened": count,
            "resolvedAt": _str(64, format="date-time"),
            "lastBatch": _str(64),
        },
    }


def _remediation_record() -> JSON:
    text: JSON = _str(8192)
    return {
        "type": "object",
        "description": "The latest approved remediation and its outcome.",
        "required": ["id", "result", "reason"],
        "properties": {
            "id": _str(64),
            "action": _enum([a.value for a in Action]),
            "target": _object_ref("The object the remediation acted on."),
            "approvedBy": _str(256),
            "approvedBySource": _enum(["spec.approvedBy", "managedFields", "unknown"]),
            "approvedAt": _str(64, format="date-time"),
            "appliedAt": _str(64, format="date-time"),
            "result": _enum(["Applying", "Applied", "Rejected", "DryRunFailed", "Failed"]),
            "reason": _str(128),
            "message": _str(4096),
            "dryRun": {"type": "boolean"},
            "changes": {
                "type": "array",
                "maxItems": 32,
                "items": {
                    "type": "object",
                    "required": ["path"],
                    "properties": {"path": _str(512), "before": text, "after": text},
                },
            },
            "undo": {
                "type": "object",
                "properties": {
                    "patchType": _enum(["strategic", "merge", "json"]),
                    "patch": _str(32768),
                    "command": _str(32768),
                    "note": _str(1024),
                },
            },
            "observedGeneration": {"type": "integer", "format": "int64"},
        },
    }


def _notifications() -> JSON:
    time_: JSON = _str(64, format="date-time")
    count: JSON = {"type": "integer", "minimum": 0}
    sent: JSON = {
        "type": "object",
        "properties": {
            "transition": _str(256),
            "eventId": _str(64),
            "sentAt": time_,
            "failures": count,
            "failedTransition": _str(256),
            "error": _str(1024),
            "errorAt": time_,
        },
    }
    return {
        "type": "object",
        "description": "What kubetriage.notify sent about this Incident (one Slack message).",
        "properties": {
            "slack": {
                "type": "object",
                "properties": {
                    "channel": _str(64),
                    "ts": _str(64),
                    "claimedBy": _str(256),
                    "claimedAt": time_,
                    "postedAt": time_,
                    "updatedAt": time_,
                    "digest": _str(64),
                    "phase": _enum([p.value for p in Phase]),
                    "category": _enum([c.value for c in Category]),
                    "action": _enum([a.value for a in Action]),
                    "reopened": count,
                    "replies": count,
                    "lastReplyAt": time_,
                    "failures": count,
                    "failedDigest": _str(64),
                    "error": _str(1024),
                    "errorAt": time_,
                },
            },
            "teams": sent,
            "cloudEvents": sent,
        },
    }


def _status() -> JSON:
    return {
        "type": "object",
        "properties": {
            "phase": _enum([p.value for p in Phase]),
            "observedGeneration": {"type": "integer", "format": "int64"},
            "target": _str(400, description="Kind/namespace/name the diagnosis looked at."),
            "conditions": {
                "type": "array",
                "maxItems": 32,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status", "reason"],
                    "properties": {
                        "type": _str(316),
                        "status": _enum(["True", "False", "Unknown"]),
                        "reason": _str(1024),
                        "message": _str(32768),
                        "lastTransitionTime": _str(64, format="date-time"),
                    },
                },
            },
            "diagnosis": _diagnosis(),
            "modelCache": {
                "type": "object",
                "description": "The last model answer by evidence hash (survives restarts).",
                "required": ["evidenceHash", "opinion"],
                "properties": {
                    "evidenceHash": _str(128),
                    "opinion": _str(16384),
                    "usage": _llm_usage(),
                },
            },
            "alertGroup": _alert_group(),
            "remediation": _remediation_record(),
            "notifications": _notifications(),
            "clipped": {
                "type": "object",
                "description": "What the size bound cut from each status part, by the last "
                "write of that part (kubetriage.bounds).",
                "properties": {part: {"type": "integer", "minimum": 0} for part in STATUS_SHARES},
            },
            "learned": {
                "type": "object",
                "required": ["recordId", "category", "at"],
                "properties": {
                    "recordId": _str(64),
                    "generation": {"type": "integer", "format": "int64"},
                    "category": _enum([c.value for c in Category]),
                    "at": _str(64, format="date-time"),
                },
            },
        },
    }


def build_incident_crd() -> JSON:
    """The CustomResourceDefinition body for Incidents (apiextensions.k8s.io/v1)."""
    schema: JSON = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _spec(),
            "status": _status(),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "kubetriage"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["inc"],
                "categories": ["kubetriage"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": schema},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Severity", "type": "string", "jsonPath": ".spec.severity"},
                        {
                            "name": "Category",
                            "type": "string",
                            "jsonPath": ".status.diagnosis.category",
                        },
                        {
                            "name": "Confidence",
                            "type": "number",
                            "jsonPath": ".status.diagnosis.confidence",
                        },
                        {"name": "Target", "type": "string", "jsonPath": ".status.target"},
                        {
                            "name": "Age",
                            "type": "date",
                            "jsonPath": ".metadata.creationTimestamp",
                        },
                    ],
                }
            ],
        },
    }


def render_incident_crd_yaml() -> str:
    header = (
        "# Generated by `kubetriage crd --write` from operator/kubetriage/crd.py; do not edit.\n"
    )
    return header + yaml.safe_dump(build_incident_crd(), sort_keys=False, width=100)
