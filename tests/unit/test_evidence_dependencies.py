"""Checks dependency tracing: Service hosts read from text in every common spelling, the
Services and workloads an error line names, resolution to objects anywhere in the cluster,
and the summary of what stands behind a dependency (pods, rollouts, warnings), including
through ``build_evidence`` across namespaces and from a ConfigMap's values, with the
dependency's own log tails and the claims its pods mount (kept out of the caller's logs),
the cert-manager Certificates that write the Secrets its pods mount, and the recent edits of
the ConfigMaps its pods use.

Real: ``kubetriage.evidence.dependencies`` and ``build_evidence`` over API-shaped dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubetriage import prose
from kubetriage.evidence.dependencies import (
    ServiceHost,
    config_map_hosts,
    env_host,
    envoy_cluster_service,
    mentioned_objects,
    named_hosts,
    service_hosts,
)
from kubetriage.evidence.host_resolution import NamedObject, resolve
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.models.base import ObjectRef
from kubetriage.models.relations import DependencyRoute, PodTrouble
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import named, naming

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
LIMITS = EvidenceLimits()
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")
# Where the texts given to ``service_hosts`` were read (the hosts keep it, the tests do not).
A_LOG = named("log shop/web-1/app")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "dial tcp orders-db.sales.svc.cluster.local:5432: connect: refused",
            ("orders-db", "sales", 5432),
        ),
        ("DB_HOST=orders-db.sales.svc", ("orders-db", "sales", None)),
        ("upstream orders-db.sales:5432 timed out", ("orders-db", "sales", 5432)),
        ("GET http://auth-api.identity/verify failed", ("auth-api", "identity", None)),
        ("calling http://rates:8080/quote: 503", ("rates", None, 8080)),
        ("grpc://currency.shop.svc.cluster.local:7000", ("currency", "shop", 7000)),
        (
            "POST /v2/rates -> 502 upstream=carrier-rates cause=timeout",
            ("carrier-rates", None, None),
        ),
        ('{"msg":"call failed","peer_host":"auth.identity:8443"}', ("auth", "identity", 8443)),
        # A StatefulSet member's own name under its headless Service names that Service.
        (
            "connect ETIMEDOUT mongo-0.mongo.data.svc.cluster.local:27017",
            ("mongo", "data", 27017),
        ),
        (
            "BROKERS=kafka-1.kafka-headless.streaming.svc:9092",
            ("kafka-headless", "streaming", 9092),
        ),
        # A client naming the datastore it connects to.
        ('{"message":"Read database URL: mongodb-geo:27017"}', ("mongodb-geo", None, 27017)),
        ("connecting redis_addr=sessions.cache:6379", ("sessions", "cache", 6379)),
    ],
)
def test_service_hosts_are_read_in_every_common_spelling(
    text: str, expected: tuple[str, str | None, int | None]
) -> None:
    hosts = service_hosts(A_LOG, text)
    assert [(h.name, h.namespace, h.port) for h in hosts] == [expected]


@pytest.mark.parametrize("text", ["cache=hit", "db: orders", "database is up"])
def test_a_datastore_word_without_an_address_key_names_no_host(text: str) -> None:
    assert service_hosts(A_LOG, text) == []


@pytest.mark.parametrize(
    "text",
    [
        # zap's caller field, klog's header, a Python logger's location: where the line was
        # written, not a Service "netstorage" in a namespace "go".
        '{"level":"warn","caller":"netstorage/netstorage.go:262","msg":"cannot dial"}',
        "E1120 09:58:01.123456       1 reflector.go:147] failed to list *v1.Pod",
        "WARNING views.py:88 slow query on orders",
        "at com.shop.Checkout.pay(Checkout.java:1042)",
    ],
)
def test_a_source_location_names_no_host(text: str) -> None:
    assert service_hosts(A_LOG, text) == []


def test_a_source_location_beside_a_service_address_keeps_the_address() -> None:
    text = "E1120 09:58:01.1 1 client.go:311] dial tcp orders-db.sales:5432: connect: refused"
    hosts = service_hosts(A_LOG, text)
    assert [(h.name, h.namespace, h.port) for h in hosts] == [("orders-db", "sales", 5432)]


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        ("catalog_product-api_8080", ("product-api", "catalog", 8080)),
        ("catalog/product-api/8080/da39a3ee5e", ("product-api", "catalog", 8080)),
        ("catalog_product-api_8080_da39a3ee5e", ("product-api", "catalog", 8080)),
        ("shop/cart/80", ("cart", "shop", 80)),
    ],
)
def test_an_envoy_cluster_name_stands_for_its_backend_service(
    cluster: str, expected: tuple[str, str, int]
) -> None:
    backend = envoy_cluster_service(cluster)
    assert backend is not None
    assert (backend.name, backend.namespace, backend.port) == expected


@pytest.mark.parametrize(
    "cluster", ["local_agent", "outbound|8080||cart.shop.svc", "2026/11/20", "a_b", "prod-eu"]
)
def test_other_cluster_names_name_no_service(cluster: str) -> None:
    assert envoy_cluster_service(cluster) is None


def test_a_keyed_envoy_cluster_in_a_log_names_its_service_and_a_bare_one_does_not() -> None:
    keyed = 'upstream failed envoy_cluster_name="catalog_product-api_8080" flags=UF'
    assert [(h.name, h.namespace, h.port) for h in service_hosts(A_LOG, keyed)] == [
        ("product-api", "catalog", 8080)
    ]
    # A date or an identifier of the same shape is no cluster name without the key.
    assert service_hosts(A_LOG, "retry_budget_10 exhausted on 2026/11/20") == []


def test_a_public_domain_with_three_labels_is_not_a_service() -> None:
    assert service_hosts(A_LOG, "GET https://api.example.com/v1 failed") == []
    # Nor is a peer key's public domain or address.
    assert service_hosts(A_LOG, "upstream=api.example.com backend=10.0.0.7:80") == []


def test_config_map_values_yield_hosts_and_nothing_else() -> None:
    cm = {"data": {"app.yaml": "mongo: mongodb://geo-db.hotel:27017/geo\npassword: hunter2\n"}}
    assert config_map_hosts(cm) == ["geo-db.hotel"]


def _obj(kind: str, name: str, namespace: str = "shop", **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace},
        **extra,
    }


def test_an_error_line_names_a_workload_by_its_base_word() -> None:
    objects = [_obj("Deployment", "currencyservice"), _obj("Service", "payment-api")]
    lines = [
        (named("log a"), "request error: failed to convert currency: rpc error"),
        (named("log b"), "charged payment ok"),  # no error word: no mention
    ]
    found = mentioned_objects(lines, objects)
    assert [(h.kind, h.name) for h in found] == [("Deployment", "currencyservice")]


@pytest.mark.parametrize("name", ["currencyservice-v2", "currencyservice-eu1", "currency-prod"])
def test_a_name_qualified_by_a_version_region_or_environment_keeps_its_base_word(
    name: str,
) -> None:
    found = mentioned_objects(
        [(named("log a"), "failed to convert currency: rpc error")], [_obj("Deployment", name)]
    )
    assert [h.name for h in found] == [name]


def test_a_qualified_name_never_takes_the_word_of_another_objects_own_name() -> None:
    # Listed first, the qualified name must still lose "search" to the object named so.
    objects = [_obj("Deployment", "search-v2"), _obj("Deployment", "search")]
    found = mentioned_objects([(named("log a"), "search failed: timeout")], objects)
    assert [h.name for h in found] == ["search"]


def test_a_qualifier_is_not_a_role_or_a_word() -> None:
    objects = [_obj("Deployment", "orders-db"), _obj("Deployment", "ledger-sink")]
    found = mentioned_objects([(named("log a"), "orders ledger failed")], objects)
    assert found == []


def test_an_error_line_names_a_one_word_workload_even_inside_a_camel_case_identifier() -> None:
    objects = [_obj("Deployment", "search"), _obj("Deployment", "geo")]
    lines = [
        (named("log a"), "ERR SearchHandler: rpc error: code = Unavailable"),
        (named("log b"), "geo lookup failed"),  # shorter than five letters: too common to trust
    ]
    found = mentioned_objects(lines, objects)
    assert [(h.kind, h.name, h.source) for h in found] == [("Deployment", "search", named("log a"))]


def test_resolve_defaults_to_the_callers_namespace_and_skips_its_own_objects() -> None:
    env, x, y, z = naming("pod web-1 env DB", "log shop/x/c", "log shop/y/c", "log shop/z/c")
    hosts = [
        ServiceHost("db", "data", 5432, env),
        ServiceHost("db", "data", None, x),
        ServiceHost("api", None, 80, y),
        ServiceHost("self", None, None, z),
    ]
    resolved = resolve(hosts, "shop", {("Service", "shop", "self")})
    assert resolved == [
        NamedObject("Service", "data", "db", [env, x], []),
        NamedObject("Service", "shop", "api", [y], []),
    ]


def test_resolve_keeps_each_route_once_with_the_object_it_reaches() -> None:
    backend = DependencyRoute(
        kind="backend", ingress=ObjectRef(kind="Ingress", namespace="shop", name="web")
    )
    path, log = naming("backend of Ingress shop/web", "log shop/x/c")
    hosts = [
        ServiceHost("edge", "edge", None, path, route=backend),
        ServiceHost("edge", "edge", 80, log),
        ServiceHost("edge", "edge", None, path, route=backend),
    ]
    [found] = resolve(hosts, "shop", set())
    assert found.sources == [path, log]
    assert found.routes == [backend]


def _deployment(name: str, namespace: str, uid: str) -> dict[str, Any]:
    return deployment_manifest(
        name,
        namespace,
        ("c", f"{name}:2"),
        metadata={"uid": uid, "annotations": {"deployment.kubernetes.io/revision": "2"}},
        status={"readyReplicas": 0},
        replicas=1,
    )


def _replica_set(
    workload: str, namespace: str, uid: str, number: int, image: str, created: str
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{workload}-rs{number}",
            "namespace": namespace,
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(number)},
            "labels": {"app": workload},
            "ownerReferences": [
                {"kind": "Deployment", "name": workload, "uid": uid, "controller": True}
            ],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": workload}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            }
        },
    }


def _pod(
    workload: str, namespace: str, *, env: dict[str, str] | None = None, crashing: bool = False
) -> dict[str, Any]:
    state: dict[str, Any] = (
        {"waiting": {"reason": "CrashLoopBackOff"}} if crashing else {"running": {}}
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{workload}-rs2-abcde",
            "namespace": namespace,
            "labels": {"app": workload},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": f"{workload}-rs2", "controller": True}
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": f"{workload}:2",
                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                }
            ]
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": not crashing,
                    "restartCount": 3 if crashing else 0,
                    "state": state,
                    "lastState": (
                        {"terminated": {"reason": "OOMKilled", "exitCode": 137}} if crashing else {}
                    ),
                }
            ],
        },
    }


def _web_calling_db() -> list[dict[str, Any]]:
    """Deployment shop/web whose pod's DB_URL names Service data/db (selecting app=db)."""
    return [
        _deployment("web", "shop", "w1"),
        _replica_set("web", "shop", "w1", 2, "web:2", "2026-10-01T00:00:00Z"),
        _pod("web", "shop", env={"DB_URL": "postgres://db.data.svc.cluster.local:5432/app"}),
        _obj("Service", "db", "data", spec={"selector": {"app": "db"}}),
    ]


