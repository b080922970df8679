"""Live collection (KubeEvidenceCollector over the API emulator) reads what the offline
builder sees in a whole case snapshot, where a real operator could read it too.

Real: the official ``kubernetes`` client talking HTTP to the in-process API emulator loaded
with a train case, and the pure builder over the case's objects (``case_evidence``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import load_case_into
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.tenancy import Scope
from tests.support.built import case_alert, case_evidence
from tests.support.cases import TRAIN
from tests.support.evidence import NOW


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


def _train(name: str) -> Case:
    return load_case(TRAIN / name / "case.yaml")


async def _live(
    emulator: EmulatorThread,
    api: client.ApiClient,
    case: Case,
    *,
    scope: Scope | None = None,
) -> Evidence:
    """The case loaded alone and collected for its alert (every namespace readable)."""
    load_case_into(emulator.emulator, case)
    emulator.emulator.clear_audit()
    return await KubeEvidenceCollector(api, limits=EvidenceLimits()).collect(
        target=None,
        alerts=[case_alert(case)],
        title=case.title,
        description=None,
        now=NOW,
        scope=scope or Scope.unrestricted(),
    )


def _snapshot(case: Case) -> Evidence:
    """The case's evidence as the replay's offline source builds it for its alert."""
    return SnapshotEvidenceSource(case).build(
        target=None,
        alerts=[case_alert(case)],
        title=case.title,
        description=None,
        now=NOW,
    )


@pytest.mark.parametrize(
    "name",
    [
        "network-cilium-ingress-policy-edit-drops-other-team-namespace",
        "network-namespace-relabel-orphans-postgres-policy",
    ],
)
async def test_namespace_labels_are_read_once_a_network_policy_is(
    emulator: EmulatorThread, api: client.ApiClient, name: str
) -> None:
    # A policy's namespaceSelector matches labels only the Namespace object carries.
    case = _train(name)
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert live.network_policies
    assert offline.namespace_labels
    for namespace, labels in offline.namespace_labels.items():
        assert live.namespace_labels.get(namespace) == labels, namespace


async def test_namespaces_stay_unread_under_a_one_namespace_scope(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _train("network-namespace-relabel-orphans-postgres-policy")
    own = Scope(namespace=case.alert.labels["namespace"], cluster_wide=False)
    live = await _live(emulator, api, case, scope=own)
    assert live.namespace_labels == {}
    assert not [r for r in emulator.emulator.audit if r.resource == "namespaces"]


def _node_events(evidence: Evidence, nodes: set[str]) -> set[tuple[str, str]]:
    return {
        (e.involved.name, e.reason)
        for e in evidence.events
        if e.involved is not None and e.involved.kind == "Node" and e.involved.name in nodes
    }


@pytest.mark.parametrize(
    "name",
    [
        "unschedulable-clickhouse-replica-pending-dedicated-node-left-cordoned",
        "unschedulable-keycloak-anti-affinity-third-node-left-cordoned-after-upgrade",
    ],
)
async def test_a_pending_pods_troubled_nodes_bring_their_events(
    emulator: EmulatorThread, api: client.ApiClient, name: str
) -> None:
    # Every node is listed when a pod waits for one; the cordoned node's events (when, by
    # whom) are read as the builder keeps them.
    case = _train(name)
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    troubled = {n.name for n in offline.nodes if n.unschedulable or n.taints}
    expected = _node_events(offline, troubled)
    assert "NodeNotSchedulable" in {reason for _, reason in expected}
    assert _node_events(live, troubled) == expected


async def test_a_failed_certificate_requests_events_name_the_issuers_backend(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The issuer's own error (the CA answering 403) is an event on the failed request; it
    # names the CA's Service, which the dependency walk then follows.
    case = _train("certificate-expiry-vault-issuer-role-path-renewal-denied")
    live = await _live(emulator, api, case)
    offline = case_evidence(case)

    def request_events(evidence: Evidence) -> set[tuple[str, str]]:
        return {
            (e.involved.name, e.reason)
            for e in evidence.events
            if e.involved is not None and e.involved.kind == "CertificateRequest"
        }

    assert request_events(offline)
    assert request_events(live) == request_events(offline)
    assert [(d.ref, d.named_by) for d in live.dependencies] == [
        (d.ref, d.named_by) for d in offline.dependencies
    ]


async def test_a_node_exporter_alert_brings_its_node_pods_and_events(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # No namespace, no node label: the node is named by ``instance`` (kube-prometheus
    # relabels it to the node's name). Both find the tenant the kubelet's evictions name as
    # the node disk's largest user (``node_tenants``), and both read the node with it.
    case = _train("node-disk-pressure-evictions")
    live = await _live(emulator, api, case)
    offline = _snapshot(case)
    assert live.target is not None
    assert offline.target is not None
    assert (live.target.kind, live.target.name) == (offline.target.kind, offline.target.name)
    assert (live.target.kind, live.target.name) == ("Deployment", "frontend")
    assert "aks-nodepool1-28834917-vmss00000c" in [n.name for n in live.nodes]
    assert [n.name for n in live.nodes] == [n.name for n in offline.nodes]
    assert sorted(p.name for p in live.pods) == sorted(p.name for p in offline.pods)
    assert {(e.involved.name, e.reason) for e in live.events if e.involved} == {
        (e.involved.name, e.reason) for e in offline.events if e.involved
    }


def _events_of(evidence: Evidence, kind: str) -> set[tuple[str, str]]:
    return {
        (e.involved.name, e.reason)
        for e in evidence.events
        if e.involved is not None and e.involved.kind == kind
    }


async def test_a_jobs_cronjob_is_read_with_its_events(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The CronJob behind the failing Job: its last success and the previous runs' outcomes.
    case = _train("oom-killed-cronjob-month-to-date-export")
    live = await _live(emulator, api, case)
    offline = case_evidence(case)

    def cronjobs(evidence: Evidence) -> list[object]:
        return [o for o in evidence.other_objects if o.ref.kind == "CronJob"]

    assert cronjobs(offline)
    assert cronjobs(live) == cronjobs(offline)
    assert _events_of(offline, "CronJob")
    assert _events_of(live, "CronJob") == _events_of(offline, "CronJob")


async def test_the_events_of_an_ingress_routing_to_the_pods_are_read(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The load balancer controller reports the backend it cannot build on the Ingress.
    case = _train("network-alb-ingress-named-port-renamed-no-targets")
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert _events_of(offline, "Ingress")
    assert _events_of(live, "Ingress") == _events_of(offline, "Ingress")


@pytest.mark.parametrize(
    "name",
    [
        "resource-saturation-keda-consumers-at-max-month-end-backlog",
        "bad-rollout-payout-worker-ledger-url-loses-namespace",
        "oom-killed-go-consumer-leak-annotation-only-revision-kafka-lag",
    ],
)
async def test_a_brokers_queue_alert_is_about_the_consumer_in_its_own_namespace(
    emulator: EmulatorThread, api: client.ApiClient, name: str
) -> None:
    # The alert fires in the broker's namespace; the one workload naming the queue runs in
    # another, and both paths take it as the target with its own pods.
    case = _train(name)
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert offline.target is not None
    assert offline.target.kind == "Deployment"
    assert offline.target.namespace != case.alert.labels["namespace"]
    assert live.target == offline.target
    assert live.workload is not None
    assert offline.workload is not None
    assert live.workload.ref == offline.workload.ref
    assert {p.name for p in live.pods} == {p.name for p in offline.pods}


async def test_a_consumer_known_only_by_its_scaledobjects_trigger_is_found_alike(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The consumer's pod template no longer names the queue (it would read it from a file):
    # only the KEDA ScaledObject's trigger measures it, and both paths follow it to the
    # Deployment it scales.
    case = _train("resource-saturation-keda-consumers-at-max-month-end-backlog")
    for obj in case.cluster:
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == "invoice-renderer":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                container["env"] = [e for e in container.get("env", []) if "QUEUE" not in e["name"]]
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert offline.target is not None
    assert (offline.target.kind, offline.target.namespace) == ("Deployment", "billing")
    assert live.target == offline.target
    assert any(r.resource == "scaledobjects" and not r.namespace for r in emulator.emulator.audit)


async def test_a_queues_consumers_are_not_looked_for_under_a_one_namespace_scope(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _train("resource-saturation-keda-consumers-at-max-month-end-backlog")
    own = Scope(namespace=case.alert.labels["namespace"], cluster_wide=False)
    live = await _live(emulator, api, case, scope=own)
    assert live.target is not None
    assert live.target.kind == "Namespace"
    everywhere = {
        r.resource for r in emulator.emulator.audit if r.verb == "list" and not r.namespace
    }
    assert not everywhere & {"deployments", "statefulsets"}


async def test_a_failing_callees_own_callee_is_read_one_hop_further(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # frontend -> profile (its error lines) -> mongodb-profile (profile's own tail names it):
    # the live walk reads the second hop's objects as the builder summarises them.
    case = _train("bad-rollout-mongodb-profile-redeployed-without-pvc-data-gone")
    live = await _live(emulator, api, case)
    offline = _snapshot(case)

    def hops(evidence: Evidence) -> list[tuple[str | None, list[int | None]]]:
        return [
            (d.workload.name if d.workload else None, [c.to_revision for c in d.changes])
            for d in evidence.dependencies
        ]

    assert len(hops(offline)) == 2
    assert hops(offline)[1][1]
    assert hops(live) == hops(offline)


async def test_a_callees_warnings_lead_one_hop_further_with_its_pods_tails(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # vmagent -> vminsert (all Ready; its warnings name a storage node) -> vmstorage: the
    # live walk reads the second hop, its pods' tails and claims as the builder sees them.
    case = _train(
        "storage-gke-vmstorage-node-volume-full-switches-read-only-vminsert-reroutes-"
        "connection-saturated-alert"
    )
    live = await _live(emulator, api, case)
    offline = _snapshot(case)

    def hops(evidence: Evidence) -> list[tuple[str | None, list[str], list[str]]]:
        return [
            (
                d.service.name if d.service else None,
                sorted(t.pod for t in d.logs),
                sorted(v.claim.name for v in d.volumes),
            )
            for d in evidence.dependencies
        ]

    assert len(hops(offline)) == 2
    assert hops(offline)[1][1]
    assert hops(offline)[1][2]
    assert hops(live) == hops(offline)


async def test_a_caller_reaching_the_service_by_its_ingress_route_host_is_read_alike(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # A Deployment of another namespace calls the Traefik IngressRoute's public host: the
    # live walk lists the route and finds that caller with its rollouts, as the builder does.
    case = _train(
        "bad-rollout-rke2-inventory-sync-release-posts-4mb-stock-batches-traefik-buffering-"
        "413-catalog-stale-alert"
    )
    live = await _live(emulator, api, case)
    offline = case_evidence(case)

    def callers(evidence: Evidence) -> list[tuple[str, list[str], int]]:
        return [
            (f"{c.ref.namespace}/{c.ref.name}", c.naming_texts(), len(c.changes))
            for c in evidence.callers
        ]

    assert callers(offline)
    assert all(changes for _, _, changes in callers(offline))
    assert callers(live) == callers(offline)
    routes = [r for r in emulator.emulator.audit if r.resource == "ingressroutes"]
    assert routes


async def test_a_gateway_alert_leads_to_the_route_backend_that_does_not_resolve(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The Gateway the alert names -> its HTTPRoutes -> the backend Service whose port the
    # route names but the Service does not expose: live and offline agree on the target
    # and on the route's summary.
    case = _train("network-httproute-backendref-port-after-chart-renumbers-service")
    live = await _live(emulator, api, case)
    offline = _snapshot(case)
    assert offline.target is not None
    assert (offline.target.kind, offline.target.name) == ("Service", "catalog-api")
    assert live.target == offline.target
    assert [r.unknown_ports for r in offline.gateway_routes] == [{"catalog-api": "8080"}]
    assert live.gateway_routes == offline.gateway_routes


async def test_routes_stay_unlisted_across_namespaces_under_a_one_namespace_scope(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _train("network-httproute-backendref-port-after-chart-renumbers-service")
    own = Scope(namespace=case.alert.labels["namespace"], cluster_wide=False)
    live = await _live(emulator, api, case, scope=own)
    assert live.target is not None
    assert live.target.kind != "Service"
    routes = [r for r in emulator.emulator.audit if r.resource == "httproutes"]
    assert routes
    assert all(r.namespace == own.namespace for r in routes)


async def test_a_probed_host_served_by_an_istio_gateway_leads_to_its_certificate(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The probe's host -> the Istio Gateway server for it -> its credentialName -> the
    # cert-manager Certificate writing that Secret, live and offline.
    case = _train("certificate-expiry-istio-gateway-http01-blocked-by-https-redirect")
    live = await _live(emulator, api, case)
    offline = _snapshot(case)
    assert offline.target is not None
    assert (offline.target.kind, offline.target.name) == ("Certificate", "shop-example-com-tls")
    assert live.target == offline.target


@pytest.mark.parametrize(
    "name",
    [
        "certificate-expiry-prometheus-adapter-serving-cert-hpa-blind-search-latency",
        "resource-saturation-hpa-blind-metrics-apiservice-timeout-morning-ramp",
    ],
)
async def test_an_hpa_that_cannot_get_its_metrics_brings_the_unavailable_apiservice(
    emulator: EmulatorThread, api: client.ApiClient, name: str
) -> None:
    # The APIService (cluster-scoped) says why the API server cannot call the metrics API;
    # its Service's pods say which Secret holds the serving certificate.
    case = _train(name)
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert offline.aggregated_apis
    assert [a.model_dump() for a in live.aggregated_apis] == [
        a.model_dump() for a in offline.aggregated_apis
    ]


async def test_apiservices_stay_unlisted_when_every_autoscaler_reads_its_metrics(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    case = _train("network-namespace-relabel-orphans-postgres-policy")
    live = await _live(emulator, api, case)
    assert live.aggregated_apis == []
    assert not [r for r in emulator.emulator.audit if r.resource == "apiservices"]


async def test_lookups_failing_on_one_node_bring_that_nodes_dns_cache(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The pods of the node whose pods fail at the resolver are listed (every namespace); the
    # DaemonSet of the one serving DNS on the node's network is followed first.
    case = _train("oom-killed-node-local-dns-one-node-checkout-redis-eai-again")
    live = await _live(emulator, api, case)
    offline = case_evidence(case)

    def dependencies(evidence: Evidence) -> list[tuple[object, ...]]:
        return [
            (d.ref, d.workload, d.named_by, d.desired_replicas, d.ready_replicas, d.failing_pods)
            for d in evidence.dependencies
        ]

    assert offline.dependencies[0].workload is not None
    assert offline.dependencies[0].workload.kind == "DaemonSet"
    assert dependencies(live) == dependencies(offline)


async def test_the_other_callers_of_a_shared_dependency_are_read_as_the_builder_sees_them(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The incident's workload names a shared cache in another namespace; a third namespace's
    # Deployment names it too: the live walk reads it and its ReplicaSets (its rollout).
    case = _train(
        "bad-rollout-session-sweeper-release-runs-redis-keys-blocks-shared-cache-cart-latency"
    )
    live = await _live(emulator, api, case)
    offline = case_evidence(case)

    def shared(evidence: Evidence) -> list[tuple[str, list[str], int]]:
        return [
            (f"{c.ref.namespace}/{c.ref.name}", c.naming_texts(), len(c.changes))
            for d in evidence.dependencies
            for c in d.callers
        ]

    assert shared(offline)
    assert all(changes for _, _, changes in shared(offline))
    assert shared(live) == shared(offline)


async def test_a_pull_failing_inside_an_in_cluster_registry_follows_its_service(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The failed pull names the registry by a ClusterIP: the Services of every namespace are
    # listed and the pull-through cache's Service is followed as the builder follows it.
    case = _train("dependency-failure-zot-pull-through-cache-egress-proxy-timeouts-502-on-new-node")
    live = await _live(emulator, api, case)
    offline = case_evidence(case)

    def registries(evidence: Evidence) -> list[tuple[object, ...]]:
        return [
            (d.ref, d.named_by, d.desired_replicas, d.ready_replicas)
            for d in evidence.dependencies
            if d.serves_pulls()
        ]

    assert [r[0] for r in registries(offline)] == [
        ObjectRef(kind="Service", namespace="registry-cache", name="zot")
    ]
    assert registries(live) == registries(offline)
    own = Scope(namespace=case.alert.labels["namespace"], cluster_wide=False)
    scoped = await _live(emulator, api, case, scope=own)
    assert not registries(scoped)


async def test_a_pull_failing_at_a_registry_an_ingress_serves_follows_its_backend(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The failed pull names a registry host no Service answers to: the Ingresses of every
    # namespace are listed, the one serving that host is kept, and its registry backend is
    # followed with the TLS Secret it serves the host with, as the builder follows it.
    case = _train(
        "certificate-expiry-onprem-harbor-ingress-cert-expired-invoice-release-and-export-job-"
        "cannot-pull-x509"
    )
    live = await _live(emulator, api, case)
    offline = case_evidence(case)

    def registries(evidence: Evidence) -> list[tuple[object, ...]]:
        return [
            (d.ref, d.named_by, d.registry_tls_secret())
            for d in evidence.dependencies
            if d.serves_pulls()
        ]

    assert [r[2] for r in registries(offline)] == [
        ObjectRef(kind="Secret", namespace="harbor", name="harbor-ingress-tls")
    ]
    assert registries(live) == registries(offline)


async def test_the_ingress_controller_in_front_of_healthy_pods_is_followed_with_its_settings(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # The workload's pods are healthy: the controller serving its Ingress is followed as a
    # dependency, with its own log tails and the write of the ConfigMap its --configmap flag
    # names, as the builder summarises it.
    case = _train("config-missing-ingress-nginx-global-proxy-body-size-cut-uploads-413")
    live = await _live(emulator, api, case)
    offline = _snapshot(case)

    def fronting(evidence: Evidence) -> list[tuple[str, list[str], list[str]]]:
        return [
            (
                str(d.workload.display() if d.workload else None),
                [t.pod for t in d.logs],
                [c.object.display() for c in d.config_changes],
            )
            for d in evidence.dependencies
            if d.fronts_workload()
        ]

    expected = fronting(offline)
    (only,) = expected
    assert only[1]
    assert only[2]
    assert fronting(live) == expected


def _dependency_refs(evidence: Evidence) -> list[tuple[str, str | None, str]]:
    return [(d.ref.kind, d.ref.namespace, d.ref.name) for d in evidence.dependencies if d.ref]


@pytest.mark.parametrize(
    ("name", "beyond"),
    [
        (
            "dependency-failure-checkout-bff-payment-errors-payments-api-acquirer-psp-503-circuit-open-aks",
            ("Service", "egress", "psp-acquirer"),
        ),
        (
            "bad-rollout-payment-processor-release-panics-on-records-order-service-kafka-reply-timeouts-checkout-5xx-eks",
            ("Deployment", "payments", "payment-processor"),
        ),
    ],
)
async def test_a_failing_callees_configured_callees_and_topic_peers_are_followed_alike(
    emulator: EmulatorThread, api: client.ApiClient, name: str, beyond: tuple[str, str, str]
) -> None:
    # The callee's errors name no Service: its env's ExternalName alias, and the workload
    # reading a topic its env configures, are its own callees on both paths.
    case = _train(name)
    live = await _live(emulator, api, case)
    offline = _snapshot(case)
    assert beyond in _dependency_refs(offline)
    assert _dependency_refs(live) == _dependency_refs(offline)


async def test_a_namespace_alert_reads_the_one_failing_workloads_revisions(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # A quota alert names only the namespace; the crash-looping surge pods of one Deployment
    # make it about that Deployment, whose ReplicaSets the collector then reads.
    case = _train(
        "bad-rollout-onprem-quota-almost-full-query-suggest-release-renames-cli-flag-surge-pods-"
        "crashloop-hold-memory"
    )
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert offline.workload is not None
    assert offline.workload.ref.name == "query-suggest"
    assert live.workload == offline.workload
    assert [r.name for r in live.revisions] == [r.name for r in offline.revisions]
    assert len(offline.revisions) == 2


async def test_pods_controlled_by_a_pod_climb_through_it_to_its_workload(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    # Spark's executors are owned by their driver pod, a CronJob's run: a namespace-wide
    # alert whose pods are the driver and its executors is about that one CronJob, live as
    # offline.
    case = _train(
        "oom-killed-eks-spark-client-mode-executors-oomkilled-pandas-udf-overhead-spot-reclaim-blamed"
    )
    live = await _live(emulator, api, case)
    offline = case_evidence(case)
    assert offline.workload is not None
    assert live.workload is not None
    assert live.workload.ref.same_object(offline.workload.ref)
    assert offline.workload.controller is not None
    assert offline.workload.controller.kind == "CronJob"
    assert live.workload.controller == offline.workload.controller
