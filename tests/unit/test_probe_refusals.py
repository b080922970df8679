"""The probe-refusal rules (``kubetriage.analyzers.probe_refusals``): a running server whose
own log turns away exactly what the kubelet's probe sends (an IP-literal Host header to a
framework's host check, plaintext to a TLS listener) gets its probe corrected, for the
workload itself (above a rollout that tightened the server) and for a dependency the workload
fails on (above an escalation at that dependency's Service); and the rules stay silent for a
named host refused, for a probe answered 5xx, and for a dependency whose pods crash.

Real: the whole analyzer registry run over Evidence models. Synthetic: every object; the
kubelet's Warnings and the servers' log lines (Rails, Django, Go crypto/tls) in their own words.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.probe_refusals import (
    check_callee_probe_refused,
    check_probe_refused,
    ip_host,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import (
    CHECKOUT_POD,
    analyze,
    assert_leads,
    checkout_evidence,
    checkout_log,
    naming,
)

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
STOCK = ObjectRef(kind="Deployment", namespace="stock", name="stock-api")
_FORBIDDEN = "Readiness probe failed: HTTP probe failed with statuscode: 403"
_RAILS = (
    "INFO -- : [ActionDispatch::HostAuthorization::DefaultResponseApp] "
    "Blocked hosts: 10.8.2.45:3000"
)


def _own(probe: str, line: str, *, rolled: bool = False) -> Evidence:
    app = make.container("app", "ghcr.io/example/app:2.0", ready=False)
    fields: dict[str, object] = {}
    if rolled:
        fields = {
            "workload": make.deployment(ready=0, revision=5),
            "revisions": make.rollout_revisions(
                5, {"app": app.image}, {"app": "ghcr.io/example/app:1.9"}, minutes_ago=20
            ),
        }
    return checkout_evidence(
        app,
        events=[make.event("Unhealthy", probe, name=CHECKOUT_POD, count=40)],
        logs=[checkout_log(line)],
        **fields,
    )


def test_host_check_refusing_the_pod_ip_fixes_the_probe_above_the_release() -> None:
    result = analyze(_own(_FORBIDDEN, _RAILS, rolled=True))
    first = assert_leads(result, Category.PROBE_FAILURE, Action.FIX_PROBE, CHECKOUT)
    assert first.analyzer == "probe-refused"
    assert "Blocked hosts" in first.evidence[-1].fact
    assert any(f.category is Category.BAD_ROLLOUT for f in result.findings[1:])


def test_django_allowed_hosts_answering_400_is_the_same_refusal() -> None:
    line = (
        "django.security.DisallowedHost: Invalid HTTP_HOST header: '10.1.2.3:8000'. "
        "You may need to add '10.1.2.3' to ALLOWED_HOSTS."
    )
    probe = "Liveness probe failed: HTTP probe failed with statuscode: 400"
    assert [f.analyzer for f in check_probe_refused(_own(probe, line))] == ["probe-refused"]


def test_a_named_host_refused_is_some_client_not_the_probe() -> None:
    line = "[ActionDispatch::HostAuthorization::DefaultResponseApp] Blocked hosts: evil.example"
    assert check_probe_refused(_own(_FORBIDDEN, line)) == []


def test_a_probe_answered_5xx_is_not_a_refused_request() -> None:
    probe = "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert check_probe_refused(_own(probe, _RAILS)) == []


def test_plaintext_probe_on_a_tls_listener_fixes_the_probe() -> None:
    probe = 'Readiness probe failed: timeout: failed to connect service ":9090" within 1s'
    line = (
        'grpc: Server.Serve failed to complete security handshake from "10.30.1.11:50412": '
        "tls: first record does not look like a TLS handshake"
    )
    [finding] = check_probe_refused(_own(probe, line))
    assert (finding.category, finding.action, finding.target) == (
        Category.PROBE_FAILURE,
        Action.FIX_PROBE,
        CHECKOUT,
    )
    assert "TLS" in finding.summary


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.8.2.45:3000", True),
        ("'10.1.2.3:8000'", True),
        ("[fd00::12]:8080", True),
        ("fd00::12", True),
        ("billing.example.com", False),
        ("billing.example.com:443", False),
    ],
)
def test_ip_host(host: str, expected: bool) -> None:
    assert ip_host(host) is expected


_TLS_LOG = (
    "2026/11/20 09:21:10 WARNING: [core] grpc: Server.Serve failed to complete security "
    'handshake from "10.30.1.11:50412": tls: first record does not look like a TLS handshake'
)
_CALLER = (
    "inventory lookup failed: rpc error: code = Unavailable desc = connection error: "
    'desc = "transport: Error while dialing: dial tcp 10.96.44.12:9090: connect: '
    'connection refused" (stock-api.stock.svc:9090)'
)


def _callee(*, crashing: bool = False) -> Evidence:
    pods = [f"stock-api-5f9c7d6b48-{s}" for s in ("aaaaa", "bbbbb")]
    trouble = [
        PodTrouble(
            pod=p,
            container="server",
            waiting="CrashLoopBackOff" if crashing else None,
            restarts=4 if crashing else 0,
        )
        for p in pods
    ]
    dependency = DependencyEvidence(
        ref=ObjectRef(kind="Service", namespace="stock", name="stock-api"),
        workload=STOCK,
        named_by=naming("pod checkout env STOCK_ADDR"),
        desired_replicas=2,
        ready_replicas=0,
        pods=2,
        failing_pods=trouble,
        warnings=[
            f'Pod/{p} Unhealthy: Readiness probe failed: timeout: failed to connect service ":9090"'
            " within 1s: context deadline exceeded"
            for p in pods
        ],
        logs=[make.log(pods[0], "server", _TLS_LOG, namespace="stock", source="dependency")],
    )
    return checkout_evidence(logs=[checkout_log(_CALLER)], dependencies=[dependency])


def test_callee_running_but_refusing_its_plaintext_probe_gets_its_probe_fixed() -> None:
    first = assert_leads(analyze(_callee()), Category.PROBE_FAILURE, Action.FIX_PROBE, STOCK)
    assert first.analyzer == "callee-probe-refused"
    assert "first record" in first.evidence[2].fact


def test_callee_whose_pods_crash_is_not_a_refused_probe() -> None:
    assert check_callee_probe_refused(_callee(crashing=True)) == []
