"""The operator's Kopf diff-base (``handlers.LastHandledConfiguration``): the essence it builds
from an Incident (what Kopf diffs on every watch event and stores in the
last-handled-configuration annotation) is exactly Kopf's own, for new and diagnosed
Incidents, without labels or annotations and with extra fields, and the body is left as it
came; and it is built without copying the status, the part of a diagnosed Incident that is
large and never in the essence. Pure: Kopf's
storage classes on plain bodies, no API."""

from __future__ import annotations

import copy
from typing import Any, cast

import kopf
import pytest

from kubetriage.handlers import LastHandledConfiguration, configure
from kubetriage.settings import Settings

ANNOTATION = "kubetriage.io/last-handled-configuration"


def _incident(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubetriage.io/v1alpha1",
        "kind": "Incident",
        "metadata": {
            "name": "checkout-oom",
            "namespace": "shop",
            "uid": "0d6c",
            "resourceVersion": "812",
            "generation": 2,
            "labels": {"team": "payments"},
            "annotations": {
                ANNOTATION: '{"spec":{"title":"old"}}\n',
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "kubetriage.io/diagnose": '{"started":"2026-12-02T10:00:00"}',
                "owner": "alice",
            },
            "managedFields": [{"manager": "kubetriage", "fieldsV1": {"f:status": {}}}],
        },
        "spec": {"title": "checkout is OOMKilled", "target": {"kind": "Deployment"}},
        "status": status,
    }


DIAGNOSED: dict[str, Any] = {
    "phase": "Diagnosed",
    "diagnosis": {"category": "oom-killed", "evidence": [{"fact": f"f{i}"} for i in range(50)]},
}


def _kopf_own() -> kopf.AnnotationsDiffBaseStorage:
    return kopf.AnnotationsDiffBaseStorage(prefix="kubetriage.io", key="last-handled-configuration")


def _ours() -> LastHandledConfiguration:
    return LastHandledConfiguration(prefix="kubetriage.io", key="last-handled-configuration")


@pytest.mark.parametrize(
    "body",
    [
        _incident(),
        _incident(**DIAGNOSED),
        {**_incident(**DIAGNOSED), "metadata": {"name": "bare", "namespace": "shop"}},
    ],
    ids=["new", "diagnosed", "no-labels-or-annotations"],
)
def test_the_essence_is_kopfs_own(body: dict[str, Any]) -> None:
    raw = cast("kopf.RawBody", body)
    before = copy.deepcopy(body)
    expected = _kopf_own().build(body=kopf.Body(copy.deepcopy(raw)))
    assert _ours().build(body=kopf.Body(raw)) == expected
    assert "status" not in expected  # the comparison is about the essence Kopf keeps
    assert body == before  # the watched body is left as it came


def test_extra_fields_get_kopfs_own_build() -> None:
    raw = cast("kopf.RawBody", _incident(**DIAGNOSED))
    fields = ["status.phase"]
    expected = _kopf_own().build(body=kopf.Body(raw), extra_fields=fields)
    assert _ours().build(body=kopf.Body(raw), extra_fields=fields) == expected
    assert expected["status"] == {"phase": "Diagnosed"}


class Uncopyable(dict[str, Any]):
    """Status content that fails the test if anything deep-copies it."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        raise AssertionError("the status was deep-copied")


def test_the_status_is_not_copied() -> None:
    body = cast("kopf.RawBody", _incident(diagnosis=Uncopyable(DIAGNOSED["diagnosis"])))
    essence = _ours().build(body=kopf.Body(body))
    assert essence["spec"] == {"title": "checkout is OOMKilled", "target": {"kind": "Deployment"}}
    with pytest.raises(AssertionError, match="deep-copied"):
        _kopf_own().build(body=kopf.Body(body))


def test_the_operator_uses_it() -> None:
    settings = kopf.OperatorSettings()
    configure(settings, Settings(memory_enabled=False))
    assert isinstance(settings.persistence.diffbase_storage, LastHandledConfiguration)
