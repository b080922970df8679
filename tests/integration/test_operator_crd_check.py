"""The operator refuses to start when the Incident CRD is not served, with an error that says
to install it, instead of running without ever serving Incidents: Kopf scans the served
resources once after the start-up handlers and ignores the initial listing of its CRD watch,
so a CRD installed after that scan would go unnoticed until a restart. Once the CRD is
installed, the next start diagnoses. Real: the emulator over HTTP, Kopf, the operator."""

from __future__ import annotations

import pytest

from kubetriage.handlers import CRD_MISSING
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.settings import Settings
from tests.support.oom_example import create, prepare
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for


def _causes(error: BaseException | None) -> list[str]:
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    return messages


def test_start_without_the_crd_fails_naming_the_fix(emulator: EmulatorThread) -> None:
    operator = OperatorThread(emulator.kubeconfig_path, settings=Settings(memory_enabled=False))
    with pytest.raises(RuntimeError, match="failed to start") as raised:
        operator.start()
    assert CRD_MISSING in _causes(raised.value)
    assert "install the CRD" in CRD_MISSING
    operator.stop()
    assert not operator.alive


def test_a_start_after_the_crd_is_installed_serves_incidents(emulator: EmulatorThread) -> None:
    settings = Settings(memory_enabled=False)
    with pytest.raises(RuntimeError):
        OperatorThread(emulator.kubeconfig_path, settings=settings).start()
    prepare(emulator)  # the CRD, then the case's objects
    with OperatorThread(emulator.kubeconfig_path, settings=settings):
        create(emulator, ["after-install"])
        body = wait_for(
            lambda: emulator.emulator.get("incidents", "after-install", "exports") or {},
            until=lambda b: (b.get("status") or {}).get("phase") in {"Diagnosed", "Failed"},
            what="exports/after-install to be diagnosed",
        )
    assert body["status"]["phase"] == "Diagnosed"
