"""Checks the rules that follow a caller's failing calls to what is wrong at the callee, in
another namespace: a NetworkPolicy evaluated on the pods' ports (a Service port admitted, its
targetPort not), which outranks the caller's own coincidental rollout; a callee whose pods are
OOMKilled (raise its memory, not escalate); a callee rolled out right before the caller's
errors, seen through a proxy's access log ("503 UH"); the certificate of the one TLS server
called, when the client's error names no host; and the words (pgjdbc's refused connection)
that tie a caller's errors to a callee that is down, so its own rollout is not blamed.

Everything is real: raw objects through the real builder (``tests.support.built``) and
``run_analyzers``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers import run_analyzers
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import NOW


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}},
    }


def _container(name: str, image: str, ports: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "ports": [{"name": n, "containerPort": p} for n, p in ports.items()],
        **extra,
    }


def _workload(
    namespace: str,
    name: str,
    container: dict[str, Any],
    *,
    revisions: tuple[tuple[int, float, str], ...],
    statuses: list[dict[str, Any]],
    replicas: int | None = None,
    ready: int | None = None,
) -> list[dict[str, Any]]:
    """A Deployment with one ReplicaSet per ``(revision, minutes ago, image)`` (the last is
    current) and one pod of the current one per container status."""
    labels = {"app": name}
    count = replicas if replicas is not None else len(statuses)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": f"uid-{name}",
                "creationTimestamp": _at(90 * 24 * 60),
                "annotations": {"deployment.kubernetes.io/revision": str(revisions[-1][0])},
            },
            "spec": {
                "replicas": count,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
            "status": {
                "replicas": count,
                "readyReplicas": ready if ready is not None else count,
                "updatedReplicas": count,
            },
        }
    ]
    for number, minutes, image in revisions:
        current = number == revisions[-1][0]
        rs_labels = {**labels, "pod-template-hash": f"h{number}"}
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{name}-h{number}",
                    "namespace": namespace,
                    "uid": f"uid-{name}-h{number}",
                    "creationTimestamp": _at(minutes),
                    "labels": rs_labels,
                    "annotations": {"deployment.kubernetes.io/revision": str(number)},
                    "ownerReferences": [
                        {
                            "kind": "Deployment",
                            "name": name,
                            "uid": f"uid-{name}",
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": count if current else 0,
                    "selector": {"matchLabels": rs_labels},
                    "template": {
                        "metadata": {"labels": rs_labels},
                        "spec": {"containers": [{**container, "image": image}]},
                    },
                },
                "status": {"replicas": count if current else 0},
            }
        )
    number, minutes, image = revisions[-1]
    for index, status in enumerate(statuses):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{name}-h{number}-p{index}",
                    "namespace": namespace,
                    "creationTimestamp": _at(minutes),
                    "labels": {**labels, "pod-template-hash": f"h{number}"},
                    "ownerReferences": [
                        {
                            "kind": "ReplicaSet",
                            "name": f"{name}-h{number}",
                            "uid": f"uid-{name}-h{number}",
                            "controller": True,
                        }
                    ],
                },
                "spec": {"containers": [{**container, "image": image}], "nodeName": "node-a"},
                "status": {
                    "phase": "Running",
                    "podIP": f"10.0.{len(name)}.{index + 10}",
                    "containerStatuses": [{"name": container["name"], "image": image, **status}],
                },
            }
        )
    return objects


def _running(restarts: int = 0, last: str | None = None, ready: bool = True) -> dict[str, Any]:
    status: dict[str, Any] = {
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": _at(5)}},
    }
    if last:
        status["lastState"] = {"terminated": {"reason": last, "exitCode": 137}}
    return status


def _crash_looping(last: str, exit_code: int) -> dict[str, Any]:
    return {
        "ready": False,
        "restartCount": 6,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"reason": last, "exitCode": exit_code}},
    }


def _service(namespace: str, name: str, port: int, target: int | str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def _endpoints(namespace: str, name: str, ready: int, not_ready: int) -> dict[str, Any]:
    subset: dict[str, Any] = {"ports": [{"port": 8080}]}
    if ready:
        subset["addresses"] = [{"ip": f"10.1.0.{i}"} for i in range(ready)]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": f"10.1.1.{i}"} for i in range(not_ready)]
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": namespace},
        "subsets": [subset],
    }


def _ingress_policy(namespace: str, app: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{app}-allow-clients", "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"callers": "true"}}}],
                    "ports": [{"port": port, "protocol": "TCP"}],
                }
            ],
        },
    }


def _logs(namespace: str, pod: str, container: str, text: str, source: str) -> LogTail:
    return tail_from_text(
        namespace,
        pod,
        container,
        text,
        limits=EvidenceLimits(),
        source="scope" if source == "scope" else "dependency",
    )


def _alert(**labels: str) -> Alert:
    return Alert(
        status="firing",
        labels={"alertname": "CallerErrors", **labels},
        starts_at=NOW - timedelta(minutes=15),
    )


def _evidence(objects: list[dict[str, Any]], target: ObjectRef, logs: list[LogTail]) -> Evidence:
    return built(objects, target, logs=logs, alerts=[_alert(namespace=target.namespace or "")])


# --- a NetworkPolicy evaluated on the pods' ports -------------------------------------------

_QUOTE = ObjectRef(kind="Deployment", namespace="pricing", name="quote")
_TIMEOUT = 'Get "http://rates.fx.svc.cluster.local/v1/rates": dial tcp 10.96.4.12:80: i/o timeout'


def _rates_behind_policy(policy_port: int, *, caller_rolled_minutes: float) -> Evidence:
    rates = _container("rates", "registry.example/rates:5.2.0", {"http": 8080})
    caller = _container(
        "quote",
        "registry.example/quote:2.8.1",
        {"http": 8000},
        env=[{"name": "RATES_URL", "value": "http://rates.fx.svc.cluster.local/v1/rates"}],
    )
    objects = [
        _namespace("fx", callers="true"),
        _namespace("pricing", callers="true"),
        *_workload(
            "pricing",
            "quote",
            caller,
            revisions=(
                (18, 20 * 24 * 60, "registry.example/quote:2.8.0"),
                (19, caller_rolled_minutes, "registry.example/quote:2.8.1"),
            ),
            statuses=[_running(), _running()],
        ),
        *_workload(
            "fx",
            "rates",
            rates,
            revisions=((11, 6 * 24 * 60, "registry.example/rates:5.2.0"),),
            statuses=[_running(), _running()],
        ),
        _service("fx", "rates", 80, "http"),
        _endpoints("fx", "rates", 2, 0),
        _ingress_policy("fx", "rates", policy_port),
    ]
    logs = [
        _logs("pricing", "quote-h19-p0", "quote", f"ERROR rates lookup failed: {_TIMEOUT}", "scope")
    ]
    return _evidence(objects, _QUOTE, logs)


def test_service_records_where_each_port_lands_on_the_pods() -> None:
    ev = _rates_behind_policy(80, caller_rolled_minutes=50)
    rates = next(d.service for d in ev.dependencies if d.service and d.service.name == "rates")
    assert rates is not None
    assert [(p.number, p.name) for p in rates.pod_ports] == [(8080, "http")]


def test_policy_admitting_the_service_port_but_not_the_pod_port_blocks_the_flow() -> None:
    run = run_analyzers(_rates_behind_policy(80, caller_rolled_minutes=50))
    first = run.findings[0]
    assert (first.category, first.action, first.target) == (
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="fx", name="rates-allow-clients"),
    )
    # The caller's rollout 50 minutes ago is not what drops the packets.
    assert all(f.category is not Category.BAD_ROLLOUT for f in run.findings)


def test_policy_admitting_the_pod_port_blocks_nothing() -> None:
    run = run_analyzers(_rates_behind_policy(8080, caller_rolled_minutes=50))
    assert all(f.category is not Category.NETWORK for f in run.findings)


# --- a callee that is OOMKilled ---------------------------------------------------------------

_STOREFRONT = ObjectRef(kind="Deployment", namespace="web", name="storefront")
_REFUSED = (
    "WARN recommendations unavailable: Failed to open TCP connection to "
    "recommendations.ml.svc.cluster.local:8000 (Connection refused)"
)


def _storefront_calling_recommendations(*, callee_rolled_minutes: float) -> Evidence:
    callee = _container("api", "registry.example/recs:1.0", {"http": 8000})
    caller = _container(
        "web",
        "registry.example/storefront:8.41.0",
        {"http": 3000},
        env=[{"name": "RECS_URL", "value": "http://recommendations.ml.svc.cluster.local:8000"}],
    )
    objects = [
        _namespace("web"),
        _namespace("ml"),
        *_workload(
            "web",
            "storefront",
            caller,
            revisions=((118, 2 * 24 * 60, "registry.example/storefront:8.41.0"),),
            statuses=[_running()],
        ),
        *_workload(
            "ml",
            "recommendations",
            callee,
            revisions=(
                (4, 30 * 24 * 60, "registry.example/recs:0.9"),
                (5, callee_rolled_minutes, "registry.example/recs:1.0"),
            ),
            statuses=[
                _crash_looping("OOMKilled", 137),
                _running(restarts=8, last="OOMKilled", ready=False),
                _running(restarts=7, last="OOMKilled"),
            ],
            ready=1,
        ),
        _service("ml", "recommendations", 8000, "http"),
        _endpoints("ml", "recommendations", 1, 2),
    ]
    logs = [_logs("web", "storefront-h118-p0", "web", _REFUSED, "scope")]
    return _evidence(objects, _STOREFRONT, logs)


def test_callee_killed_for_memory_raises_its_memory_above_the_escalation() -> None:
    run = run_analyzers(_storefront_calling_recommendations(callee_rolled_minutes=12 * 24 * 60))
    first = run.findings[0]
    assert (first.category, first.action, first.target) == (
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        ObjectRef(kind="Deployment", namespace="ml", name="recommendations"),
    )
    assert first.params.get("container") == "api"


def test_callee_killed_right_after_its_own_rollout_is_not_sure_of_its_limit() -> None:
    run = run_analyzers(_storefront_calling_recommendations(callee_rolled_minutes=30))
    oom = [f for f in run.findings if f.category is Category.OOM_KILLED]
    assert oom
    assert run.findings[0].category is not Category.OOM_KILLED


def test_crash_looping_dependency_pod_keeps_why_its_last_run_ended() -> None:
    ev = _storefront_calling_recommendations(callee_rolled_minutes=12 * 24 * 60)
    recs = next(d for d in ev.dependencies if d.workload and d.workload.name == "recommendations")
    looping = [p for p in recs.failing_pods if p.waiting == "CrashLoopBackOff"]
    assert looping
    assert looping[0].last_terminated == "OOMKilled"


# --- a callee rolled out right before a proxy's 503 UH -----------------------------------------

_GATEWAY = ObjectRef(kind="Deployment", namespace="edge", name="gateway")


def _gateway_in_front_of_accounts(access_log: str) -> Evidence:
    envoy = _container("envoy", "docker.io/envoyproxy/envoy:v1.31.2", {"http": 8080})
    envoy["volumes"] = []
    accounts = _container("accounts", "registry.example/accounts:7.4.0", {"http": 8080})
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "gateway-envoy", "namespace": "edge"},
        "data": {
            "envoy.yaml": "clusters:\n- name: accounts\n  load_assignment:\n    endpoints:\n"
            "    - lb_endpoints:\n      - endpoint: {address: {socket_address: "
            "{address: accounts.identity.svc.cluster.local, port_value: 8080}}}\n"
        },
    }
    gateway = _workload(
        "edge",
        "gateway",
        envoy,
        revisions=((9, 26 * 24 * 60, "docker.io/envoyproxy/envoy:v1.31.2"),),
        statuses=[_running()],
    )
    gateway[0]["spec"]["template"]["spec"]["volumes"] = [
        {"name": "config", "configMap": {"name": "gateway-envoy"}}
    ]
    for obj in gateway:
        if obj["kind"] == "Pod":
            obj["spec"]["volumes"] = [{"name": "config", "configMap": {"name": "gateway-envoy"}}]
    objects = [
        _namespace("edge"),
        _namespace("identity"),
        config,
        *gateway,
        *_workload(
            "identity",
            "accounts",
            accounts,
            revisions=(
                (22, 15 * 24 * 60, "registry.example/accounts:7.3.2"),
                (23, 18, "registry.example/accounts:7.4.0"),
            ),
            statuses=[_crash_looping("Error", 2), _crash_looping("Error", 2)],
            ready=0,
        ),
        _service("identity", "accounts", 8080, "http"),
        _endpoints("identity", "accounts", 0, 2),
    ]
    logs = [_logs("edge", "gateway-h9-p0", "envoy", access_log, "scope")]
    return _evidence(objects, _GATEWAY, logs)


def test_callee_down_since_its_rollout_behind_a_proxy_is_rolled_back() -> None:
    run = run_analyzers(
        _gateway_in_front_of_accounts(
            '[2026-11-20T09:59:58.311Z] "POST /accounts/v1/sessions HTTP/1.1" 503 UH 0 19 0 - '
            '"10.44.0.1" "okhttp/4.12.0"'
        )
    )
    first = run.findings[0]
    assert (first.category, first.action, first.target) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        ObjectRef(kind="Deployment", namespace="identity", name="accounts"),
    )
    escalations = [f for f in run.findings if f.action is Action.ESCALATE]
    assert all(f.confidence < first.confidence for f in escalations)


def test_proxy_serving_its_callee_fine_blames_no_callee() -> None:
    run = run_analyzers(
        _gateway_in_front_of_accounts(
            '[2026-11-20T09:59:58.311Z] "POST /accounts/v1/sessions HTTP/1.1" 200 - 0 19 4 3 '
            '"10.44.0.1" "okhttp/4.12.0"'
        )
    )
    assert all(f.category is not Category.BAD_ROLLOUT for f in run.findings)


def test_envoy_upstream_flags_are_failing_calls_other_flags_are_not() -> None:
    assert DEPENDENCY_LOG.search('"GET /a HTTP/1.1" 503 UH 0 19 0 -')
    assert DEPENDENCY_LOG.search('"GET /a HTTP/1.1" 504 UT 0 24 15000 -')
    assert not DEPENDENCY_LOG.search('"GET /a HTTP/1.1" 503 uh 0 19 0 -')
    assert not DEPENDENCY_LOG.search('"GET /a HTTP/1.1" 200 - 0 19 0 -')


def test_pgjdbc_refused_connection_names_the_callee() -> None:
    line = (
        "Connection to orders-pg.db.svc.cluster.local:5432 refused. Check that the hostname "
        "and port are correct and that the postmaster is accepting TCP/IP connections."
    )
    match = DEPENDENCY_LOG.search(line)
    assert match is not None
    assert "orders-pg.db.svc.cluster.local" in match.group(0)


# --- the certificate of the one TLS server called ----------------------------------------------

_CART = ObjectRef(kind="Deployment", namespace="checkout", name="cart")
_EXPIRED = (
    "[ioredis] Unhandled error event: Error: certificate has expired\n  code: 'CERT_HAS_EXPIRED'"
)


def _cart_calling(servers: list[str]) -> Evidence:
    caller = _container(
        "cart",
        "registry.example/cart:3.7.1",
        {"http": 3000},
        env=[
            {
                "name": f"{name.upper()}_URL",
                "value": f"rediss://{name}.cache.svc.cluster.local:6380",
            }
            for name in servers
        ],
    )
    objects: list[dict[str, Any]] = [
        _namespace("checkout"),
        _namespace("cache"),
        *_workload(
            "checkout",
            "cart",
            caller,
            revisions=((22, 5 * 24 * 60, "registry.example/cart:3.7.1"),),
            statuses=[_running(ready=False)],
            ready=0,
        ),
    ]
    for name in servers:
        server = _container("redis", "docker.io/bitnami/redis:7.2.5", {"tls-redis": 6380})
        server["volumeMounts"] = [{"name": "certs", "mountPath": "/opt/bitnami/redis/certs"}]
        workload = _workload(
            "cache",
            name,
            server,
            revisions=((1, 23 * 24 * 60, "docker.io/bitnami/redis:7.2.5"),),
            statuses=[_running()],
        )
        for obj in workload:
            if obj["kind"] == "Pod":
                obj["spec"]["volumes"] = [
                    {"name": "certs", "secret": {"secretName": f"{name}-tls"}}
                ]
        objects += [*workload, _service("cache", name, 6380, "tls-redis")]
    logs = [_logs("checkout", "cart-h22-p0", "cart", _EXPIRED, "scope")]
    return _evidence(objects, _CART, logs)


def test_expired_certificate_without_a_host_renews_the_one_tls_server_called() -> None:
    run = run_analyzers(_cart_calling(["redis-master"]))
    cert = next(f for f in run.findings if f.category is Category.CERTIFICATE_EXPIRY)
    assert (cert.action, cert.target) == (
        Action.RENEW_CERTIFICATE,
        ObjectRef(kind="Secret", namespace="cache", name="redis-master-tls"),
    )


def test_expired_certificate_without_a_host_and_two_tls_servers_is_not_guessed() -> None:
    run = run_analyzers(_cart_calling(["redis-master", "redis-sessions"]))
    cert = next(f for f in run.findings if f.category is Category.CERTIFICATE_EXPIRY)
    assert cert.target.kind != "Secret"