def _warning(kind: str, name: str, reason: str, message: str) -> dict[str, Any]:
    """A Warning Event about ``kind`` ``data/<name>``."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "data"},
        "type": "Warning",
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": kind, "name": name, "namespace": "data"},
    }


def test_build_evidence_follows_a_dependency_into_another_namespace() -> None:
    objects = [
        *_web_calling_db(),
        _deployment("db", "data", "d1"),
        _replica_set("db", "data", "d1", 1, "db:1", "2026-10-01T00:00:00Z"),
        _replica_set("db", "data", "d1", 2, "db:2", "2026-11-20T09:30:00Z"),
        _pod("db", "data", crashing=True),
        _warning("Pod", "db-rs2-abcde", "BackOff", "Back-off restarting failed container"),
    ]
    logs = [
        tail_from_text(
            "shop", "web-rs2-abcde", "c", "ERROR db.data.svc:5432 refused\n", limits=LIMITS
        )
    ]
    ev = built(objects, WEB, logs=logs)
    assert len(ev.dependencies) == 1
    dep = ev.dependencies[0]
    assert dep.service is not None
    assert (dep.service.namespace, dep.service.name) == ("data", "db")
    assert dep.workload == ObjectRef(kind="Deployment", namespace="data", name="db")
    assert dep.pods == 1
    # A pod waiting to restart keeps why its last run ended.
    assert dep.failing_pods == [
        PodTrouble(
            pod="db-rs2-abcde",
            container="c",
            waiting="CrashLoopBackOff",
            restarts=3,
            last_terminated="OOMKilled",
        )
    ]
    assert prose.pod_trouble(dep.failing_pods[0]) == (
        "db-rs2-abcde: c waiting CrashLoopBackOff, restarts 3, last OOMKilled"
    )
    assert [c.to_revision for c in dep.changes] == [2]
    assert dep.warnings == ["Pod/db-rs2-abcde BackOff: Back-off restarting failed container"]
    assert dep.named_by[0] == named("pod web-rs2-abcde env DB_URL")


def test_a_dependencys_own_logs_and_claims_stand_with_it_not_with_the_caller() -> None:
    db_pod = _pod("db", "data")
    db_pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "pg"}}]
    objects = [
        *_web_calling_db(),
        _deployment("db", "data", "d1"),
        _replica_set("db", "data", "d1", 2, "db:2", "2026-10-01T00:00:00Z"),
        db_pod,
        _obj("PersistentVolumeClaim", "pg", "data", spec={"storageClassName": "fast"}),
        _warning("PersistentVolumeClaim", "pg", "VolumeResizeFailed", "resize volume pg failed"),
    ]
    said = "ERROR:  could not extend file: No space left on device\n"
    own = tail_from_text("data", "db-rs2-abcde", "c", said, limits=LIMITS, source="dependency")
    caller = tail_from_text("shop", "web-rs2-abcde", "c", "ERROR insert failed\n", limits=LIMITS)
    ev = built(objects, WEB, logs=[caller, own])
    [dep] = ev.dependencies
    assert [(t.pod, t.lines) for t in dep.logs] == [("db-rs2-abcde", [said.strip()])]
    assert [(v.pod, v.claim.name, v.claim.storage_class) for v in dep.volumes] == [
        ("db-rs2-abcde", "pg", "fast")
    ]
    assert dep.warnings[0] == "PersistentVolumeClaim/pg VolumeResizeFailed: resize volume pg failed"
    assert [t.pod for t in ev.logs] == ["web-rs2-abcde"]


def test_a_dependencys_own_words_are_only_the_tails_read_as_its_own() -> None:
    """Each tail goes where its ``source`` says, wherever it sits in the list: the same
    container read again for an admission webhook the dependency also serves is not a
    second tail of the dependency's, and a dependency's tail is not one of the incident's."""
    objects = [*_web_calling_db(), _deployment("db", "data", "d1"), _pod("db", "data")]
    said = "FATAL:  remaining connection slots are reserved\n"
    own = tail_from_text("data", "db-rs2-abcde", "c", said, limits=LIMITS, source="dependency")
    again = own.model_copy(update={"source": "webhook"})
    caller = tail_from_text("shop", "web-rs2-abcde", "c", "ERROR insert failed\n", limits=LIMITS)
    for logs in ([caller, own, again], [own, again, caller], [again, own, caller]):
        [dep] = built(objects, WEB, logs=logs).dependencies
        assert [(t.pod, t.source) for t in dep.logs] == [("db-rs2-abcde", "dependency")]
        assert [t.pod for t in built(objects, WEB, logs=logs).logs] == ["web-rs2-abcde"]


