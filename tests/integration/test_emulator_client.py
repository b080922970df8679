"""Kubernetes API emulator vs. the official ``kubernetes`` client: CRUD, selectors,
conflicts, patches, status subresource, generation, finalizers, logs, dry-run and watch.

Real: HTTP server on 127.0.0.1, the real ``kubernetes`` Python client via a kubeconfig.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from kubetriage.replay.emulator import EmulatorThread
from tests.integration.emulator_fixtures import GROUP, PLURAL, VERSION, pod, widget, widget_crd
from tests.support.built import deployment_manifest


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(emulator.kubeconfig_path))
    with api_client:
        yield api_client


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient, emulator: EmulatorThread) -> client.CustomObjectsApi:
    client.ApiextensionsV1Api(api).create_custom_resource_definition(widget_crd())
    return client.CustomObjectsApi(api)


def _message(err: pytest.ExceptionInfo[ApiException]) -> str:
    return str(json.loads(err.value.body)["message"])


def _deployment(name: str, image: str = "nginx:1") -> dict[str, Any]:
    return deployment_manifest(
        name,
        None,
        ("app", image),
        ("sidecar", "envoy:1"),
        metadata={"labels": {"app": name, "tier": "web"}},
        replicas=2,
    )


def test_pod_crud_and_selectors(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_pod("default", pod("web-1"))
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.generation == 1
    assert created.status.phase == "Pending"
    core.create_namespaced_pod("default", pod("db-1"))
    fetched = core.read_namespaced_pod("web-1", "default")
    assert fetched.metadata.uid == created.metadata.uid

    listed = core.list_namespaced_pod("default")
    assert [p.metadata.name for p in listed.items] == ["db-1", "web-1"]
    assert int(listed.metadata.resource_version) >= int(fetched.metadata.resource_version)
    by_label = core.list_namespaced_pod("default", label_selector="app in (web-1, x)")
    assert [p.metadata.name for p in by_label.items] == ["web-1"]
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod("default", label_selector="app!=web-1").items
    ] == ["db-1"]
    assert len(core.list_namespaced_pod("default", label_selector="!app").items) == 0
    by_field = core.list_pod_for_all_namespaces(field_selector="metadata.name=db-1")
    assert [p.metadata.name for p in by_field.items] == ["db-1"]
    phase = core.list_namespaced_pod("default", field_selector="status.phase=Pending")
    assert len(phase.items) == 2

    first = core.list_pod_for_all_namespaces(limit=1)
    assert [p.metadata.name for p in first.items] == ["db-1"]
    assert first.metadata.remaining_item_count == 1
    rest = core.list_pod_for_all_namespaces(limit=1, _continue=first.metadata._continue)
    assert [p.metadata.name for p in rest.items] == ["web-1"]
    assert rest.metadata._continue is None

    core.delete_namespaced_pod("web-1", "default")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("web-1", "default")
    assert err.value.status == 404


def test_missing_namespace_and_already_exists(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("nope", pod("web-1", namespace="nope"))
    assert err.value.status == 404
    assert 'namespaces "nope" not found' in _message(err)
    core.create_namespaced_pod("default", pod("web-1"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", pod("web-1"))
    assert err.value.status == 409
    assert json.loads(err.value.body)["reason"] == "AlreadyExists"


def test_generate_name(core: client.CoreV1Api) -> None:
    body = {"metadata": {"generateName": "kopf-event-"}, "involvedObject": {"name": "x"}}
    event = core.create_namespaced_event("default", body)
    assert event.metadata.name.startswith("kopf-event-")
    assert len(event.metadata.name) == len("kopf-event-") + 5


def test_deployment_update_conflict_and_generation(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment("default", _deployment("web"))
    stale_rv = created.metadata.resource_version

    current = apps.read_namespaced_deployment("web", "default")
    current.spec.replicas = 3
    updated = apps.replace_namespaced_deployment("web", "default", current)
    assert updated.metadata.generation == 2
    assert updated.metadata.resource_version != stale_rv

    stale = _deployment("web")
    stale["metadata"]["resourceVersion"] = stale_rv
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("web", "default", stale)
    assert err.value.status == 409
    assert "the object has been modified" in _message(err)

    # Label (metadata) changes do not bump the generation; status writes do not either.
    labelled = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled.metadata.generation == 2
    status = apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"readyReplicas": 3, "replicas": 3}}
    )
    assert status.metadata.generation == 2
    assert status.status.ready_replicas == 3

    # A patch carrying a stale resourceVersion conflicts.
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment(
            "web", "default", {"metadata": {"resourceVersion": stale_rv}, "spec": {"replicas": 1}}
        )
    assert err.value.status == 409


def test_strategic_merge_patch_merges_containers_by_name(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", _deployment("web"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}
    patched = apps.patch_namespaced_deployment("web", "default", patch)
    images = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert images == {"app": "nginx:2", "sidecar": "envoy:1"}
    assert patched.metadata.generation == 2

    scaled = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 7}})
    assert scaled.spec.replicas == 7
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 7


def test_merge_and_json_patch_on_custom_resource(custom: client.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w1"))
    merged = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"target": {"name": "web"}}}
    )
    assert merged["spec"] == {"severity": "warning", "replicas": 1, "target": {"name": "web"}}
    rv = merged["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/spec/severity", "value": "critical"},
        {"op": "add", "path": "/spec/tags", "value": ["a"]},
        {"op": "add", "path": "/spec/tags/-", "value": "b"},
    ]
    # kubernetes>=35 picks the content type from a fixed list, not from the body's shape.
    json_patch = "application/json-patch+json"
    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w1", ops, _content_type=json_patch
    )
    assert patched["spec"]["severity"] == "critical"
    assert patched["spec"]["tags"] == ["a", "b"]
    # A failing ``test`` is 422 (Kopf relies on this for its optimistic JSON patches).
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "w1", ops[:2], _content_type=json_patch
        )
    assert err.value.status == 422


def test_status_subresource_semantics(custom: client.CustomObjectsApi) -> None:
    body = widget("w1")
    body["status"] = {"phase": "Ignored"}
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    assert "status" not in created  # create cannot set status

    main = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w1", {"status": {"phase": "Nope"}}
    )
    assert "status" not in main
    assert main["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    status = custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w1",
        {"spec": {"severity": "info"}, "status": {"phase": "Ready"}},
    )
    assert status["status"] == {"phase": "Ready"}
    assert status["spec"]["severity"] == "warning"
    assert status["metadata"]["generation"] == 1

    spec = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"severity": "info"}}
    )
    assert spec["metadata"]["generation"] == 2
    assert spec["status"] == {"phase": "Ready"}


def test_schema_validation_and_pruning(custom: client.CustomObjectsApi) -> None:
    bad = widget("w1", severity="bogus", replicas=0, tags=["a", "B", "c", "d"], port=True)
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
    assert err.value.status == 422
    status = json.loads(err.value.body)
    assert status["reason"] == "Invalid"
    fields = {c["field"]: c for c in status["details"]["causes"]}
    assert set(fields) == {
        "spec.severity",
        "spec.replicas",
        "spec.tags",
        "spec.tags[1]",
        "spec.port",
    }
    assert fields["spec.severity"]["message"] == (
        'Unsupported value: "bogus": supported values: "critical", "warning", "info"'
    )
    assert fields["spec.severity"]["reason"] == "FieldValueNotSupported"
    assert 'Widget.tests.example.com "w1" is invalid: [' in status["message"]

    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, {**widget("w2"), "spec": {}}
        )
    assert "spec.severity: Required value" in _message(err)

    ok = widget("w3", port="http", note=None, extra={"anything": {"goes": 1}}, unknown=1)
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, ok)
    assert created["spec"] == {
        "severity": "warning",
        "replicas": 1,
        "port": "http",
        "note": None,
        "extra": {"anything": {"goes": 1}},
    }


def test_finalizers_delay_deletion(custom: client.CustomObjectsApi) -> None:
    body = widget("w1")
    body["metadata"]["finalizers"] = ["tests.example.com/cleanup"]
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    deleting = custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    assert deleting["metadata"]["deletionTimestamp"]
    still = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    assert still["metadata"]["deletionTimestamp"]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w1", {"metadata": {"finalizers": None}}
    )
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    assert err.value.status == 404


def test_dry_run_stores_nothing(core: client.CoreV1Api, emulator: EmulatorThread) -> None:
    rv_before = emulator.emulator.resource_version
    result = core.create_namespaced_pod("default", pod("web-1"), dry_run="All")
    assert result.metadata.name == "web-1"
    assert emulator.emulator.objects("pods", "default") == []
    core.create_namespaced_pod("default", pod("web-1"))
    core.patch_namespaced_pod(
        "web-1", "default", {"metadata": {"labels": {"x": "1"}}}, dry_run="All"
    )
    core.delete_namespaced_pod("web-1", "default", dry_run="All")
    stored = emulator.emulator.objects("pods", "default")
    assert len(stored) == 1
    assert "x" not in stored[0]["metadata"]["labels"]
    assert emulator.emulator.resource_version == rv_before + 1


def test_pod_logs(core: client.CoreV1Api, emulator: EmulatorThread) -> None:
    emulator.emulator.load([pod("web-1"), pod("multi", containers=("app", "sidecar"))])
    emulator.emulator.set_logs("default", "web-1", "app", "one\ntwo\nthree\n")
    emulator.emulator.set_logs("default", "web-1", "app", "boom\n", previous=True)
    assert core.read_namespaced_pod_log("web-1", "default") == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("web-1", "default", tail_lines=1) == "three\n"
    assert core.read_namespaced_pod_log("web-1", "default", previous=True) == "boom\n"

    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("multi", "default", previous=True, container="app")
    assert err.value.status == 400
    assert 'previous terminated container "app" in pod "multi" not found' in _message(err)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("multi", "default")
    assert "a container name must be specified for pod multi" in _message(err)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("web-1", "default", container="nope")
    assert "container nope is not valid for pod web-1" in _message(err)


def test_events_filtered_by_involved_object(core: client.CoreV1Api) -> None:
    for name, uid in (("a", "uid-a"), ("b", "uid-b")):
        core.create_namespaced_event(
            "default",
            {
                "metadata": {"generateName": "kopf-event-"},
                "involvedObject": {"kind": "Pod", "name": name, "uid": uid, "namespace": "default"},
                "reason": "Test",
                "message": f"about {name}",
            },
        )
    events = core.list_namespaced_event(
        "default", field_selector="involvedObject.name=a,involvedObject.kind=Pod"
    )
    assert [e.message for e in events.items] == ["about a"]
    assert (
        len(core.list_event_for_all_namespaces(field_selector="involvedObject.uid=uid-b").items)
        == 1
    )


def test_watch_after_resource_version(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("before"))
    since = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("web-1"))
    core.patch_namespaced_pod("web-1", "default", {"metadata": {"labels": {"x": "1"}}})
    core.delete_namespaced_pod("web-1", "default")

    seen: list[tuple[str, str]] = []
    stream = watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=since, timeout_seconds=1
    )
    for event in stream:
        seen.append((event["type"], event["object"].metadata.name))
    assert seen == [("ADDED", "web-1"), ("MODIFIED", "web-1"), ("DELETED", "web-1")]


def test_watch_live_events_and_selectors(core: client.CoreV1Api, emulator: EmulatorThread) -> None:
    since = core.list_namespaced_pod("default").metadata.resource_version
    seen: list[tuple[str, str]] = []
    ready = threading.Event()

    def consume() -> None:
        w = watch.Watch()
        ready.set()
        for event in w.stream(
            core.list_namespaced_pod,
            "default",
            resource_version=since,
            label_selector="app=web-1",
            timeout_seconds=3,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    ready.wait()
    emulator.emulator.load([pod("other"), pod("web-1")])  # from the test thread, via the loop
    core.patch_namespaced_pod("web-1", "default", {"metadata": {"annotations": {"a": "b"}}})
    core.delete_namespaced_pod("web-1", "default")
    thread.join(timeout=10)
    assert seen == [("ADDED", "web-1"), ("MODIFIED", "web-1"), ("DELETED", "web-1")]


def test_watch_expired_resource_version_is_410(
    core: client.CoreV1Api, emulator: EmulatorThread
) -> None:
    old = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("web-1"))
    emulator.emulator.compact()
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(
            core.list_namespaced_pod, "default", resource_version=old, timeout_seconds=1
        ):
            pass
    assert err.value.status == 410

    emulator.emulator.expire_watches(1)
    current = core.list_namespaced_pod("default").metadata.resource_version
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(
            core.list_namespaced_pod, "default", resource_version=current, timeout_seconds=1
        ):
            pass
    assert err.value.status == 410
