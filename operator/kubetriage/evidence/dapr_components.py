"""Dapr Components: what a Dapr sidecar (``daprd``, injected into pods annotated
``dapr.io/enabled: "true"``) loads when it starts. A Component (``dapr.io/v1alpha1``) names
its building block (``spec.type``: ``state.redis``, ``pubsub.kafka``...) and its settings
(``spec.metadata``: a name with a plain ``value`` or a ``secretKeyRef`` to a key of a Secret,
read through the Kubernetes secret store). The sidecar reads them once, at its start, and
exits when one it must load fails (its log names the component), so a Secret rewritten under a
running Component is felt only by sidecars started since.

The collector lists them in the incident's namespace when one of its pods runs Dapr
(``kubetriage.evidence.scope_reads.dapr_components``); ``component_fields`` keeps each
setting's Secret reference as fields of the Component's summary (names only: Secrets are
never read). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.raw import as_dict, as_str, dicts
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import annotations_of as _annotations

COMPONENT_API: Final = ("dapr.io", "v1alpha1", "Component", "components")
# The pod annotation that asks Dapr's sidecar injector for the sidecar.
DAPR_ENABLED: Final = "dapr.io/enabled"
# Field names of a Component setting's Secret reference: ``<prefix>.<setting>.name|key``.
SECRET_REF: Final = "secretKeyRef"


def runs_dapr(pods: Iterable[JsonDict]) -> bool:
    """Whether one of ``pods`` asks for the Dapr sidecar."""
    return any(_annotations(p).get(DAPR_ENABLED, "").lower() == "true" for p in pods)


def is_component(obj: JsonDict) -> bool:
    """Whether ``obj`` is a Dapr Component."""
    api = as_str(obj.get("apiVersion")) or ""
    return obj.get("kind") == "Component" and api.split("/")[0] == COMPONENT_API[0]


def component_fields(obj: JsonDict) -> dict[str, str]:
    """Each setting's Secret reference, as ``secretKeyRef.<setting>.name`` and ``.key``."""
    fields: dict[str, str] = {}
    for setting in dicts(as_dict(obj.get("spec")).get("metadata")):
        name = as_str(setting.get("name"))
        ref = as_dict(setting.get(SECRET_REF))
        secret, key = as_str(ref.get("name")), as_str(ref.get("key"))
        if name and secret:
            fields[f"{SECRET_REF}.{name}.name"] = secret
            if key:
                fields[f"{SECRET_REF}.{name}.key"] = key
    return fields