def test_a_dependencys_log_tails_are_bounded_to_its_first_pods() -> None:
    objects = [*_web_calling_db()]
    tails = []
    for i in range(4):
        member = _pod("db", "data")
        member["metadata"]["name"] = f"db-{i}"
        objects.append(member)
        tails.append(
            tail_from_text(
                "data", f"db-{i}", "c", "LOG: ready\n", limits=LIMITS, source="dependency"
            )
        )
    limits = EvidenceLimits(max_dependency_pods=2)
    ev = built(objects, WEB, logs=tails, limits=limits)
    [dep] = ev.dependencies
    assert len(dep.logs) == 2
    assert dep.pods == 4


def test_a_headless_service_that_cannot_be_read_is_followed_to_its_workload() -> None:
    """``<workload>-headless`` names the workload behind it: when that Service is not among
    the objects read, the workload of the base name stands in, with the Secrets its pods
    mount; any other missing Service stays an unfollowed name."""
    identity_pod = _pod("identity", "mesh")
    identity_pod["spec"]["volumes"] = [{"name": "issuer", "secret": {"secretName": "id-issuer"}}]
    identity_pod["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "issuer", "mountPath": "/var/run/identity"}
    ]
    objects = [
        _deployment("web", "shop", "w1"),
        _replica_set("web", "shop", "w1", 2, "web:2", "2026-10-01T00:00:00Z"),
        _pod("web", "shop"),
        _deployment("identity", "mesh", "i1"),
        _replica_set("identity", "mesh", "i1", 2, "identity:2", "2026-10-01T00:00:00Z"),
        identity_pod,
    ]
    line = (
        "WARN addr=identity-headless.mesh.svc.cluster.local:8080 failed: certificate expired\n"
        "WARN addr=policy.mesh.svc.cluster.local:8090 failed\n"
    )
    logs = [tail_from_text("shop", "web-rs2-abcde", "c", line, limits=LIMITS)]
    ev = built(objects, WEB, logs=logs)
    by_name = {d.ref.name: d for d in ev.dependencies if d.ref is not None}
    dep = by_name["identity"]
    assert (dep.service, dep.workload) == (
        None,
        ObjectRef(kind="Deployment", namespace="mesh", name="identity"),
    )
    assert dep.mounted_secrets == ["id-issuer"]
    assert [(m.name, m.path) for m in dep.secret_mounts] == [("id-issuer", "/var/run/identity")]
    assert by_name["policy"].followed is False


