"""Kubernetes API emulator vs. a real Kopf operator: list+watch, status patches through
the status subresource, events posted via ``kopf.info``, no re-trigger on status-only
writes while spec changes do trigger the update handler, and finalizer-guarded deletion.

Real: HTTP server on 127.0.0.1, Kopf (``kopf.testing.KopfRunner``) logging in through the
kubeconfig with the real ``kubernetes`` client, handlers defined in this module.
"""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from kopf.testing import KopfRunner

from kubetriage.replay.emulator import EmulatorThread
from tests.integration.emulator_fixtures import GROUP, PLURAL, VERSION, widget, widget_crd
from tests.support.polling import wait_for


def _make_operator(updates: list[str]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # A private registry has no default login handlers: use the kubeconfig explicitly.
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Our CRD prunes unknown status fields, so Kopf must keep its state in annotations.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
        settings.posting.level = 20  # logging.INFO: post kopf.info() events
        settings.watching.server_timeout = 30

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    def created(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        patch.status["phase"] = "Created"
        kopf.info(body, reason="WidgetSeen", message="the widget was seen")

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def deleted(name: str, **_: Any) -> None:
        updates.append(f"deleted-{name}")

    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry)
    def updated(spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
        updates.append(str(spec["severity"]))
        patch.status["phase"] = f"Updated-{spec['severity']}"

    return registry


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "scope", [["--namespace", "default"], ["--all-namespaces"]], ids=["namespaced", "cluster"]
)
def test_kopf_operator_against_emulator(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, scope: list[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(emulator.kubeconfig_path))
    # kubernetes.config reads $KUBECONFIG once, at import time; point it at ours too.
    monkeypatch.setattr(
        "kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(emulator.kubeconfig_path)
    )
    emu = emulator.emulator
    emu.load([widget_crd()])
    updates: list[str] = []
    registry = _make_operator(updates)

    def phase() -> str | None:
        obj = emu.get("widgets", "w1", "default")
        return None if obj is None else (obj.get("status") or {}).get("phase")

    args = ["run", "--standalone", *scope, "--verbose"]
    with KopfRunner(args, registry=registry, timeout=60) as runner:
        emu.load([widget("w1")])
        wait_for(phase, until=lambda p: p == "Created", what="w1 Created", within=15)

        status_patches = [
            r
            for r in emu.audit
            if r.resource == PLURAL and r.subresource == "status" and r.verb == "patch"
        ]
        assert status_patches, "Kopf should write status through the /status subresource"

        def seen_event() -> list[dict[str, Any]]:
            return [
                e
                for e in emu.objects("events", "default")
                if e["involvedObject"].get("name") == "w1" and e.get("reason") == "WidgetSeen"
            ]

        event = wait_for(seen_event, what="a WidgetSeen event", within=15)[0]
        assert event["metadata"]["name"].startswith("kopf-event-")
        assert (
            event["involvedObject"]["uid"]
            == (emu.get("widgets", "w1", "default") or {})["metadata"]["uid"]
        )

        # A status-only write (here: from outside) must not look like a spec change: Kopf
        # handles an object's events in order, so the spec change below finds no update
        # before its own.
        current = emu.get("widgets", "w1", "default")
        assert current is not None
        current["status"] = {"phase": "Touched", "message": "external"}
        emu.load([current])

        spec_change = emu.get("widgets", "w1", "default")
        assert spec_change is not None
        spec_change["spec"]["severity"] = "critical"
        emu.load([spec_change])
        wait_for(phase, until=lambda p: p == "Updated-critical", what="the update", within=15)
        assert updates == ["critical"]

        # Kopf's finalizer keeps the object until its deletion handler has run.
        assert emu.get("widgets", "w1", "default")["metadata"]["finalizers"]  # type: ignore[index]
        assert emu.delete("widgets", "w1", "default")
        wait_for(
            lambda: emu.get("widgets", "w1", "default"),
            until=lambda obj: obj is None,
            what="w1 deleted",
            within=15,
        )
        assert updates == ["critical", "deleted-w1"]

    assert runner.exception is None
    assert runner.exit_code == 0
