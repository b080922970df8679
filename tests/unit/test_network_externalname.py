"""Checks the routing rule for an ExternalName Service whose external host does not resolve:
the workload's lookups of the Service are answered "no such name" in the words the resolver
clients print (glibc, Go, .NET, Node.js), so the alias is the fault (fix-network at it), with
the look-alikes that must not fire: the resolver itself failing (a timeout or EAI_AGAIN is
cluster DNS's problem), and an ExternalName whose host answers with errors (a dependency).

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

POD = "claims-api-6f7d8c9b5-x2x9p"
DOCS = ObjectRef(kind="Service", namespace="claims", name="document-store")


def _claims(log_text: str) -> Evidence:
    app = make.container(
        "claims-api",
        "registry.example/claims-api:3.1",
        env={"DOCS_URL": "http://document-store:9000"},
    )
    return make.app_evidence(
        POD,
        app,
        namespace="claims",
        services=[make.external_service("document-store", "nas-docs01.dc2.example.net", "claims")],
        logs=log_text,
    )


@pytest.mark.parametrize(
    "line",
    [
        "System.Net.Http.HttpRequestException: Name or service not known (document-store:9000)",
        'upload failed: Get "http://document-store:9000/b/x": dial tcp: lookup '
        "document-store.claims.svc.cluster.local: no such host",
        "Error: getaddrinfo ENOTFOUND document-store.claims.svc.cluster.local",
    ],
)
def test_lookups_answered_no_such_name_blame_the_alias(line: str) -> None:
    finding = assert_leads(analyze(_claims(line)), Category.NETWORK, Action.FIX_NETWORK, DOCS)
    assert "nas-docs01.dc2.example.net" in finding.summary
    assert any(e.source == "service/claims/document-store" for e in finding.evidence)


def test_resolver_timeouts_are_not_the_alias() -> None:
    line = (
        "upload failed: dial tcp: lookup document-store.claims.svc.cluster.local on "
        "10.96.0.10:53: read udp 10.0.0.5:41234->10.96.0.10:53: i/o timeout"
    )
    result = analyze(_claims(line))
    assert not any(f.target == DOCS and f.action is Action.FIX_NETWORK for f in result.findings)


def test_an_alias_that_resolves_but_answers_errors_is_not_a_network_fault() -> None:
    line = 'level=error msg="upload failed" url=http://document-store:9000/b/x status=503'
    result = analyze(_claims(line))
    assert not any(f.target == DOCS and f.action is Action.FIX_NETWORK for f in result.findings)
