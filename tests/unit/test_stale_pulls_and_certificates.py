"""Checks two pieces of "it already changed" reasoning:

- a failed pull that a later attempt got past (the container now runs, started after the last
  failed-pull Event: a registry blip the kubelet's back-off rode out) is history, not an
  image to fix; a container still waiting, or one whose failures continue after it started,
  still is;
- a peer rejecting the certificate the workload presents as expired, while the cert-manager
  Certificate writing the Secret its pods mount is Ready, valid and reissued after every
  running container started, means the pods still hold the previous certificate: restart the
  workload (renewing again changes nothing). A Certificate reissued before the pods started,
  or a failure that is the peer's own certificate, does not earn it.

Real: the analyzer registry on Evidence models built by ``tests.support.evidence``; the
objects, Events and log lines are synthetic, worded as the kubelet, containerd, JSSE and
mongod word them.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ConfigReference,
    ContainerState,
    EventEvidence,
    GenericObjectEvidence,
    PodCondition,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    NOW,
    ago,
    analyze,
    app_pod,
    by_category,
    container,
    deployment,
    evidence,
    log,
    waiting,
)

IMAGE = "europe-docker.pkg.dev/acme/web/storefront:2026.11.12"
POD = "storefront-5c7f9b8d64-x6tpl"
_503 = (
    f'Failed to pull image "{IMAGE}": failed to resolve reference "{IMAGE}": unexpected status '
    "from HEAD request to https://europe-docker.pkg.dev/v2/acme/web/storefront/manifests/"
    "2026.11.12: 503 Service Unavailable"
)


def _pull_event(first: float, last: float) -> EventEvidence:
    return EventEvidence(
        type="Warning",
        reason="Failed",
        message=_503,
        involved=ObjectRef(kind="Pod", namespace="shop", name=POD),
        count=3,
        first_seen=ago(first),
        last_seen=ago(last),
    )


def _pulled(state: ContainerState, event: EventEvidence) -> list[Category]:
    app = container("web", IMAGE, ready=state.state == "running", state=state)
    ev = evidence(workload=deployment("storefront"), pods=[app_pod(POD, app)], events=[event])
    return [f.category for f in analyze(ev).findings]


def test_a_pull_that_failed_before_the_container_started_is_over() -> None:
    started = ContainerState(state="running", started_at=ago(38))
    assert Category.IMAGE_PULL not in _pulled(started, _pull_event(41, 40))


def test_a_pull_still_failing_or_failing_after_the_start_is_the_incident() -> None:
    still_waiting = waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"')
    assert Category.IMAGE_PULL in _pulled(still_waiting, _pull_event(41, 1))
    started = ContainerState(state="running", started_at=ago(38))
    assert Category.IMAGE_PULL in _pulled(started, _pull_event(41, 2))


CERT = ObjectRef(kind="Certificate", namespace="orders", name="orders-mongo-client")
SECRET = "orders-mongo-client"
REJECTED = (
    "Caused by: javax.net.ssl.SSLHandshakeException: Received fatal alert: certificate_expired"
)


def _certificate(issued_days_ago: float) -> GenericObjectEvidence:
    issued = NOW - timedelta(days=issued_days_ago)
    return GenericObjectEvidence(
        ref=CERT,
        conditions=[PodCondition(type="Ready", status="True", reason="Ready")],
        fields={
            "notBefore": issued.isoformat(),
            "notAfter": (issued + timedelta(days=30)).isoformat(),
            "secretName": SECRET,
        },
    )


def _orders(issued_days_ago: float, line: str = REJECTED, started_days_ago: float = 27) -> Evidence:
    started = ContainerState(state="running", started_at=NOW - timedelta(days=started_days_ago))
    pods = [
        app_pod(
            f"orders-6b9d7c5f48-{suffix}",
            container("orders", "ghcr.io/acme/orders:8.3.1", state=started),
            namespace="orders",
            config_refs=[ConfigReference(kind="Secret", name=SECRET, via="volume tls")],
        )
        for suffix in ("a1b2c", "d3e4f")
    ]
    return evidence(
        workload=deployment("orders", "orders"),
        pods=pods,
        other_objects=[_certificate(issued_days_ago)],
        logs=[log(pods[0].name, "orders", line, namespace="orders")],
    )


def test_a_certificate_reissued_after_the_pods_started_is_loaded_by_a_restart() -> None:
    result = analyze(_orders(issued_days_ago=10))
    first = result.findings[0]
    assert (first.category, first.action) == (Category.CERTIFICATE_EXPIRY, Action.RESTART)
    assert first.target == ObjectRef(kind="Deployment", namespace="orders", name="orders")


def test_a_certificate_the_pods_started_with_is_not_blamed_on_reloading() -> None:
    restarts = [
        f
        for f in by_category(analyze(_orders(issued_days_ago=30)), Category.CERTIFICATE_EXPIRY)
        if f.action is Action.RESTART
    ]
    assert not restarts


def test_a_peer_certificate_the_workload_rejected_is_not_its_own_to_reload() -> None:
    line = "x509: certificate has expired or is not yet valid: current time is after 2026-11-20"
    restarts = [
        f
        for f in analyze(_orders(issued_days_ago=10, line=line)).findings
        if f.action is Action.RESTART
    ]
    assert not restarts
