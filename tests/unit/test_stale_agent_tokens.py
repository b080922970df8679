"""Checks the log shipper hop and the stale agent token rule: when an alert says the healthy
alerted pods' logs are absent, the walk follows the log shipper DaemonSet on their nodes (by
its image); when that agent runs, did not roll out lately, reads no token from a Secret, and
the API server answers it Unauthorized (401), the fix is restarting it (it re-reads the
projected token the kubelet rotated), above the alerted workload's coinciding release. Near
misses: an alert about something else follows no shipper, a 403 is RBAC (not this rule), an
agent rolled out minutes before the alert is its rollout's story, and one that mounts a token
from a Secret is the stale-api-token rule's.

Real: ``node_neighbour_hosts`` over API-shaped dicts, Evidence models from
``tests.support.evidence`` and the analyzer registry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.agent_tokens import check_stale_agent_token
from kubetriage.evidence.node_neighbours import logs_absent, node_neighbour_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ChangeEvidence, ConfigMount
from kubetriage.models.relations import DependencyEvidence, DependencyRoute
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import NOW, analyze, assert_leads

NODE = "ip-10-0-1-5.ec2.internal"
AGENT = ObjectRef(kind="DaemonSet", namespace="logging", name="fluent-bit")
APP = ObjectRef(kind="Deployment", namespace="payments", name="payments-api")
ABSENT = [{"alertname": "LokiLogsAbsent", "namespace": "payments"}]
UNAUTHORIZED = (
    "[2026/11/20 09:31:07] [error] [filter:kubernetes:kubernetes.0] HTTP status=401 "
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
    '"Unauthorized","reason":"Unauthorized","code":401}'
)
FORBIDDEN = (
    "[2026/11/20 09:31:07] [error] [filter:kubernetes:kubernetes.0] HTTP status=403 "
    '{"kind":"Status","status":"Failure","message":"pods is forbidden","reason":"Forbidden",'
    '"code":403}'
)


def _agent_pod(name: str, image: str, owner: str) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "logging",
            "ownerReferences": [{"kind": "DaemonSet", "name": owner, "controller": True}],
        },
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": image}]},
        "status": {"phase": "Running"},
    }


PODS = [
    _agent_pod("fluent-bit-k7x2d", "public.ecr.aws/aws-for-fluent-bit:2.21.1", "fluent-bit"),
    _agent_pod("node-exporter-x1", "quay.io/prometheus/node-exporter:v1.8.2", "node-exporter"),
]


def test_an_alert_of_absent_logs_follows_the_log_shipper_on_the_pods_nodes() -> None:
    hosts = node_neighbour_hosts(PODS, [NODE], None, ABSENT)
    assert [(h.kind, h.name) for h in hosts] == [("DaemonSet", "fluent-bit")]
    assert node_neighbour_hosts(PODS, [NODE], None, [{"alertname": "PaymentsApiErrors"}]) == []
    assert logs_absent(ABSENT)
    assert not logs_absent([{"alertname": "LogsAbsentlyMinded"}])


def _evidence(line: str, *, rolled_out: timedelta | None = None, token_mount: bool = False) -> Any:
    changes = []
    if rolled_out is not None:
        changes = [ChangeEvidence(at=NOW - rolled_out, kind="rollout", object=AGENT)]
    mounts = [ConfigMount(path="/var/run/token", kind="Secret", name="agent-token")]
    agent = DependencyEvidence(
        ref=AGENT,
        workload=AGENT,
        named_by=[],
        routes=[DependencyRoute(kind="node-neighbour", node=NODE)],
        pods=1,
        ready_replicas=1,
        desired_replicas=1,
        changes=changes,
        secret_mounts=mounts if token_mount else [],
        logs=[
            make.log(
                "fluent-bit-k7x2d", "fluent-bit", line, namespace="logging", source="dependency"
            )
        ],
    )
    return make.evidence(
        workload=make.deployment("payments-api", "payments", replicas=2, ready=2),
        dependencies=[agent],
    )


def test_a_running_agent_refused_its_token_is_restarted() -> None:
    finding = assert_leads(
        analyze(_evidence(UNAUTHORIZED)), Category.CONFIG_MISSING, Action.RESTART, AGENT
    )
    assert finding.analyzer == "stale-agent-token"


def test_forbidden_a_fresh_rollout_or_a_token_secret_is_not_this_rule() -> None:
    assert check_stale_agent_token(_evidence(FORBIDDEN)) == []
    assert check_stale_agent_token(_evidence(UNAUTHORIZED, rolled_out=timedelta(minutes=10))) == []
    assert check_stale_agent_token(_evidence(UNAUTHORIZED, rolled_out=timedelta(days=30)))
    assert check_stale_agent_token(_evidence(UNAUTHORIZED, token_mount=True)) == []
