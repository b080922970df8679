"""Checks the mesh CA followed from the sidecars' certificate requests, and the
callee-placement rule.

Evidence side (``kubetriage.evidence.node_plugins.ca_hosts``): a sidecar's line saying it
could not get its workload certificate (Istio's agent, Linkerd's proxy) with the address it
dialled names the Service serving it, by ClusterIP or cluster DNS name; a dial failure that is
not a certificate request, or an address no Service serves, names nothing. Analyzer side
(``kubetriage.analyzers.callee_placement``): a dependency with no pod running because every
node fails its own node selector or affinity is unschedulable / free-capacity on that
workload, above the dependency-down escalation of the same callee; the near misses keep the
dependency rules' answer: a callee pinned by a zonal volume, one short of CPU on some nodes,
one with a ready replica left.

Real: raw Service manifests as the API returns them, Evidence models from
``tests.support.evidence`` and the whole analyzer registry; the sidecar lines follow Istio's
agent wording and the scheduler's FailedScheduling messages its wording.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.callee_placement import CONFIDENCE
from kubetriage.evidence.node_plugins import ca_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence, DependencyRoute, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, named, naming

ISTIOD = ObjectRef(kind="Deployment", namespace="istio-system", name="istiod")
SOURCE = named(f"log shop/{CHECKOUT_POD}/istio-proxy")
WARM = (
    "2026-11-20T09:59:31.204301Z\twarn\tsds\tfailed to warm certificate: failed to generate "
    "workload certificate: create certificate: rpc error: code = Unavailable desc = connection "
    'error: desc = "transport: Error while dialing: dial tcp 10.20.0.15:15012: connect: '
    'connection refused"'
)
NO_SELECTOR_MATCH = (
    "Pod/istiod-7b9-jczrb FailedScheduling: 0/4 nodes are available: 4 node(s) didn't match "
    "Pod's node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not "
    "helpful for scheduling."
)


def _service(cluster_ip: str) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": "istiod", "namespace": "istio-system"},
        "spec": {"clusterIP": cluster_ip, "ports": [{"port": 15012}]},
    }


def test_the_ca_a_sidecar_could_not_reach_is_the_service_of_its_cluster_ip() -> None:
    [host] = ca_hosts([(SOURCE, WARM)], [_service("10.20.0.15")])
    assert (host.namespace, host.name, host.port) == ("istio-system", "istiod", 15012)
    assert host.source == named(f"mesh CA 10.20.0.15 of shop/{CHECKOUT_POD}/istio-proxy")
    assert host.route == DependencyRoute(kind="mesh-ca", host="10.20.0.15")


def test_the_ca_named_by_its_cluster_dns_name_needs_no_service_list() -> None:
    named = WARM.replace("10.20.0.15", "istiod.istio-system.svc")
    [host] = ca_hosts([(SOURCE, named)], [])
    assert (host.namespace, host.name) == ("istio-system", "istiod")


def test_a_dial_failure_that_is_no_certificate_request_names_no_ca() -> None:
    xds = (
        "warning\tenvoy config\tStreamAggregatedResources gRPC config stream to xds-grpc closed: "
        '14, connection error: desc = "transport: Error while dialing: dial tcp 10.20.0.15:15012:'
        ' connect: connection refused"'
    )
    assert ca_hosts([(SOURCE, xds)], [_service("10.20.0.15")]) == []
    assert ca_hosts([(SOURCE, WARM)], [_service("10.20.0.99")]) == []


def _callee(warning: str, *, ready: int = 0, pending: int = 2) -> Evidence:
    istiod = DependencyEvidence(
        service=make.service("istiod", "istio-system", ready=ready, matching=2),
        named_by=naming(f"mesh CA 10.20.0.15 of shop/{CHECKOUT_POD}/istio-proxy"),
        workload=ISTIOD,
        desired_replicas=2,
        ready_replicas=ready,
        pods=2,
        failing_pods=[PodTrouble(pod=f"istiod-7b9-{i}", phase="Pending") for i in range(pending)],
        warnings=[warning],
    )
    return make.checkout_evidence(
        logs=[make.log(CHECKOUT_POD, "istio-proxy", WARM)], dependencies=[istiod]
    )


def test_a_callee_no_node_admits_is_unschedulable_on_its_own_placement() -> None:
    result = analyze(_callee(NO_SELECTOR_MATCH))
    leader = assert_leads(result, Category.UNSCHEDULABLE, Action.FREE_CAPACITY, ISTIOD)
    assert leader.confidence == CONFIDENCE.no_node_admits
    assert "didn't match Pod's node affinity/selector" in " ".join(e.fact for e in leader.evidence)
    down = [f for f in result.findings if f.analyzer == "dependency-down"]
    assert down
    assert down[0].confidence < leader.confidence


def _placement(ev: Evidence) -> list[str]:
    return [f.analyzer for f in analyze(ev).findings if f.analyzer == "callee-placement"]


def test_a_callee_pinned_by_a_zonal_volume_is_not_this_finding() -> None:
    volume = (
        "Pod/redis-0 FailedScheduling: 0/2 nodes are available: 2 node(s) had volume node "
        "affinity conflict."
    )
    assert _placement(_callee(volume)) == []


def test_a_callee_some_nodes_admit_but_cannot_fit_is_not_this_finding() -> None:
    short = (
        "Pod/istiod-7b9-jczrb FailedScheduling: 0/4 nodes are available: 2 Insufficient cpu, "
        "2 node(s) didn't match Pod's node affinity/selector."
    )
    assert _placement(_callee(short)) == []


def test_a_callee_with_a_ready_replica_left_is_not_this_finding() -> None:
    assert _placement(_callee(NO_SELECTOR_MATCH, ready=1, pending=1)) == []
