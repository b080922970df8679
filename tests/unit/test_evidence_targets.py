"""Checks target resolution from spec targets and alert labels (kubetriage.evidence.targets),
including the hosts a probe alert's URL names and where their Ingress ranks.

Everything is real: plain Alert/ObjectRef models and the pure resolver, no cluster involved.
"""

from __future__ import annotations

from kubetriage.evidence.label_vocabulary import kong_backend
from kubetriage.evidence.targets import (
    candidate_targets,
    focus_containers,
    probed_hosts,
    queue_names,
    resolve_target,
    target_namespace,
    traefik_backends,
    unplaced_names,
    with_probed,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert


def _keys(refs: list[ObjectRef]) -> list[str]:
    return [ref.key() for ref in refs]


def test_explicit_spec_target_wins_over_alert_labels() -> None:
    spec = ObjectRef(kind="StatefulSet", name="db", namespace="shop")
    alert = Alert(labels={"alertname": "X", "namespace": "shop", "pod": "web-1"})
    assert resolve_target(spec, [alert]) == spec
    assert _keys(candidate_targets(spec, [alert]))[:2] == ["StatefulSet/shop/db", "Pod/shop/web-1"]


def test_pod_label_is_more_specific_than_deployment_and_scrape_job() -> None:
    alert = Alert(
        labels={
            "alertname": "KubePodCrashLooping",
            "namespace": "exports",
            "pod": "csv-exporter-5f7d8c9b6d-k2x9p",
            "deployment": "csv-exporter",
            "container": "exporter",
            "job": "kube-state-metrics",
        }
    )
    assert _keys(candidate_targets(None, [alert])) == [
        "Pod/exports/csv-exporter-5f7d8c9b6d-k2x9p",
        "Deployment/exports/csv-exporter",
        "Namespace/-/exports",
    ]
    assert focus_containers([alert]) == ["exporter"]


def test_application_job_label_yields_workload_candidates_after_strong_labels() -> None:
    app_alert = Alert(
        labels={"alertname": "EmailSendFailures", "namespace": "newsletter", "job": "mailer"}
    )
    assert _keys(candidate_targets(None, [app_alert])) == [
        "Deployment/newsletter/mailer",
        "StatefulSet/newsletter/mailer",
        "DaemonSet/newsletter/mailer",
        "Service/newsletter/mailer",
        "Namespace/-/newsletter",
    ]
    # A second alert's pod label outranks the first alert's job hint.
    pod_alert = Alert(labels={"alertname": "Y", "namespace": "newsletter", "pod": "mailer-abc"})
    assert resolve_target(None, [app_alert, pod_alert]) == ObjectRef(
        kind="Pod", name="mailer-abc", namespace="newsletter", api_version="v1"
    )


def test_prometheus_operator_job_names_are_namespace_slash_name() -> None:
    alert = Alert(labels={"alertname": "X", "namespace": "shop", "job": "shop/checkout"})
    assert _keys(candidate_targets(None, [alert]))[0] == "Deployment/shop/checkout"


def test_monitoring_job_and_service_labels_are_not_targets() -> None:
    alert = Alert(
        labels={
            "alertname": "KubeQuotaExceeded",
            "namespace": "team-a",
            "job": "kube-state-metrics",
            "service": "prometheus-kube-state-metrics",
        }
    )
    assert _keys(candidate_targets(None, [alert])) == ["Namespace/-/team-a"]


def test_node_label_gives_cluster_scoped_node() -> None:
    alert = Alert(labels={"alertname": "KubeNodeNotReady", "node": "worker-3", "job": "kubelet"})
    target = resolve_target(None, [alert])
    assert target == ObjectRef(kind="Node", name="worker-3", api_version="v1")
    assert target is not None
    assert target.namespace is None


def test_hpa_pvc_and_exported_labels() -> None:
    hpa = Alert(
        labels={
            "alertname": "KubeHpaMaxedOut",
            "namespace": "web",
            "horizontalpodautoscaler": "api",
        }
    )
    assert _keys(candidate_targets(None, [hpa]))[0] == "HorizontalPodAutoscaler/web/api"
    pvc = Alert(
        labels={
            "alertname": "KubePersistentVolumeFillingUp",
            "namespace": "monitoring",
            "exported_namespace": "db",
            "persistentvolumeclaim": "data-pg-0",
        }
    )
    assert _keys(candidate_targets(None, [pvc]))[0] == "PersistentVolumeClaim/db/data-pg-0"


def test_firing_alerts_rank_before_resolved_ones() -> None:
    resolved = Alert(status="resolved", labels={"alertname": "A", "namespace": "n", "pod": "old"})
    firing = Alert(status="firing", labels={"alertname": "B", "namespace": "n", "pod": "new"})
    assert _keys(candidate_targets(None, [resolved, firing]))[:2] == ["Pod/n/new", "Pod/n/old"]


def test_nothing_known_gives_no_target_and_no_duplicates() -> None:
    assert resolve_target(None, []) is None
    assert resolve_target(None, [Alert(labels={"alertname": "Watchdog"})]) is None
    twice = [Alert(labels={"alertname": "A", "namespace": "n", "pod": "p", "container": "POD"})] * 2
    assert _keys(candidate_targets(None, twice)) == ["Pod/n/p", "Namespace/-/n"]
    assert focus_containers(twice) == []


def test_service_label_falls_back_to_a_workload_of_the_same_name() -> None:
    from kubetriage.evidence.targets import candidate_targets
    from kubetriage.models.incident import Alert

    labels = {"alertname": "HighRequestLatency", "namespace": "profiles", "service": "profile-api"}
    kinds = [(c.kind, c.name) for c in candidate_targets(None, [Alert(labels=labels)])]
    assert kinds[0] == ("Service", "profile-api")
    assert kinds.index(("Deployment", "profile-api")) < kinds.index(("Namespace", "profiles"))


def test_queue_alert_is_about_its_consumers_not_the_broker_service() -> None:
    # A backlog alert's `service` and `job` name the broker and its exporter.
    backlog = Alert(
        labels={
            "alertname": "QueueBacklog",
            "namespace": "billing",
            "queue": "invoices",
            "service": "rabbitmq",
            "job": "rabbitmq",
        }
    )
    assert _keys(candidate_targets(None, [backlog])) == ["Namespace/-/billing"]
    assert queue_names(backlog.labels) == ["invoices"]
    # A consumer group is usually its application's name; an explicit workload still wins.
    lag = Alert(
        labels={
            "alertname": "ConsumerLag",
            "namespace": "payments",
            "consumergroup": "ledger",
            "topic": "ledger.events",
            "service": "kafka",
        }
    )
    assert _keys(candidate_targets(None, [lag])) == [
        "Deployment/payments/ledger",
        "StatefulSet/payments/ledger",
        "DaemonSet/payments/ledger",
        "Namespace/-/payments",
    ]
    assert queue_names(lag.labels) == ["ledger.events", "ledger"]
    explicit = Alert(labels={**lag.labels, "deployment": "ledger-v2"})
    assert resolve_target(None, [explicit]) == ObjectRef(
        kind="Deployment", name="ledger-v2", namespace="payments", api_version="apps/v1"
    )


def test_opentelemetry_and_mesh_labels_name_workloads_and_namespaces() -> None:
    otel = Alert(
        labels={
            "alertname": "HighLatency",
            "k8s_namespace_name": "shop",
            "k8s_deployment_name": "checkout",
            "service_name": "checkout-svc",
        }
    )
    assert target_namespace(otel.labels) == "shop"
    # service_name names the reporting service (often the caller): no candidate.
    assert _keys(candidate_targets(None, [otel])) == [
        "Deployment/shop/checkout",
        "Namespace/-/shop",
    ]
    # Istio reports the callee of failing requests as the destination workload.
    mesh = Alert(
        labels={
            "alertname": "Mesh5xx",
            "namespace": "istio-system",
            "destination_workload": "ratings-v2",
            "destination_workload_namespace": "reviews",
        }
    )
    assert _keys(candidate_targets(None, [mesh]))[0] == "Deployment/reviews/ratings-v2"


def test_an_ingress_label_hints_at_the_backend_of_the_same_name() -> None:
    alert = Alert(
        labels={
            "alertname": "IngressHigh5xx",
            "namespace": "ingress-nginx",
            "exported_namespace": "web",
            "ingress": "storefront",
        }
    )
    assert _keys(candidate_targets(None, [alert])) == [
        "Service/web/storefront",
        "Deployment/web/storefront",
        "StatefulSet/web/storefront",
        "Namespace/-/web",
        # Last: where the scraped controller runs (its own latency, its own throttling).
        "Namespace/-/ingress-nginx",
    ]
    # The backend Service the controller reports outranks the hint.
    with_backend = Alert(labels={**alert.labels, "exported_service": "storefront-v2"})
    assert _keys(candidate_targets(None, [with_backend]))[0] == "Service/web/storefront-v2"


def test_a_monitoring_namespace_is_never_the_scraped_fallback() -> None:
    alert = Alert(labels={"alertname": "X", "namespace": "prometheus", "exported_namespace": "web"})
    assert _keys(candidate_targets(None, [alert])) == ["Namespace/-/web"]


def test_an_envoy_cluster_label_names_the_backend_service_in_its_own_namespace() -> None:
    """Contour's Envoy stats name the backend only as ``<namespace>_<service>_<port>``; the
    alert's own namespace is the proxy's."""
    alert = Alert(
        labels={
            "alertname": "EnvoyClusterUpstream5xxHigh",
            "namespace": "projectcontour",
            "job": "envoy",
            "envoy_cluster_name": "catalog_product-api_8080",
        }
    )
    assert _keys(candidate_targets(None, [alert]))[0] == "Service/catalog/product-api"
    assert resolve_target(None, [alert]) == ObjectRef(
        kind="Service", namespace="catalog", name="product-api", api_version="v1"
    )


def test_a_traefik_service_label_names_the_backend_service_by_every_split() -> None:
    """Traefik names a Kubernetes backend ``<namespace>-<service>-<port>@<provider>``; names
    hold dashes too, so each split is a candidate, before the proxy's own namespace."""
    alert = Alert(
        labels={
            "alertname": "TraefikHighHttp5xxErrorRateService",
            "namespace": "traefik",
            "service": "billing-invoice-web-http@kubernetes",
        }
    )
    keys = _keys(candidate_targets(None, [alert]))
    assert keys[:2] == ["Service/billing/invoice-web", "Service/billing-invoice/web"]
    assert keys[2:] == ["Namespace/-/traefik"]
    assert traefik_backends("shop-cart-8080@kubernetescrd") == [("shop", "cart")]


def test_a_service_label_without_a_kubernetes_provider_is_no_traefik_backend() -> None:
    assert traefik_backends("prometheus@internal") == []
    assert traefik_backends("billing-invoice-web") == []
    assert traefik_backends("web-80@kubernetes") == []
    unlabelled = Alert(labels={"alertname": "X", "service": "dashboard@internal"})
    assert candidate_targets(None, [unlabelled]) == []


def test_a_kong_service_label_names_the_backend_service() -> None:
    """The Kong Ingress Controller names a Kong service ``<namespace>.<service>.<port>`` after
    the Kubernetes backend; Kong's Prometheus plugin labels its series with it. The backend
    Service goes before the proxy's own namespace, and no Service or workload is looked for
    under the dotted name in the proxy's namespace."""
    alert = Alert(
        labels={
            "alertname": "KongUpstream5xxRatioHigh",
            "namespace": "kong",
            "service": "reviews.reviews-api.80",
        }
    )
    assert _keys(candidate_targets(None, [alert])) == [
        "Service/reviews/reviews-api",
        "Namespace/-/kong",
    ]
    assert kong_backend("default.echo.8080") == ("default", "echo")


def test_a_dotted_name_without_a_port_or_with_a_numeric_service_is_no_kong_backend() -> None:
    # Near misses: a host name, a version, a name with a dot too many or too few.
    for value in ("api.example.com", "v1.2.3", "reviews.reviews-api", "a.b.c.80", "Shop.Web.80"):
        assert kong_backend(value) is None, value
    host = Alert(labels={"alertname": "X", "namespace": "kong", "service": "api.example.com"})
    assert "Service/kong/api.example.com" in _keys(candidate_targets(None, [host]))


def _probe(instance: str, namespace: str = "monitoring") -> Alert:
    return Alert(
        labels={"alertname": "BlackboxProbeHttpFailure", "namespace": namespace, "job": "blackbox"}
        | {"instance": instance}
    )


def test_a_probe_alert_names_the_hosts_of_its_urls_only() -> None:
    alerts = [_probe("https://api.example.com:8443/healthz"), _probe("10.0.0.4:9115")]
    assert probed_hosts(alerts) == ["api.example.com"]
    assert probed_hosts([Alert(labels={"target": "http://shop.example.org/"})]) == [
        "shop.example.org"
    ]


def test_the_probed_ingress_is_the_only_lead_of_an_alert_naming_nothing_else() -> None:
    """A probe scraped from a static target list carries no namespace: its Ingress is it."""
    ingress = ObjectRef(kind="Ingress", namespace="shop", name="storefront")
    bare = [Alert(labels={"alertname": "BlackboxProbeFailed", "instance": "https://shop.test/"})]
    assert candidate_targets(None, bare) == []
    assert with_probed(candidate_targets(None, bare), ingress) == [ingress]
    assert with_probed([], None) == []


def test_the_probed_ingress_goes_before_the_exporters_namespace_only() -> None:
    """The Ingress serving the probed host is the target before the bare namespace of the
    alert (the exporter's); not when it is in that namespace (the namespace-wide view holds
    it) and not ahead of an object the labels name."""
    ingress = ObjectRef(kind="Ingress", namespace="api-gw", name="public-api")
    alerts = [_probe("https://api.example.com/")]
    assert _keys(with_probed(candidate_targets(None, alerts), ingress)) == [
        "Ingress/api-gw/public-api",
        "Namespace/-/monitoring",
    ]
    own = [_probe("https://api.example.com/", namespace="api-gw")]
    assert with_probed(candidate_targets(None, own), ingress) == candidate_targets(None, own)
    named = [Alert(labels={"namespace": "monitoring", "pod": "bb-1"})]
    assert _keys(with_probed(candidate_targets(None, named), ingress)) == [
        "Pod/monitoring/bb-1",
        "Ingress/api-gw/public-api",
        "Namespace/-/monitoring",
    ]


def test_a_node_exporter_alerts_instance_names_its_node() -> None:
    labels = {"alertname": "NodeFilesystemAlmostOutOfSpace", "job": "node-exporter"}
    named = Alert(labels={**labels, "instance": "worker-3.eu-west-1.compute.internal"})
    assert _keys(candidate_targets(None, [named])) == ["Node/-/worker-3.eu-west-1.compute.internal"]
    with_port = Alert(labels={**labels, "instance": "worker-3:9100"})
    assert _keys(candidate_targets(None, [with_port])) == ["Node/-/worker-3"]
    for address in ("10.0.3.7:9100", "[fd00::7]:9100", "fd00::7", "https://shop.example/"):
        assert candidate_targets(None, [Alert(labels={**labels, "instance": address})]) == []


def test_an_instance_is_no_node_when_the_alert_names_a_namespace() -> None:
    alert = Alert(labels={"alertname": "X", "namespace": "shop", "instance": "cart-7d9f:8080"})
    assert "Node/-/cart-7d9f" not in _keys(candidate_targets(None, [alert]))


def test_kind_and_name_label_pairs_name_the_workload() -> None:
    # kube-prometheus's workload rules (lower-case type), kube_pod_owner, kube_pod_info.
    for labels in (
        {"workload": "ledger", "workload_type": "statefulset"},
        {"owner_name": "ledger", "owner_kind": "StatefulSet"},
        {"created_by_name": "ledger", "created_by_kind": "StatefulSet"},
    ):
        alert = Alert(labels={"alertname": "X", "namespace": "bank", **labels})
        assert _keys(candidate_targets(None, [alert]))[0] == "StatefulSet/bank/ledger"
    # A kind that is no workload (a static pod's owner is its Node) names nothing.
    static = Alert(
        labels={
            "alertname": "X",
            "namespace": "kube-system",
            "owner_kind": "Node",
            "owner_name": "n1",
        }
    )
    assert _keys(candidate_targets(None, [static])) == ["Namespace/-/kube-system"]


def test_an_app_label_hints_at_the_workload_before_the_scrape_job() -> None:
    alert = Alert(
        labels={
            "alertname": "HighErrorRate",
            "namespace": "shop",
            "app_kubernetes_io_name": "cart",
            "job": "shop/cart-metrics",
        }
    )
    assert _keys(candidate_targets(None, [alert]))[:5] == [
        "Deployment/shop/cart",
        "StatefulSet/shop/cart",
        "DaemonSet/shop/cart",
        "Service/shop/cart",
        "Deployment/shop/cart-metrics",
    ]
    # The monitoring stack's own app label names the metrics source, not the workload.
    exporter = Alert(labels={"alertname": "X", "namespace": "shop", "app": "kube-state-metrics"})
    assert _keys(candidate_targets(None, [exporter])) == ["Namespace/-/shop"]


def test_mesh_destinations_without_their_namespace_label_are_unplaced() -> None:
    """An ingress gateway's alert carries the gateway's namespace: a destination named
    without destination_service_namespace may live anywhere; one with it is placed."""
    gateway = Alert(
        labels={
            "alertname": "IstioIngressGateway5xxRatioHigh",
            "namespace": "istio-system",
            "source_workload": "istio-ingressgateway",
            "destination_service_name": "mobile-bff",
        }
    )
    assert unplaced_names([gateway]) == [("Service", "mobile-bff")]
    placed = Alert(labels={**gateway.labels, "destination_service_namespace": "bff"})
    assert unplaced_names([placed]) == []
    linkerd = Alert(labels={"alertname": "X", "namespace": "web", "dst_deployment": "orders-api"})
    assert unplaced_names([linkerd]) == [("Deployment", "orders-api")]
    assert unplaced_names([Alert(labels={"alertname": "X", "namespace": "web"})]) == []


def test_datadog_tags_name_the_workload_and_its_namespace() -> None:
    alert = Alert(
        labels={
            "alertname": "[P1] api available replicas below desired",
            "kube_cluster_name": "prod",
            "kube_namespace": "payments",
            "kube_deployment": "api",
            "kube_container_name": "server",
            "service": "payments-frontend",
        }
    )
    assert target_namespace(alert.labels) == "payments"
    keys = _keys(candidate_targets(None, [alert]))
    assert keys[0] == "Deployment/payments/api"
    # Datadog's ``service`` is the unified service tag, an application's name: a hint at the
    # workload of that name, never a Kubernetes Service.
    assert "Service/payments/payments-frontend" not in keys
    assert "Deployment/payments/payments-frontend" in keys
    assert keys[-1] == "Namespace/-/payments"
    assert focus_containers([alert]) == ["server"]


def test_datadog_kube_service_and_owner_reference_tags() -> None:
    service = Alert(labels={"alertname": "X", "kube_namespace": "web", "kube_service": "front"})
    assert _keys(candidate_targets(None, [service]))[0] == "Service/web/front"
    owned = Alert(
        labels={
            "alertname": "X",
            "kube_namespace": "jobs",
            "kube_ownerref_kind": "statefulset",
            "kube_ownerref_name": "indexer",
        }
    )
    assert _keys(candidate_targets(None, [owned]))[0] == "StatefulSet/jobs/indexer"


def test_a_service_label_beside_a_prometheus_namespace_still_names_a_service() -> None:
    # A ServiceMonitor's ``service`` label is a Kubernetes Service, even when a Datadog tag
    # was copied in too.
    alert = Alert(
        labels={"alertname": "X", "namespace": "web", "kube_namespace": "web", "service": "front"}
    )
    assert "Service/web/front" in _keys(candidate_targets(None, [alert]))


def test_a_probe_of_a_cluster_dns_url_names_its_service() -> None:
    alert = Alert(
        labels={
            "alertname": "BlackboxProbeFailed",
            "namespace": "monitoring",
            "instance": "http://cart.shop.svc.cluster.local:8080/healthz",
        }
    )
    keys = _keys(candidate_targets(None, [alert]))
    assert keys[0] == "Service/shop/cart"
    assert keys[-1] == "Namespace/-/monitoring"
    # A public host is an Ingress's to find, not a Service.
    public = Alert(labels={"alertname": "X", "instance": "https://shop.example.com/healthz"})
    assert candidate_targets(None, [public]) == []


def test_a_delivery_tools_application_alert_points_into_its_destination_namespace() -> None:
    # Argo CD's argocd_app_info: ``namespace`` is Argo CD's own, ``dest_namespace`` is where
    # the application's workloads run, and they are usually named after the application.
    alert = Alert(
        labels={
            "alertname": "ArgoCdAppUnhealthy",
            "namespace": "argocd",
            "name": "ledger-api",
            "dest_namespace": "payments",
            "health_status": "Degraded",
        }
    )
    keys = _keys(candidate_targets(None, [alert]))
    assert keys.index("Deployment/payments/ledger-api") < keys.index("Namespace/-/payments")
    assert keys.index("Namespace/-/payments") < keys.index("Namespace/-/argocd")
    # Near miss: a bare ``name`` label names nothing in particular.
    bare = Alert(labels={"alertname": "X", "namespace": "argocd", "name": "ledger-api"})
    assert not any("ledger-api" in key for key in _keys(candidate_targets(None, [bare])))
