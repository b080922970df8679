"""Checks reasoning about a change that surfaced a failure without causing it, and about a
change that did cause it while another rule's evidence points elsewhere:

- a peer's certificate that expired fails the new pods of a rollout (they connect afresh)
  while old pods keep their sessions: the rollout is no cause of its own (a rollback's pods
  would fail the same handshake), unless the peer rejects the workload's own certificate;
- a ConfigMap edit carried into the pods (Reloader hash) that moved the server off the port
  its unchanged probes dial: the ConfigMap is the fix, not the probe;
- an egress NetworkPolicy that admits DNS over UDP but not over TCP, while lookups of a
  headless Service whose answer outgrows a UDP packet fail: the policy is the fix; and an
  ipBlock rule whose ports leave the flow out casts no doubt on a denial.

Real: the analyzer registry (``run_analyzers`` via ``tests.support.evidence.analyze``),
``kubetriage.networkpolicy`` over API-shaped specs; the evidence is synthetic (factories of
``tests.support.evidence``).
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.certificates import peer_certificate_invalid
from kubetriage.analyzers.policies import UDP_ANSWER_RECORDS
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import (
    Endpoint,
    Flow,
    cluster_dns,
    egress_verdict,
    rules_of,
    selector_of,
)
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
NEW_POD = "checkout-7d9f6c8b5-new01"
OLD_POD = "checkout-5c6d7e8f9-old01"


# --- a peer's expired certificate under a rollout ------------------------------------------


def _rollout_meets(line: str) -> Evidence:
    """Revision 7 (a new image) rolled out 15 minutes ago; its one new pod crash-loops and
    logs ``line``; revision 6's pod still serves."""
    new = make.crash_looping("app", "ghcr.io/example/app:2.8")
    old = make.container("app", "ghcr.io/example/app:2.7")
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1, revision=7),
        revisions=make.rollout_revisions(
            7, {"app": new.image}, {"app": old.image}, minutes_ago=15, old_ready=1
        ),
        pods=[make.pod(NEW_POD, new), make.pod(OLD_POD, old, replica_set="checkout-5c6d7e8f9")],
        events=[make.event("BackOff", "Back-off restarting failed container app", name=NEW_POD)],
        logs=[make.log(NEW_POD, "app", line)],
        changes=[make.rollout_change(CHECKOUT, 6, "image", minutes_ago=15)],
    )


_SERVER_EXPIRED = (
    "ERROR -- : SSL_connect returned=1 errno=0 peeraddr=10.233.90.41:5671 state=error: "
    "certificate verify failed (certificate has expired) (OpenSSL::SSL::SSLError)"
)
_OURS_REJECTED = "amqp connect failed: remote error: tls: expired certificate"
_UNRELATED = "panic: runtime error: invalid memory address or nil pointer dereference"


def test_a_peer_certificate_that_expired_is_no_cause_a_rollout_has() -> None:
    ev = _rollout_meets(_SERVER_EXPIRED)
    assert peer_certificate_invalid(ev)
    result = analyze(ev)
    assert not [f for f in result.findings if f.analyzer == "change-correlation"]
    rollout = by_category(result, Category.BAD_ROLLOUT)
    assert all(f.confidence <= 0.6 for f in rollout), rollout
    assert result.findings[0].category is not Category.BAD_ROLLOUT


def test_the_peer_rejecting_the_workloads_own_certificate_leaves_the_rollout_in_question() -> None:
    assert not peer_certificate_invalid(_rollout_meets(_OURS_REJECTED))


def test_a_rollout_whose_new_pods_crash_on_their_own_is_still_rolled_back() -> None:
    ev = _rollout_meets(_UNRELATED)
    assert not peer_certificate_invalid(ev)
    assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)


# --- a carried configuration edit that moved the server -------------------------------------

SETTINGS = ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-settings")


def _server_moved_by(aspects: tuple[str, ...], configs: list[ObjectRef]) -> Evidence:
    """Revision 7 rolled out 40 minutes ago changing ``aspects`` (carrying ``configs``); its
    pod's probes on :8080 are refused and the kubelet kills it, while its server says it
    listens on :5080; revision 6 still serves on 8080."""
    new = make.container(
        "app", "ghcr.io/example/app:1.9", ready=False, restarts=6,
        last_state=make.terminated("Error", 143),
    )  # fmt: skip
    old = make.container("app", "ghcr.io/example/app:1.9")
    refused = [
        make.event(
            "Unhealthy",
            f'{kind} probe failed: Get "http://10.1.2.3:8080/health": dial tcp 10.1.2.3:8080: '
            "connect: connection refused",
            name=NEW_POD,
            count=40,
        )
        for kind in ("Liveness", "Readiness")
    ]
    rollout = make.rollout_change(CHECKOUT, 6, *aspects, minutes_ago=40)
    rollout = rollout.model_copy(update={"configs": configs})
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1, revision=7),
        revisions=make.rollout_revisions(
            7, {"app": new.image}, {"app": old.image}, minutes_ago=40, old_ready=1
        ),
        pods=[make.pod(NEW_POD, new), make.pod(OLD_POD, old, replica_set="checkout-5c6d7e8f9")],
        events=[
            *refused,
            make.event(
                "Killing",
                "Container app failed liveness probe, will be restarted",
                name=NEW_POD,
                type_="Normal",
                count=6,
            ),
        ],
        logs=[make.log(NEW_POD, "app", "info: Now listening on: http://[::]:5080")],
        changes=[rollout],
    )


