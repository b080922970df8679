"""Checks the proxy in front of a healthy workload that rejects requests by a limit of its
own configuration. Evidence: ``settings_config_maps`` (the ConfigMap a controller's
``--configmap`` flag names, in its own namespace), ``controller_hosts`` (the ingress
controller serving the workload's Ingress becomes a dependency only while the workload's
pods are healthy) and the pure builder, which summarises that controller with its own log
tails and the writes of its settings ConfigMap. Analyzer (``proxy-limit``): the controller's
own rejection lines (nginx's body and header limits, Envoy's and Traefik's) with a write of
its settings shortly before lead to fix-config on that ConfigMap; without a write, fix-config
on the controller at lower confidence; a write after the rejections began, a failing
workload, a dependency that does not front the workload and plain access-log lines add
nothing.

Real: ``kubetriage.evidence.index``, ``kubetriage.evidence.request_path``, the pure builder
(``tests.support.built``) over raw objects, Evidence models from ``tests.support.evidence``
and the whole analyzer registry. Synthetic: every object, log line and time.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.proxy_limits import CONFIDENCE, NAME, PROXY_LIMIT_LOG
from kubetriage.evidence.request_path import controller_hosts
from kubetriage.evidence.settings_readers import settings_config_maps
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import (
    INGRESS_CONTROLLER_SOURCE,
    DependencyEvidence,
    DependencyRoute,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import NOW, ago, analyze, assert_leads, named, naming

NGINX_LABELS = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/component": "controller",
}
CONTROLLER = ObjectRef(kind="Deployment", namespace="edge", name="ingress-nginx-controller")
SETTINGS = ObjectRef(kind="ConfigMap", namespace="edge", name="ingress-nginx-controller")
SOURCE = f"{INGRESS_CONTROLLER_SOURCE} of Ingress shop/checkout"
ROUTE = DependencyRoute(
    kind="ingress-controller", ingress=ObjectRef(kind="Ingress", namespace="shop", name="checkout")
)
TOO_LARGE = (
    "{at:%Y/%m/%d %H:%M:%S} [error] 41#41: *881 client intended to send too large body: "
    '5242880 bytes, client: 10.1.2.3, server: shop.example.com, request: "POST /upload HTTP/1.1"'
)
ACCESS_200 = (
    '10.1.2.3 - - [20/Nov/2026:09:50:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl" 80 0.010 '
    "[shop-checkout-80] [] 10.0.0.5:8080 512 0.010 200 abc"
)


def _controller(*lines: str, edits: list[ChangeEvidence] | None = None) -> DependencyEvidence:
    tail = make.log("ingress-nginx-controller-5d8-x1", "controller", "\n".join(lines))
    tail = tail.model_copy(update={"namespace": "edge", "source": "dependency"})
    return DependencyEvidence(
        ref=CONTROLLER,
        workload=CONTROLLER,
        named_by=naming(SOURCE),
        routes=[ROUTE],
        pods=2,
        desired_replicas=2,
        ready_replicas=2,
        logs=[tail],
        config_changes=edits or [],
    )


def _edit(minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(at=ago(minutes_ago), kind="config", object=SETTINGS, aspects=["data"])


def _healthy(*dependencies: DependencyEvidence) -> Evidence:
    return make.checkout_evidence(dependencies=list(dependencies))


def _proxy_findings(ev: Evidence) -> list[Any]:
    return [f for f in analyze(ev).findings if f.analyzer == NAME]


def test_rejections_after_a_settings_write_lead_to_fixing_that_config_map() -> None:
    dependency = _controller(TOO_LARGE.format(at=ago(30)), ACCESS_200, edits=[_edit(40)])
    first = assert_leads(
        analyze(_healthy(dependency)), Category.CONFIG_MISSING, Action.FIX_CONFIG, SETTINGS
    )
    assert first.analyzer == NAME
    assert first.confidence == CONFIDENCE.limit_after_edit


def test_rejections_without_a_write_name_the_controller_at_lower_confidence() -> None:
    found = _proxy_findings(_healthy(_controller(TOO_LARGE.format(at=ago(30)))))
    assert [(f.action, f.target, f.confidence) for f in found] == [
        (Action.FIX_CONFIG, CONTROLLER, CONFIDENCE.limit_only)
    ]


def test_a_write_after_the_rejections_began_does_not_explain_them() -> None:
    dependency = _controller(TOO_LARGE.format(at=ago(30)), edits=[_edit(10)])
    found = _proxy_findings(_healthy(dependency))
    assert [(f.target, f.confidence) for f in found] == [(CONTROLLER, CONFIDENCE.limit_only)]


def test_a_write_long_before_the_rejections_does_not_explain_them() -> None:
    dependency = _controller(TOO_LARGE.format(at=ago(30)), edits=[_edit(60 * 24)])
    found = _proxy_findings(_healthy(dependency))
    assert [f.target for f in found] == [CONTROLLER]


def test_a_failing_workload_is_not_explained_by_the_proxy() -> None:
    dependency = _controller(TOO_LARGE.format(at=ago(30)), edits=[_edit(40)])
    ev = make.checkout_evidence(make.crash_looping("app"), dependencies=[dependency])
    assert _proxy_findings(ev) == []


def test_a_dependency_the_workload_calls_is_not_the_proxy_in_front_of_it() -> None:
    dependency = _controller(TOO_LARGE.format(at=ago(30)), edits=[_edit(40)])
    called = dependency.model_copy(
        update={"named_by": naming("pod checkout env PROXY_URL"), "routes": []}
    )
    assert _proxy_findings(_healthy(called)) == []


def test_plain_access_log_lines_are_no_rejection() -> None:
    assert _proxy_findings(_healthy(_controller(ACCESS_200, edits=[_edit(40)]))) == []


UPSTREAM_HEADERS = (
    "{at:%Y/%m/%d %H:%M:%S} [error] 31#31: *4419 upstream sent too big header while reading "
    "response header from upstream, client: 10.1.2.3, server: shop.example.com, request: "
    '"GET /login/callback HTTP/2.0", upstream: "http://10.0.0.5:8080/login/callback"'
)
APP = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _released(minutes_ago: float, *aspects: str, line: str = UPSTREAM_HEADERS) -> Evidence:
    """The healthy checkout, rolled out ``minutes_ago`` changing ``aspects``, behind a
    controller that logged ``line`` 30 minutes ago."""
    return make.checkout_evidence(
        workload=make.deployment(revision=2),
        revisions=make.rollout_revisions(
            2, {"app": "app:2.0"}, {"app": "app:1.9"}, minutes_ago=minutes_ago, ready=1
        ),
        changes=[make.rollout_change(APP, 1, *aspects, minutes_ago=minutes_ago)],
        dependencies=[_controller(line.format(at=ago(30)))],
    )


def test_upstream_headers_refused_after_the_workloads_release_roll_the_release_back() -> None:
    first = assert_leads(
        analyze(_released(40, "env", "image")), Category.BAD_ROLLOUT, Action.ROLLBACK, APP
    )
    assert first.analyzer == NAME
    assert first.confidence == CONFIDENCE.headers_grew_with_release


def test_request_side_limits_stay_the_proxys_settings_after_a_release() -> None:
    found = _proxy_findings(_released(40, "env", line=TOO_LARGE))
    assert [(f.action, f.target) for f in found] == [(Action.FIX_CONFIG, CONTROLLER)]


def test_a_release_after_the_first_refusal_did_not_grow_the_headers() -> None:
    found = _proxy_findings(_released(10, "env"))
    assert [(f.action, f.target) for f in found] == [(Action.FIX_CONFIG, CONTROLLER)]


def test_a_release_that_changed_only_resources_did_not_grow_the_headers() -> None:
    found = _proxy_findings(_released(40, "resources"))
    assert [(f.action, f.target) for f in found] == [(Action.FIX_CONFIG, CONTROLLER)]


def test_the_limit_signatures_of_mainstream_proxies() -> None:
    rejected = [
        "client intended to send too large body: 2097152 bytes",
        "client sent too large request while reading client request headers",
        "<head><title>400 Request Header Or Cookie Too Large</title></head>",
        "upstream sent too big header while reading response header from upstream",
        '[2026-11-20T09:40:00.000Z] "POST /v1 HTTP/1.1" 413 request_payload_too_large 0 17',
        "413 Payload Too Large",
        "413 Request Entity Too Large",
        "431 Request Header Fields Too Large",
    ]
    assert all(PROXY_LIMIT_LOG.search(line) for line in rejected)
    assert not PROXY_LIMIT_LOG.search(ACCESS_200)
    assert not PROXY_LIMIT_LOG.search("upstream connect error or disconnect/reset before headers")


# --- evidence ---------------------------------------------------------------------------


def _controller_spec(*args: str) -> dict[str, Any]:
    return {"containers": [{"name": "controller", "args": ["/nginx-ingress-controller", *args]}]}


def test_the_settings_config_map_a_controller_flag_names() -> None:
    own = _controller_spec("--configmap=$(POD_NAMESPACE)/ingress-nginx-controller")
    assert settings_config_maps(own, "edge") == {"ingress-nginx-controller"}
    literal = _controller_spec("--configmap=edge/ingress-nginx-controller")
    assert settings_config_maps(literal, "edge") == {"ingress-nginx-controller"}
    assert settings_config_maps(literal, "other") == set()
    nginx_inc = _controller_spec("-nginx-configmaps=$(POD_NAMESPACE)/nginx-config")
    assert settings_config_maps(nginx_inc, "edge") == {"nginx-config"}
    other = _controller_spec("--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller")
    assert settings_config_maps(other, "edge") == set()


def _ingress() -> dict[str, Any]:
    backend = {"service": {"name": "checkout", "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "shop.example.com",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }


def _ingress_class() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx"},
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }


def _pod(
    name: str, namespace: str, labels: dict[str, str], owner: str, *, ready: bool = True
) -> dict[str, Any]:
    spec = _controller_spec("--configmap=$(POD_NAMESPACE)/ingress-nginx-controller")
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**labels, "pod-template-hash": owner.rsplit("-", 1)[1]},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True}
            ],
        },
        "spec": spec,
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": status}],
            "containerStatuses": [
                {
                    "name": spec["containers"][0]["name"],
                    "ready": ready,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-11-19T10:00:00Z"}},
                }
            ],
        },
    }


def _cluster(*, app_ready: bool = True) -> list[dict[str, Any]]:
    controller_labels = {**NGINX_LABELS, "app.kubernetes.io/instance": "ingress-nginx"}
    settings = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "ingress-nginx-controller",
            "namespace": "edge",
            "creationTimestamp": "2026-06-01T10:00:00Z",
            "managedFields": [
                {
                    "manager": "argocd-controller",
                    "operation": "Apply",
                    "time": "2026-11-20T09:20:00Z",
                }
            ],
        },
        "data": {"proxy-body-size": "1m"},
    }
    return [
        deployment_manifest("checkout", "shop", ("app", "shop/checkout:1")),
        _pod(
            "checkout-7d9f6c8b5-abcde",
            "shop",
            {"app": "checkout"},
            "checkout-7d9f6c8b5",
            ready=app_ready,
        ),
        service_manifest("checkout", "shop", {"app": "checkout"}),
        _ingress(),
        _ingress_class(),
        deployment_manifest(
            "ingress-nginx-controller",
            "edge",
            ("controller", "ingress-nginx:1.12"),
            labels=controller_labels,
        ),
        _pod(
            "ingress-nginx-controller-5d8c9-x1",
            "edge",
            controller_labels,
            "ingress-nginx-controller-5d8c9",
        ),
        settings,
    ]


def test_controller_hosts_only_in_front_of_healthy_pods() -> None:
    objects = _cluster()
    kinds = {
        k: [o for o in objects if o["kind"] == k]
        for k in ("Ingress", "Service", "IngressClass", "Pod")
    }
    own = [p for p in kinds["Pod"] if p["metadata"]["namespace"] == "shop"]
    hosts = controller_hosts(
        kinds["Ingress"], kinds["Service"], kinds["IngressClass"], kinds["Pod"], own
    )
    assert [(h.kind, h.namespace, h.name, h.source) for h in hosts] == [
        ("Deployment", "edge", "ingress-nginx-controller", named(SOURCE))
    ]
    unready = [p for p in _cluster(app_ready=False) if p["kind"] == "Pod"]
    unready_own = [p for p in unready if p["metadata"]["namespace"] == "shop"]
    assert (
        controller_hosts(
            kinds["Ingress"], kinds["Service"], kinds["IngressClass"], unready, unready_own
        )
        == []
    )
    assert controller_hosts([], kinds["Service"], kinds["IngressClass"], kinds["Pod"], own) == []


def test_the_builder_follows_the_controller_with_its_tails_and_settings_writes() -> None:
    tail = make.log(
        "ingress-nginx-controller-5d8c9-x1",
        "controller",
        TOO_LARGE.format(at=ago(30)),
        namespace="edge",
        source="dependency",
    )
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    ev = built(_cluster(), target, logs=[tail])
    (dependency,) = [d for d in ev.dependencies if d.fronts_workload()]
    assert dependency.workload is not None
    assert (dependency.workload.kind, dependency.workload.name) == ("Deployment", CONTROLLER.name)
    assert [t.pod for t in dependency.logs] == ["ingress-nginx-controller-5d8c9-x1"]
    assert [(i.namespace, i.name) for i in dependency.fronted_ingresses()] == [("shop", "checkout")]
    assert [(c.object.name, c.at) for c in dependency.config_changes] == [
        ("ingress-nginx-controller", NOW.replace(hour=9, minute=20))
    ]
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, SETTINGS)


def test_the_builder_leaves_the_controller_alone_in_front_of_failing_pods() -> None:
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    ev = built(_cluster(app_ready=False), target)
    assert not [d for d in ev.dependencies if d.fronts_workload()]
