"""Base model with the camelCase wire format Kubernetes uses.

Every model written into an Incident (spec or status) serialises with camelCase aliases, so
``dump_k8s`` output is exactly what the CRD schema describes. Python code uses snake_case.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

_Model = TypeVar("_Model", bound=BaseModel)


def valid_items(model: type[_Model], raw: Any) -> list[_Model]:
    """The items of a JSON list that validate as ``model``. Anything else (not a list, an
    item a person mangled by hand) is dropped rather than fatal."""
    if not isinstance(raw, list):
        return []
    items: list[_Model] = []
    for item in raw:
        try:
            items.append(model.model_validate(item))
        except ValueError:  # pydantic's ValidationError among them
            continue
    return items


class K8sModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=False
    )

    def dump_k8s(self) -> dict[str, Any]:
        """The JSON body as it is written to the API server (camelCase, no nulls)."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class ObjectRef(K8sModel):
    """A reference to a Kubernetes object; ``namespace`` is None for cluster-scoped kinds."""

    kind: str
    name: str
    namespace: str | None = None
    api_version: str | None = None

    def key(self) -> str:
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"

    def display(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    def same_object(self, other: ObjectRef) -> bool:
        return (self.kind, self.namespace or "", self.name) == (
            other.kind,
            other.namespace or "",
            other.name,
        )
