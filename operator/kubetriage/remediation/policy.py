"""The remediation policy: which approved remediations kubetriage may execute, where, and
within which bounds. Default (no policy file): suggest only, nothing executes.

The policy is a YAML file (mounted from a ConfigMap; path in ``KUBETRIAGE_POLICY_FILE``),
parsed into strict pydantic models: an unknown key, a non-executable action or a bound below
1 is a load error, and a policy that does not load denies everything (fail closed).

Everything here is pure: ``load_policy`` parses text, ``evaluate`` decides one request, the
``bounded_*`` functions cap a requested value, and the ledger functions read and write the
per-workload record of executed remediations (the ``kubetriage.io/last-remediations``
annotation) that the rate limit counts. Called by ``kubetriage.remediation.actions``.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from kubetriage.models.base import ObjectRef, valid_items
from kubetriage.models.vocabulary import Action
from kubetriage.tenancy import OUTSIDE_NAMESPACE, Scope

# A workload carrying this annotation with value "disabled" is never touched.
OPT_OUT_ANNOTATION = "kubetriage.io/remediation"
# Executed remediations on this object, newest last (JSON list); the rate limit counts it.
LEDGER_ANNOTATION = "kubetriage.io/last-remediations"
# Ledger entries older than this are dropped when a new one is written.
LEDGER_RETENTION = timedelta(hours=24)
LEDGER_MAX_ENTRIES = 20
RATE_WINDOW = timedelta(hours=1)

# Actions kubetriage can carry out without a value only a person can supply.
EXECUTABLE_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.INCREASE_MEMORY,
        Action.INCREASE_CPU,
        Action.ROLLBACK,
        Action.RESTART,
        Action.SCALE_OUT,
        Action.DRAIN_NODE,
    }
)
WorkloadKind = Literal["Deployment", "StatefulSet"]
WORKLOAD_KINDS: tuple[WorkloadKind, ...] = ("Deployment", "StatefulSet")


class PolicyError(ValueError):
    """The policy file cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class LabelRequirement(_Strict):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Strict):
    """A Kubernetes label selector; an empty selector selects everything."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelRequirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
            if req.operator == "In" and labels.get(req.key) not in req.values:
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
        return True


class Rule(_Strict):
    """Allows ``actions`` on workloads of ``kinds`` in ``namespaces`` whose name matches
    ``names`` (globs) and whose labels match ``selector``."""

    actions: list[Action] = Field(min_length=1)
    namespaces: list[str] = Field(min_length=1)
    kinds: list[WorkloadKind] = Field(default_factory=lambda: list(WORKLOAD_KINDS))
    names: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    selector: LabelSelector | None = None

    @field_validator("actions")
    @classmethod
    def _executable(cls, actions: list[Action]) -> list[Action]:
        for action in actions:
            if action is Action.DRAIN_NODE:
                raise ValueError("drain-node is enabled only through drainNode.enabled")
            if action not in EXECUTABLE_ACTIONS:
                allowed = sorted(a.value for a in EXECUTABLE_ACTIONS - {Action.DRAIN_NODE})
                raise ValueError(
                    f"{action.value} needs a value only a person can supply and cannot be "
                    f"executed; executable actions: {', '.join(allowed)}"
                )
        return actions

    def allows(self, action: Action, target: ObjectRef, labels: dict[str, str]) -> bool:
        return (
            action in self.actions
            and target.kind in self.kinds
            and _glob_any(target.namespace or "", self.namespaces)
            and _glob_any(target.name, self.names)
            and (self.selector is None or self.selector.matches(labels))
        )


class Bounds(_Strict):
    """How far one execution may move a value, relative to the live object."""

    max_memory_factor: float = Field(default=2.0, ge=1.0, le=16.0)
    max_cpu_factor: float = Field(default=2.0, ge=1.0, le=16.0)
    max_replicas: int = Field(default=10, ge=1, le=1000)
    max_replica_factor: float = Field(default=2.0, ge=1.0, le=16.0)


class RateLimit(_Strict):
    max_per_workload_per_hour: int = Field(default=1, ge=0, le=100)


class DrainNode(_Strict):
    """Draining evicts every pod of a node, so it needs its own explicit opt-in."""

    enabled: bool = False
    nodes: list[str] = Field(default_factory=list)


class RemediationPolicy(_Strict):
    api_version: Literal["kubetriage.io/v1alpha1"]
    kind: Literal["RemediationPolicy"]
    rules: list[Rule] = Field(default_factory=list)
    bounds: Bounds = Field(default_factory=Bounds)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    drain_node: DrainNode = Field(default_factory=DrainNode)
    # When true, an approval without spec.approvedBy (or a managedFields manager) is refused.
    require_approver: bool = False
    # Slack user ids allowed to approve from a message's "Approve" button.
    slack_approvers: list[str] = Field(default_factory=list)

    def slack_approvable(self) -> frozenset[str]:
        """Actions a Slack approver may be offered (an "Approve" button each); empty when
        no Slack user may approve."""
        if not self.slack_approvers:
            return frozenset()
        actions = {a.value for rule in self.rules for a in rule.actions}
        if self.drain_node.enabled:
            actions.add(Action.DRAIN_NODE.value)
        return frozenset(actions)


def load_policy(text: str) -> RemediationPolicy:
    """Parse a policy file's text; raises ``PolicyError`` naming the offending field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"policy is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise PolicyError("policy must be a YAML mapping")
    try:
        return RemediationPolicy.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()
        )
        raise PolicyError(f"invalid remediation policy: {problems}") from error


