"""Kubernetes API emulator at the HTTP level, through its async Python API: discovery,
OpenAPI v3, Tables, Status bodies, watch streaming details, CRD lifecycle, the audit log,
fault injection and the bearer-token check.

Real: the aiohttp server on 127.0.0.1 and an aiohttp client speaking raw HTTP to it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kubetriage.replay.emulator import KubeEmulator
from tests.integration.emulator_fixtures import GROUP, PLURAL, VERSION, pod, widget, widget_crd

WIDGETS = f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}"


@pytest.fixture
async def emu() -> AsyncIterator[KubeEmulator]:
    emulator = KubeEmulator(bookmark_interval=0.2)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def http(emu: KubeEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=emu.url) as session:
        yield session


async def _json(resp: aiohttp.ClientResponse) -> Any:
    return json.loads(await resp.read())


async def test_discovery_documents(emu: KubeEmulator, http: aiohttp.ClientSession) -> None:
    async with http.get("/version") as resp:
        assert (await _json(resp))["minor"] == "32"
    async with http.get("/readyz") as resp:
        assert await resp.text() == "ok"
    async with http.get("/api") as resp:
        assert (await _json(resp))["versions"] == ["v1"]
    async with http.get("/apis") as resp:
        groups = {g["name"]: g for g in (await _json(resp))["groups"]}
    assert groups["apps"]["preferredVersion"]["version"] == "v1"
    assert GROUP not in groups

    emu.load([widget_crd()])
    async with http.get("/apis") as resp:
        assert GROUP in {g["name"] for g in (await _json(resp))["groups"]}
    async with http.get(f"/apis/{GROUP}/{VERSION}") as resp:
        names = {r["name"]: r for r in (await _json(resp))["resources"]}
    assert names[PLURAL]["shortNames"] == ["wdg"]
    assert names[PLURAL]["categories"] == ["all"]
    assert f"{PLURAL}/status" in names
    async with http.get("/api/v1") as resp:
        core = {r["name"] for r in (await _json(resp))["resources"]}
    assert {"pods", "pods/log", "pods/status", "events", "namespaces"} <= core
    async with http.get("/apis/apps/v1") as resp:
        assert "deployments/scale" in {r["name"] for r in (await _json(resp))["resources"]}

    async with http.get("/openapi/v3") as resp:
        paths = (await _json(resp))["paths"]
    async with http.get(paths[f"apis/{GROUP}/{VERSION}"]["serverRelativeURL"]) as resp:
        doc = await _json(resp)
    patch_op = doc["paths"][f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{PLURAL}/{{name}}"]
    params = {p["name"] for p in patch_op["patch"]["parameters"]}
    assert "fieldValidation" in params


async def test_crd_deletion_removes_resource(
    emu: KubeEmulator, http: aiohttp.ClientSession
) -> None:
    emu.load([widget_crd(), widget("w1")])
    async with http.delete(
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{PLURAL}.{GROUP}"
    ) as resp:
        assert resp.status == 200
    async with http.get(WIDGETS) as resp:
        assert resp.status == 404
        assert (await _json(resp))["kind"] == "Status"
    async with http.get(f"/apis/{GROUP}/{VERSION}") as resp:
        assert resp.status == 404


async def test_tables_status_bodies_and_media_types(
    emu: KubeEmulator, http: aiohttp.ClientSession
) -> None:
    emu.load([pod("web-1")])
    table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    async with http.get(
        "/api/v1/namespaces/default/pods", headers={"Accept": table_accept}
    ) as resp:
        table = await _json(resp)
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert table["rows"][0]["object"]["metadata"]["namespace"] == "default"

    async with http.get("/api/v1/namespaces/default/pods/nope") as resp:
        body = await _json(resp)
    assert resp.status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nope", "group": "", "kind": "pods"},
    }
    async with http.patch(
        "/api/v1/namespaces/default/pods/web-1",
        data="{}",
        headers={"Content-Type": "text/plain"},
    ) as resp:
        assert resp.status == 415
    async with http.get("/api/v1/namespaces/default/widgets") as resp:
        assert resp.status == 404
    async with http.post("/api/v1/namespaces/default/pods/web-1", json={}) as resp:
        assert resp.status == 405
        assert (await _json(resp))["reason"] == "MethodNotAllowed"


async def test_watch_stream_format_bookmarks_and_close(
    emu: KubeEmulator, http: aiohttp.ClientSession
) -> None:
    emu.load([pod("web-1")])
    params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "5"}
    async with http.get("/api/v1/pods", params=params) as resp:
        assert resp.headers["Content-Type"].startswith("application/json")
        first = json.loads(await resp.content.readline())
        assert first["type"] == "ADDED"  # no resourceVersion: synthetic ADDED for existing
        assert first["object"]["metadata"]["name"] == "web-1"
        bookmark = json.loads(await resp.content.readline())
        assert bookmark["type"] == "BOOKMARK"
        assert emu.close_watches() == 1
        assert await resp.content.read() == b""


async def test_watch_timeout_is_honoured(emu: KubeEmulator, http: aiohttp.ClientSession) -> None:
    params = {"watch": "1", "resourceVersion": str(emu.resource_version), "timeoutSeconds": "1"}
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with http.get("/api/v1/namespaces/default/pods", params=params) as resp:
        assert await resp.read() == b""
    assert 0.9 < loop.time() - started < 3


async def test_audit_and_fault_injection(emu: KubeEmulator, http: aiohttp.ClientSession) -> None:
    emu.load([pod("web-1")])
    emu.clear_audit()
    emu.fail_requests(2, code=503, predicate=lambda r: r.resource == "pods" and r.verb == "get")
    for _ in range(2):
        async with http.get("/api/v1/namespaces/default/pods/web-1") as resp:
            assert resp.status == 503
            assert (await _json(resp))["reason"] == "ServiceUnavailable"
    async with http.get("/api/v1/namespaces/default/pods/web-1") as resp:
        assert resp.status == 200
    async with http.get("/api/v1/namespaces/default/pods") as resp:
        assert resp.status == 200
    async with http.patch(
        "/api/v1/namespaces/default/pods/web-1/status",
        json={"status": {"phase": "Running"}},
        headers={"Content-Type": "application/merge-patch+json"},
    ) as resp:
        assert resp.status == 200
    records = [(r.verb, r.group, r.resource, r.subresource, r.namespace, r.name) for r in emu.audit]
    assert records == [
        ("get", "", "pods", "", "default", "web-1"),
        ("get", "", "pods", "", "default", "web-1"),
        ("get", "", "pods", "", "default", "web-1"),
        ("list", "", "pods", "", "default", ""),
        ("patch", "", "pods", "status", "default", "web-1"),
    ]


async def test_bearer_token_check() -> None:
    emu = KubeEmulator(required_token="s3cret")
    await emu.start()
    try:
        async with aiohttp.ClientSession(base_url=emu.url) as http:
            async with http.get("/api/v1/pods") as resp:
                assert resp.status == 401
            headers = {"Authorization": "Bearer s3cret"}
            async with http.get("/api/v1/pods", headers=headers) as resp:
                assert resp.status == 200
    finally:
        await emu.stop()


async def test_load_registers_unknown_kinds_and_namespace_cascade(
    emu: KubeEmulator, http: aiohttp.ClientSession
) -> None:
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "tls", "namespace": "shop", "uid": "keep-me"},
        "spec": {"secretName": "tls"},
        "status": {"conditions": [{"type": "Ready", "status": "False"}]},
    }
    stored = emu.load([certificate])[0]
    assert stored["metadata"]["uid"] == "keep-me"
    async with http.get("/apis/cert-manager.io/v1/namespaces/shop/certificates/tls") as resp:
        assert (await _json(resp))["status"]["conditions"][0]["status"] == "False"
    assert [ns["metadata"]["name"] for ns in emu.objects("namespaces")] == [
        "default",
        "kube-system",
        "shop",
    ]
    async with http.delete("/api/v1/namespaces/shop") as resp:
        assert resp.status == 200
    assert emu.objects("certificates") == []


async def test_deletecollection_and_events_k8s_io(
    emu: KubeEmulator, http: aiohttp.ClientSession
) -> None:
    emu.load([pod("a"), pod("b")])
    async with http.delete(
        "/api/v1/namespaces/default/pods", params={"labelSelector": "app=a"}
    ) as resp:
        assert resp.status == 200
    assert [p["metadata"]["name"] for p in emu.objects("pods")] == ["b"]
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "reason": "X",
    }
    async with http.post("/apis/events.k8s.io/v1/namespaces/default/events", json=event) as resp:
        assert resp.status == 201
    assert emu.objects("events.events.k8s.io")[0]["reason"] == "X"


async def test_owner_references_cascade_unless_orphaned(
    emu: KubeEmulator, http: aiohttp.ClientSession
) -> None:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-abc", "namespace": "default", "uid": "rs-uid"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }
    child = pod("web-abc-1")
    child["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "rs-uid"}
    ]
    emu.load([owner, child])
    rs_url = "/apis/apps/v1/namespaces/default/replicasets/web-abc"
    async with http.delete(rs_url, json={"propagationPolicy": "Orphan"}) as resp:
        assert resp.status == 200
    assert [p["metadata"]["name"] for p in emu.objects("pods")] == ["web-abc-1"]
    emu.load([owner])
    async with http.delete(rs_url) as resp:
        assert resp.status == 200
    assert emu.objects("pods") == []
