"""Checks the CNI-agent-rollout rule (``analyzers.cni_agents``) and what feeds it: new pods
whose network the CNI plugin cannot set up on several nodes, after one node agent rolled out,
roll that agent back; on one node, long after the agent's rollout, or with two agents rolled
out, the rule is silent. The node agents' rollouts are read when an Event says a pod's
sandbox network failed (``evidence.agent_rollouts``), and not otherwise.

Everything is real: Evidence models from ``tests.support.evidence``, ``build_evidence`` over
raw objects and ``run_analyzers``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.evidence.agent_rollouts import sandbox_network_failed
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import AgentRolloutEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, controller_revision_manifest
from tests.support.evidence import NOW, analyze, assert_leads, waiting

CART = ObjectRef(kind="Deployment", namespace="shop", name="cart")
AGENT = ObjectRef(kind="DaemonSet", namespace="kube-system", name="aws-node")
OTHER = ObjectRef(kind="DaemonSet", namespace="kube-system", name="kube-proxy")
NO_IP = (
    "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for "
    'sandbox "3c9e1a7f": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed '
    "to assign an IP address to container"
)


def _agent(ref: ObjectRef, minutes_ago: float = 55) -> AgentRolloutEvidence:
    change = make.rollout_change(ref, 5, "image", "env", minutes_ago=minutes_ago)
    return AgentRolloutEvidence(ref=ref, nodes=14, changes=[change])


def _evidence(
    nodes: tuple[str, ...] = ("worker-1", "worker-2"),
    agents: list[AgentRolloutEvidence] | None = None,
) -> Evidence:
    creating = make.container("app", ready=False, state=waiting("ContainerCreating"))
    pods = [
        make.app_pod(f"cart-5d8f7c9b4-p{i}", creating, phase="Pending", node=node)
        for i, node in enumerate(nodes)
    ]
    events = [make.event("FailedCreatePodSandBox", NO_IP, name=p.name, count=40) for p in pods]
    return make.evidence(
        target=CART,
        workload=make.deployment("cart", replicas=6, ready=4),
        pods=[make.app_pod("cart-5d8f7c9b4-ok", make.container("app")), *pods],
        events=events,
        agent_rollouts=agents if agents is not None else [_agent(AGENT)],
    )


def _rule(evidence: Evidence) -> list[Any]:
    return [f for f in analyze(evidence).findings if f.analyzer == "cni-agent-rollout"]


def test_the_agent_rolled_out_before_pods_on_several_nodes_got_no_network_is_rolled_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)
    assert finding.analyzer == "cni-agent-rollout"


def test_silent_when_the_failures_are_on_one_node() -> None:
    assert not _rule(_evidence(nodes=("worker-1", "worker-1")))


def test_silent_when_the_agent_rolled_out_long_before() -> None:
    assert not _rule(_evidence(agents=[_agent(AGENT, minutes_ago=60 * 9)]))


def test_silent_when_two_agents_rolled_out() -> None:
    assert not _rule(_evidence(agents=[_agent(AGENT), _agent(OTHER)]))


# --- what is read -----------------------------------------------------------------------


def _sandbox_event(message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "cart-5d8f7c9b4-p0.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "cart-5d8f7c9b4-p0", "namespace": "shop"},
        "reason": "FailedCreatePodSandBox",
        "message": message,
        "type": "Warning",
        "count": 3,
        "firstTimestamp": (NOW - timedelta(minutes=20)).isoformat(),
        "lastTimestamp": (NOW - timedelta(minutes=1)).isoformat(),
    }


def _cluster(message: str) -> list[dict[str, Any]]:
    template = {
        "metadata": {"labels": {"k8s-app": "aws-node"}},
        "spec": {"containers": [{"name": "aws-node", "image": "amazon-k8s-cni:v1.19.2"}]},
    }
    old_template = {
        "metadata": {"labels": {"k8s-app": "aws-node"}},
        "spec": {
            "containers": [
                {
                    "name": "aws-node",
                    "image": "amazon-k8s-cni:v1.18.6",
                    "env": [{"name": "WARM_IP_TARGET", "value": "5"}],
                }
            ]
        },
    }
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": AGENT.name, "namespace": AGENT.namespace},
        "spec": {"selector": {"matchLabels": {"k8s-app": "aws-node"}}, "template": template},
        "status": {"desiredNumberScheduled": 14},
    }
    return [
        daemonset,
        controller_revision_manifest(
            AGENT, 5, old_template, created=NOW - timedelta(days=60), labels={"k8s-app": "aws-node"}
        ),
        controller_revision_manifest(
            AGENT, 6, template, created=NOW - timedelta(minutes=55), labels={"k8s-app": "aws-node"}
        ),
        _sandbox_event(message),
    ]


def test_the_agents_rollouts_are_read_when_a_pods_network_cannot_be_set_up() -> None:
    assert sandbox_network_failed([_sandbox_event(NO_IP)])
    [agent] = built(_cluster(NO_IP), CART).agent_rollouts
    assert agent.ref == AGENT
    assert agent.changes[0].aspects == ["image", "env"]


def test_no_agents_are_read_for_a_sandbox_failure_of_another_kind() -> None:
    other = (
        "Failed to create pod sandbox: rpc error: code = Unknown desc = "
        'failed to pull image "pause:3.9"'
    )
    assert not sandbox_network_failed([_sandbox_event(other)])
    assert built(_cluster(other), CART).agent_rollouts == []