def _glob_any(value: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


# --- the rate-limit ledger -----------------------------------------------------------------


class LedgerEntry(_Strict):
    """One executed remediation, as kept in the target's ledger annotation."""

    at: datetime
    action: Action
    id: str
    incident: str  # namespace/name of the Incident that approved it


def parse_ledger(value: str | None) -> list[LedgerEntry]:
    """The ledger from its annotation; a hand-mangled value reads as empty rather than
    failing the approval (the rate limit then errs on the permissive side only for
    entries a person already removed by editing the workload)."""
    if not value:
        return []
    try:
        raw = json.loads(value)
    except ValueError:
        return []
    return valid_items(LedgerEntry, raw)


def append_ledger(entries: list[LedgerEntry], entry: LedgerEntry) -> str:
    """The annotation value after recording ``entry``; old entries are pruned."""
    keep = [e for e in entries if entry.at - e.at <= LEDGER_RETENTION]
    keep = [*keep, entry][-LEDGER_MAX_ENTRIES:]
    return json.dumps(
        [e.model_dump(by_alias=True, mode="json") for e in keep], separators=(",", ":")
    )


def recent_count(entries: list[LedgerEntry], now: datetime) -> int:
    return sum(1 for e in entries if now - e.at < RATE_WINDOW)


# --- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Request:
    """One approved remediation as the policy sees it, with the live target's metadata."""

    action: Action
    target: ObjectRef
    labels: dict[str, str]
    annotations: dict[str, str]
    ledger: list[LedgerEntry]
    approver_known: bool
    now: datetime
    # The approving Incident's tenancy scope; None: no Incident (a dry run from the CLI).
    scope: Scope | None = None


def _deny(reason: str, message: str) -> Verdict:
    return Verdict(False, reason, message)


def evaluate(policy: RemediationPolicy | None, request: Request) -> Verdict:
    """Whether ``policy`` lets kubetriage execute ``request``; the first failing rule wins
    and its message says what to change."""
    what = f"{request.action.value} on {request.target.display()}"
    if policy is None:
        return _deny(
            "NoPolicy",
            f"no remediation policy is configured (KUBETRIAGE_POLICY_FILE), so kubetriage only "
            f"suggests; {what} was not executed. Run the suggested command yourself, or "
            f"configure a policy that allows it.",
        )
    if request.scope is not None and not request.scope.may_target(request.target):
        return _deny(OUTSIDE_NAMESPACE, request.scope.refusal(request.target))
    if request.action not in EXECUTABLE_ACTIONS:
        return _deny(
            "NotExecutable",
            f"{request.action.value} needs a value only a person can supply; run the "
            f"suggested command yourself",
        )
    if request.annotations.get(OPT_OUT_ANNOTATION) == "disabled":
        return _deny(
            "OptedOut",
            f"{request.target.display()} has the annotation {OPT_OUT_ANNOTATION}=disabled; "
            f"kubetriage never changes it",
        )
    if request.action is Action.DRAIN_NODE:
        if request.target.kind != "Node":
            return _deny("UnsupportedTarget", f"drain-node acts on a Node, not {what}")
        if not policy.drain_node.enabled:
            return _deny(
                "DrainNotEnabled",
                "the policy does not enable drain-node (drainNode.enabled: true is required)",
            )
        if not _glob_any(request.target.name, policy.drain_node.nodes):
            return _deny(
                "NotAllowedByPolicy",
                f"node {request.target.name} matches none of drainNode.nodes",
            )
    else:
        if request.target.kind not in WORKLOAD_KINDS:
            return _deny(
                "UnsupportedTarget",
                f"kubetriage executes {request.action.value} on "
                f"{' and '.join(WORKLOAD_KINDS)} only, not {request.target.kind}",
            )
        if not any(r.allows(request.action, request.target, request.labels) for r in policy.rules):
            return _deny(
                "NotAllowedByPolicy",
                f"no policy rule allows {what} (rules match action, namespace, kind, name "
                f"and labels)",
            )
    limit = policy.rate_limit.max_per_workload_per_hour
    done = recent_count(request.ledger, request.now)
    if done >= limit:
        return _deny(
            "RateLimited",
            f"{request.target.display()} already had {done} automated remediation(s) in the "
            f"last hour; the policy allows {limit} (rateLimit.maxPerWorkloadPerHour)",
        )
    if policy.require_approver and not request.approver_known:
        return _deny(
            "ApproverRequired",
            "the policy requires an approver: set spec.approvedBy in the same patch as "
            "spec.approve",
        )
    return Verdict(True, "Allowed", f"the policy allows {what}")


# --- bounds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounded:
    value: float
    capped: bool


def bounded_increase(current: float, requested: float | None, factor: float) -> Bounded:
    """The value to set: ``requested`` (default: the full factor) capped at
    ``current * factor``; the cap is how the policy bounds a model- or analyzer-sized step."""
    ceiling = current * factor
    wanted = ceiling if requested is None else requested
    if wanted > ceiling:
        return Bounded(ceiling, True)
    return Bounded(wanted, False)


def bounded_replicas(current: int, requested: int | None, bounds: Bounds) -> Bounded:
    ceiling = min(bounds.max_replicas, math.floor(max(current, 1) * bounds.max_replica_factor))
    wanted = ceiling if requested is None else requested
    if wanted > ceiling:
        return Bounded(float(ceiling), True)
    return Bounded(float(wanted), False)
