"""The kinds the evidence collector reads through the official typed client: for each, its
apiVersion and the client's methods (get, list in a namespace or of a cluster-scoped kind,
list across namespaces). One table, built once per ``KubeReader``; kinds not in it are read
as custom objects (``KubeReader.custom_list``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client


@dataclass(frozen=True)
class Kind:
    """How to read one kind: its apiVersion and the typed client's methods (a get by name; a
    list in one namespace, or of the whole cluster for a cluster-scoped kind; a list across
    namespaces)."""

    api_version: str
    read: Callable[..., Any] | None = None
    listing: Callable[..., Any] | None = None
    listing_everywhere: Callable[..., Any] | None = None
    namespaced: bool = True


def typed_kinds(api_client: client.ApiClient) -> dict[str, Kind]:
    """The table of kinds read through ``api_client``."""
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    batch = client.BatchV1Api(api_client)
    networking = client.NetworkingV1Api(api_client)
    autoscaling = client.AutoscalingV2Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    registration = client.ApiregistrationV1Api(api_client)
    policy = client.PolicyV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    extensions = client.ApiextensionsV1Api(api_client)
    return {
        "Pod": Kind(
            "v1",
            core.read_namespaced_pod,
            core.list_namespaced_pod,
            core.list_pod_for_all_namespaces,
        ),
        "Service": Kind(
            "v1",
            core.read_namespaced_service,
            core.list_namespaced_service,
            # The callee a mesh alert names without its namespace (``KubeEvidenceCollector``).
            core.list_service_for_all_namespaces,
        ),
        "Endpoints": Kind("v1", core.read_namespaced_endpoints, core.list_namespaced_endpoints),
        # A Service's endpoints when no Endpoints object mirrors them (listed by the
        # kubernetes.io/service-name label).
        "EndpointSlice": Kind(
            "discovery.k8s.io/v1", listing=discovery.list_namespaced_endpoint_slice
        ),
        "PersistentVolumeClaim": Kind(
            "v1",
            core.read_namespaced_persistent_volume_claim,
            core.list_namespaced_persistent_volume_claim,
        ),
        "Node": Kind("v1", core.read_node, core.list_node, namespaced=False),
        # The volume bound to a claim the incident's pods mount: an NFS export's server.
        "PersistentVolume": Kind("v1", core.read_persistent_volume, namespaced=False),
        # Their labels, which NetworkPolicy namespace selectors match.
        "Namespace": Kind("v1", core.read_namespace, core.list_namespace, namespaced=False),
        "ConfigMap": Kind(
            "v1",
            core.read_namespaced_config_map,
            core.list_namespaced_config_map,
            # The queues a queue consumer's env takes from them
            # (``kubetriage.evidence.caller_walk``).
            core.list_config_map_for_all_namespaces,
        ),
        "ResourceQuota": Kind("v1", listing=core.list_namespaced_resource_quota),
        "Event": Kind("v1", listing=core.list_namespaced_event),
        "Deployment": Kind(
            "apps/v1",
            apps.read_namespaced_deployment,
            apps.list_namespaced_deployment,
            # Who calls the incident's Services, who consumes its queue
            # (``kubetriage.evidence.caller_walk``).
            apps.list_deployment_for_all_namespaces,
        ),
        "StatefulSet": Kind(
            "apps/v1",
            apps.read_namespaced_stateful_set,
            apps.list_namespaced_stateful_set,
            # A queue's consumers (``kubetriage.evidence.caller_walk``).
            apps.list_stateful_set_for_all_namespaces,
        ),
        "DaemonSet": Kind(
            "apps/v1",
            apps.read_namespaced_daemon_set,
            # The node agents that rolled out when the API server throttles
            # (``kubetriage.evidence.agent_walk``), the cloud controller manager Ready nodes
            # wait on (``cluster_lookups.cloud_controllers``): every namespace's, never one's.
            listing_everywhere=apps.list_daemon_set_for_all_namespaces,
        ),
        "ReplicaSet": Kind(
            "apps/v1", apps.read_namespaced_replica_set, apps.list_namespaced_replica_set
        ),
        "ControllerRevision": Kind("apps/v1", listing=apps.list_namespaced_controller_revision),
        "Job": Kind(
            "batch/v1",
            batch.read_namespaced_job,
            batch.list_namespaced_job,
            # The Jobs that load a dependency the incident's workload shares
            # (``kubetriage.evidence.caller_walk``).
            batch.list_job_for_all_namespaces,
        ),
        "CronJob": Kind("batch/v1", batch.read_namespaced_cron_job),
        "NetworkPolicy": Kind(
            "networking.k8s.io/v1",
            networking.read_namespaced_network_policy,
            networking.list_namespaced_network_policy,
        ),
        "Ingress": Kind(
            "networking.k8s.io/v1",
            networking.read_namespaced_ingress,
            networking.list_namespaced_ingress,
            # Which Ingress serves the host a probe alert names.
            networking.list_ingress_for_all_namespaces,
        ),
        "IngressClass": Kind(
            "networking.k8s.io/v1",
            networking.read_ingress_class,
            networking.list_ingress_class,
            namespaced=False,
        ),
        "HorizontalPodAutoscaler": Kind(
            "autoscaling/v2",
            autoscaling.read_namespaced_horizontal_pod_autoscaler,
            autoscaling.list_namespaced_horizontal_pod_autoscaler,
        ),
        # Read only when the incident's pods sit on a cordoned node or an eviction is refused.
        "PodDisruptionBudget": Kind(
            "policy/v1",
            policy.read_namespaced_pod_disruption_budget,
            policy.list_namespaced_pod_disruption_budget,
        ),
        # Cluster-scoped; read only when an event names a webhook that failed a call.
        "ValidatingWebhookConfiguration": Kind(
            "admissionregistration.k8s.io/v1",
            admission.read_validating_webhook_configuration,
            admission.list_validating_webhook_configuration,
            namespaced=False,
        ),
        "MutatingWebhookConfiguration": Kind(
            "admissionregistration.k8s.io/v1",
            admission.read_mutating_webhook_configuration,
            admission.list_mutating_webhook_configuration,
            namespaced=False,
        ),
        # Cluster-scoped; read only when an autoscaler cannot get its metrics.
        "APIService": Kind(
            "apiregistration.k8s.io/v1",
            registration.read_api_service,
            registration.list_api_service,
            namespaced=False,
        ),
        # Cluster-scoped; listed only when the alert's objects run no pod: the conversion
        # webhook of a custom resource kind it names.
        "CustomResourceDefinition": Kind(
            "apiextensions.k8s.io/v1",
            extensions.read_custom_resource_definition,
            extensions.list_custom_resource_definition,
            namespaced=False,
        ),
    }
