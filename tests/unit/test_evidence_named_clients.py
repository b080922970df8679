"""Checks the callers a shared server's own error lines name: an identity provider or gateway
records which client each failing call came from (Keycloak's ``clientId="web"``, OAuth's
``client_id=web``, JSON ``"client":"web"``); the Deployment of that name, in any namespace,
is a caller of the incident's Service with its rollouts, ahead of those found by env. Near
misses: a client named only on lines that report no failure, a name no Deployment carries, a
name two namespaces share, and the tails of pods outside the incident.

Real: ``build_evidence`` (via ``tests.support.built``) over raw objects and log tails.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.callers import clients_in_errors
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import LogTail
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import named

TARGET = ObjectRef(kind="Deployment", namespace="identity", name="idp")


def _server() -> list[dict[str, Any]]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "idp-abc", "namespace": "identity", "labels": {"app": "idp"}},
        "spec": {"containers": [{"name": "idp", "image": "idp:1"}]},
    }
    return [
        deployment_manifest("idp", "identity", ("idp", "idp:1")),
        pod,
        service_manifest("idp", "identity", {"app": "idp"}, port=8080),
    ]


def _tail(*lines: str, source: Any = "scope") -> LogTail:
    return make.log("idp-abc", "idp", "\n".join(lines), namespace="identity", source=source)


_ERROR = 'WARN type="LOGIN_ERROR", clientId="portal", error="invalid_redirect_uri"'


@pytest.mark.parametrize(
    "line",
    [
        _ERROR,
        'level=error msg="token request rejected" client_id=portal reason=invalid_client',
        '{"level":"warn","msg":"authorization failed","client":"portal"}',
    ],
)
def test_the_client_named_on_the_servers_error_lines_is_its_caller(line: str) -> None:
    objects = [*_server(), deployment_manifest("portal", "web", ("portal", "portal:2"))]
    evidence = built(objects, TARGET, logs=[_tail(line, line)])
    assert [c.ref for c in evidence.callers] == [
        ObjectRef(kind="Deployment", namespace="web", name="portal")
    ]
    found = evidence.callers[0]
    assert found.callee == ObjectRef(kind="Service", namespace="identity", name="idp")
    assert found.named_by == [named("log identity/idp-abc/idp")]
    assert found.naming_texts() == ["log identity/idp-abc/idp: 2 error lines name client portal"]


def test_a_client_named_only_on_successful_lines_is_no_suspect() -> None:
    objects = [*_server(), deployment_manifest("portal", "web", ("portal", "portal:2"))]
    line = 'INFO type="LOGIN", clientId="portal", userId="u1"'
    assert built(objects, TARGET, logs=[_tail(line)]).callers == []


def test_a_name_no_deployment_or_two_deployments_carry_is_no_caller() -> None:
    objects = [
        *_server(),
        deployment_manifest("portal", "web", ("portal", "portal:2")),
        deployment_manifest("portal", "staging", ("portal", "portal:2")),
    ]
    line = _ERROR.replace("portal", "mobile")
    assert built(objects, TARGET, logs=[_tail(_ERROR, line)]).callers == []


def test_only_the_incidents_own_tails_are_read() -> None:
    assert clients_in_errors([_tail(_ERROR, source="dependency")]) == []
    assert clients_in_errors([_tail(_ERROR)]) == [("portal", named("log identity/idp-abc/idp"), 1)]
