"""Checks the ingress controller's settings rewritten in front of a healthy workload
(``ingress-settings``): the settings ConfigMap of the controller serving the workload's
Ingress was written right before the alert while the workload's pods run ready and it did
not roll out, so correcting that ConfigMap leads. Near misses add nothing: settings written
days before the alert, a workload that rolled out itself since, a failing workload, a
controller whose settings were not read, a controller that rolled out and whose own log names
the Ingress as refused (its rollout is the change, ``ingress_rollout``). Also how the summary
finds that ConfigMap: the controller pods' ``--configmap`` flag (``=value`` or a separate
word, ``$(POD_NAMESPACE)`` or a bare name meaning the pod's namespace) and its last
managedFields write.

Real: the analyzer registry and ranking (``tests.support.evidence.analyze``), the Evidence
models, ``ObjectIndex`` and the ingress summary over raw objects. Synthetic: every object,
time and flag (in the shape the ingress-nginx chart renders them).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.ingress_settings import CONFIDENCE, NAME
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.summaries.ingress import ingress_controllers, settings_config
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import (
    INGRESS_CONTROLLER_SOURCE,
    DependencyEvidence,
    DependencyRoute,
    IngressControllerEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import NOW, analyze, assert_leads, naming

SETTINGS = ObjectRef(kind="ConfigMap", namespace="ingress-nginx", name="ingress-nginx-controller")
NGINX_LABELS = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/component": "controller",
}


def _controller(written_minutes_ago: float | None = 9) -> IngressControllerEvidence:
    return IngressControllerEvidence(
        ingress="checkout",
        backends=["checkout"],
        ingress_class="nginx",
        controller="k8s.io/ingress-nginx",
        namespace="ingress-nginx",
        pods=2,
        ready_pods=2,
        settings=SETTINGS,
        settings_written=None
        if written_minutes_ago is None
        else NOW - timedelta(minutes=written_minutes_ago),
    )


def _behind(controller: IngressControllerEvidence, **fields: Any) -> Evidence:
    """The healthy checkout workload behind ``controller``, alerted 6 minutes ago."""
    fields.setdefault("alerts", [make.alert(alertname="BlackboxProbeFailed")])
    return make.checkout_evidence(ingress_controllers=[controller], **fields)


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == NAME]


def test_settings_rewritten_right_before_the_alert_lead_to_correcting_them() -> None:
    first = assert_leads(
        analyze(_behind(_controller())), Category.CONFIG_MISSING, Action.FIX_CONFIG, SETTINGS
    )
    assert first.analyzer == NAME
    assert first.confidence == CONFIDENCE.rewritten_before
    assert any("last written 09:51" in e.fact for e in first.evidence)


def test_settings_written_days_before_the_alert_are_not_the_change() -> None:
    assert _found(_behind(_controller(written_minutes_ago=60 * 24 * 3))) == []


def test_settings_not_read_say_nothing() -> None:
    assert _found(_behind(_controller(written_minutes_ago=None))) == []


def test_a_workload_that_rolled_out_itself_since_is_its_own_suspect() -> None:
    own = make.rollout_change(make.deployment().ref, 4, "image", minutes_ago=5)
    assert _found(_behind(_controller(), changes=[own])) == []


def test_a_failing_workload_is_not_explained_by_the_controller_settings() -> None:
    ev = make.checkout_evidence(
        make.crash_looping("app"),
        ingress_controllers=[_controller()],
        alerts=[make.alert(alertname="CheckoutDown")],
    )
    assert _found(ev) == []


def test_a_controller_rollout_whose_log_refuses_the_ingress_is_the_change_instead() -> None:
    workload = ObjectRef(
        kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller"
    )
    refused = (
        'W1120 09:50:13.118602       7 store.go:441] "Ignoring ingress because of error while '
        'validating annotations" ingress="shop/checkout"'
    )
    tail = make.log("ingress-nginx-controller-7f4-b7", "controller", refused)
    rolled = DependencyEvidence(
        ref=workload,
        workload=workload,
        named_by=naming(f"{INGRESS_CONTROLLER_SOURCE} of Ingress shop/checkout"),
        routes=[
            DependencyRoute(
                kind="ingress-controller",
                ingress=ObjectRef(kind="Ingress", namespace="shop", name="checkout"),
            )
        ],
        pods=2,
        desired_replicas=2,
        ready_replicas=2,
        logs=[tail.model_copy(update={"namespace": "ingress-nginx", "source": "dependency"})],
        changes=[make.rollout_change(workload, 13, "image", minutes_ago=10)],
    )
    assert _found(_behind(_controller(), dependencies=[rolled])) == []
    assert _found(_behind(_controller(), dependencies=[rolled.model_copy(update={"logs": []})]))


def _controller_pod(args: list[str], ns: str = "ingress-nginx") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ingress-nginx-controller-1", "namespace": ns, "labels": NGINX_LABELS},
        "spec": {"containers": [{"name": "controller", "image": "x", "args": args}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_settings_config_reads_the_configmap_flag_in_its_forms() -> None:
    expanded = [
        "/nginx-ingress-controller",
        "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
    ]
    assert settings_config(_controller_pod(expanded)) == SETTINGS
    assert settings_config(_controller_pod(["--configmap", "edge/nginx-settings"])) == ObjectRef(
        kind="ConfigMap", namespace="edge", name="nginx-settings"
    )
    assert settings_config(_controller_pod(["--configmap=tuning"], ns="edge")) == ObjectRef(
        kind="ConfigMap", namespace="edge", name="tuning"
    )
    assert settings_config(_controller_pod(["--configmap-name=x", "--ingress-class=nginx"])) is None


def test_summary_dates_the_controller_settings_by_their_last_write() -> None:
    backend = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "checkout-1", "namespace": "shop", "labels": {"app": "checkout"}},
        "spec": {"containers": [{"name": "app", "image": "x"}]},
        "status": {"phase": "Running"},
    }
    objects: list[Any] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "checkout", "namespace": "shop"},
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "checkout", "port": {"number": 80}}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "checkout", "namespace": "shop"},
            "spec": {"selector": {"app": "checkout"}, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        },
        backend,
        _controller_pod(["--configmap=$(POD_NAMESPACE)/ingress-nginx-controller"]),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "ingress-nginx-controller",
                "namespace": "ingress-nginx",
                "creationTimestamp": "2024-02-19T09:00:00Z",
                "managedFields": [
                    {"manager": "helm", "operation": "Update", "time": "2025-01-02T09:00:00Z"},
                    {"manager": "helm", "operation": "Update", "time": "2026-11-20T09:34:11Z"},
                ],
            },
            "data": {"proxy-body-size": ""},
        },
    ]
    found = ingress_controllers(ObjectIndex(objects, Notes()), "shop", [backend], EvidenceLimits())
    assert [(c.settings, c.settings_written) for c in found] == [
        (SETTINGS, NOW - timedelta(minutes=25, seconds=49))
    ]
    unread = ingress_controllers(
        ObjectIndex(objects[:-1], Notes()), "shop", [backend], EvidenceLimits()
    )
    assert [(c.settings, c.settings_written) for c in unread] == [(SETTINGS, None)]
