"""Checks "who registers these pods in the load balancer, and was it up when they came?": an
Ingress of the AWS Load Balancer Controller's class sends traffic from a cloud load balancer
straight to pod addresses that only the controller registers. When the controller is down
(OOM-killed) and every backend pod was created after it went down, none is registered and the
controller is the target, in the category of its own failure. An Ingress that keeps one pod
from before, a controller that is available, or an Ingress of a proxy's class (nginx) owes
nothing to it.

Real: the pure builder (``tests.support.built``) over API-shaped dicts and the analyzer
registry; the train case written for this; the live walk (``follow_reconcilers``) over
``tests.support.listing``'s stand-in for the reader's lists.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.tenancy import Scope
from tests.support.built import built, case_evidence, deployment_manifest, service_manifest
from tests.support.cases import TRAIN
from tests.support.evidence import analyze, assert_leads
from tests.support.listing import reconciler_reads

WEB = ObjectRef(kind="Deployment", namespace="web", name="storefront")
LBC = ObjectRef(kind="Deployment", namespace="infra", name="lb-controller")
LBC_LABELS = {"app.kubernetes.io/name": "aws-load-balancer-controller"}
DOWN = "2026-11-20T09:20:00Z"


def _pod(
    name: str, namespace: str, labels: dict[str, str], created: str, *, oom: bool = False
) -> dict[str, Any]:
    state: dict[str, Any] = {"waiting": {"reason": "CrashLoopBackOff"}} if oom else {"running": {}}
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}} if oom else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "creationTimestamp": created,
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": name.rsplit("-", 1)[0], "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "main", "image": "img:1"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False" if oom else "True"}],
            "containerStatuses": [
                {
                    "name": "main",
                    "ready": not oom,
                    "restartCount": 9 if oom else 0,
                    "state": state,
                    "lastState": last,
                }
            ],
        },
    }


def _web(created: tuple[str, ...]) -> list[dict[str, Any]]:
    """The healthy storefront (its pods created at ``created``), its Service and Ingress."""
    labels = {"app": "storefront"}
    pods = [_pod(f"storefront-7f9c-{i}", "web", labels, t) for i, t in enumerate(created)]
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "storefront", "namespace": "web"},
        "spec": {
            "ingressClassName": "public",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {"path": "/", "backend": {"service": {"name": "storefront"}}},
                        ]
                    }
                }
            ],
        },
    }
    workload = deployment_manifest(
        "storefront",
        "web",
        ("main", "img:1"),
        replicas=len(created),
        status={"replicas": len(created), "readyReplicas": len(created)},
    )
    return [workload, *pods, service_manifest("storefront", "web", labels), ingress]


def _class(controller: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "public"},
        "spec": {"controller": controller},
    }


def _controller(*, down: bool = True) -> list[dict[str, Any]]:
    """The load-balancer controller, named unlike its chart's default, OOM-killed when down."""
    available = {"type": "Available", "status": "False" if down else "True"}
    workload = deployment_manifest(
        "lb-controller",
        "infra",
        ("main", "public.ecr.aws/eks/aws-load-balancer-controller:v2.11.0"),
        labels=LBC_LABELS,
        metadata={"labels": LBC_LABELS},
        replicas=1,
        status={
            "replicas": 1,
            "readyReplicas": 0 if down else 1,
            "conditions": [{**available, "lastTransitionTime": DOWN}],
        },
    )
    pod = _pod("lb-controller-5d7b-x1", "infra", LBC_LABELS, "2026-11-01T00:00:00Z", oom=down)
    return [workload, pod]


AFTER = ("2026-11-20T09:42:00Z", "2026-11-20T09:42:30Z")


def _objects(
    created: tuple[str, ...] = AFTER, controller: str = "ingress.k8s.aws/alb", down: bool = True
) -> list[dict[str, Any]]:
    return [*_web(created), _class(controller), *_controller(down=down)]


def test_pods_created_while_the_registrar_is_oom_killed_make_it_the_target() -> None:
    ev = built(_objects(), WEB)
    (reconciler,) = ev.reconcilers
    assert (reconciler.role, reconciler.workload) == ("target-registrar", LBC)
    assert reconciler.subjects == [ObjectRef(kind="Ingress", namespace="web", name="storefront")]
    assert "all 2 backend pods (2 ready) were created after" in reconciler.owed[0]
    assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, LBC)


def test_a_pod_from_before_the_outage_is_still_a_registered_target() -> None:
    ev = built(_objects(created=("2026-11-19T08:00:00Z", AFTER[0])), WEB)
    assert ev.reconcilers == []
    assert not [f for f in analyze(ev).findings if f.target == LBC]


def test_an_available_registrar_owes_nothing() -> None:
    assert built(_objects(down=False), WEB).reconcilers == []


def test_a_proxy_controllers_ingress_owes_nothing_to_the_registrar() -> None:
    assert built(_objects(controller="k8s.io/ingress-nginx"), WEB).reconcilers == []


def test_the_train_case_of_an_oom_killed_load_balancer_controller() -> None:
    case_id = (
        "oom-killed-eks-aws-load-balancer-controller-oomkilled-web-frontend-release-pods-"
        "never-registered-alb-502"
    )
    first = analyze(case_evidence(load_case(TRAIN / case_id))).findings[0]
    assert (first.category, first.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)
    assert first.target.same_object(
        ObjectRef(kind="Deployment", namespace="kube-system", name="aws-load-balancer-controller")
    )


def test_the_live_walk_reads_the_registrar_of_an_ingress_of_its_class() -> None:
    controller = _controller()
    read = [*_web(AFTER), _class("ingress.k8s.aws/alb")]
    assert reconciler_reads(read, controller, Scope.unrestricted()) == {
        "Deployment/infra/lb-controller",
        "Pod/infra/lb-controller-5d7b-x1",
    }
    nginx = [*_web(AFTER), _class("k8s.io/ingress-nginx")]
    assert reconciler_reads(nginx, controller, Scope.unrestricted()) == set()
    assert reconciler_reads(read, controller, Scope("web", cluster_wide=False)) == set()
