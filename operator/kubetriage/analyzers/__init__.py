"""Deterministic analyzers: pure rules that turn Evidence into ranked Findings.

The pipeline (and the combiner's callers) use ``run_analyzers``; ``ANALYZERS`` is the
immutable registry of every rule, one module per rule (each with its confidences in a named
``CONFIDENCE`` table). Findings of equal confidence keep the registry's order, so the order
below decides ties. A rule that raises is reported in ``AnalyzerRun.errors`` and contributes
no finding, so one bug cannot take the diagnosis down.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetriage.analyzers.addressed_dependency import ADDRESSED_DEPENDENCY_ANALYZERS
from kubetriage.analyzers.admission import ADMISSION_ANALYZERS
from kubetriage.analyzers.agent_tokens import AGENT_TOKEN_ANALYZERS
from kubetriage.analyzers.aggregated_apis import AGGREGATED_API_ANALYZERS
from kubetriage.analyzers.api_egress import API_EGRESS_ANALYZERS
from kubetriage.analyzers.api_load import API_LOAD_ANALYZERS
from kubetriage.analyzers.api_storage import API_STORAGE_ANALYZERS
from kubetriage.analyzers.api_tokens import API_TOKEN_ANALYZERS
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.blocked_sinks import BLOCKED_SINK_ANALYZERS
from kubetriage.analyzers.burst_credits import BURST_CREDIT_ANALYZERS
from kubetriage.analyzers.cache_tier import CACHE_TIER_ANALYZERS
from kubetriage.analyzers.callee_changes import CALLEE_ROLLOUT_ANALYZERS
from kubetriage.analyzers.callee_config import CALLEE_CONFIG_ANALYZERS
from kubetriage.analyzers.callee_credentials import CALLEE_CREDENTIAL_ANALYZERS
from kubetriage.analyzers.callee_oom_onset import CALLEE_OOM_ONSET_ANALYZERS
from kubetriage.analyzers.callee_placement import CALLEE_PLACEMENT_ANALYZERS
from kubetriage.analyzers.callee_pools import CALLEE_POOL_ANALYZERS
from kubetriage.analyzers.callee_probe_misses import CALLEE_PROBE_ANALYZERS
from kubetriage.analyzers.callee_probes import CALLEE_LIVENESS_ANALYZERS
from kubetriage.analyzers.callee_quorum import CALLEE_QUORUM_ANALYZERS
from kubetriage.analyzers.caller_pinning import CALLER_PINNING_ANALYZERS
from kubetriage.analyzers.caller_resolver import CALLER_RESOLVER_ANALYZERS
from kubetriage.analyzers.callers import CALLER_ANALYZERS
from kubetriage.analyzers.certificates import (
    CERTIFICATE_EXPIRY_ANALYZERS,
    CERTIFICATE_RENEWAL_ANALYZERS,
)
from kubetriage.analyzers.changes import CHANGE_ANALYZERS
from kubetriage.analyzers.child_oom_kills import CHILD_OOM_ANALYZERS
from kubetriage.analyzers.client_rollout import CLIENT_ROLLOUT_ANALYZERS
from kubetriage.analyzers.client_secrets import CLIENT_SECRET_ANALYZERS
from kubetriage.analyzers.client_slots import CLIENT_SLOTS_ANALYZERS
from kubetriage.analyzers.clocks import CLOCK_ANALYZERS
from kubetriage.analyzers.cloud_credentials import CLOUD_CREDENTIAL_ANALYZERS
from kubetriage.analyzers.cloud_keys import CLOUD_KEY_ANALYZERS
from kubetriage.analyzers.cni_agents import CNI_AGENT_ANALYZERS
from kubetriage.analyzers.cold_cache import COLD_CACHE_ANALYZERS
from kubetriage.analyzers.config import CONFIG_ANALYZERS
from kubetriage.analyzers.config_endpoints import CONFIG_ENDPOINT_ANALYZERS
from kubetriage.analyzers.config_missing import CONFIG_MISSING_ANALYZERS
from kubetriage.analyzers.crashes import CRASH_ANALYZERS
from kubetriage.analyzers.dependencies import DEPENDENCY_ANALYZERS
from kubetriage.analyzers.dependency_edits import DEPENDENCY_EDIT_ANALYZERS
from kubetriage.analyzers.dependency_failure import DEPENDENCY_FAILURE_ANALYZERS
from kubetriage.analyzers.dependency_saturated import DEPENDENCY_SATURATED_ANALYZERS
from kubetriage.analyzers.dependency_server import DEPENDENCY_SERVER_ANALYZERS
from kubetriage.analyzers.dependency_volumes import DEPENDENCY_VOLUME_ANALYZERS
from kubetriage.analyzers.device_plugins import DEVICE_PLUGIN_ANALYZERS
from kubetriage.analyzers.disruption_budgets import DISRUPTION_BUDGET_ANALYZERS
from kubetriage.analyzers.dns_clients import DNS_CLIENT_ANALYZERS
from kubetriage.analyzers.dns_forwards import DNS_FORWARD_ANALYZERS
from kubetriage.analyzers.egress_peers import EGRESS_PEER_ANALYZERS
from kubetriage.analyzers.fresh_throttling import FRESH_THROTTLING_ANALYZERS
from kubetriage.analyzers.front_balancers import FRONT_BALANCER_ANALYZERS
from kubetriage.analyzers.front_proxies import GATEWAY_PROXY_ANALYZERS
from kubetriage.analyzers.front_restarts import FRONT_RESTART_ANALYZERS
from kubetriage.analyzers.front_volumes import FRONT_VOLUME_ANALYZERS
from kubetriage.analyzers.gateway_credentials import GATEWAY_CREDENTIAL_ANALYZERS
from kubetriage.analyzers.gateway_routes import GATEWAY_ROUTE_ANALYZERS
from kubetriage.analyzers.identity_releases import IDENTITY_RELEASE_ANALYZERS
from kubetriage.analyzers.idle_consumers import IDLE_CONSUMER_ANALYZERS
from kubetriage.analyzers.images import IMAGE_ANALYZERS
from kubetriage.analyzers.ingress_rollout import INGRESS_ROLLOUT_ANALYZERS
from kubetriage.analyzers.ingress_settings import INGRESS_SETTINGS_ANALYZERS
from kubetriage.analyzers.injector_releases import INJECTOR_RELEASE_ANALYZERS
from kubetriage.analyzers.job_sidecars import JOB_SIDECAR_ANALYZERS
from kubetriage.analyzers.lb_health_sources import LB_SOURCE_ANALYZERS
from kubetriage.analyzers.license_keys import LICENSE_KEY_ANALYZERS
from kubetriage.analyzers.local_traffic import LOCAL_TRAFFIC_ANALYZERS
from kubetriage.analyzers.local_volumes import LOCAL_VOLUME_ANALYZERS
from kubetriage.analyzers.lock_waits import LOCK_WAIT_ANALYZERS
from kubetriage.analyzers.managed_databases import MANAGED_DATABASE_ANALYZERS
from kubetriage.analyzers.mesh_ca import MESH_CA_ANALYZERS
from kubetriage.analyzers.mesh_injection import MESH_INJECTION_ANALYZERS
from kubetriage.analyzers.mesh_protocols import MESH_PROTOCOL_ANALYZERS
from kubetriage.analyzers.metrics import METRIC_ANALYZERS
from kubetriage.analyzers.native_sidecars import NATIVE_SIDECAR_ANALYZERS
from kubetriage.analyzers.network import NETWORK_ANALYZERS
from kubetriage.analyzers.new_workload import NEW_WORKLOAD_ANALYZERS
from kubetriage.analyzers.node_agents import NODE_AGENT_ANALYZERS
from kubetriage.analyzers.node_neighbours import NODE_NEIGHBOUR_ANALYZERS
from kubetriage.analyzers.node_network import NODE_NETWORK_ANALYZERS
from kubetriage.analyzers.node_resolver import NODE_RESOLVER_ANALYZERS
from kubetriage.analyzers.nodes import NODE_ANALYZERS
from kubetriage.analyzers.oom import OOM_ANALYZERS
from kubetriage.analyzers.overlay_mtu import OVERLAY_MTU_ANALYZERS
from kubetriage.analyzers.own_sockets import OWN_SOCKETS_ANALYZERS
from kubetriage.analyzers.peer_discovery import PEER_DISCOVERY_ANALYZERS
from kubetriage.analyzers.pinned_connections import PINNED_CONNECTION_ANALYZERS
from kubetriage.analyzers.placement import PLACEMENT_ANALYZERS
from kubetriage.analyzers.platform_split import PLATFORM_ANALYZERS
from kubetriage.analyzers.policies import POLICY_ANALYZERS
from kubetriage.analyzers.policy_denials import POLICY_DENIAL_ANALYZERS
from kubetriage.analyzers.pool_callee import POOL_CALLEE_ANALYZERS
from kubetriage.analyzers.pooled_clients import POOLED_CLIENT_ANALYZERS
from kubetriage.analyzers.probe_refusals import PROBE_REFUSAL_ANALYZERS
from kubetriage.analyzers.probes import PROBE_ANALYZERS
from kubetriage.analyzers.producer_contract import PRODUCER_CONTRACT_ANALYZERS
from kubetriage.analyzers.producer_rollout import PRODUCER_ROLLOUT_ANALYZERS
from kubetriage.analyzers.propagated import to_sources
from kubetriage.analyzers.proxy_limits import PROXY_LIMIT_ANALYZERS
from kubetriage.analyzers.queued_runs import QUEUED_RUN_ANALYZERS
from kubetriage.analyzers.queues import QUEUE_ANALYZERS
from kubetriage.analyzers.quota_peers import QUOTA_PEER_ANALYZERS
from kubetriage.analyzers.rate_limits import RATE_LIMIT_ANALYZERS
from kubetriage.analyzers.read_only_volumes import READ_ONLY_VOLUME_ANALYZERS
from kubetriage.analyzers.reconcilers import RECONCILER_ANALYZERS
from kubetriage.analyzers.refused_controllers import REFUSED_CONTROLLER_ANALYZERS
from kubetriage.analyzers.refused_series import REFUSED_SERIES_ANALYZERS
from kubetriage.analyzers.registry_service import REGISTRY_SERVICE_ANALYZERS
from kubetriage.analyzers.replica_lag import REPLICA_LAG_ANALYZERS
from kubetriage.analyzers.replica_writes import REPLICA_WRITE_ANALYZERS
from kubetriage.analyzers.request_path import REQUEST_PATH_ANALYZERS
from kubetriage.analyzers.resolver_nodes import RESOLVER_NODE_ANALYZERS
from kubetriage.analyzers.resolver_service import RESOLVER_SERVICE_ANALYZERS
from kubetriage.analyzers.restarted_logins import RESTARTED_LOGIN_ANALYZERS
from kubetriage.analyzers.reviewer_credentials import REVIEWER_ANALYZERS
from kubetriage.analyzers.rollout import ROLLOUT_ANALYZERS
from kubetriage.analyzers.rotated_mounts import ROTATED_MOUNT_ANALYZERS
from kubetriage.analyzers.routing import ROUTING_ANALYZERS
from kubetriage.analyzers.saturated_proxies import SATURATED_PROXY_ANALYZERS
from kubetriage.analyzers.saturation import SATURATION_ANALYZERS
from kubetriage.analyzers.scale_from_zero import SCALE_FROM_ZERO_ANALYZERS
from kubetriage.analyzers.scaler_auth import SCALER_AUTH_ANALYZERS
from kubetriage.analyzers.scaler_operator import SCALER_OPERATOR_ANALYZERS
from kubetriage.analyzers.scaler_policies import SCALER_POLICY_ANALYZERS
from kubetriage.analyzers.scheduler_names import SCHEDULER_NAME_ANALYZERS
from kubetriage.analyzers.scheduling import SCHEDULING_ANALYZERS
from kubetriage.analyzers.scrape_growth import SCRAPE_GROWTH_ANALYZERS
from kubetriage.analyzers.scrape_policies import SCRAPE_POLICY_ANALYZERS
from kubetriage.analyzers.secret_writers import SECRET_WRITER_ANALYZERS
from kubetriage.analyzers.security_profiles import SECURITY_PROFILE_ANALYZERS
from kubetriage.analyzers.service_removed import REMOVED_SERVICE_ANALYZERS
from kubetriage.analyzers.session_affinity import SESSION_AFFINITY_ANALYZERS
from kubetriage.analyzers.shared_dependency import SHARED_DEPENDENCY_ANALYZERS
from kubetriage.analyzers.shared_outage import SHARED_OUTAGE_ANALYZERS
from kubetriage.analyzers.siblings import SIBLING_ANALYZERS, defer_to_own
from kubetriage.analyzers.sidecar_components import SIDECAR_COMPONENT_ANALYZERS
from kubetriage.analyzers.signal_wrappers import SIGNAL_WRAPPER_ANALYZERS
from kubetriage.analyzers.skipped_injection import SKIPPED_INJECTION_ANALYZERS
from kubetriage.analyzers.slow_callee import SLOW_CALLEE_ANALYZERS
from kubetriage.analyzers.slow_consumers import SLOW_CONSUMER_ANALYZERS
from kubetriage.analyzers.split_config import SPLIT_CONFIG_ANALYZERS
from kubetriage.analyzers.stale_callers import STALE_CALLER_ANALYZERS
from kubetriage.analyzers.storage import STORAGE_ANALYZERS
from kubetriage.analyzers.storage_backends import STORAGE_BACKEND_ANALYZERS
from kubetriage.analyzers.store_strain import STORE_STRAIN_ANALYZERS
from kubetriage.analyzers.stray_endpoints import STRAY_ENDPOINT_ANALYZERS
from kubetriage.analyzers.tenant_callers import TENANT_CALLER_ANALYZERS
from kubetriage.analyzers.tenant_growth import TENANT_GROWTH_ANALYZERS
from kubetriage.analyzers.tenant_slots import TENANT_SLOT_ANALYZERS
from kubetriage.analyzers.throttled_controllers import THROTTLED_CONTROLLER_ANALYZERS
from kubetriage.analyzers.tls_clients import TLS_CLIENT_ANALYZERS
from kubetriage.analyzers.token_automount import TOKEN_AUTOMOUNT_ANALYZERS
from kubetriage.analyzers.under_requested import UNDER_REQUESTED_ANALYZERS
from kubetriage.analyzers.unreloaded_certificates import UNRELOADED_CERTIFICATE_ANALYZERS
from kubetriage.analyzers.unscheduled_proxies import UNSCHEDULED_PROXY_ANALYZERS
from kubetriage.analyzers.unserved_metrics import UNSERVED_METRIC_ANALYZERS
from kubetriage.analyzers.untrusting_clients import UNTRUSTING_CLIENT_ANALYZERS
from kubetriage.analyzers.warm_up import WARM_UP_ANALYZERS
from kubetriage.analyzers.webhooks import WEBHOOK_ANALYZERS
from kubetriage.analyzers.workload_identity import IDENTITY_ANALYZERS
from kubetriage.analyzers.zone_routing import ZONE_ROUTING_ANALYZERS
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding

ANALYZERS: tuple[Analyzer, ...] = (
    # containers
    *OOM_ANALYZERS,
    *CALLEE_OOM_ONSET_ANALYZERS,
    *CHILD_OOM_ANALYZERS,
    *GATEWAY_PROXY_ANALYZERS,
    *UNSCHEDULED_PROXY_ANALYZERS,
    *CRASH_ANALYZERS,
    *CONFIG_MISSING_ANALYZERS,
    *SIDECAR_COMPONENT_ANALYZERS,
    *SECRET_WRITER_ANALYZERS,
    *RECONCILER_ANALYZERS,
    *REFUSED_CONTROLLER_ANALYZERS,
    *THROTTLED_CONTROLLER_ANALYZERS,
    *IDENTITY_ANALYZERS,
    *IDENTITY_RELEASE_ANALYZERS,
    *INJECTOR_RELEASE_ANALYZERS,
    *API_TOKEN_ANALYZERS,
    *CLIENT_SECRET_ANALYZERS,
    *CLOUD_KEY_ANALYZERS,
    *CLOUD_CREDENTIAL_ANALYZERS,
    *AGENT_TOKEN_ANALYZERS,
    *LICENSE_KEY_ANALYZERS,
    *IMAGE_ANALYZERS,
    *SECURITY_PROFILE_ANALYZERS,
    *PROBE_ANALYZERS,
    *CALLEE_PROBE_ANALYZERS,
    # placement and infrastructure
    *PLATFORM_ANALYZERS,
    *SCHEDULING_ANALYZERS,
    *QUEUED_RUN_ANALYZERS,
    *NODE_ANALYZERS,
    *NODE_AGENT_ANALYZERS,
    *CNI_AGENT_ANALYZERS,
    *UNDER_REQUESTED_ANALYZERS,
    *STORAGE_ANALYZERS,
    # the workload's revisions and demand
    *ROLLOUT_ANALYZERS,
    *NEW_WORKLOAD_ANALYZERS,
    *SIGNAL_WRAPPER_ANALYZERS,
    *SATURATED_PROXY_ANALYZERS,
    *SATURATION_ANALYZERS,
    # traffic
    *DEPENDENCY_FAILURE_ANALYZERS,
    *CALLEE_CREDENTIAL_ANALYZERS,
    *RESTARTED_LOGIN_ANALYZERS,
    *RATE_LIMIT_ANALYZERS,
    *LB_SOURCE_ANALYZERS,
    *FRONT_BALANCER_ANALYZERS,
    *CLIENT_ROLLOUT_ANALYZERS,
    *OWN_SOCKETS_ANALYZERS,
    *CALLEE_LIVENESS_ANALYZERS,
    *SHARED_DEPENDENCY_ANALYZERS,
    *EGRESS_PEER_ANALYZERS,
    *QUOTA_PEER_ANALYZERS,
    *API_LOAD_ANALYZERS,
    *API_STORAGE_ANALYZERS,
    *CLIENT_SLOTS_ANALYZERS,
    *POOLED_CLIENT_ANALYZERS,
    *SLOW_CONSUMER_ANALYZERS,
    *PRODUCER_ROLLOUT_ANALYZERS,
    *PRODUCER_CONTRACT_ANALYZERS,
    *DNS_CLIENT_ANALYZERS,
    *TENANT_GROWTH_ANALYZERS,
    *TENANT_CALLER_ANALYZERS,
    *TENANT_SLOT_ANALYZERS,
    *LOCAL_VOLUME_ANALYZERS,
    *READ_ONLY_VOLUME_ANALYZERS,
    *STORAGE_BACKEND_ANALYZERS,
    *SHARED_OUTAGE_ANALYZERS,
    *BURST_CREDIT_ANALYZERS,
    *NETWORK_ANALYZERS,
    *POLICY_DENIAL_ANALYZERS,
    *LOCAL_TRAFFIC_ANALYZERS,
    *RESOLVER_SERVICE_ANALYZERS,
    *RESOLVER_NODE_ANALYZERS,
    *NODE_RESOLVER_ANALYZERS,
    *CALLER_RESOLVER_ANALYZERS,
    *STRAY_ENDPOINT_ANALYZERS,
    *PEER_DISCOVERY_ANALYZERS,
    *CALLEE_CONFIG_ANALYZERS,
    *REMOVED_SERVICE_ANALYZERS,
    *TOKEN_AUTOMOUNT_ANALYZERS,
    *ROUTING_ANALYZERS,
    *MESH_PROTOCOL_ANALYZERS,
    *GATEWAY_ROUTE_ANALYZERS,
    *GATEWAY_CREDENTIAL_ANALYZERS,
    *CERTIFICATE_EXPIRY_ANALYZERS,
    # the rest, in the order they were added (ties go to the rules above)
    *METRIC_ANALYZERS,
    *REQUEST_PATH_ANALYZERS,
    *CHANGE_ANALYZERS,
    *DEPENDENCY_ANALYZERS,
    *DEPENDENCY_EDIT_ANALYZERS,
    *DNS_FORWARD_ANALYZERS,
    *PROXY_LIMIT_ANALYZERS,
    *INGRESS_ROLLOUT_ANALYZERS,
    *INGRESS_SETTINGS_ANALYZERS,
    *NODE_NETWORK_ANALYZERS,
    *NODE_NEIGHBOUR_ANALYZERS,
    *DEVICE_PLUGIN_ANALYZERS,
    *CALLEE_ROLLOUT_ANALYZERS,
    *POLICY_ANALYZERS,
    *API_EGRESS_ANALYZERS,
    *SCALER_POLICY_ANALYZERS,
    *CERTIFICATE_RENEWAL_ANALYZERS,
    *CONFIG_ANALYZERS,
    *QUEUE_ANALYZERS,
    *CONFIG_ENDPOINT_ANALYZERS,
    *PLACEMENT_ANALYZERS,
    *WEBHOOK_ANALYZERS,
    *ADMISSION_ANALYZERS,
    *TLS_CLIENT_ANALYZERS,
    *UNTRUSTING_CLIENT_ANALYZERS,
    *CLOCK_ANALYZERS,
    *REVIEWER_ANALYZERS,
    *DEPENDENCY_VOLUME_ANALYZERS,
    *DEPENDENCY_SERVER_ANALYZERS,
    *CALLER_ANALYZERS,
    *DEPENDENCY_SATURATED_ANALYZERS,
    *BLOCKED_SINK_ANALYZERS,
    *MESH_CA_ANALYZERS,
    *AGGREGATED_API_ANALYZERS,
    *SIBLING_ANALYZERS,
    *DISRUPTION_BUDGET_ANALYZERS,
    *SCALER_OPERATOR_ANALYZERS,
    *SCALER_AUTH_ANALYZERS,
    *UNSERVED_METRIC_ANALYZERS,
    *MANAGED_DATABASE_ANALYZERS,
    *SCALE_FROM_ZERO_ANALYZERS,
    *SPLIT_CONFIG_ANALYZERS,
    *SCRAPE_GROWTH_ANALYZERS,
    *REPLICA_WRITE_ANALYZERS,
    *REPLICA_LAG_ANALYZERS,
    *LOCK_WAIT_ANALYZERS,
    *STORE_STRAIN_ANALYZERS,
    *CACHE_TIER_ANALYZERS,
    *FRONT_RESTART_ANALYZERS,
    *FRONT_VOLUME_ANALYZERS,
    *CALLEE_POOL_ANALYZERS,
    *SESSION_AFFINITY_ANALYZERS,
    *ZONE_ROUTING_ANALYZERS,
    *PINNED_CONNECTION_ANALYZERS,
    *CALLER_PINNING_ANALYZERS,
    *POOL_CALLEE_ANALYZERS,
    *JOB_SIDECAR_ANALYZERS,
    *SCHEDULER_NAME_ANALYZERS,
    *NATIVE_SIDECAR_ANALYZERS,
    *MESH_INJECTION_ANALYZERS,
    *SKIPPED_INJECTION_ANALYZERS,
    *STALE_CALLER_ANALYZERS,
    *REGISTRY_SERVICE_ANALYZERS,
    *PROBE_REFUSAL_ANALYZERS,
    *FRESH_THROTTLING_ANALYZERS,
    *UNRELOADED_CERTIFICATE_ANALYZERS,
    *OVERLAY_MTU_ANALYZERS,
    *CALLEE_PLACEMENT_ANALYZERS,
    *CALLEE_QUORUM_ANALYZERS,
    *COLD_CACHE_ANALYZERS,
    *REFUSED_SERIES_ANALYZERS,
    *IDLE_CONSUMER_ANALYZERS,
    *SLOW_CALLEE_ANALYZERS,
    *SCRAPE_POLICY_ANALYZERS,
    *ROTATED_MOUNT_ANALYZERS,
    *ADDRESSED_DEPENDENCY_ANALYZERS,
    *WARM_UP_ANALYZERS,
)


@dataclass(frozen=True, slots=True)
class AnalyzerError:
    analyzer: str
    error: str


@dataclass(frozen=True, slots=True)
class AnalyzerRun:
    """Findings best first (confidence, then registry order), the analyzers that raised, and
    the names of those that produced at least one finding."""

    findings: tuple[Finding, ...]
    errors: tuple[AnalyzerError, ...]
    fired: tuple[str, ...]

    @property
    def top(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def run_analyzers(evidence: Evidence, analyzers: tuple[Analyzer, ...] = ANALYZERS) -> AnalyzerRun:
    findings: list[Finding] = []
    errors: list[AnalyzerError] = []
    fired: list[str] = []
    for analyzer in analyzers:
        try:
            produced = analyzer.run(evidence)
        except Exception as exc:  # a bug in one rule must not cost the others
            errors.append(AnalyzerError(analyzer.name, f"{type(exc).__name__}: {exc}"))
            continue
        if produced and analyzer.name not in fired:
            fired.append(analyzer.name)
        findings.extend(produced)
    findings = to_sources(evidence, defer_to_own(evidence, findings))
    return AnalyzerRun(
        findings=tuple(_dedupe(sorted(findings, key=lambda f: -f.confidence))),
        errors=tuple(errors),
        fired=tuple(fired),
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Keep the strongest finding for each (category, action, target)."""
    kept: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for finding in findings:
        key = (finding.category.value, finding.action.value, finding.target.key())
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


__all__ = [
    "ANALYZERS",
    "Analyzer",
    "AnalyzerError",
    "AnalyzerRun",
    "make_finding",
    "run_analyzers",
]
