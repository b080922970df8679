"""Checks that a callee which only passes on its own callee's failure is walked past: the
builder follows a failing callee's configured dependencies (its pods' env) when its error
lines name no Service (an outside provider by its public name), so the ExternalName Service
in front of that provider becomes a dependency; and the dependency-failure rule escalates to
that Service when the callee the caller's errors name is up and ready and its own failing
calls name it, but stays with the callee when the callee's own pods fail.

The builder tests use raw manifests, log tails and the real ``build_evidence``; the analyzer
tests synthetic Evidence and the real analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import (
    alert,
    analyze,
    app_evidence,
    assert_leads,
    external_service,
    log,
    naming,
    rollout_change,
    rollout_revisions,
    service,
)

LIMITS = EvidenceLimits()
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")
PROVIDER = "api.acquirer.example"
_PROVIDER_DOWN = (
    f"ERROR authorize failed: 503 Service Unavailable from POST https://{PROVIDER}/v3/auth\n"
)


def _app(name: str, namespace: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Deployment, Service and one pod ``<namespace>/<name>`` (app=<name>)."""
    container = {
        "name": "c",
        "image": f"{name}:2",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-rs2-abcde",
            "namespace": namespace,
            "labels": {"app": name},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{name}-rs2", "controller": True}],
        },
        "spec": {"containers": [container]},
        "status": {"phase": "Running"},
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}},
    }
    return [deployment_manifest(name, namespace, container), pod, svc]


def _objects() -> list[dict[str, Any]]:
    """web calls payments; payments is configured to call the provider through the
    ExternalName Service egress/acquirer."""
    alias = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "acquirer", "namespace": "egress"},
        "spec": {"type": "ExternalName", "externalName": PROVIDER},
    }
    return [
        *_app("web", "shop", {"PAYMENTS_URL": "http://payments.pay.svc.cluster.local:8080"}),
        *_app("payments", "pay", {"PSP_BASE_URL": "https://acquirer.egress.svc.cluster.local"}),
        alias,
    ]


def _tails(payments_said: str) -> list[LogTail]:
    web = "ERROR POST http://payments.pay.svc.cluster.local:8080/pay failed: 502\n"
    return [
        tail_from_text("shop", "web-rs2-abcde", "c", web, limits=LIMITS),
        tail_from_text(
            "pay", "payments-rs2-abcde", "c", payments_said, limits=LIMITS, source="dependency"
        ),
    ]


def _followed(tails: list[LogTail]) -> list[tuple[str, str, list[str]]]:
    ev = built(_objects(), WEB, logs=tails)
    return [
        (d.service.namespace, d.service.name, d.named_by_texts())
        for d in ev.dependencies
        if d.service is not None
    ]


def test_a_failing_callees_configured_provider_is_followed_when_its_errors_name_no_service() -> (
    None
):
    followed = _followed(_tails(_PROVIDER_DOWN))
    assert [(ns, name) for ns, name, _ in followed] == [("pay", "payments"), ("egress", "acquirer")]
    assert followed[1][2] == ["pod payments-rs2-abcde env PSP_BASE_URL"]


def test_a_healthy_callees_configuration_is_not_followed() -> None:
    followed = _followed(_tails("INFO authorized order 7 in 120ms\n"))
    assert [(ns, name) for ns, name, _ in followed] == [("pay", "payments")]


def test_a_callee_whose_errors_name_a_service_is_followed_there_not_by_its_configuration() -> None:
    said = "ERROR session to ledger:5432 lost: connection reset by peer\n"
    objects = [*_objects(), *_app("ledger", "pay", {})]
    ev = built(objects, WEB, logs=_tails(said))
    names = [d.service.name for d in ev.dependencies if d.service is not None]
    assert names == ["payments", "ledger"]


# The analyzer side: web's calls to payments fail; payments' own calls to the provider fail.
_WEB_SAID = "ERROR POST http://payments.pay.svc.cluster.local:8080/pay failed: 502 Bad Gateway"


def _evidence(callee: DependencyEvidence) -> Any:
    alias = DependencyEvidence(
        service=external_service("acquirer", PROVIDER, namespace="egress"),
        named_by=naming("pod payments-rs2-abcde env PSP_BASE_URL"),
    )
    return app_evidence("web-6d8f9c7b5-abcde", logs=_WEB_SAID, dependencies=[callee, alias])