def test_a_callee_whose_controller_cannot_create_pods_carries_the_reason() -> None:
    search = _deployment("search", "shop", "s1")
    search["status"] = {
        "readyReplicas": 0,
        "conditions": [
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": 'pods "search-rs2-" is forbidden: exceeded quota: mem-quota',
            },
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        ],
    }
    objects = [
        _deployment("web", "shop", "w1"),
        _replica_set("web", "shop", "w1", 2, "web:2", "2026-10-01T00:00:00Z"),
        _pod("web", "shop"),
        search,
        _replica_set("search", "shop", "s1", 2, "search:2", "2026-10-01T00:00:00Z"),
    ]
    logs = [
        tail_from_text(
            "shop",
            "web-rs2-abcde",
            "c",
            "ERR SearchHandler: rpc error: Unavailable\n",
            limits=LIMITS,
        )
    ]
    [dep] = built(objects, WEB, logs=logs).dependencies
    assert dep.workload == ObjectRef(kind="Deployment", namespace="shop", name="search")
    assert (dep.pods, dep.ready_replicas) == (0, 0)
    assert dep.warnings == [
        'Deployment/search ReplicaFailure FailedCreate: pods "search-rs2-" is forbidden: '
        "exceeded quota: mem-quota"
    ]


def test_dependencies_are_bounded() -> None:
    env = {f"URL{i}": f"http://svc{i}.other{i}.svc:80" for i in range(5)}
    objects = [
        _deployment("web", "shop", "w1"),
        _replica_set("web", "shop", "w1", 2, "web:2", "2026-10-01T00:00:00Z"),
        _pod("web", "shop", env=env),
    ]
    objects += [
        _obj("Service", f"svc{i}", f"other{i}", spec={"selector": {"app": "x"}}) for i in range(5)
    ]
    ev = built(objects, WEB, limits=EvidenceLimits(max_dependencies=2))
    assert len(ev.dependencies) == 2
    assert any(t.startswith("dependencies: kept 2 of 5") for t in ev.truncated)


