"""Checks KubeEvidenceCollector (kubetriage.evidence.kube) against the Kubernetes API emulator.

Real: the official ``kubernetes`` client talking HTTP to the in-process API emulator loaded
with the example cases' objects and logs, and the pure builder. Faults (503, 403, a closed
port) are injected at the HTTP level; nothing in the collector is mocked.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from kubetriage.evidence.api_requests import TemporaryCollectionError
from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.replay.emulator import AuditRecord, EmulatorThread
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.tenancy import Scope
from tests.support.built import case_alert, case_evidence, service_manifest
from tests.support.cases import EXAMPLES, TRAIN

CASES = EXAMPLES
CASE_NAMES = ["example-oom-csv-exporter", "example-image-tag-typo", "example-external-api-503"]
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
LIMITS = EvidenceLimits()
# These cases replay one namespace each; tenancy is tested in test_tenancy_kube.py.
SCOPE = Scope.unrestricted()


def _case(name: str, cases: Path = CASES) -> Case:
    path = cases / name / "case.yaml"
    return Case.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _alert(case: Case) -> Alert:
    return case_alert(case)


def _load(emulator: EmulatorThread, case: Case) -> None:
    emulator.emulator.load(case.cluster)
    for key, text in case.logs.items():
        namespace, pod, container = key.split("/")
        emulator.emulator.set_logs(namespace, pod, container, text)


def _built_from_case(case: Case) -> Evidence:
    return case_evidence(case)


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


async def _collect(
    api: client.ApiClient,
    case: Case | None = None,
    *,
    target: ObjectRef | None = None,
    scope: Scope = SCOPE,
    request_timeout: float = 5.0,
) -> Evidence:
    """What the collector gathers about ``target`` (and ``case``'s alert and title)."""
    collector = KubeEvidenceCollector(api, limits=LIMITS, request_timeout=request_timeout)
    return await collector.collect(
        target=target,
        alerts=[_alert(case)] if case else [],
        title=case.title if case else "t",
        description=None,
        now=NOW,
        scope=scope,
    )


@pytest.mark.parametrize("name", CASE_NAMES)
async def test_collected_evidence_equals_evidence_built_from_the_case(
    emulator: EmulatorThread, api: client.ApiClient, name: str
) -> None:
    case = _case(name)
    _load(emulator, case)
    collected = await _collect(api, case)
    expected = _built_from_case(case)
    assert collected.collection_errors == []
    assert collected.model_dump(exclude={"collected_at"}) == expected.model_dump(
        exclude={"collected_at"}
    )
    # The comparison is not vacuous: the case's key facts are in both.
    assert collected.target is not None
    assert collected.workload is not None
    assert collected.pods


async def test_a_cronjob_run_without_pods_is_collected_through_the_next_run(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The alerted Job's pod was deleted at its deadline; the CronJob's next run still waits.
    case = _case("image-pull-cronjob-pull-secret-name-missing-after-tag-bump-deadline", TRAIN)
    _load(emulator, case)
    collected = await _collect(api, case)
    assert collected.collection_errors == []
    assert [p.name for p in collected.pods] == ["ledger-reconcile-29919450-q7w2k"]
    assert [p.name for p in _built_from_case(case).pods] == [p.name for p in collected.pods]
    assert collected.workload is not None
    assert collected.workload.controller == ObjectRef(
        kind="CronJob", namespace="finance", name="ledger-reconcile"
    )


async def test_an_alert_on_a_cronjob_is_collected_through_its_waiting_run(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The alert names the CronJob (no pods, no selector); its 09:45 run still waits.
    case = _case(
        "config-missing-flux-generator-hash-rename-prunes-configmap-cronjob-still-names", TRAIN
    )
    _load(emulator, case)
    collected = await _collect(api, case)
    assert collected.collection_errors == []
    assert [p.name for p in collected.pods] == ["ledger-sync-29919465-7tq4d"]
    assert [p.name for p in _built_from_case(case).pods] == [p.name for p in collected.pods]
    assert collected.workload is not None
    assert collected.workload.controller == ObjectRef(
        kind="CronJob", namespace="reporting", name="ledger-sync"
    )


async def test_oom_case_reads_previous_logs_and_never_touches_secrets(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("example-oom-csv-exporter")
    _load(emulator, case)
    pod = "csv-exporter-5f7d8c9b6d-k2x9p"
    emulator.emulator.set_logs("exports", pod, "exporter", "fatal: killed\n", previous=True)
    emulator.emulator.clear_audit()
    evidence = await _collect(api, case)
    exporter = evidence.pods[0].containers[0]
    assert exporter.last_state is not None
    assert exporter.last_state.reason == "OOMKilled"
    assert {(t.previous, t.lines[-1]) for t in evidence.logs} == {
        (False, "INFO:exporter:loaded 2400000 rows, rss=241MB"),
        (True, "fatal: killed"),
    }
    audit = emulator.emulator.audit
    assert audit, "the collector made no API requests"
    assert not [r for r in audit if r.resource == "secrets"]
    assert all(r.verb in {"get", "list"} for r in audit)
    # Events are read per involved object (pod, ReplicaSet, Deployment, node), not per watch.
    event_lists = [r for r in audit if r.resource == "events"]
    assert len(event_lists) >= 3
    # Node events live in "default" (kubelet); never an all-namespaces list.
    assert {r.namespace for r in event_lists} <= {"exports", "default"}


async def test_missing_target_is_reported_in_the_evidence(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("example-image-tag-typo")
    _load(emulator, case)
    gone = ObjectRef(kind="Deployment", name="gone", namespace="marketing-site")
    collector = KubeEvidenceCollector(api, limits=LIMITS)
    evidence = await collector.collect(
        target=gone, alerts=[], title="t", description=None, now=NOW, scope=SCOPE
    )
    assert evidence.target == gone
    assert evidence.workload is None
    assert "target Deployment/marketing-site/gone not found" in evidence.collection_errors


async def test_server_errors_on_the_target_lookup_are_temporary(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("example-oom-csv-exporter")
    _load(emulator, case)

    def pod_get(record: AuditRecord) -> bool:
        return record.resource == "pods" and record.verb == "get" and record.subresource == ""

    emulator.emulator.fail_requests(20, code=503, predicate=pod_get)
    with pytest.raises(TemporaryCollectionError, match="HTTP 503"):
        await _collect(api, case)


async def test_forbidden_optional_lookup_is_a_collection_error(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("example-external-api-503")
    _load(emulator, case)

    def config_maps(record: AuditRecord) -> bool:
        return record.resource == "configmaps"

    emulator.emulator.fail_requests(20, code=403, predicate=config_maps)
    evidence = await _collect(api, case)
    assert evidence.collection_errors == ["list ConfigMaps in newsletter: forbidden"]
    assert evidence.workload is not None
    assert evidence.services[0].external_name == "api.mailprovider.example.com"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_api_server_is_temporary() -> None:
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{_closed_port()}"
    configuration.retries = 0
    with client.ApiClient(configuration) as unreachable:
        pod = ObjectRef(kind="Pod", name="p", namespace="n")
        with pytest.raises(TemporaryCollectionError):
            await _collect(unreachable, target=pod, request_timeout=2.0)


def _node(name: str, taints: list[dict[str, str]]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"taints": taints},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": "2", "memory": "4Gi"},
            "images": [{"names": ["registry.example/huge:1"], "sizeBytes": 1}],
        },
    }


async def test_pending_pod_brings_every_node_and_its_scheduling_event(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "big-0", "namespace": "batch", "labels": {"app": "big"}},
        "spec": {
            "containers": [
                {"name": "main", "image": "big:1", "resources": {"requests": {"cpu": "16"}}}
            ]
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        },
    }
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "big-0.1", "namespace": "batch"},
        "involvedObject": {"kind": "Pod", "name": "big-0", "namespace": "batch"},
        "reason": "FailedScheduling",
        "message": "0/2 nodes are available: 2 Insufficient cpu.",
        "type": "Warning",
        "count": 7,
        "lastTimestamp": "2026-11-20T09:59:00Z",
    }
    unrelated = {**event, "metadata": {"name": "x.1", "namespace": "batch"}}
    unrelated["involvedObject"] = {"kind": "Pod", "name": "other", "namespace": "batch"}
    emulator.emulator.load(
        [
            pod,
            event,
            unrelated,
            _node("n1", []),
            _node("n2", [{"key": "gpu", "effect": "NoSchedule"}]),
        ]
    )
    alert = Alert(labels={"alertname": "KubePodNotScheduled", "namespace": "batch", "pod": "big-0"})
    collector = KubeEvidenceCollector(api, limits=LIMITS)
    evidence = await collector.collect(
        target=None, alerts=[alert], title="t", description=None, now=NOW, scope=SCOPE
    )
    assert evidence.collection_errors == []
    assert [n.name for n in evidence.nodes] == ["n2", "n1"]
    assert evidence.nodes[0].taints == ["gpu:NoSchedule"]
    assert [(e.reason, e.count) for e in evidence.events] == [("FailedScheduling", 7)]
    assert evidence.pods[0].containers[0].requests == {"cpu": "16"}


async def test_service_target_finds_its_pods_endpoints_and_workload(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("example-external-api-503")
    service = service_manifest("mailer", "newsletter", {"app": "mailer"})
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "mailer", "namespace": "newsletter"},
        "subsets": [{"addresses": [{"ip": "10.244.1.80"}], "notReadyAddresses": []}],
    }
    emulator.emulator.load([*case.cluster, service, endpoints])
    mailer = ObjectRef(kind="Service", name="mailer", namespace="newsletter")
    evidence = await _collect(api, target=mailer, request_timeout=10.0)
    assert evidence.workload is not None
    assert evidence.workload.ref.key() == "Deployment/newsletter/mailer"
    assert [p.name for p in evidence.pods] == ["mailer-84c9b7d6f5-7rjvz"]
    target_service = evidence.services[0]
    assert (target_service.name, target_service.ready_endpoints, target_service.matching_pods) == (
        "mailer",
        1,
        1,
    )
    assert {s.name for s in evidence.services} == {"mailer", "email-api"}


async def test_ingress_target_follows_its_backend_service_to_pods_and_workload(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("example-external-api-503")
    service = service_manifest("mailer-web", "newsletter", {"app": "mailer"})
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "newsletter", "namespace": "newsletter"},
        "spec": {
            "rules": [
                {
                    "host": "news.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": "mailer-web", "port": {"number": 80}}
                                },
                            }
                        ]
                    },
                }
            ]
        },
    }
    objects = [*case.cluster, service, ingress]
    emulator.emulator.load(objects)
    target = ObjectRef(
        kind="Ingress",
        name="newsletter",
        namespace="newsletter",
        api_version="networking.k8s.io/v1",
    )
    collected = await _collect(api, target=target, request_timeout=10.0)
    assert collected.collection_errors == []
    assert collected.workload is not None
    assert collected.workload.ref.key() == "Deployment/newsletter/mailer"
    assert [p.name for p in collected.pods] == ["mailer-84c9b7d6f5-7rjvz"]
    # The replay builds the same scope from the same objects.
    built = build_evidence(
        objects, [], target=target, alerts=[], title="t", description=None, now=NOW, limits=LIMITS
    )
    assert built.workload is not None
    assert built.workload.ref == collected.workload.ref
    assert [p.name for p in built.pods] == [p.name for p in collected.pods]


