"""Typed, validated parameters of a remediation, one model per action.

A remediation's ``parameters`` are what approval executes; its ``command`` is rendered from
them for display and is never read back. Analyzers suggest parameters as plain hints
(``Finding.params``); ``parameters_from_hints`` keeps the hints the action's model accepts
and drops the rest, so a malformed value becomes "not suggested", never a wrong value.
Pure; used by the combiner, the command templates and the remediation planner.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel

from kubetriage.models.base import K8sModel
from kubetriage.models.quantity import QUANTITY_PATTERN
from kubetriage.models.vocabulary import Action

CONTAINER_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
CONFIG_KEY_PATTERN = r"^[-._a-zA-Z0-9]{1,253}$"
MAX_COUNT = 999_999

ContainerName = Annotated[str, StringConstraints(pattern=CONTAINER_PATTERN, max_length=63)]
Quantity = Annotated[str, StringConstraints(pattern=QUANTITY_PATTERN, max_length=32)]
ConfigKey = Annotated[str, StringConstraints(pattern=CONFIG_KEY_PATTERN)]
Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]


class _Parameters(K8sModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class NoParameters(_Parameters):
    """The action takes nothing but its target."""


class MemoryParameters(_Parameters):
    """increase-memory: which container, and the suggested limit (also set as its request);
    without a value the policy's factor decides."""

    container: ContainerName | None = None
    memory: Quantity | None = None


class CpuParameters(_Parameters):
    """increase-cpu: which container, and the suggested CPU limit."""

    container: ContainerName | None = None
    cpu: Quantity | None = None


class RollbackParameters(_Parameters):
    """rollback: the revision to return to; without one, the previous revision."""

    revision: Count | None = None


class ScaleParameters(_Parameters):
    """scale-out: the suggested replica count; the policy caps it."""

    replicas: Count | None = None


class ConfigParameters(_Parameters):
    """fix-config: the key that is missing, and whether the whole object is missing."""

    key: ConfigKey | None = None
    missing: Literal["object"] | None = None


class ImageParameters(_Parameters):
    """fix-image: the container whose image to correct."""

    container: ContainerName | None = None


class StorageParameters(_Parameters):
    """expand-storage: the suggested size of the claim."""

    size: Quantity | None = None


RemediationParameters = (
    NoParameters
    | MemoryParameters
    | CpuParameters
    | RollbackParameters
    | ScaleParameters
    | ConfigParameters
    | ImageParameters
    | StorageParameters
)

PARAMETERS: dict[Action, type[RemediationParameters]] = {
    Action.INCREASE_MEMORY: MemoryParameters,
    Action.INCREASE_CPU: CpuParameters,
    Action.ROLLBACK: RollbackParameters,
    Action.RESTART: NoParameters,
    Action.SCALE_OUT: ScaleParameters,
    Action.FIX_CONFIG: ConfigParameters,
    Action.FIX_IMAGE: ImageParameters,
    Action.FIX_PROBE: NoParameters,
    Action.FREE_CAPACITY: NoParameters,
    Action.DRAIN_NODE: NoParameters,
    Action.EXPAND_STORAGE: StorageParameters,
    Action.FIX_NETWORK: NoParameters,
    Action.RENEW_CERTIFICATE: NoParameters,
    Action.ESCALATE: NoParameters,
}


def parameters_model(action: Action) -> type[RemediationParameters]:
    return PARAMETERS[action]


def validate_parameters(action: Action, data: Any) -> RemediationParameters:
    """``data`` (a mapping, or already a parameters model) as ``action``'s parameters;
    raises ``ValidationError`` for a field the action does not take or a malformed value."""
    model = PARAMETERS[action]
    if isinstance(data, _Parameters):
        data = data.model_dump(exclude_none=True)
    return model.model_validate(data or {})


def parameters_from_hints(
    action: Action, hints: dict[str, str], containers: Collection[str] | None = None
) -> RemediationParameters:
    """The analyzer's hints that ``action``'s model takes and accepts, one by one; a hint the
    action does not use (an exit code, the current limit) or a malformed value is left out,
    and so is a container that the patched object's template does not hold, when its
    ``containers`` are known (an executor container that a driver creates, not the template)."""
    model = PARAMETERS[action]
    accepted: dict[str, Any] = {}
    for name in model.model_fields:
        value = hints.get(name)
        if value is None:
            continue
        if name == "container" and containers and value not in containers:
            continue
        try:
            model.model_validate({name: value})
        except ValidationError:
            continue
        accepted[name] = value
    return model.model_validate(accepted)
