"""Checks the neighbours on an outside host and the egress-neighbour rule.

Evidence side (``kubetriage.evidence.host_peers``): the outside hosts a configuration value
names (URLs, host:port, flags; never a Service's DNS name or an address), the ones the
incident's own error lines name, and the other Deployments whose templates name them.
Analyzer side (``kubetriage.analyzers.egress_peers``): the incident's calls to such a host
time out while connecting, it did not change, and one neighbour on that host rolled out a
change of how it calls right before: that neighbour is rolled back; and the near misses: the
neighbour rolled out long before, its change touched nothing that decides its calls, two
neighbours changed, the workload changed itself, the calls were answered (refused, HTTP 503).

Real: raw Deployment manifests as the API returns them, the pure helpers, Evidence models
from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.egress_peers import CONFIDENCE
from kubetriage.evidence.host_peers import failing_hosts, find_host_peers, outside_host, value_host
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import HostPeerEvidence
from kubetriage.models.object_evidence import ChangeEvidence, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, named, naming

HOST = "api.bank.example"
OWN = ObjectRef(kind="Deployment", namespace="pay", name="refunds")
PEER = ObjectRef(kind="Deployment", namespace="pay", name="payouts")
THIRD = ObjectRef(kind="Deployment", namespace="ops", name="statements")
CONNECT_TIMEOUT = (
    "ERROR submit failed: ConnectTimeout(HTTPSConnectionPool(host='api.bank.example', "
    "port=443): connect timeout=10)"
)


def _deployment(name: str, namespace: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    container = {
        "name": name,
        "image": f"registry.example/{name}:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "args": list(args),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


# --- evidence: which hosts, which neighbours ---------------------------------------------


def test_outside_hosts_are_dotted_names_outside_the_cluster() -> None:
    assert outside_host("https://api.bank.example/v2/") == HOST
    assert outside_host("api.bank.example:443") == HOST
    assert outside_host("https://user@api.bank.example") == HOST
    assert outside_host("payouts-pg.pay.svc.cluster.local") is None
    assert outside_host("redis://cache.pay.svc:6379/0") is None
    assert outside_host("10.0.0.7:443") is None
    assert outside_host("production") is None
    assert outside_host("Host=db.pay.svc.cluster.local;Database=x") is None


def test_a_whole_value_names_one_host_inside_or_outside_the_cluster() -> None:
    # dependency_failure reads env values with it too: Service DNS names count there.
    assert value_host("orders-db.sales.svc") == "orders-db.sales.svc"
    assert value_host("Orders-DB.sales.svc.cluster.local.") == "orders-db.sales.svc.cluster.local"
    assert value_host("redis://cache.pay.svc:6379/0") == "cache.pay.svc"
    assert value_host(" api.bank.example:443 ") == HOST
    assert value_host("production") is None
    assert value_host("db.pay.svc and cache.pay.svc") is None
    assert value_host("Host=db.pay.svc.cluster.local;Database=x") is None


def test_the_host_its_configuration_and_its_error_lines_both_name_is_failing() -> None:
    own = _deployment("refunds", "pay", {"BANK_URL": f"https://{HOST}/v2/", "MODE": "live"})
    logs = [make.log("refunds-1", "refunds", CONNECT_TIMEOUT, namespace="pay")]
    assert failing_hosts([], own, logs) == [HOST]


def test_a_host_only_configured_or_only_logged_is_not() -> None:
    own = _deployment("refunds", "pay", {"BANK_URL": f"https://{HOST}/v2/"})
    quiet = [make.log("refunds-1", "refunds", f"INFO submitted to {HOST} in 80ms", namespace="pay")]
    assert failing_hosts([], own, quiet) == []
    other = _deployment("refunds", "pay", {"BANK_URL": "https://api.other.example/"})
    failing = [make.log("refunds-1", "refunds", CONNECT_TIMEOUT, namespace="pay")]
    assert failing_hosts([], other, failing) == []


def test_the_neighbours_are_the_other_deployments_that_name_the_host() -> None:
    own = _deployment("refunds", "pay", {"BANK_URL": f"https://{HOST}/v2/"})
    peer = _deployment("payouts", "pay", {"PartnerBank__BaseUrl": f"https://{HOST}/v2/"})
    flagged = _deployment("statements", "ops", {}, f"--bank-endpoint=https://{HOST}")
    unrelated = _deployment("search", "pay", {"ES_URL": "https://search.vendor.example"})
    found = find_host_peers([own, unrelated, peer, flagged], [HOST], [own])
    assert [(w["metadata"]["name"], host) for w, host, _ in found] == [
        ("statements", HOST),
        ("payouts", HOST),
    ]
    assert found[1][2] == [named("Deployment payouts env PartnerBank__BaseUrl")]
    assert find_host_peers([own, peer], [], [own]) == []


# --- the rule ----------------------------------------------------------------------------


def _peer(ref: ObjectRef, *aspects: str, minutes_ago: float = 16) -> HostPeerEvidence:
    return HostPeerEvidence(
        ref=ref,
        host=HOST,
        named_by=naming(f"Deployment {ref.name} env BANK_URL"),
        changes=[make.rollout_change(ref, 56, *aspects, minutes_ago=minutes_ago)],
    )


def _evidence(
    *,
    peers: list[HostPeerEvidence] | None = None,
    own_changes: list[ChangeEvidence] | None = None,
    log_text: str = CONNECT_TIMEOUT,
) -> Evidence:
    return make.evidence(
        target=OWN,
        workload=WorkloadEvidence(ref=OWN, desired_replicas=2, ready_replicas=2),
        alerts=[
            AlertEvidence(
                labels={"alertname": "RefundErrorsHigh", "namespace": "pay"},
                starts_at=ago(10),
                status="firing",
            )
        ],
        logs=[make.log("refunds-6b7f-x1", "refunds", log_text, namespace="pay")],
        changes=own_changes or [],
        host_peers=peers if peers is not None else [_peer(PEER, "image")],
    )


def _egress(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "egress-peer"]


def test_the_neighbour_that_rolled_out_before_the_connect_timeouts_is_rolled_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, PEER)
    assert finding.analyzer == "egress-peer"
    assert finding.confidence == CONFIDENCE
    assert any("BANK_URL" in e.fact for e in finding.evidence)
    assert any("connect timeout" in e.fact for e in finding.evidence)


def test_a_change_of_env_args_or_resources_counts_too() -> None:
    for aspect in ("env", "args", "resources"):
        evidence = _evidence(peers=[_peer(PEER, aspect)])
        assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, PEER)


def test_one_changed_neighbour_among_unchanged_ones_is_still_the_suspect() -> None:
    evidence = _evidence(peers=[_peer(PEER, "image"), _peer(THIRD, "image", minutes_ago=60 * 30)])
    assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, PEER)


def test_silent_when_the_neighbour_rolled_out_long_before_the_onset() -> None:
    assert not _egress(_evidence(peers=[_peer(PEER, "image", minutes_ago=60 * 6)]))


def test_silent_when_the_neighbours_change_touched_nothing_that_decides_its_calls() -> None:
    assert not _egress(_evidence(peers=[_peer(PEER, "labels", "probes")]))


def test_silent_when_two_neighbours_changed() -> None:
    assert not _egress(_evidence(peers=[_peer(PEER, "image"), _peer(THIRD, "env")]))


def test_silent_when_the_workload_rolled_out_itself() -> None:
    own = make.rollout_change(OWN, 8, "image", minutes_ago=20)
    assert not _egress(_evidence(own_changes=[own]))


def test_silent_when_the_host_answers() -> None:
    refused = f"ERROR submit failed: Connection refused ({HOST}:443)"
    answered = f"ERROR submit failed: POST https://{HOST}/v2/refunds returned 503"
    assert not _egress(_evidence(log_text=refused))
    assert not _egress(_evidence(log_text=answered))


def test_silent_without_neighbours() -> None:
    assert not _egress(_evidence(peers=[]))