def _certificate(name: str, secret: str) -> dict[str, Any]:
    """A cert-manager Certificate data/<name> writing Secret ``secret``, expired, not Ready."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "data"},
        "spec": {"secretName": secret, "issuerRef": {"kind": "ClusterIssuer", "name": "ca"}},
        "status": {
            "notAfter": "2026-11-20T09:00:00Z",
            "conditions": [{"type": "Ready", "status": "False", "reason": "Expired"}],
        },
    }


def test_a_dependency_carries_the_certificates_that_write_the_secrets_its_pods_mount() -> None:
    """The serving certificate of a callee in another namespace is found by the Secret its
    pods mount; a Certificate of that namespace writing another Secret is not its own."""
    db_pod = _pod("db", "data")
    db_pod["spec"]["volumes"] = [{"name": "tls", "secret": {"secretName": "db-tls"}}]
    objects = [
        *_web_calling_db(),
        db_pod,
        _certificate("db", "db-tls"),
        _certificate("reports", "reports-tls"),
    ]
    [dep] = built(objects, WEB).dependencies
    assert [(c.ref.namespace, c.ref.name) for c in dep.certificates] == [("data", "db")]
    assert dep.certificates[0].fields["secretName"] == "db-tls"


def test_a_failed_lookup_names_the_cluster_dns_service() -> None:
    """The resolver timing out and the resolver answering "no such host" both went through
    the cluster DNS, whose configuration (a forwarder, a stub domain) may be what changed."""
    timeout = (
        'Post "http://pay.payments.svc.cluster.local/charge": dial tcp: lookup '
        "pay.payments.svc.cluster.local on 10.96.0.10:53: read udp 10.1.2.3:41237->"
        "10.96.0.10:53: i/o timeout"
    )
    no_such_host = "dial tcp: lookup ledger.corp.example.net on 10.96.0.10:53: no such host"
    for text in (timeout, no_such_host):
        hosts = named_hosts([(named("log shop/checkout-1/app"), text)], [])
        assert ("kube-dns", "kube-system", named("log shop/checkout-1/app")) in {
            (h.name, h.namespace, h.source) for h in hosts
        }
    # Near misses: an env value is no failed lookup, and a log line without one names no DNS.
    for source, text in (
        (named("pod checkout-1 env RESOLVER"), "getaddrinfo EAI_AGAIN retries=3"),
        (named("log shop/checkout-1/app"), "dial tcp 10.0.0.7:5432: connect: connection refused"),
    ):
        assert "kube-dns" not in {h.name for h in named_hosts([(source, text)], [])}


def _config_map(name: str, namespace: str, *writes: str) -> dict[str, Any]:
    """A ConfigMap created at the first of ``writes`` and written at each of them."""
    found = _obj("ConfigMap", name, namespace, data={"conf": "x"})
    found["metadata"]["creationTimestamp"] = writes[0]
    found["metadata"]["managedFields"] = [
        {"manager": "kubectl-edit", "operation": "Update", "time": at} for at in writes
    ]
    return found


def test_a_dependency_carries_the_recent_edits_of_the_config_maps_its_pods_use() -> None:
    """An edit after creation of a ConfigMap its pods mount or read env from is a change of
    the dependency with no rollout; a ConfigMap only created, one edited long ago and one
    no pod of it uses are not."""
    db_pod = _pod("db", "data")
    db_pod["spec"]["volumes"] = [
        {"name": "conf", "configMap": {"name": "db-conf"}},
        {"name": "old", "configMap": {"name": "db-old"}},
        {"name": "new", "projected": {"sources": [{"configMap": {"name": "db-new"}}]}},
    ]
    db_pod["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "db-env"}}]
    objects = [
        *_web_calling_db(),
        _deployment("db", "data", "d1"),
        db_pod,
        _config_map("db-conf", "data", "2026-01-01T00:00:00Z", "2026-11-20T09:40:00Z"),
        _config_map("db-env", "data", "2026-01-01T00:00:00Z", "2026-11-20T08:00:00Z"),
        _config_map("db-old", "data", "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"),
        _config_map("db-new", "data", "2026-11-20T09:50:00Z"),
        _config_map("unused", "data", "2026-01-01T00:00:00Z", "2026-11-20T09:55:00Z"),
    ]
    [dep] = built(objects, WEB).dependencies
    assert [(c.object.name, c.aspects, c.at) for c in dep.config_changes] == [
        ("db-conf", ["data"], datetime(2026, 11, 20, 9, 40, tzinfo=UTC)),
        ("db-env", ["data"], datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
    ]
    assert all(c.object.namespace == "data" for c in dep.config_changes)


@pytest.mark.parametrize(
    ("env", "value", "host"),
    [
        ("FLAGD_HOST", "flagd", ("flagd", None, None)),
        ("CART_ADDR", "cart:8080", ("cart", None, 8080)),
        ("PAYMENT_SERVICE", "payment.billing:9000", ("payment", "billing", 9000)),
        ("OTLP_ENDPOINT", "collector", ("collector", None, None)),
        # Its name says it is no peer's address, or its value is no host.
        ("OTEL_SERVICE_NAME", "frontend", None),
        ("LOG_LEVEL", "debug", None),
        ("CACHE_HOST", "10.0.0.7", None),
        ("API_URL", "not a host", None),
    ],
)
def test_an_env_var_named_for_an_address_names_its_bare_value_as_a_host(
    env: str, value: str, host: tuple[str, str | None, int | None] | None
) -> None:
    found = env_host(named(f"pod web-1 env {env}"), value)
    assert [(h.name, h.namespace, h.port) for h in found] == ([host] if host else [])


def test_a_bare_env_value_is_a_dependency_only_when_a_service_has_that_name() -> None:
    web = deployment_manifest(
        "web",
        "shop",
        {
            "name": "web",
            "image": "web:1",
            "env": [
                {"name": "FLAGD_HOST", "value": "flagd"},
                {"name": "CACHE_HOST", "value": "memcached"},
            ],
        },
    )
    flagd = service_manifest("flagd", "shop", {"app": "flagd"}, port=8013)
    ev = built([web, flagd], ObjectRef(kind="Deployment", namespace="shop", name="web"))
    assert [(d.service.name if d.service else None) for d in ev.dependencies] == ["flagd"]
    assert ev.dependencies[0].named_by == [named("Deployment web env FLAGD_HOST")]


def test_a_service_without_a_selector_is_backed_by_the_pods_its_endpoints_name() -> None:
    """A leader Service whose Endpoints another controller writes (Patroni, an operator's
    primary Service) has no selector: what stands behind it is the pod its Endpoints name
    and that pod's StatefulSet, with the StatefulSet's revisions."""
    web = _web_calling_db()
    web[-1] = _obj("Service", "db", "data", spec={"ports": [{"port": 5432}]})
    db_0 = _pod("db", "data")
    db_0["metadata"]["name"] = "db-0"
    db_0["metadata"]["ownerReferences"] = [
        {"kind": "StatefulSet", "name": "db", "controller": True}
    ]
    db_0["spec"]["volumes"] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "pgdata-db-0"}}
    ]
    statefulset = {
        **_obj("StatefulSet", "db", "data", spec={"replicas": 2}),
        "apiVersion": "apps/v1",
        "status": {"replicas": 2, "readyReplicas": 2},
    }
    statefulset["spec"]["selector"] = {"matchLabels": {"app": "db"}}
    endpoints = _obj("Endpoints", "db", "data")
    endpoints["subsets"] = [
        {
            "addresses": [{"ip": "10.0.0.9", "targetRef": {"kind": "Pod", "name": "db-0"}}],
            "ports": [{"port": 5432}],
        }
    ]
    ev = built([*web, statefulset, db_0, endpoints], WEB)
    [dep] = ev.dependencies
    assert dep.workload == ObjectRef(kind="StatefulSet", namespace="data", name="db")
    assert dep.pods == 1
    assert [(v.pod, v.claim.name) for v in dep.volumes] == [("db-0", "pgdata-db-0")]


def test_a_service_without_a_selector_and_no_endpoints_is_backed_by_nothing() -> None:
    web = _web_calling_db()
    web[-1] = _obj("Service", "db", "data", spec={"ports": [{"port": 5432}]})
    ev = built([*web, _pod("db", "data")], WEB)
    [dep] = ev.dependencies
    assert dep.workload is None
    assert dep.pods == 0


def _endpoint_slice(service: str, namespace: str, *ready: bool | None) -> dict[str, Any]:
    """An EndpointSlice of ``namespace/service``, one endpoint per ``ready`` condition (None:
    the condition is absent, which the API defines as ready)."""
    endpoints = [
        {"addresses": [f"10.0.0.{i}"], "conditions": {} if r is None else {"ready": r}}
        for i, r in enumerate(ready, start=1)
    ]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": "IPv4",
        "metadata": {
            "name": f"{service}-abc12",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service},
        },
        "endpoints": endpoints,
    }


def test_a_dependency_without_an_endpoints_object_counts_its_endpoint_slices() -> None:
    """A Service with EndpointSlices but no Endpoints mirror: its ready count comes from the
    slices (a missing ready condition counts as ready), not an unknown count."""
    objects = [
        *_web_calling_db(),
        _pod("db", "data"),
        _endpoint_slice("db", "data", False, True, None),
        _endpoint_slice("other", "data", True),
    ]
    [dep] = built(objects, WEB).dependencies
    assert dep.service is not None
    assert (dep.service.ready_endpoints, dep.service.not_ready_endpoints) == (2, 1)


def test_a_dependency_with_neither_endpoints_nor_slices_has_an_unknown_count() -> None:
    [dep] = built([*_web_calling_db(), _pod("db", "data")], WEB).dependencies
    assert dep.service is not None
    assert dep.service.ready_endpoints is None
    assert prose.ready_endpoints(dep.service.ready_endpoints) == "its endpoints were not read"


def test_a_member_address_without_a_namespace_also_names_the_callers_headless_service() -> None:
    # "cache-0.cache:11211" resolves first as the member cache-0 under the headless Service
    # "cache" of the caller's namespace (the search path), then as Service cache-0 of a
    # namespace "cache": both readings are kept, the walk follows the one that exists.
    text = "cache-0.cache:11211,cache-1.cache:11211"
    hosts = [(h.name, h.namespace, h.port) for h in service_hosts(named("pod web env CACHE"), text)]
    assert ("cache", None, 11211) in hosts
    assert ("cache-0", "cache", 11211) in hosts
    # A Service in another namespace, spelled the same way without an ordinal, stays one.
    plain = service_hosts(A_LOG, "dial orders-db.sales:5432")
    assert [(h.name, h.namespace) for h in plain] == [("orders-db", "sales")]