def test_a_carried_config_edit_that_moved_the_server_is_the_config_to_fix() -> None:
    result = analyze(_server_moved_by(("config",), [SETTINGS]))
    first = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, SETTINGS)
    probe = by_category(result, Category.PROBE_FAILURE)
    assert probe
    assert probe[0].confidence < first.confidence
    assert any("listens on port 5080" in e.fact for e in probe[0].evidence)


def test_a_probe_the_rollout_changed_stays_the_probes_fault() -> None:
    result = analyze(_server_moved_by(("config", "probes"), [SETTINGS]))
    probe = by_category(result, Category.PROBE_FAILURE)
    assert probe
    assert not any("listens on port" in e.fact for e in probe[0].evidence)


# --- DNS over TCP -------------------------------------------------------------------------

_KUBE_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
_DB_SUBNET = {"to": [{"ipBlock": {"cidr": "10.225.8.0/24"}}], "ports": [{"port": 5432}]}


def _egress(*dns_protocols: str) -> NetworkPolicyEvidence:
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": {"app": "search"}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [_KUBE_DNS], "ports": [{"protocol": p, "port": 53} for p in dns_protocols]},
            _DB_SUBNET,
        ],
    }
    return NetworkPolicyEvidence(
        name="search-egress",
        namespace="shop",
        policy_types=["Egress"],
        selector=selector_of(spec["podSelector"]),
        egress=rules_of(spec, "egress"),
    )


def _lookups_fail(policy: NetworkPolicyEvidence, ready: int) -> Evidence:
    """The search pods' lookups of the headless Service ranker-headless (``ready`` ready
    pods) fail under ``policy``."""
    ranker = make.service("ranker-headless", selector={"app": "ranker"}, headless=True)
    return make.evidence(
        workload=make.deployment("search"),
        pods=[make.app_pod("search-7d9f6c8b5-a", make.container("search"))],
        network_policies=[policy],
        dependencies=[
            DependencyEvidence(
                ref=ObjectRef(kind="Service", namespace="shop", name="ranker-headless"),
                service=ranker,
                workload=ObjectRef(kind="Deployment", namespace="shop", name="ranker"),
                desired_replicas=ready,
                ready_replicas=ready,
            )
        ],
        logs=[
            make.log(
                "search-7d9f6c8b5-a",
                "search",
                "UNAVAILABLE: Unable to resolve host ranker-headless.shop.svc.cluster.local: "
                "java.net.UnknownHostException: ranker-headless.shop.svc.cluster.local: "
                "Temporary failure in name resolution",
            )
        ],
    )


def _dns_tcp_findings(ev: Evidence) -> list[Any]:
    return [f for f in analyze(ev).findings if "DNS over TCP" in f.summary]


def test_dns_admitted_over_udp_only_fails_a_headless_answer_too_large_for_udp() -> None:
    findings = _dns_tcp_findings(_lookups_fail(_egress("UDP"), ready=UDP_ANSWER_RECORDS + 20))
    assert [(f.category, f.action, f.target) for f in findings] == [
        (
            Category.NETWORK,
            Action.FIX_NETWORK,
            ObjectRef(kind="NetworkPolicy", namespace="shop", name="search-egress"),
        )
    ]
    assert findings[0].confidence >= 0.8


def test_a_small_answer_or_dns_over_tcp_admitted_is_no_such_finding() -> None:
    assert not _dns_tcp_findings(_lookups_fail(_egress("UDP"), ready=3))
    assert not _dns_tcp_findings(_lookups_fail(_egress("UDP", "TCP"), ready=60))


def test_an_ip_block_rule_whose_ports_leave_the_flow_out_casts_no_doubt() -> None:
    source = make.app_pod("search-7d9f6c8b5-a", make.container("search"))
    pods = Endpoint(namespace="shop", labels=source.labels)
    dns = cluster_dns({"kubernetes.io/metadata.name": "kube-system"})
    tcp = egress_verdict([_egress("UDP")], Flow(pods, dns, port=53, protocol="TCP"))
    assert not tcp.allowed
    assert not tcp.ip_block_caveat
    postgres = egress_verdict([_egress("UDP")], Flow(pods, dns, port=5432, protocol="TCP"))
    assert not postgres.allowed
    assert postgres.ip_block_caveat
