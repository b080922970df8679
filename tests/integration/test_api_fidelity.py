"""The same API behaviour tests against the emulator and the real kube-apiserver: what the
operator and the replay rely on (CRUD and 404/409 bodies, label and field selectors,
optimistic concurrency, generation, strategic merge patch, server-side dry-run, events with
generateName, the Incident CRD's validation naming the field, the status subresource, pod
logs current and previous, cluster-scoped admission webhook configurations and APIServices
read and listed).
A behaviour the emulator gets wrong fails here on its backend;
the divergences that remain are listed in the emulator's module docstring.
Real: the emulator over HTTP, kube-apiserver + etcd + controllers + kwok (the local control
plane), the official ``kubernetes`` client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubetriage.crd import build_incident_crd
from kubetriage.replay.emulator import EmulatorThread
from tests.support.built import deployment_manifest
from tests.support.cluster import LocalCluster


@dataclass
class Backend:
    name: str
    api: client.ApiClient
    namespace: str
    set_logs: Callable[[str, str, str, bool], None]  # pod, container, text, previous
    wait_for: Callable[[Callable[[], bool], str], None]


def _poll(condition: Callable[[], bool], what: str) -> None:
    assert condition(), what  # the emulator is synchronous: true at once or never


@pytest.fixture(params=["emulator", "apiserver"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    namespace = f"fidelity-{uuid.uuid4().hex[:6]}"
    namespace_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    if request.param == "emulator":
        with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as emulated:
            emulated.emulator.load([build_incident_crd(), namespace_body])

            def emulator_logs(pod: str, container: str, text: str, previous: bool) -> None:
                emulated.emulator.set_logs(namespace, pod, container, text, previous=previous)

            api = config.new_client_from_config(config_file=str(emulated.kubeconfig_path))
            with api:
                yield Backend("emulator", api, namespace, emulator_logs, _poll)
        return
    cluster: LocalCluster = request.getfixturevalue("local_cluster")
    crd = client.ApiextensionsV1Api(
        config.new_client_from_config(config_file=str(cluster.kubeconfig))
    )
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(build_incident_crd()))
    cluster.kubectl("wait", "--for=condition=Established", "crd/incidents.kubetriage.io")
    cluster.kubectl("create", "namespace", namespace)
    crd.api_client.close()

    def cluster_logs(pod: str, container: str, text: str, previous: bool) -> None:
        cluster.set_logs(namespace, pod, container, text, previous=previous)

    def wait(condition: Callable[[], bool], what: str) -> None:
        cluster.wait_for(condition, what, timeout=60)

    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    with api:
        yield Backend("apiserver", api, namespace, cluster_logs, wait)


def _pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }


def _deployment(name: str) -> dict[str, Any]:
    return deployment_manifest(
        name,
        None,
        ("app", "nginx:1"),
        ("sidecar", "envoy:1"),
        metadata={"labels": {"app": name}},
        replicas=1,
    )


def _status(err: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    return dict(json.loads(err.value.body))


def test_crud_selectors_and_error_bodies(backend: Backend) -> None:
    core, ns = client.CoreV1Api(backend.api), backend.namespace
    created = core.create_namespaced_pod(ns, _pod("web-1", {"app": "web", "tier": "front"}))
    assert created.metadata.uid
    assert created.metadata.resource_version
    core.create_namespaced_pod(ns, _pod("db-1", {"app": "db"}))
    names = lambda **kw: sorted(p.metadata.name for p in core.list_namespaced_pod(ns, **kw).items)  # noqa: E731
    assert names() == ["db-1", "web-1"]
    assert names(label_selector="app in (web, x)") == ["web-1"]
    assert names(label_selector="app!=web") == ["db-1"]
    assert names(label_selector="tier") == ["web-1"]
    assert names(field_selector="metadata.name=db-1") == ["db-1"]

    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("missing", ns)
    assert err.value.status == 404
    body = _status(err)
    assert (body["kind"], body["reason"]) == ("Status", "NotFound")
    assert body["details"]["name"] == "missing"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(ns, _pod("web-1"))
    assert (err.value.status, _status(err)["reason"]) == (409, "AlreadyExists")
    missing_ns = f"{ns}-missing"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(missing_ns, _pod("x"))
    assert err.value.status == 404
    assert f'namespaces "{missing_ns}" not found' in _status(err)["message"]


def test_conflicts_generation_patches_and_dry_run(backend: Backend) -> None:
    apps, ns = client.AppsV1Api(backend.api), backend.namespace
    created = apps.create_namespaced_deployment(ns, _deployment("web"))
    assert created.metadata.generation == 1
    stale = created.metadata.resource_version
    # Read-modify-write, retried on 409 as every client must: on the real server the
    # Deployment controller writes the status concurrently.
    for _ in range(10):
        current = apps.read_namespaced_deployment("web", ns)
        current.spec.replicas = 2
        try:
            replaced = apps.replace_namespaced_deployment("web", ns, current)
            break
        except ApiException as error:
            if error.status != 409:
                raise
    assert replaced.metadata.generation == 2
    body = _deployment("web")
    body["metadata"]["resourceVersion"] = stale
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("web", ns, body)
    assert err.value.status == 409
    assert "the object has been modified" in _status(err)["message"]
    labelled = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.generation == 2

    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}
    dry = apps.patch_namespaced_deployment("web", ns, patch, dry_run="All")
    assert {c.name: c.image for c in dry.spec.template.spec.containers} == {
        "app": "nginx:2",
        "sidecar": "envoy:1",
    }
    stored = apps.read_namespaced_deployment("web", ns)
    assert stored.spec.template.spec.containers[0].image == "nginx:1"
    assert stored.metadata.generation == 2
    patched = apps.patch_namespaced_deployment("web", ns, patch)
    assert {c.name: c.image for c in patched.spec.template.spec.containers} == {
        "app": "nginx:2",
        "sidecar": "envoy:1",
    }
    assert patched.metadata.generation == 3


def test_events_generate_name_and_involved_object_selector(backend: Backend) -> None:
    core, ns = client.CoreV1Api(backend.api), backend.namespace
    for involved in ("a", "b"):
        core.create_namespaced_event(
            ns,
            {
                "metadata": {"generateName": "kopf-event-"},
                "involvedObject": {"kind": "Pod", "name": involved, "namespace": ns},
                "reason": "Tested",
                "message": f"about {involved}",
                "type": "Normal",
            },
        )
    events = core.list_namespaced_event(ns, field_selector="involvedObject.name=a").items
    assert [e.message for e in events] == ["about a"]
    assert events[0].metadata.name.startswith("kopf-event-")
    assert len(events[0].metadata.name) == len("kopf-event-") + 5


def test_incident_validation_names_the_field_and_status_is_a_subresource(
    backend: Backend,
) -> None:
    custom, ns = client.CustomObjectsApi(backend.api), backend.namespace
    args = ("kubetriage.io", "v1alpha1", ns, "incidents")
    bad = {
        "apiVersion": "kubetriage.io/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": "bad"},
        "spec": {"title": "x", "severity": "catastrophic"},
    }
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(*args, bad)
    assert err.value.status == 422
    assert "spec.severity" in _status(err)["message"]

    good = {**bad, "metadata": {"name": "good"}, "spec": {"title": "x", "severity": "warning"}}
    created = custom.create_namespaced_custom_object(*args, good)
    assert created["metadata"]["generation"] == 1
    # The main resource ignores status; the status subresource ignores spec.
    ignored = custom.patch_namespaced_custom_object(
        *args, "good", {"status": {"phase": "Diagnosed"}}
    )
    assert "status" not in ignored or ignored["status"].get("phase") != "Diagnosed"
    written = custom.patch_namespaced_custom_object_status(
        *args, "good", {"status": {"phase": "Diagnosed"}, "spec": {"title": "changed"}}
    )
    assert written["status"]["phase"] == "Diagnosed"
    assert written["spec"]["title"] == "x"
    assert written["metadata"]["generation"] == 1


def test_pod_logs_current_and_previous(backend: Backend) -> None:
    core, ns = client.CoreV1Api(backend.api), backend.namespace
    core.create_namespaced_pod(ns, _pod("web-1"))
    backend.set_logs("web-1", "app", "one\ntwo\n", False)
    backend.set_logs("web-1", "app", "boom\n", True)

    def logs(previous: bool) -> str:
        try:
            return str(
                core.read_namespaced_pod_log("web-1", ns, container="app", previous=previous)
            )
        except ApiException:  # the pod is not bound to a node yet
            return ""

    backend.wait_for(lambda: logs(False) == "one\ntwo\n", "the current log")
    assert logs(True) == "boom\n"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("web-1", ns, container="nope")
    assert err.value.status == 400


def test_webhook_configurations_are_cluster_scoped_reads(backend: Backend) -> None:
    # Untyped on purpose: read raw (``_preload_content=False``), as the evidence reader does.
    admission: Any = client.AdmissionregistrationV1Api(backend.api)
    name = f"{backend.namespace}-policy"
    body = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "annotations": {"cert-manager.io/inject-ca-from": "a/b"}},
        "webhooks": [
            {
                "name": "validate.fidelity.example.io",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Ignore",
                "clientConfig": {
                    "service": {"name": "policy", "namespace": backend.namespace, "path": "/v"}
                },
                # Nothing is ever created in this group: the webhook is never called.
                "rules": [
                    {
                        "apiGroups": ["fidelity.example.invalid"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["widgets"],
                    }
                ],
            }
        ],
    }
    admission.create_validating_webhook_configuration(body)
    try:
        raw = admission.read_validating_webhook_configuration(name, _preload_content=False)
        read = json.loads(raw.data)
        assert "namespace" not in read["metadata"]
        assert read["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": "a/b"}
        [hook] = read["webhooks"]
        assert hook["clientConfig"]["service"]["name"] == "policy"
        assert hook["failurePolicy"] == "Ignore"
        raw = admission.list_validating_webhook_configuration(_preload_content=False)
        listed = json.loads(raw.data)
        assert name in [c["metadata"]["name"] for c in listed["items"]]
        with pytest.raises(ApiException) as err:
            admission.read_mutating_webhook_configuration(name)
        assert err.value.status == 404
    finally:
        admission.delete_validating_webhook_configuration(name)


def test_apiservices_are_cluster_scoped_reads(backend: Backend) -> None:
    # What the aggregated-API walk reads: an APIService by name and listed, cluster-scoped,
    # its spec.service naming the Service the API server proxies to.
    registration: Any = client.ApiregistrationV1Api(backend.api)
    group = f"{backend.namespace}.fidelity.example.invalid"
    name = f"v1.{group}"
    body = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "version": "v1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "insecureSkipTLSVerify": True,
            "service": {"name": "adapter", "namespace": backend.namespace, "port": 443},
        },
    }
    registration.create_api_service(body)
    try:
        raw = registration.read_api_service(name, _preload_content=False)
        read = json.loads(raw.data)
        assert read["kind"] == "APIService"
        assert "namespace" not in read["metadata"]
        assert read["spec"]["service"] == {
            "name": "adapter",
            "namespace": backend.namespace,
            "port": 443,
        }
        raw = registration.list_api_service(_preload_content=False)
        listed = json.loads(raw.data)
        assert name in [a["metadata"]["name"] for a in listed["items"]]
    finally:
        registration.delete_api_service(name)
