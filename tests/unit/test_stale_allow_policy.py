"""An allow policy that selects a callee's pods by a label they are not selected by.

A namespace denies ingress by default and admits callers through an allow policy per
workload. When the callee's pods are relabelled (a chart moving from ``app=X`` to
``app.kubernetes.io/name=X``), the allow policy keeps selecting by the old key and admits
the flow to no pod: the caller's calls time out. The fix is that policy's podSelector, not
the namespace's deny-all; a policy for another workload, or one not admitting the caller,
leaves the deny-all named.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.network_policies import LabelSelector, PolicyPeer, PolicyPort, PolicyRule
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category, naming

_CALLER = {"app.kubernetes.io/name": "checkout-api"}
_SELECTOR = {"app.kubernetes.io/name": "tax-engine", "app.kubernetes.io/instance": "tax-engine"}
DENY = ObjectRef(kind="NetworkPolicy", namespace="tax", name="default-deny-ingress")
ALLOW = ObjectRef(kind="NetworkPolicy", namespace="tax", name="tax-engine-allow-callers")


def _policy(name: str, selector: dict[str, str], *rules: PolicyRule) -> object:
    return make.network_policy(
        name,
        namespace="tax",
        selector=LabelSelector(match_labels=selector),
        ingress=list(rules),
        ingress_rules=len(rules),
        pod_selector=selector,
        selects_target=False,
    )


def _from_namespace(namespace: str) -> PolicyRule:
    return PolicyRule(
        peers=[
            PolicyPeer(
                namespace_selector=LabelSelector(
                    match_labels={"kubernetes.io/metadata.name": namespace}
                )
            )
        ],
        ports=[PolicyPort(port="8080", protocol="TCP")],
    )


def _blocked_tax_engine(*extra: object) -> Evidence:
    """checkout-api (namespace checkout) times out calling Service tax/tax-engine; the tax
    namespace denies all ingress by default, plus ``extra`` policies."""
    service = ServiceEvidence(name="tax-engine", namespace="tax", selector=_SELECTOR)
    return make.evidence(
        workload=make.deployment("checkout-api", namespace="checkout", replicas=1),
        pods=[
            make.pod(
                "checkout-api-6c7d8e9f0-a",
                make.container("api"),
                namespace="checkout",
                labels=_CALLER,
            )
        ],
        namespace_labels={
            "checkout": {"kubernetes.io/metadata.name": "checkout"},
            "tax": {"kubernetes.io/metadata.name": "tax"},
        },
        network_policies=[_policy("default-deny-ingress", {}), *extra],
        dependencies=[
            DependencyEvidence(
                ref=ObjectRef(kind="Service", namespace="tax", name="tax-engine"),
                service=service,
                named_by=naming("log checkout-api-6c7d8e9f0-a"),
                followed=True,
            )
        ],
        logs=[
            make.log(
                "checkout-api-6c7d8e9f0-a",
                "api",
                '{"msg":"tax quote failed","url":"http://tax-engine.tax:8080/v1/quote",'
                '"err":"connect ETIMEDOUT 10.56.9.40:8080"}',
                namespace="checkout",
            )
        ],
    )


def test_an_allow_policy_selecting_by_the_old_label_key_is_the_one_to_correct() -> None:
    ev = _blocked_tax_engine(
        _policy("tax-engine-allow-callers", {"app": "tax-engine"}, _from_namespace("checkout"))
    )
    finding = assert_leads(analyze(ev), Category.NETWORK, Action.FIX_NETWORK, ALLOW)
    assert any("app=tax-engine" in e.fact for e in finding.evidence)


def test_without_an_allow_policy_the_deny_all_is_named() -> None:
    assert_leads(analyze(_blocked_tax_engine()), Category.NETWORK, Action.FIX_NETWORK, DENY)


def test_a_policy_for_another_workload_under_the_same_key_is_not_the_one() -> None:
    # app.kubernetes.io/name=tax-admin selects a different workload, not renamed labels.
    other = _policy(
        "tax-admin-allow-callers",
        {"app.kubernetes.io/name": "tax-admin"},
        _from_namespace("checkout"),
    )
    assert_leads(analyze(_blocked_tax_engine(other)), Category.NETWORK, Action.FIX_NETWORK, DENY)


def test_a_policy_with_a_value_foreign_to_the_service_is_not_the_one() -> None:
    other = _policy("billing-allow-callers", {"app": "billing"}, _from_namespace("checkout"))
    assert_leads(analyze(_blocked_tax_engine(other)), Category.NETWORK, Action.FIX_NETWORK, DENY)


def test_a_renamed_selector_that_does_not_admit_the_caller_is_not_the_one() -> None:
    stale = _policy("tax-engine-allow-callers", {"app": "tax-engine"}, _from_namespace("invoicing"))
    finding = by_category(analyze(_blocked_tax_engine(stale)), Category.NETWORK)[0]
    assert finding.target == DENY
