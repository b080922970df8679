"""Checks the node-clock rule: credentials refused as "not yet valid" or "too skewed in time"
(PyJWT, golang-jwt, jsonwebtoken, .NET, AWS SigV4, Kerberos, OpenSSL's not-yet-valid
certificates) only by the workload's pods on one node, while a replica on another node was read
and refuses nothing, blame that node's clock (node-failure, drain the Node). Refusals on two
nodes, no replica read elsewhere, a refusal in a followed dependency's log, or plain expiry
conclude nothing.

Real: the analyzer registry on Evidence models (tests/support/evidence.py factories).
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.clocks import CONFIDENCE, TIME_VALIDATION_LOG, check_node_clock
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, assert_leads, evidence, log, pod

BAD_NODE = "aks-apps-vmss000002"
PYJWT = (
    '[WARNING] app.auth: rejecting bearer token error="ImmatureSignatureError: The token is not '
    'yet valid (iat)" iat=1795168690 now=1795168503'
)
OK = '[INFO] "GET /v1/profile/me HTTP/1.1" 200'


def _evidence(
    bad_line: str,
    *,
    other_line: str = OK,
    other_node: str = "aks-apps-vmss000001",
    **fields: object,
) -> Evidence:
    return evidence(
        pods=[
            pod("profile-api-84d6-k7wfd", node=BAD_NODE, replica_set="profile-api-84d6"),
            pod("profile-api-84d6-b2q9m", node=other_node, replica_set="profile-api-84d6"),
        ],
        logs=[
            log("profile-api-84d6-k7wfd", "api", bad_line),
            log("profile-api-84d6-b2q9m", "api", other_line),
        ],
        **fields,
    )


@pytest.mark.parametrize(
    "line",
    [
        PYJWT,
        'level=warn msg="auth failed" err="token has invalid claims: token is not valid yet"',
        'level=warn msg="auth failed" err="Token used before issued"',
        "NotBeforeError: jwt not active",
        "IDX10222: Lifetime validation failed. The token is not yet valid. ValidFrom: '11/20/2026'",
        "botocore.exceptions.ClientError: An error occurred (RequestTimeTooSkewed) when calling "
        "the PutObject operation: The difference between the request time and the current time "
        "is too large.",
        "GSSException: No valid credentials provided (Mechanism level: Clock skew too great (37))",
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: certificate is not yet valid",
    ],
)
def test_refusals_only_on_one_node_blame_its_clock(line: str) -> None:
    result = analyze(_evidence(line))
    first = assert_leads(
        result, Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name=BAD_NODE)
    )
    assert first.confidence == CONFIDENCE.one_node_refuses
    assert "clock" in first.summary


def test_refusals_on_two_nodes_are_not_one_clock() -> None:
    assert check_node_clock(_evidence(PYJWT, other_line=PYJWT)) == []


def test_no_replica_read_elsewhere_concludes_nothing() -> None:
    assert check_node_clock(_evidence(PYJWT, other_node=BAD_NODE)) == []
    lonely = evidence(
        pods=[pod("profile-api-84d6-k7wfd", node=BAD_NODE, replica_set="profile-api-84d6")],
        logs=[log("profile-api-84d6-k7wfd", "api", PYJWT)],
    )
    assert check_node_clock(lonely) == []


def test_a_dependency_refusing_is_not_the_incident_pods_clock() -> None:
    ev = _evidence(OK)
    ev.logs.append(log("profile-api-84d6-k7wfd", "api", PYJWT, source="dependency"))
    assert check_node_clock(ev) == []


@pytest.mark.parametrize(
    "line",
    [
        "jwt.exceptions.ExpiredSignatureError: Signature has expired",
        'level=warn msg="auth failed" err="token has invalid claims: token is expired"',
        "allowed clock skew is 30s",
    ],
)
def test_plain_expiry_and_settings_are_not_clock_refusals(line: str) -> None:
    assert TIME_VALIDATION_LOG.search(line) is None
    assert check_node_clock(_evidence(line)) == []
