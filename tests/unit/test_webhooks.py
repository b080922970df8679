"""Checks admission-webhook reasoning: a Warning event saying the API server failed calling a
webhook is summarised with the webhook's configuration (failurePolicy, Service, cert-manager
``inject-ca-from``), the Certificates of its Service's namespace and the Secrets its backend's
logs name; the failure is classified from the API server's own words (x509 expired / not yet
valid / unknown authority / wrong host, no endpoints, refused, timeout), a certificate failure
in another library's words too (``kubetriage.tls_errors``); and the analyzer
blames the webhook's cause rather than the blocked workload: the serving Certificate or Secret
for a certificate failure, the Service for a selector that matches no pod, the webhook's
workload for a failing new revision or pods that cannot be scheduled, the Service (escalate)
otherwise. A webhook with ``failurePolicy: Ignore`` blocks nothing and is passed over.

Real: ``build_evidence`` on API-shaped dicts, the pure classifier, and the analyzer registry
on Evidence models (tests/support/evidence.py factories).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.logs import webhook_log_requests
from kubetriage.evidence.summaries.webhooks import failing_webhook_names, failure_of
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.object_evidence import ChangeEvidence, GenericObjectEvidence, PodCondition
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import (
    NOW,
    analyze,
    assert_leads,
    by_category,
    deployment,
    event,
    evidence,
    log,
    naming,
    service,
)

_POST = (
    'failed calling webhook "validate.policy.example.io": failed to call webhook: '
    'Post "https://policy-webhook.policy.svc:443/validate?timeout=10s": '
)
EXPIRED = (
    _POST + "tls: failed to verify certificate: x509: certificate has expired or is not yet "
    "valid: current time 2026-11-20T09:31:04Z is after 2026-11-20T09:12:44Z"
)
NO_ENDPOINTS = _POST + 'no endpoints available for service "policy-webhook"'
SERVICE = ObjectRef(kind="Service", namespace="policy", name="policy-webhook")
BACKEND = ObjectRef(kind="Deployment", namespace="policy", name="policy-webhook")
BLOCKED = ObjectRef(kind="ReplicaSet", namespace="shop", name="checkout-7d9f6c8b5")


@pytest.mark.parametrize(
    ("why", "failure"),
    [
        (EXPIRED.removeprefix(_POST), "expired"),
        (
            "x509: certificate has expired or is not yet valid: current time "
            "2026-11-17T09:58:02Z is before 2026-11-19T06:12:40Z",
            "not-yet-valid",
        ),
        (
            "tls: failed to verify certificate: x509: certificate signed by unknown authority",
            "unknown-authority",
        ),
        (
            "x509: certificate is valid for webhook.other.svc, not policy-webhook.policy.svc",
            "hostname",
        ),
        ('no endpoints available for service "policy-webhook"', "no-endpoints"),
        ("dial tcp 10.96.4.2:443: connect: connection refused", "refused"),
        ("context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "timeout"),
        ("the server could not find the requested resource", "other"),
    ],
)
def test_the_failure_is_classified_from_the_api_servers_words(why: str, failure: str) -> None:
    assert failure_of(_POST + why) == failure


@pytest.mark.parametrize(
    ("why", "failure"),
    [
        (
            "remote error: javax.net.ssl.SSLHandshakeException: PKIX path building failed: "
            "unable to find valid certification path to requested target",
            "unknown-authority",
        ),
        (
            "upstream connect error: certificate verify failed: Hostname mismatch, certificate "
            "is not valid for 'policy-webhook.policy.svc'",
            "hostname",
        ),
        ("SSL routines: certificate verify failed: certificate is not yet valid", "not-yet-valid"),
    ],
)
def test_a_certificate_failure_in_another_librarys_words_is_classified_too(
    why: str, failure: str
) -> None:
    # The webhook classifier defers to kubetriage.tls_errors: the words of OpenSSL or Java
    # (a proxy or sidecar in front of the webhook) classify as the API server's own would.
    assert failure_of(_POST + why) == failure


def test_only_warning_events_name_failing_webhooks() -> None:
    warning = {"type": "Warning", "message": "Error creating: Internal error occurred: " + EXPIRED}
    normal = {"type": "Normal", "message": 'failed calling webhook "other.example.io"'}
    assert failing_webhook_names([normal, warning, warning]) == ["validate.policy.example.io"]


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, **({"namespace": namespace} if namespace else {}), **extra}


def _objects(*, annotations: dict[str, str] | None = None) -> list[dict[str, Any]]:
    hook = {
        "name": "validate.policy.example.io",
        "failurePolicy": "Fail",
        "clientConfig": {
            "service": {"name": "policy-webhook", "namespace": "policy", "path": "/validate"}
        },
    }
    other = {"name": "other.example.io", "failurePolicy": "Ignore", "clientConfig": {}}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("checkout", "shop"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "checkout"}}},
            "status": {"replicas": 2, "readyReplicas": 2},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": _meta("checkout-7d9f6c8b5.1", "shop"),
            "type": "Warning",
            "reason": "FailedCreate",
            "count": 12,
            "lastTimestamp": "2026-11-20T09:58:00Z",
            "message": "Error creating: Internal error occurred: " + EXPIRED,
            "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": BLOCKED.name},
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": _meta("policy", annotations=annotations or {}),
            "webhooks": [other, hook],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": _meta("unrelated"),
            "webhooks": [other],
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": _meta("policy-webhook-serving", "policy"),
            "spec": {
                "secretName": "policy-webhook-serving",
                "dnsNames": ["policy-webhook.policy.svc"],
            },
            "status": {"notAfter": "2026-11-20T09:12:44Z"},
        },
    ]


def test_a_failing_webhook_is_summarised_with_its_configuration_certificates_and_logs() -> None:
    backend_log = log(
        "policy-webhook-6d9c-x2x9k",
        "webhook",
        'E1120 09:16:40 failed to renew certificate: secrets "policy-webhook-tls" is forbidden\n'
        "I1120 09:20:00 serving admission requests on :9443\n",
        namespace="policy",
        source="webhook",
    )
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    ev = built(_objects(), target, logs=[backend_log])
    (hook,) = ev.webhooks
    assert (hook.name, hook.failure, hook.failure_policy, hook.count) == (
        "validate.policy.example.io",
        "expired",
        "Fail",
        12,
    )
    assert hook.configuration == ObjectRef(
        kind="ValidatingWebhookConfiguration",
        name="policy",
        api_version="admissionregistration.k8s.io/v1",
    )
    assert hook.service == SERVICE
    assert hook.blocked == [BLOCKED]
    assert [c.ref.name for c in hook.certificates] == ["policy-webhook-serving"]
    assert hook.certificates[0].fields["expired"] == "true"
    assert hook.secrets_named == ["policy-webhook-tls"]
    assert hook.log_lines == [backend_log.lines[0]]
    assert hook.ca_injected_from is None


def test_the_summary_reads_only_the_tails_read_of_the_webhooks_backend() -> None:
    # Tails of the webhook's namespace read for another reason (a followed dependency's pod,
    # the incident's own) are not the backend's words: the webhook walk read its own.
    said = 'E1120 09:16:40 failed to renew certificate: secrets "{}" is forbidden'
    other_pod = log(
        "policy-audit-5f7b-q2w8x", "audit", said.format("audit-tls"), namespace="policy"
    )
    read_as_dependency = other_pod.model_copy(update={"source": "dependency"})
    backend_log = log(
        "policy-webhook-6d9c-x2x9k",
        "webhook",
        said.format("policy-webhook-tls"),
        namespace="policy",
        source="webhook",
    )
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    ev = built(_objects(), target, logs=[other_pod, read_as_dependency, backend_log])
    (hook,) = ev.webhooks
    assert hook.secrets_named == ["policy-webhook-tls"]
    assert hook.log_lines == backend_log.lines
    # Nor does the backend's tail become one of the incident's own.
    assert [t.pod for t in ev.logs] == [other_pod.pod]


def _backend_pod(name: str, *, ready: bool, restarts: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(name, "policy", labels={"app": "policy-webhook"}),
        "spec": {"containers": [{"name": "webhook"}, {"name": "sidecar"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "webhook",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": {"running": {}}
                    if ready
                    else {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }


def test_the_backends_tails_read_are_its_first_containers_of_the_troubled_pod_first() -> None:
    backend = {
        "kind": "Service",
        "metadata": _meta("policy-webhook", "policy"),
        "spec": {"selector": {"app": "policy-webhook"}},
    }
    healthy = _backend_pod("policy-webhook-6d9c-aaaaa", ready=True)
    crashing = _backend_pod("policy-webhook-6d9c-bbbbb", ready=False, restarts=4)
    stranger = {**crashing, "metadata": _meta("audit-1", "policy", labels={"app": "audit"})}
    assert webhook_log_requests(backend, [stranger, healthy, crashing]) == [
        ("policy", "policy-webhook-6d9c-bbbbb", "webhook", False),
        ("policy", "policy-webhook-6d9c-bbbbb", "webhook", True),
    ]
    # A Service without a selector (or not read at all) selects no backend.
    assert webhook_log_requests({**backend, "spec": {}}, [healthy]) == []
    assert webhook_log_requests(None, [healthy]) == []


def test_the_cainjector_annotation_names_the_certificate_behind_the_ca_bundle() -> None:
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    annotations = {"cert-manager.io/inject-ca-from": "policy/policy-webhook-serving"}
    (hook,) = built(_objects(annotations=annotations), target).webhooks
    assert hook.ca_injected_from == ObjectRef(
        kind="Certificate", namespace="policy", name="policy-webhook-serving"
    )


def test_no_webhook_without_an_event_naming_one() -> None:
    objects = [o for o in _objects() if o["kind"] != "Event"]
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    assert built(objects, target).webhooks == []


# --- the analyzer --------------------------------------------------------------------------


def _hook(message: str = EXPIRED, **fields: Any) -> WebhookEvidence:
    fields.setdefault("failure_policy", "Fail")
    fields.setdefault("service", SERVICE)
    return WebhookEvidence(
        name="validate.policy.example.io",
        failure=failure_of(message),
        message=message,
        blocked=[BLOCKED],
        count=12,
        configuration=ObjectRef(kind="ValidatingWebhookConfiguration", name="policy"),
        **fields,
    )


def _trouble(**fields: Any) -> PodTrouble:
    """The webhook backend's pod in trouble, as the dependency summary records it."""
    return PodTrouble(pod="policy-webhook-1", container="webhook", **fields)


