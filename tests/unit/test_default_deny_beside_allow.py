"""Checks that a namespace's default-deny NetworkPolicy is read as policies are enforced,
unioned with the others: beside an allow-list selecting the same pods it denies only what
the allow-list leaves out, so it is not reported as denying all ingress (egress) to the
workload; alone it is.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
policies and log lines are synthetic.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import Finding
from kubetriage.models.network_policies import (
    LabelSelector,
    NetworkPolicyEvidence,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

TIMEOUT = (
    "failed to convert price: rpc error: code = Unavailable desc = connection error: desc = "
    '"transport: Error while dialing: dial tcp 10.96.14.9:7000: i/o timeout" currency:7000'
)


def _deny_all() -> NetworkPolicyEvidence:
    return make.network_policy("deny-all", "ingress: deny all", pod_selector={})


def _allow(name: str, app: str, source: str, port: int) -> NetworkPolicyEvidence:
    peer = PolicyPeer(pod_selector=LabelSelector(match_labels={"app": source}))
    return make.network_policy(
        name,
        f"ingress from pods(app={source}) :{port}/TCP",
        pod_selector={"app": app},
        selects_target=app == "checkout",
        selector=LabelSelector(match_labels={"app": app}),
        ingress=[PolicyRule(peers=[peer], ports=[PolicyPort(port=str(port))])],
    )


def _denies_all(policy: str, findings: Sequence[Finding]) -> bool:
    ref = ObjectRef(kind="NetworkPolicy", namespace="shop", name=policy)
    return any(f.target == ref and "denies all" in f.summary for f in findings)


def test_a_default_deny_beside_the_workloads_allow_list_does_not_deny_it_all() -> None:
    ev = make.checkout_evidence(
        network_policies=[_deny_all(), _allow("checkout", "checkout", "frontend", 8080)],
        logs=[make.checkout_log(TIMEOUT)],
    )
    assert not _denies_all("deny-all", analyze(ev).findings)


def test_a_default_deny_alone_denies_the_workload_all_ingress() -> None:
    ev = make.checkout_evidence(network_policies=[_deny_all()], logs=[make.checkout_log(TIMEOUT)])
    result = analyze(ev)
    assert _denies_all("deny-all", result.findings)
    deny_all = ObjectRef(kind="NetworkPolicy", namespace="shop", name="deny-all")
    assert_leads(result, Category.NETWORK, Action.FIX_NETWORK, deny_all)
