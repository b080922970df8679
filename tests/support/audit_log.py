"""The local control plane's audit log: the policy kube-apiserver runs with (everything at
Metadata level except the control plane's own components and health checks) and its JSON
lines read back as ``AuditEvent`` records."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [{users}]
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
"""


def audit_policy(unaudited_users: Sequence[str]) -> str:
    """The audit policy, leaving out the requests of ``unaudited_users``."""
    return AUDIT_POLICY.format(users=", ".join(json.dumps(u) for u in unaudited_users))


@dataclass(frozen=True)
class AuditEvent:
    """The part of one apiserver audit event the tests read."""

    user: str
    verb: str
    uri: str
    code: int
    decision: str  # the authorizer's: "allow" or "forbid" ("" when it did not decide)
    resource: str
    subresource: str
    group: str
    namespace: str
    name: str
    received: float  # requestReceivedTimestamp, seconds since the epoch
    completed: float  # stageTimestamp (ResponseComplete)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AuditEvent:
        ref = raw.get("objectRef") or {}
        return cls(
            user=raw["user"]["username"],
            verb=raw["verb"],
            uri=raw["requestURI"],
            code=int((raw.get("responseStatus") or {}).get("code", 0)),
            decision=(raw.get("annotations") or {}).get("authorization.k8s.io/decision", ""),
            resource=ref.get("resource", ""),
            subresource=ref.get("subresource", ""),
            group=ref.get("apiGroup", ""),
            namespace=ref.get("namespace", ""),
            name=ref.get("name", ""),
            received=datetime.fromisoformat(raw["requestReceivedTimestamp"]).timestamp(),
            completed=datetime.fromisoformat(raw["stageTimestamp"]).timestamp(),
        )


def read_audit_events(path: Path) -> Iterator[AuditEvent]:
    """The events of a JSON audit log so far (none when it does not exist yet)."""
    if not path.exists():
        return
    with path.open() as lines:
        for line in lines:
            if line.strip():
                yield AuditEvent.from_json(json.loads(line))
