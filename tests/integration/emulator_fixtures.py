"""Test data shared by the emulator tests: an inline CRD in ``tests.example.com``."""

from __future__ import annotations

from typing import Any

GROUP = "tests.example.com"
VERSION = "v1"
PLURAL = "widgets"


def widget_crd() -> dict[str, Any]:
    """A CRD with status subresource, printer columns and a validating schema."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": PLURAL,
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wdg"],
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Severity", "type": "string", "jsonPath": ".spec.severity"},
                        {"name": "Target", "type": "string", "jsonPath": ".spec.target.name"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["severity"],
                                    "properties": {
                                        "severity": {
                                            "type": "string",
                                            "enum": ["critical", "warning", "info"],
                                        },
                                        "replicas": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "maximum": 10,
                                            "default": 1,
                                        },
                                        "tags": {
                                            "type": "array",
                                            "maxItems": 3,
                                            "items": {"type": "string", "pattern": "^[a-z]+$"},
                                        },
                                        "port": {"x-kubernetes-int-or-string": True},
                                        "target": {
                                            "type": "object",
                                            "properties": {
                                                "name": {"type": "string", "maxLength": 20}
                                            },
                                        },
                                        "extra": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                        "note": {"type": "string", "nullable": True},
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {
                                        "phase": {"type": "string"},
                                        "message": {"type": "string"},
                                    },
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def widget(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"severity": "warning", **spec},
    }


def pod(
    name: str, namespace: str = "default", containers: tuple[str, ...] = ("app",)
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
    }