async def test_missing_config_map_target_collects_the_pods_that_need_it(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("example-external-api-503")
    objects = [dict(o) for o in case.cluster]
    pod = next(o for o in objects if o["kind"] == "Pod")
    pod["spec"] = {
        **pod["spec"],
        "containers": [
            {
                **pod["spec"]["containers"][0],
                "envFrom": [
                    {"configMapRef": {"name": "mailer-env"}},
                    {"secretRef": {"name": "smtp"}},
                ],
            }
        ],
    }
    emulator.emulator.load(objects)
    emulator.emulator.clear_audit()
    mailer_env = ObjectRef(kind="ConfigMap", name="mailer-env", namespace="newsletter")
    evidence = await _collect(api, target=mailer_env, request_timeout=10.0)
    assert evidence.workload is not None
    assert evidence.workload.ref.key() == "Deployment/newsletter/mailer"
    refs = {(r.kind, r.name): r.exists for r in evidence.pods[0].config_refs}
    assert refs == {("ConfigMap", "mailer-env"): False, ("Secret", "smtp"): None}
    assert "target ConfigMap/newsletter/mailer-env not found" in evidence.collection_errors
    assert not [r for r in emulator.emulator.audit if r.resource == "secrets"]


async def test_a_dependency_in_another_namespace_is_followed_with_its_pods_and_events(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("dependency-auth-outage-fails-readiness", TRAIN)
    _load(emulator, case)
    emulator.emulator.clear_audit()
    evidence = await _collect(api, case)
    [dependency] = [
        d
        for d in evidence.dependencies
        if d.service is not None and d.service.namespace == "identity"
    ]
    assert dependency.service is not None
    assert dependency.service.name == "auth-api"
    assert dependency.service.ready_endpoints == 0
    assert dependency.failing_pods
    assert dependency.warnings
    assert any(r.namespace == "identity" for r in emulator.emulator.audit)


async def test_a_dependency_without_an_endpoints_object_is_counted_from_its_slices(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    """No Endpoints mirror for the callee: its EndpointSlices are listed by the service-name
    label and give the ready count; an ExternalName Service (a DNS alias) lists none."""
    case = _case("dependency-auth-outage-fails-readiness", TRAIN)
    case.cluster = [
        o
        for o in case.cluster
        if (o.get("kind"), (o.get("metadata") or {}).get("name")) != ("Endpoints", "auth-api")
    ] + [
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "addressType": "IPv4",
            "metadata": {
                "name": "auth-api-x1y2z",
                "namespace": "identity",
                "labels": {"kubernetes.io/service-name": "auth-api"},
            },
            "endpoints": [
                {"addresses": ["10.0.3.7"], "conditions": {"ready": False}},
                {"addresses": ["10.0.3.8"], "conditions": {}},
            ],
        }
    ]
    _load(emulator, case)
    emulator.emulator.clear_audit()
    evidence = await _collect(api, case)
    [service] = [
        d.service
        for d in evidence.dependencies
        if d.service is not None and d.service.name == "auth-api"
    ]
    assert (service.ready_endpoints, service.not_ready_endpoints) == (1, 1)
    assert [r.namespace for r in emulator.emulator.audit if r.resource == "endpointslices"] == [
        "identity"
    ]

    alias = _case("example-external-api-503")
    _load(emulator, alias)
    emulator.emulator.clear_audit()
    evidence = await _collect(api, alias)
    assert any(
        d.service is not None and d.service.type == "ExternalName" for d in evidence.dependencies
    )
    assert not [r for r in emulator.emulator.audit if r.resource == "endpointslices"]


async def test_a_followed_database_is_read_for_its_own_log_tail_and_claims(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("storage-postgres-data-volume-full-ledger-writes-fail", TRAIN)
    _load(emulator, case)
    evidence = await _collect(api, case)
    [dependency] = [
        d
        for d in evidence.dependencies
        if d.service is not None and d.service.name == "ledger-postgresql"
    ]
    assert [t.pod for t in dependency.logs] == ["ledger-postgresql-0"]
    assert any("No space left on device" in line for line in dependency.logs[0].lines)
    assert [(v.pod, v.claim.name, v.claim.capacity) for v in dependency.volumes] == [
        ("ledger-postgresql-0", "data-ledger-postgresql-0", "100Gi")
    ]
    # The database's words stay with it, not among the caller's logs.
    assert all(t.pod.startswith("ledger-66f7d9b8c4-") for t in evidence.logs)
    assert not [r for r in emulator.emulator.audit if r.resource == "secrets"]


async def test_a_failed_lookup_follows_the_cluster_dns_to_the_edit_of_its_config_map(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # "no such host" went through the cluster DNS: the walk reads kube-dns, the pods behind
    # it and the ConfigMap they mount (its Corefile), keeping when it was edited, as the
    # offline builder sees it from the whole snapshot.
    case = _case(
        "config-missing-coredns-forward-edited-to-public-resolvers-corp-names-nxdomain", TRAIN
    )
    _load(emulator, case)
    evidence = await _collect(api, case)
    [dependency] = [
        d for d in evidence.dependencies if d.service is not None and d.service.name == "kube-dns"
    ]
    assert [(c.object.namespace, c.object.name, c.aspects) for c in dependency.config_changes] == [
        ("kube-system", "coredns", ["data"])
    ]
    [offline] = [
        d
        for d in _built_from_case(case).dependencies
        if d.service is not None and d.service.name == "kube-dns"
    ]
    assert dependency.config_changes == offline.config_changes
    assert (dependency.workload, dependency.pods) == (offline.workload, offline.pods)


@pytest.mark.parametrize(
    ("name", "service", "statefulset"),
    [
        (
            "storage-postgres-data-volume-full-ledger-writes-fail",
            "ledger-postgresql",
            "ledger-postgresql",
        ),
        ("image-pull-bitnami-mysql-tag-gone-after-drain-php-5xx", "shopdb-mysql", "shopdb-mysql"),
    ],
)
async def test_a_followed_statefulset_is_read_as_the_dependencys_workload(
    emulator: EmulatorThread, api: client.ApiClient, name: str, service: str, statefulset: str
) -> None:
    # A StatefulSet owns its pods directly (no ReplicaSet between them): the walk reads it
    # from the pods' owner, as the offline builder sees it from the whole snapshot.
    case = _case(name, TRAIN)
    _load(emulator, case)
    evidence = await _collect(api, case)
    [dependency] = [
        d for d in evidence.dependencies if d.service is not None and d.service.name == service
    ]
    assert dependency.workload is not None
    assert (dependency.workload.kind, dependency.workload.name) == ("StatefulSet", statefulset)
    [offline] = [
        d
        for d in _built_from_case(case).dependencies
        if d.service is not None and d.service.name == service
    ]
    assert (dependency.workload, dependency.ready_replicas, dependency.failing_pods) == (
        offline.workload,
        offline.ready_replicas,
        offline.failing_pods,
    )


async def test_an_ingress_controllers_alert_falls_back_to_the_scraped_namespace_and_its_app(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # exported_namespace names the Ingress's namespace (not in this cluster); the scraped
    # controller's own namespace runs one application, which the incident is then about,
    # as the offline builder decides it from the snapshot.
    case = _case("cpu-throttling-ingress-nginx-workers", TRAIN)
    _load(emulator, case)
    evidence = await _collect(api, case)
    controller = ObjectRef(
        kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller"
    )
    assert evidence.target == ObjectRef(kind="Namespace", name="ingress-nginx", api_version="v1")
    assert evidence.workload is not None
    assert evidence.workload.ref.same_object(controller)
    offline = SnapshotEvidenceSource(case).build(
        target=None, alerts=[_alert(case)], title=case.title, description=None, now=NOW
    )
    assert offline.target == evidence.target
    assert offline.workload is not None
    assert offline.workload.ref.same_object(controller)


async def test_a_headless_service_not_found_is_followed_to_the_workload_of_its_base_name(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("certificate-expiry-linkerd-identity-issuer", TRAIN)
    _load(emulator, case)
    emulator.emulator.clear_audit()
    evidence = await _collect(api, case)
    [dependency] = [d for d in evidence.dependencies if d.workload is not None]
    assert dependency.workload == ObjectRef(
        kind="Deployment", namespace="linkerd", name="linkerd-identity"
    )
    assert dependency.pods == 1
    assert dependency.mounted_secrets == ["linkerd-identity-issuer"]
    assert not [r for r in emulator.emulator.audit if r.resource == "secrets"]


async def test_a_tenancy_rule_keeps_the_collector_out_of_other_namespaces(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _case("dependency-auth-outage-fails-readiness", TRAIN)
    _load(emulator, case)
    emulator.emulator.clear_audit()
    own = Scope(namespace=case.alert.labels["namespace"], cluster_wide=False)
    evidence = await _collect(api, case, scope=own, request_timeout=10.0)
    assert not [d for d in evidence.dependencies if d.service and d.service.namespace == "identity"]
    assert any(
        e.startswith("dependency not followed: Service/identity/auth-api")
        for e in evidence.collection_errors
    )
    assert not any(r.namespace == "identity" for r in emulator.emulator.audit)


async def _collected_train_case(
    emulator: EmulatorThread, api: client.ApiClient, name: str, *, own_namespace: bool = False
) -> Evidence:
    """The evidence collected for a train case loaded alone, the audit cleared before; with
    ``own_namespace`` under a tenancy rule that keeps it in the alert's namespace."""
    case = _case(name, TRAIN)
    _load(emulator, case)
    emulator.emulator.clear_audit()
    if not own_namespace:
        return await _collect(api, case)
    own = Scope(namespace=case.alert.labels["namespace"], cluster_wide=False)
    return await _collect(api, case, scope=own, request_timeout=10.0)


async def test_a_webhook_failing_a_create_is_followed_to_its_configuration_and_certificate(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    evidence = await _collected_train_case(
        emulator, api, "certificate-expiry-gatekeeper-webhook-cert-manager-scaled-to-zero"
    )
    [hook] = evidence.webhooks
    assert (hook.name, hook.failure, hook.failure_policy) == (
        "validation.gatekeeper.sh",
        "expired",
        "Fail",
    )
    assert hook.configuration is not None
    assert hook.configuration.kind == "ValidatingWebhookConfiguration"
    assert hook.service == ObjectRef(
        kind="Service", namespace="gatekeeper-system", name="gatekeeper-webhook-service"
    )
    assert hook.ca_injected_from == ObjectRef(
        kind="Certificate", namespace="gatekeeper-system", name="gatekeeper-webhook-server-cert"
    )
    assert [c.ref.name for c in hook.certificates] == ["gatekeeper-webhook-server-cert"]
    # The configurations are listed cluster-wide, as the API server serves them.
    assert {r.resource for r in emulator.emulator.audit if not r.namespace} >= {
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    }
    assert not [r for r in emulator.emulator.audit if r.resource == "secrets"]


async def test_no_webhook_configuration_is_read_without_an_event_naming_a_webhook(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    evidence = await _collected_train_case(emulator, api, "dependency-auth-outage-fails-readiness")
    assert evidence.webhooks == []
    assert not [r for r in emulator.emulator.audit if "webhookconfigurations" in r.resource]


async def test_a_tenancy_rule_keeps_the_webhook_walk_out_of_other_namespaces(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    evidence = await _collected_train_case(
        emulator, api, "certificate-expiry-kyverno-webhook-cert-not-renewed", own_namespace=True
    )
    [hook] = evidence.webhooks
    assert hook.certificates == []
    assert hook.log_lines == []
    assert any(
        e.startswith("webhook not followed: Service/kyverno") for e in evidence.collection_errors
    )
    assert not any(r.namespace == "kyverno" for r in emulator.emulator.audit)


_STUCK_CERTIFICATE_CASE = "unschedulable-cert-manager-webhook-pinned-to-removed-nodegroup"


async def test_a_webhook_admitting_a_stuck_custom_resource_is_followed_to_its_pods(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    evidence = await _collected_train_case(emulator, api, _STUCK_CERTIFICATE_CASE)
    # No event names the webhook: its Certificate stays not Ready, its Service has no endpoint.
    assert [(h.name, h.failure, h.observed) for h in evidence.webhooks] == [
        ("webhook.cert-manager.io", "no-endpoints", False)
    ]
    hook = evidence.webhooks[0]
    assert hook.backend is not None
    assert hook.backend.workload == ObjectRef(
        kind="Deployment", namespace="cert-manager", name="cert-manager-webhook"
    )
    assert any("FailedScheduling" in w for w in hook.backend.warnings)
    assert not [r for r in emulator.emulator.audit if r.resource == "secrets"]


async def test_a_tenancy_rule_keeps_the_suspect_webhook_walk_out_of_other_namespaces(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    evidence = await _collected_train_case(
        emulator, api, _STUCK_CERTIFICATE_CASE, own_namespace=True
    )
    assert evidence.webhooks == []
    assert any(
        e.startswith("webhook not followed: Service/cert-manager")
        for e in evidence.collection_errors
    )
    assert not any(r.namespace == "cert-manager" for r in emulator.emulator.audit)


@pytest.mark.parametrize(
    ("name", "caller"),
    [
        ("bad-rollout-grpc-retry-hedging-config-saturates-callee-hpa", "storefront-bff"),
        ("bad-rollout-producer-compression-off-broker-rejects-large-batches", "event-collector"),
    ],
)
async def test_a_deployment_naming_the_incidents_service_is_read_as_its_caller(
    emulator: EmulatorThread, api: client.ApiClient, name: str, caller: str
) -> None:
    # The caller lives in another namespace and names the callee's Service in its env: the
    # walk lists Deployments everywhere (the scope reads every namespace) and reads the
    # caller's ReplicaSets, as the offline builder sees them in the whole snapshot.
    case = _case(name, TRAIN)
    _load(emulator, case)
    evidence = await _collect(api, case)
    assert [c.ref.name for c in evidence.callers] == [caller]
    assert evidence.callers == _built_from_case(case).callers
    assert evidence.callers[0].changes


async def test_an_incident_kept_in_its_namespace_lists_no_other_namespaces_callers(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    evidence = await _collected_train_case(
        emulator,
        api,
        "bad-rollout-grpc-retry-hedging-config-saturates-callee-hpa",
        own_namespace=True,
    )
    assert evidence.callers == []
    listed = [
        r for r in emulator.emulator.audit if r.resource == "deployments" and r.verb == "list"
    ]
    assert listed
    assert all(r.namespace == "catalog" for r in listed)