def _backend(**fields: Any) -> DependencyEvidence:
    fields.setdefault("service", service("policy-webhook", "policy", ready=0, matching=2))
    fields.setdefault("workload", BACKEND)
    return DependencyEvidence(
        ref=SERVICE, named_by=naming("event ReplicaSet/x FailedCreate"), **fields
    )


def _blocked(hook: WebhookEvidence, *dependencies: DependencyEvidence) -> Any:
    ev = evidence(
        workload=deployment("checkout"),
        events=[event("FailedCreate", hook.message, name=BLOCKED.name, kind="ReplicaSet")],
        webhooks=[hook],
        dependencies=list(dependencies),
    )
    return analyze(ev)


def _certificate(name: str, secret: str, dns: str = "") -> GenericObjectEvidence:
    return GenericObjectEvidence(
        ref=ObjectRef(kind="Certificate", namespace="policy", name=name),
        conditions=[PodCondition(type="Ready", status="True", reason="Ready")],
        fields={"secretName": secret, "dnsNames": dns, "notAfter": "2026-11-20T09:12:44Z"},
    )


def test_an_expired_webhook_certificate_is_renewed_at_the_certificate_its_pods_mount() -> None:
    serving = _certificate("policy-webhook-serving", "policy-webhook-serving")
    unrelated = _certificate("metrics-tls", "metrics-tls")
    hook = _hook(certificates=[unrelated, serving])
    backend = _backend(mounted_secrets=["policy-webhook-serving"])
    assert_leads(
        _blocked(hook, backend), Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, serving.ref
    )


