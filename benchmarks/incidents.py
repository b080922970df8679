"""The Incidents a benchmark creates: the one the receiver would create for a case's alert,
its namespace/name key, and its creation through the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubernetes import client as k8s

from kubetriage.alerts import spec_from_alerts
from kubetriage.models.case import Case
from kubetriage.models.incident import GROUP, KIND, PLURAL, VERSION
from kubetriage.replay.session import case_alert


def incident_body(case: Case, name: str, now: datetime) -> dict[str, Any]:
    """The Incident the receiver would create for the case's alert."""
    alert = case_alert(case, now)
    namespace = alert.labels.get("namespace") or "default"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec_from_alerts([alert]).dump_k8s(),
    }


def key_of(body: dict[str, Any]) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


def create(api: k8s.CustomObjectsApi, body: dict[str, Any]) -> None:
    api.create_namespaced_custom_object(GROUP, VERSION, body["metadata"]["namespace"], PLURAL, body)
