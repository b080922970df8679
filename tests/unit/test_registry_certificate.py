"""Checks the Ingress-served registry reasoning: a pod's pull that fails at a registry host
no Service answers to, but which an Ingress of the cluster serves, follows that Ingress's
backend for the registry API and names the TLS Secret the Ingress serves the host with; when
the runtime finds that certificate expired (judged by a right clock), the fix is renewing
the certificate in that Secret, not the workload's image. Near misses keep the old answers:
the same registry refusing the image (its certificate valid), a certificate signed by an
unknown authority, and a node whose clock is wrong.

Everything is real: raw objects as the API returns them for the host discovery
(``kubetriage.evidence.node_plugins``), Evidence models from ``tests.support.evidence`` and
``run_analyzers`` for the rule; the event texts follow containerd's wording.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.pull_registries import registry_hosts, registry_route
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import (
    CHECKOUT_POD,
    NOW,
    analyze,
    assert_leads,
    by_category,
    named,
)

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
TLS_SECRET = ObjectRef(kind="Secret", namespace="registry", name="registry-tls")
HOST = "registry.example.internal"
IMAGE = f"{HOST}/shop/checkout:2.0"
SOURCE = named(f"event Pod/{CHECKOUT_POD} Failed")
STAMP = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


def _failed(image: str, reason: str) -> str:
    url = f"https://{image.split('/')[0]}/v2/{image.split('/', 1)[1].replace(':', '/manifests/')}"
    return (
        f'Failed to pull image "{image}": failed to pull and unpack image "{image}": failed to '
        f'resolve reference "{image}": failed to do request: Head "{url}": {reason}'
    )


EXPIRED = _failed(
    IMAGE,
    "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "
    f"current time {STAMP} is after 2026-11-20T06:00:00Z",
)


def _ingress(tls_hosts: list[str] | None = None) -> dict[str, Any]:
    paths = [
        {
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": "portal", "port": {"number": 80}}},
        },
        {
            "path": "/v2/",
            "pathType": "Prefix",
            "backend": {"service": {"name": "core", "port": {"number": 8080}}},
        },
    ]
    return {
        "kind": "Ingress",
        "metadata": {"name": "registry", "namespace": "registry"},
        "spec": {
            "tls": [{"hosts": tls_hosts or [HOST], "secretName": "registry-tls"}],
            "rules": [{"host": HOST, "http": {"paths": paths}}],
        },
    }


def test_a_registry_host_an_ingress_serves_follows_its_registry_api_backend() -> None:
    [host] = registry_hosts([(SOURCE, EXPIRED)], [], [_ingress()])
    assert (host.namespace, host.name, host.port) == ("registry", "core", 8080)
    assert host.route is not None
    dependency = DependencyEvidence(
        named_by=[host.source] if host.source else [], routes=[host.route]
    )
    assert dependency.serves_pulls()
    assert dependency.registry_tls_secret() == TLS_SECRET


def test_an_ingress_without_tls_for_the_host_names_no_secret() -> None:
    route = registry_route(HOST, [_ingress(tls_hosts=["other.example.internal"])])
    assert route == ("registry", "registry", "core", 8080, None)
    [host] = registry_hosts([(SOURCE, EXPIRED)], [], [_ingress(["other.example.internal"])])
    assert host.route is not None
    assert host.route.tls_secret is None
    assert DependencyEvidence(routes=[host.route]).registry_tls_secret() is None


def test_a_host_no_ingress_serves_is_not_followed() -> None:
    elsewhere = EXPIRED.replace(HOST, "registry.vendor.example")
    assert not registry_hosts([(SOURCE, elsewhere)], [], [_ingress()])


def _pulling_through_ingress(message: str, *, followed: bool = True) -> Evidence:
    stuck = make.container(
        "app",
        IMAGE,
        ready=False,
        state=make.waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"'),
    )
    [host] = registry_hosts([(SOURCE, EXPIRED)], [], [_ingress()])
    registry = DependencyEvidence(
        service=make.service("core", "registry", ready=1, matching=1),
        named_by=[host.source] if host.source else [],
        routes=[host.route] if host.route else [],
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
    )
    return make.checkout_evidence(
        stuck,
        events=[make.event("Failed", message, name=CHECKOUT_POD, count=8)],
        dependencies=[registry] if followed else [],
    )


def test_an_expired_registry_certificate_is_renewed_in_the_ingress_secret() -> None:
    result = analyze(_pulling_through_ingress(EXPIRED))
    leader = assert_leads(result, Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, TLS_SECRET)
    pulls = by_category(result, Category.IMAGE_PULL)
    assert pulls
    assert all(p.confidence < leader.confidence for p in pulls)


def test_other_images_failing_on_the_certificate_raise_the_confidence() -> None:
    one = analyze(_pulling_through_ingress(EXPIRED)).findings[0]
    other = EXPIRED.replace("shop/checkout:2.0", "reports/export:1.9").replace(
        "shop/checkout/manifests/2.0", "reports/export/manifests/1.9"
    )
    ev = _pulling_through_ingress(EXPIRED)
    ev = ev.model_copy(
        update={"events": [*ev.events, make.event("Failed", other, name="export-29395770-x7p2q")]}
    )
    several = assert_leads(
        analyze(ev), Category.CERTIFICATE_EXPIRY, Action.RENEW_CERTIFICATE, TLS_SECRET
    )
    assert several.confidence > one.confidence


def test_a_valid_certificate_and_a_missing_tag_stay_an_image_problem() -> None:
    missing = _failed(IMAGE, "not found")
    result = analyze(_pulling_through_ingress(missing))
    assert_leads(result, Category.IMAGE_PULL, Action.FIX_IMAGE, CHECKOUT)
    assert not [f for f in result.findings if f.target == TLS_SECRET]


def test_an_unknown_authority_is_no_expiry_of_the_registry_certificate() -> None:
    unknown = _failed(
        IMAGE, "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    )
    result = analyze(_pulling_through_ingress(unknown))
    assert not [f for f in result.findings if f.target == TLS_SECRET]


def test_a_node_clock_far_behind_is_not_an_expired_certificate() -> None:
    # The node judged the certificate by a clock years ahead: it is valid for a year still.
    skewed = EXPIRED.replace(f"current time {STAMP}", "current time 2031-01-01T00:00:00Z")
    skewed = skewed.replace("2026-11-20T06:00:00Z", "2027-11-20T06:00:00Z")
    result = analyze(_pulling_through_ingress(skewed))
    assert not [f for f in result.findings if f.target == TLS_SECRET]


def test_without_the_followed_registry_the_pull_stays_an_image_problem() -> None:
    result = analyze(_pulling_through_ingress(EXPIRED, followed=False))
    assert not [f for f in result.findings if f.target == TLS_SECRET]
