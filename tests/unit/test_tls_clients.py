"""Checks what TLS clients' certificate errors say beyond "expired". x509 validity errors judged
by a wrong clock: Go's "certificate has expired or is not
yet valid: current time T is before/after N" carries the verifier's clock T; when T is far from
the collection time and the real time would reverse the verdict, the certificate is fine and
the node the failing pod runs on keeps the wrong time (node-failure, drain that Node, with a
time-sync node condition as corroboration), and the line is no evidence of an expired
certificate. A certificate that is expired (or not yet valid) by the real time too, or a clock
close to the real time, stays certificate-expiry. A client refusing a certificate that does not
name the host it called (Node.js, Go, Java wording, as ``kubetriage.tls_errors`` reads them),
right after a ConfigMap the pods read was edited, is that ConfigMap's wrong host
(config-missing, fix-config), not a certificate to renew; without such an edit nothing is
concluded from the mismatch alone.

Real: the ``clock_skew`` helper and the analyzer registry on Evidence models
(tests/support/evidence.py factories).
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.tls_clients import CLOCK_SKEW_SECONDS, clock_skew
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ConfigReference,
    NodeEvidence,
    PodCondition,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    NOW,
    analyze,
    assert_leads,
    by_category,
    evidence,
    log,
    pod,
)

POD = "sync-5c8f7d9b4-xg6pl"
NODE = ObjectRef(kind="Node", name="worker-2")


def _at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _x509(seen_hours: float, side: str, bound_hours: float) -> str:
    return (
        'level=error msg="sync failed" err="Get \\"https://api.example.net/v3\\": tls: failed to '
        "verify certificate: x509: certificate has expired or is not yet valid: current time "
        f'{_at(seen_hours)} is {side} {_at(bound_hours)}"'
    )


def _evidence(line: str, *nodes: NodeEvidence) -> Evidence:
    return evidence(
        pods=[pod(POD, node=NODE.name, labels={"app": "sync"})],
        logs=[log(POD, "sync", line)],
        nodes=list(nodes),
    )


def test_a_clock_days_behind_makes_a_valid_certificate_look_not_yet_valid() -> None:
    line = _x509(-72, "before", -52)
    assert clock_skew(line, NOW.timestamp()) == -72 * 3600
    ntp = PodCondition(type="NTPProblem", status="True", reason="NTPIsDown", message="down")
    result = analyze(_evidence(line, NodeEvidence(name=NODE.name, ready="True", conditions=[ntp])))
    finding = assert_leads(result, Category.NODE_FAILURE, Action.DRAIN_NODE, NODE)
    assert any("NTPProblem=True" in e.fact for e in finding.evidence)
    assert not by_category(result, Category.CERTIFICATE_EXPIRY)


def test_a_clock_ahead_makes_a_valid_certificate_look_expired() -> None:
    line = _x509(48, "after", 24)
    assert clock_skew(line, NOW.timestamp()) == 48 * 3600
    assert_leads(analyze(_evidence(line)), Category.NODE_FAILURE, Action.DRAIN_NODE, NODE)


def test_a_certificate_expired_by_the_real_time_too_is_the_certificate() -> None:
    # The clock is a day ahead, but the certificate expired two days ago anyway.
    line = _x509(24, "after", -48)
    assert clock_skew(line, NOW.timestamp()) is None
    result = analyze(_evidence(line))
    assert not by_category(result, Category.NODE_FAILURE)
    assert by_category(result, Category.CERTIFICATE_EXPIRY)


def test_a_right_clock_leaves_an_expired_certificate_expired() -> None:
    seconds = CLOCK_SKEW_SECONDS / 3600 / 2
    line = _x509(-seconds, "after", -5)
    assert clock_skew(line, NOW.timestamp()) is None
    result = analyze(_evidence(line))
    assert not by_category(result, Category.NODE_FAILURE)
    assert by_category(result, Category.CERTIFICATE_EXPIRY)


CONFIG = ObjectRef(kind="ConfigMap", namespace="shop", name="web-config")
NODE_MISMATCH = (
    "[ioredis] Unhandled error event: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does "
    "not match certificate's altnames: Host: redis.cache.svc. is not in the cert's altnames: "
    "DNS:redis-master.cache.svc.cluster.local"
)
GO_MISMATCH = (
    "dial redis: tls: failed to verify certificate: x509: certificate is valid for "
    "redis-master.cache.svc, not redis.cache.svc"
)

JAVA_MISMATCH = (
    "javax.net.ssl.SSLPeerUnverifiedException: Certificate for <redis.cache.svc> doesn't match "
    "any of the subject alternative names: [redis-master.cache.svc.cluster.local]"
)


def _configured(line: str, *changes: ChangeEvidence) -> Evidence:
    uses = ConfigReference(kind="ConfigMap", name=CONFIG.name, via="envFrom", exists=True)
    the_pod = pod(POD, labels={"app": "web"}, config_refs=[uses])
    return evidence(pods=[the_pod], logs=[log(POD, "web", line)], changes=list(changes))


def _edit(minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=NOW - timedelta(minutes=minutes_ago), kind="config", object=CONFIG, aspects=["data"]
    )


def test_a_host_the_certificate_does_not_name_after_a_config_edit_is_the_config() -> None:
    for line in (NODE_MISMATCH, GO_MISMATCH, JAVA_MISMATCH):
        result = analyze(_configured(line, _edit(25)))
        finding = assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, CONFIG)
        assert finding.analyzer == "certificate-hostname"


def test_a_hostname_mismatch_without_a_recent_edit_concludes_nothing_about_config() -> None:
    for changes in ((), (_edit(60 * 24),)):
        result = analyze(_configured(NODE_MISMATCH, *changes))
        assert not [f for f in result.findings if f.analyzer == "certificate-hostname"]
