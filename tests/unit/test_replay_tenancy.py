"""A replayed case is one tenant (``replay.session.one_tenant``): unless the tenancy rule is
set explicitly, the case's Incident may read every namespace the case holds; an explicit
``cluster_scope_namespaces`` is kept as given. Real: the example case files, ``Settings``
and the tenancy rule (``tenancy.Tenancy``)."""

from __future__ import annotations

from kubetriage.replay.cases import load_case
from kubetriage.replay.session import one_tenant
from kubetriage.settings import Settings
from kubetriage.tenancy import Tenancy
from tests.support.cases import EXAMPLES


def test_every_namespace_of_the_case_is_one_tenant() -> None:
    case = load_case(EXAMPLES / "example-external-api-503")
    namespaces = {o["metadata"]["namespace"] for o in case.cluster if "namespace" in o["metadata"]}
    assert namespaces
    settings = one_tenant(case, Settings())
    tenancy = Tenancy.from_settings(settings)
    for namespace in namespaces:
        scope = tenancy.scope(namespace)
        assert scope.cluster_wide
        assert scope.may_read("some-other-namespace")


def test_an_explicit_rule_is_kept() -> None:
    case = load_case(EXAMPLES / "example-external-api-503")
    settings = one_tenant(case, Settings(cluster_scope_namespaces=["kubetriage"]))
    assert settings.cluster_scope_namespaces == ["kubetriage"]
    (namespace,) = {o["metadata"]["namespace"] for o in case.cluster if o["kind"] == "Pod"}
    assert not Tenancy.from_settings(settings).scope(namespace).may_read("elsewhere")