def test_the_certificate_naming_the_webhook_service_is_its_serving_certificate() -> None:
    serving = _certificate("serving", "serving-kp", dns="policy-webhook.policy.svc")
    hook = _hook(certificates=[_certificate("metrics-tls", "metrics-tls"), serving])
    assert_leads(
        _blocked(hook, _backend()),
        Category.CERTIFICATE_EXPIRY,
        Action.RENEW_CERTIFICATE,
        serving.ref,
    )


def test_a_self_managed_webhook_certificate_is_the_secret_its_logs_name() -> None:
    hook = _hook(secrets_named=["policy-webhook.policy.svc.tls-pair"])
    secret = ObjectRef(kind="Secret", namespace="policy", name="policy-webhook.policy.svc.tls-pair")
    assert_leads(
        _blocked(hook, _backend()), Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, secret
    )


def test_an_expired_webhook_certificate_nobody_holds_is_escalated_at_its_service() -> None:
    result = _blocked(_hook(), _backend())
    (finding,) = [f for f in result.findings if f.analyzer == "admission-webhook"]
    assert (finding.category, finding.action, finding.target) == (
        Category.CERTIFICATE_EXPIRY,
        Action.ESCALATE,
        SERVICE,
    )


def test_a_webhook_service_selecting_no_pod_is_fixed_at_the_service() -> None:
    backend = _backend(service=service("policy-webhook", "policy", ready=0, matching=0))
    assert_leads(
        _blocked(_hook(NO_ENDPOINTS), backend), Category.NETWORK, Action.FIX_NETWORK, SERVICE
    )


