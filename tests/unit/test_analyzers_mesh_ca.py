"""Checks the mesh-ca-expiry rule: Istio's CA chain expired (or about to) while the
workload's handshakes fail verification renews the Secret that holds it (``cacerts`` for an
intermediate plugged in, whose chain ends before its root; ``istio-ca-secret`` for the CA
istiod generated); an expired chain is blamed from a meshed workload even without a failing
handshake in the logs, and outranks a rollout correlated with the errors; and the near misses
(a chain far from expiry, one expiring soon with nothing failing, a workload outside the mesh).

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, NOW, analyze, assert_leads

DAY = 86400.0
VERIFY_FAILED = (
    '"GET /v1/quotes HTTP/1.1" 503 UF upstream_reset_before_response_started{remote_connection'
    "_failure|TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED}"
)
PLUGGED = ObjectRef(kind="Secret", namespace="istio-system", name="cacerts")
SELF_SIGNED = ObjectRef(kind="Secret", namespace="istio-system", name="istio-ca-secret")


def _expiry(series: str, days_left: float, *, relative: bool = False) -> MetricSummary:
    """An expiry series as Prometheus has it (an absolute timestamp), or as the collector's
    template asks for it (seconds left, ``- time()``)."""
    if relative:
        query = f"min by (namespace) ({series}) - time()"
        return make.metric(query, last=days_left * DAY, name=series, labels=_NS)
    return make.metric(
        f'{series}{{namespace="istio-system",job="istiod"}}',
        last=NOW.timestamp() + days_left * DAY,
        labels=_NS,
    )


_NS = {"namespace": "istio-system"}


def _ca(chain_days: float, root_days: float, *, relative: bool = False) -> list[object]:
    return [
        _expiry("citadel_server_cert_chain_expiry_timestamp", chain_days, relative=relative),
        _expiry("citadel_server_root_cert_expiry_timestamp", root_days, relative=relative),
    ]


def _meshed(*, logs: str | None = VERIFY_FAILED, **fields: object) -> Evidence:
    return make.checkout_evidence(
        make.container("app"),
        make.container("istio-proxy"),
        logs=[make.log(CHECKOUT_POD, "istio-proxy", logs)] if logs else [],
        **fields,
    )


def _rule(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "mesh-ca-expiry"]


def test_an_expired_plugged_intermediate_renews_cacerts() -> None:
    finding = assert_leads(
        analyze(_meshed(metrics=_ca(-0.03, 3000))),
        Category.CERTIFICATE_EXPIRY,
        Action.RENEW_CERTIFICATE,
        PLUGGED,
    )
    assert finding.confidence > 0.88


def test_an_expired_self_signed_ca_renews_the_secret_istiod_generated() -> None:
    ev = _meshed(metrics=_ca(-1, -1, relative=True))
    assert_leads(analyze(ev), Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, SELF_SIGNED)


def test_an_expired_chain_outranks_a_rollout_from_a_meshed_pod_without_failing_lines() -> None:
    checkout = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    errors = make.error_ratio(first=0.001, last=0.9, changed_minutes_ago=5, trend="rising")
    ev = _meshed(
        logs=None,
        metrics=[*_ca(-0.03, 3000), errors],
        changes=[make.rollout_change(checkout, 4, "image", minutes_ago=7)],
    )
    result = analyze(ev)
    assert [f for f in result.findings if f.category is Category.BAD_ROLLOUT]
    assert_leads(result, Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, PLUGGED)


def test_a_chain_about_to_expire_is_blamed_only_where_handshakes_fail() -> None:
    assert _rule(_meshed(metrics=_ca(1, 3000)))
    assert not _rule(_meshed(logs=None, metrics=_ca(1, 3000)))


def test_a_chain_far_from_expiry_is_not_blamed() -> None:
    assert not _rule(_meshed(metrics=_ca(200, 3000)))


def test_an_expired_chain_is_not_blamed_for_a_workload_outside_the_mesh() -> None:
    ev = make.checkout_evidence(metrics=_ca(-0.03, 3000))
    assert not _rule(ev)
