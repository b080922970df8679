"""``kubectl triage``: the plugin run by the real ``kubectl`` binary (found on PATH as
``kubectl-triage``, exactly as an installed console script is: ``tests/support``) against
the Kubernetes API emulator with the generated CRD; list, show, timeline, approve and
feedback, with the kubeconfig the user's kubectl uses (``KUBECONFIG``); errors are clear
and change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubetriage.crd import build_incident_crd
from kubetriage.replay.emulator import EmulatorThread
from tests.support.incidents import INCIDENT_COLUMNS, checkout_restarting, raise_memory
from tests.support.kubectl_plugin import KubectlTriage

NAME, NAMESPACE = "checkout-oom", "shop"


def _incident() -> dict[str, Any]:
    return checkout_restarting(
        severity="critical",
        status={
            "phase": "Diagnosed",
            "target": "Deployment/shop/checkout",
            "conditions": [
                {
                    "type": "Diagnosed",
                    "status": "True",
                    "reason": "DiagnosisWritten",
                    "message": "oom-killed (0.93)",
                    "lastTransitionTime": "2099-01-01T10:00:05Z",
                }
            ],
            "notifications": {
                "slack": {"channel": "C0OPS", "ts": "1.2", "postedAt": "2099-01-01T10:00:06Z"}
            },
            "diagnosis": {
                "summary": "checkout is OOM-killed at its 512Mi limit",
                "category": "oom-killed",
                "confidence": 0.93,
                "remediations": [raise_memory()],
            },
        },
    )


def _event() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "checkout-oom.1", "namespace": NAMESPACE},
        "involvedObject": {
            "apiVersion": "kubetriage.io/v1alpha1",
            "kind": "Incident",
            "name": NAME,
            "namespace": NAMESPACE,
        },
        "type": "Normal",
        "reason": "Investigating",
        "message": "checkout restarting",
        "lastTimestamp": "2099-01-01T10:00:01Z",
    }


class Plugin(KubectlTriage):
    def __init__(self, emulator: EmulatorThread, tmp_path: Path) -> None:
        super().__init__(emulator.kubeconfig_path, tmp_path)
        self.emulator = emulator

    def spec(self) -> dict[str, Any]:
        return dict((self.emulator.emulator.get("incidents", NAME, NAMESPACE) or {})["spec"])


@pytest.fixture
def plugin(emulator: EmulatorThread, tmp_path: Path) -> Plugin:
    emulator.emulator.load([build_incident_crd(), _incident(), _event()])
    return Plugin(emulator, tmp_path)


def test_list_and_show(plugin: Plugin) -> None:
    table = plugin.run("list", "-A").splitlines()
    assert table[0].split() == ["NAMESPACE", *INCIDENT_COLUMNS]
    assert table[1].split()[:7] == [
        NAMESPACE,
        NAME,
        "Diagnosed",
        "critical",
        "oom-killed",
        "0.93",
        "Deployment/shop/checkout",
    ]
    assert plugin.run("list").splitlines()[1:] == []  # the kubeconfig's namespace: default
    shown = plugin.run("show", NAME, "-n", NAMESPACE)
    assert shown.splitlines()[0] == "Incident shop/checkout-oom: Diagnosed"
    assert "category:   oom-killed  (confidence 0.93)" in shown
    assert "$ kubectl -n shop set resources deployment/checkout --limits=memory=1Gi" in shown


def test_timeline_orders_events_conditions_and_notifications(plugin: Plugin) -> None:
    lines = plugin.run("timeline", NAME, "-n", NAMESPACE).splitlines()
    tail = [line.split("  ", 1)[1] for line in lines if line.startswith("2099-")]
    assert tail == [
        "event Normal Investigating: checkout restarting",
        "Diagnosed=True DiagnosisWritten: oom-killed (0.93)",
        "Slack message posted in C0OPS",
    ]
    assert lines[0].endswith("created")


def test_approve_and_feedback_patch_the_spec(plugin: Plugin) -> None:
    out = plugin.run("approve", NAME, "r1", "-n", NAMESPACE)
    assert "approved r1 (by kubectl:alice)" in out
    spec = plugin.spec()
    assert (spec["approve"], spec["approvedBy"]) == ("r1", "kubectl:alice")
    plugin.run(
        "feedback",
        NAME,
        "-n",
        NAMESPACE,
        "--not-helpful",
        "--category",
        "storage",
        "--action",
        "expand-storage",
        "--note",
        "the data volume was full",
    )
    assert plugin.spec()["feedback"] == {
        "helpful": False,
        "correctCategory": "storage",
        "actionTaken": "expand-storage",
        "resolution": "the data volume was full",
        "by": "kubectl:alice",
    }


def test_errors_are_clear_and_change_nothing(plugin: Plugin) -> None:
    before = plugin.spec()
    assert "say something" in plugin.run("feedback", NAME, "-n", NAMESPACE, code=2)
    assert "404" in plugin.run("show", "no-such-incident", "-n", NAMESPACE, code=1)
    assert plugin.spec() == before