def test_a_webhook_failing_since_its_new_revision_is_rolled_back() -> None:
    rollout = ChangeEvidence(
        at=NOW,
        kind="rollout",
        object=BACKEND,
        aspects=["image"],
        details=["image policy:1.0.0 (was policy:0.70.0)"],
        from_revision=11,
        to_revision=12,
    )
    backend = _backend(
        failing_pods=[_trouble(waiting="CrashLoopBackOff", restarts=6)],
        changes=[rollout],
    )
    assert_leads(
        _blocked(_hook(NO_ENDPOINTS), backend), Category.BAD_ROLLOUT, Action.ROLLBACK, BACKEND
    )


def test_a_webhook_whose_pods_cannot_be_scheduled_needs_capacity() -> None:
    backend = _backend(
        warnings=[
            "Pod/policy-webhook-1 FailedScheduling: 0/3 nodes are available: 3 node(s) didn't "
            "match Pod's node affinity/selector."
        ],
        failing_pods=[PodTrouble(pod="policy-webhook-1", phase="Pending")],
    )
    assert_leads(
        _blocked(_hook(NO_ENDPOINTS), backend),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        BACKEND,
    )


def test_a_webhook_backend_failing_for_no_visible_reason_is_escalated() -> None:
    backend = _backend(failing_pods=[_trouble(waiting="CrashLoopBackOff")])
    assert_leads(
        _blocked(_hook(_POST + "dial tcp 10.96.4.2:443: connect: connection refused"), backend),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        SERVICE,
    )


def test_an_ignored_webhook_blocks_nothing() -> None:
    result = _blocked(_hook(NO_ENDPOINTS, failure_policy="Ignore"), _backend())
    assert not [f for f in result.findings if f.analyzer == "admission-webhook"]
    assert not by_category(result, Category.NETWORK)


def test_a_crash_looping_webhook_backend_with_no_endpoint_is_the_webhooks_crash() -> None:
    backend = _backend(failing_pods=[_trouble(waiting="CrashLoopBackOff")])
    assert_leads(
        _blocked(_hook(NO_ENDPOINTS), backend), Category.CRASH_LOOP, Action.ESCALATE, BACKEND
    )


def test_a_webhook_backend_killed_for_its_memory_limit_gets_more_memory() -> None:
    backend = _backend(
        failing_pods=[_trouble(waiting="CrashLoopBackOff", restarts=9, last_terminated="OOMKilled")]
    )
    assert_leads(
        _blocked(_hook(NO_ENDPOINTS), backend),
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        BACKEND,
    )