def _callee(**fields: Any) -> DependencyEvidence:
    fields.setdefault("desired_replicas", 2)
    fields.setdefault("ready_replicas", 2)
    fields.setdefault("named_by", naming("pod web-6d8f9c7b5-abcde env PAYMENTS_URL"))
    return DependencyEvidence(
        service=service("payments", "pay", ready=2, matching=2),
        workload=ObjectRef(kind="Deployment", namespace="pay", name="payments"),
        pods=2,
        logs=[log("payments-rs2-abcde", "c", _PROVIDER_DOWN, namespace="pay", source="dependency")],
        **fields,
    )


def test_a_ready_callee_relaying_its_providers_failure_hands_over_the_provider() -> None:
    first = assert_leads(
        analyze(_evidence(_callee())),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="egress", name="acquirer"),
    )
    assert "Service pay/payments calls Service egress/acquirer" in first.summary
    assert any(PROVIDER in e.fact for e in first.evidence)


def test_a_callee_whose_own_pods_fail_keeps_the_blame() -> None:
    crashing = PodTrouble(pod="payments-rs2-abcde", container="c", waiting="CrashLoopBackOff")
    ev = _evidence(_callee(ready_replicas=1, failing_pods=[crashing]))
    findings = [f for f in analyze(ev).findings if f.category is Category.DEPENDENCY_FAILURE]
    assert findings
    assert findings[0].target != ObjectRef(kind="Service", namespace="egress", name="acquirer")


def test_a_callee_released_right_before_keeps_the_blame() -> None:
    payments = ObjectRef(kind="Deployment", namespace="pay", name="payments")
    released = _callee(
        changes=[rollout_change(payments, 7, "env", minutes_ago=12)],
        named_by=naming("log shop/web-6d8f9c7b5-abcde/app"),
    )
    ev = _evidence(released)
    ev.alerts = [alert(alertname="WebPayErrors", namespace="shop")]
    assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, payments)


# A caller's own rollout right before its calls began to fail, while the callee it calls is
# up and logs that its own calls to an outside provider fail: the callee answers everyone
# with the provider's failure, which no change of the caller makes.
_WEB_POD = "web-6d8f9c7b5-abcde"


def _released_caller(payments_said: str) -> Any:
    web = ObjectRef(kind="Deployment", namespace="shop", name="web")
    callee = DependencyEvidence(
        service=service("payments", "pay", ready=2, matching=2),
        workload=ObjectRef(kind="Deployment", namespace="pay", name="payments"),
        pods=2,
        desired_replicas=2,
        ready_replicas=2,
        named_by=naming(f"pod {_WEB_POD} env PAYMENTS_URL"),
        logs=[log("payments-rs2-abcde", "c", payments_said, namespace="pay", source="dependency")],
    )
    ev = app_evidence(
        _WEB_POD,
        logs=f"2026-11-20T09:58:00Z {_WEB_SAID}\n2026-11-20T09:59:00Z {_WEB_SAID}",
        dependencies=[callee],
        changes=[rollout_change(web, 4, "resources", minutes_ago=15)],
        revisions=rollout_revisions(
            5,
            {"c": "web:2"},
            {"c": "web:2"},
            minutes_ago=15,
            ready=1,
            names=("web-6d8f9c7b5", "web-5c4b3a291"),
        ),
        alerts=[alert(alertname="WebPayErrors", namespace="shop")],
    )
    return ev


def test_a_callee_relaying_an_outside_providers_failure_outweighs_the_callers_rollout() -> None:
    result = analyze(_released_caller(_PROVIDER_DOWN))
    assert_leads(
        result,
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="pay", name="payments"),
    )
    assert all(f.analyzer != "change-correlation" for f in result.findings)


def test_a_callee_whose_own_calls_succeed_leaves_the_callers_rollout_in_front() -> None:
    # Near miss: payments logs no failing call of its own; the caller's release is what
    # changed right before its calls began to fail.
    result = analyze(_released_caller("INFO authorized order 7 in 120ms\n"))
    assert any(f.analyzer == "change-correlation" for f in result.findings)
