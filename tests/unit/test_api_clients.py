"""Checks "which client was just allowed to ask the API server more?": when the incident's
own lines carry the API server's 429, a Deployment whose newest rollout raised its
Kubernetes client's rate limits (QPS, burst, concurrent reconciles) is read beside the node
agents, and the agent-api-load rule rolls it back; a rollout that changed only the image,
one that lowered the limits, or lines that do not say the API server throttles read none.

Real: raw Deployment and ReplicaSet manifests as the API returns them, the pure builder and
the whole analyzer registry; the flag reader on its own.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from kubetriage.evidence.agent_walk import follow_agent_rollouts
from kubetriage.evidence.api_clients import client_flags, raised_flags
from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW, ago, analyze, assert_leads
from tests.support.listing import ListingReader

OWN = ObjectRef(kind="StatefulSet", namespace="ci", name="builds")
CLIENT = ObjectRef(kind="Deployment", namespace="platform", name="tenants")
THROTTLED = (
    "KubernetesClientException: Failure executing: POST at: https://10.0.0.1/api/v1/namespaces"
    "/ci/pods. Message: Too many requests, please try again later.. Received status: code=429"
)


def _template(image: str, args: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": CLIENT.name}},
        "spec": {"containers": [{"name": "manager", "image": image, "args": args}]},
    }


def _replica_set(number: int, template: dict[str, Any], minutes_ago: int) -> dict[str, Any]:
    created = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{CLIENT.name}-{number}",
            "namespace": CLIENT.namespace,
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(number)},
            "labels": {"app": CLIENT.name},
            "ownerReferences": [{"kind": "Deployment", "name": CLIENT.name, "controller": True}],
        },
        "spec": {"replicas": 1 if number == 15 else 0, "template": template},
    }


def _objects(old_args: list[str], new_args: list[str], new_image: str = "op:3.4") -> list[Any]:
    new = _template(new_image, new_args)
    deployment = deployment_manifest(
        CLIENT.name, CLIENT.namespace, {"name": "manager", "image": new_image, "args": new_args}
    )
    return [
        deployment,
        _replica_set(14, _template("op:3.3", old_args), 60 * 24 * 20),
        _replica_set(15, new, 38),
    ]


def _built(objects: list[Any], line: str = THROTTLED) -> Evidence:
    assert OWN.namespace is not None
    logs = [make.log("builds-0", "builds", line, namespace=OWN.namespace)]
    alert = AlertEvidence(labels={"alertname": "BuildQueue"}, starts_at=ago(17), status="firing")
    return built(objects, OWN, logs=logs).model_copy(update={"alerts": [alert]})


RAISED = ["--leader-elect", "--kube-api-qps=200", "--kube-api-burst", "300"]


def test_flags_are_read_in_both_spellings() -> None:
    assert client_flags(_template("i", RAISED)) == {"--kube-api-qps": 200, "--kube-api-burst": 300}
    assert raised_flags(_template("i", RAISED), _template("i", ["--leader-elect"])) == [
        "--kube-api-burst",
        "--kube-api-qps",
    ]
    lowered = _template("i", ["--kube-api-qps=10"])
    assert raised_flags(lowered, _template("i", ["--kube-api-qps=50"])) == []


def test_a_controller_that_raised_its_client_limits_is_rolled_back() -> None:
    evidence = _built(_objects(["--leader-elect"], RAISED))
    assert [a.ref for a in evidence.agent_rollouts] == [CLIENT]
    finding = assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, CLIENT)
    assert finding.analyzer == "agent-api-load"


def test_a_release_that_changed_only_the_image_is_not_read() -> None:
    evidence = _built(_objects(["--kube-api-qps=200"], ["--kube-api-qps=200"], new_image="op:9"))
    assert evidence.agent_rollouts == []


def test_a_release_that_lowered_the_limits_is_not_read() -> None:
    assert _built(_objects(["--kube-api-qps=200"], ["--kube-api-qps=20"])).agent_rollouts == []


def test_nothing_is_read_when_the_api_server_does_not_throttle() -> None:
    evidence = _built(_objects(["--leader-elect"], RAISED), line="connection reset by peer")
    assert evidence.agent_rollouts == []


def _walked(line: str) -> set[str]:
    assert OWN.namespace is not None
    run = CollectionRun(asyncio.Semaphore(1))
    run.logs.append(make.log("builds-0", "builds", line, namespace=OWN.namespace))
    reader = ListingReader(_objects(["--leader-elect"], RAISED))
    asyncio.run(follow_agent_rollouts(reader, run, Scope.unrestricted()))  # type: ignore[arg-type]
    return {f"{kind}/{name}" for kind, _, name in run.objects}


def test_the_walk_reads_the_deployments_and_their_history_when_throttled() -> None:
    assert _walked(THROTTLED) == {
        "Deployment/tenants",
        "ReplicaSet/tenants-14",
        "ReplicaSet/tenants-15",
    }


def test_the_walk_reads_no_deployment_when_not_throttled() -> None:
    assert _walked("connection reset by peer") == set()