def test_the_backend_the_webhook_walk_read_decides_when_no_dependency_names_it() -> None:
    backend = _backend(
        warnings=["Pod/policy-webhook-1 FailedScheduling: 0/3 nodes are available: Insufficient"],
        failing_pods=[PodTrouble(pod="policy-webhook-1", phase="Pending")],
    )
    assert_leads(
        _blocked(_hook(NO_ENDPOINTS, backend=backend)),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        BACKEND,
    )


# --- a webhook no event names: a custom resource stays not Ready ---------------------------

_STUCK = ObjectRef(kind="Certificate", namespace="shop", name="api-tls")


def _stuck_objects(
    *, policy: str = "Fail", groups: tuple[str, ...] = ("cert-manager.io",), ready: int = 0
) -> list[dict[str, Any]]:
    """A not-Ready Certificate, a webhook intercepting writes to ``groups``, its Service with
    ``ready`` endpoint addresses and a Deployment whose pod is Pending, unschedulable."""
    labels = {"app": "policy-webhook"}
    addresses = [{"ip": f"10.0.0.{i}"} for i in range(ready)]
    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": _meta(_STUCK.name, _STUCK.namespace),
            "spec": {"secretName": "api-tls"},
            "status": {
                "conditions": [{"type": "Ready", "status": "False", "reason": "DoesNotExist"}]
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": _meta("policy"),
            "webhooks": [
                {
                    "name": "validate.policy.example.io",
                    "failurePolicy": policy,
                    "clientConfig": {"service": {"name": SERVICE.name, "namespace": "policy"}},
                    "rules": [
                        {"apiGroups": list(groups), "operations": ["CREATE", "UPDATE"]},
                    ],
                }
            ],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(SERVICE.name, "policy"),
            "spec": {"selector": labels, "ports": [{"port": 443}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": _meta(SERVICE.name, "policy"),
            **({"subsets": [{"addresses": addresses}]} if addresses else {}),
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(BACKEND.name, "policy"),
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}},
            "status": {"replicas": 1},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta(
                "policy-webhook-1",
                "policy",
                labels=labels,
                ownerReferences=[{"kind": "Deployment", "name": BACKEND.name, "controller": True}],
            ),
            "spec": {"containers": [{"name": "webhook"}]},
            "status": {"phase": "Pending"},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": _meta("policy-webhook-1.1", "policy"),
            "type": "Warning",
            "reason": "FailedScheduling",
            "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node selector.",
            "involvedObject": {"kind": "Pod", "namespace": "policy", "name": "policy-webhook-1"},
        },
    ]


def test_a_webhook_with_no_endpoint_admitting_a_stuck_custom_resource_is_a_suspect() -> None:
    (hook,) = built(_stuck_objects(), _STUCK).webhooks
    assert (hook.name, hook.failure, hook.observed, hook.service) == (
        "validate.policy.example.io",
        "no-endpoints",
        False,
        SERVICE,
    )
    assert [(r.kind, r.namespace, r.name) for r in hook.blocked] == [
        ("Certificate", "shop", "api-tls")
    ]
    assert hook.backend is not None
    assert hook.backend.workload == BACKEND
    assert any("FailedScheduling" in w for w in hook.backend.warnings)


def test_a_suspect_webhooks_unschedulable_backend_outranks_the_stuck_certificate() -> None:
    assert_leads(
        analyze(built(_stuck_objects(), _STUCK)),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        BACKEND,
    )


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"ready": 1}, id="its Service has a ready endpoint"),
        pytest.param({"policy": "Ignore"}, id="it lets writes through when down"),
        pytest.param({"groups": ("policy.example.io",)}, id="it admits another API group"),
    ],
)
def test_no_suspect_webhook_when_it_cannot_be_what_blocks(fields: dict[str, Any]) -> None:
    assert built(_stuck_objects(**fields), _STUCK).webhooks == []


def test_a_not_ready_built_in_object_makes_no_webhook_a_suspect() -> None:
    objects = _stuck_objects(groups=("*",))
    objects[0] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta("api", "shop"),
        "status": {"conditions": [{"type": "Ready", "status": "False"}]},
    }
    target = ObjectRef(kind="Deployment", namespace="shop", name="api")
    assert built(objects, target).webhooks == []
