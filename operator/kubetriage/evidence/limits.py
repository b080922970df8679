"""Bounds on everything evidence collection reads and keeps.

One frozen ``EvidenceLimits`` value is built from ``Settings`` at startup (``from_settings``) and
passed to ``KubeEvidenceCollector`` and ``build_evidence``; tests build their own. Every list in
``kubetriage.models.evidence.Evidence`` is cut to these sizes, so a namespace with ten thousand
events or a container that logged ten megabytes cannot blow up a prompt or the Incident status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from kubetriage.settings import Settings


class EvidenceLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_alerts: int = Field(default=10, ge=0)
    max_pods: int = Field(default=10, ge=1)
    max_containers_per_pod: int = Field(default=10, ge=1)
    max_events: int = Field(default=30, ge=0)
    # Events read from the API per involved object (or per namespace when the incident is
    # namespace-wide) before deduplication; the builder keeps ``max_events`` of them.
    max_events_fetched: int = Field(default=500, ge=1)
    max_log_tails: int = Field(default=12, ge=0)
    max_log_lines: int = Field(default=50, ge=0)
    max_log_line_bytes: int = Field(default=1024, ge=16)
    max_log_tail_bytes: int = Field(default=16_384, ge=64)
    max_revisions: int = Field(default=5, ge=1)
    max_nodes: int = Field(default=5, ge=0)
    max_pvcs: int = Field(default=10, ge=0)
    max_services: int = Field(default=10, ge=0)
    max_network_policies: int = Field(default=10, ge=0)
    max_network_policy_rules: int = Field(default=8, ge=0)
    max_autoscalers: int = Field(default=5, ge=0)
    max_quotas: int = Field(default=5, ge=0)
    max_config_maps: int = Field(default=20, ge=0)
    max_config_map_keys: int = Field(default=30, ge=0)
    max_other_objects: int = Field(default=10, ge=0)
    max_changes: int = Field(default=10, ge=0)
    # Services the workload calls that are followed (read across namespaces), each costing a
    # few API calls.
    max_dependencies: int = Field(default=3, ge=0)
    # Pods of each followed dependency whose log tails and PersistentVolumeClaims are read
    # (what a database that is up but cannot serve says about itself).
    max_dependency_pods: int = Field(default=3, ge=0)
    max_env_vars: int = Field(default=30, ge=0)
    max_args: int = Field(default=20, ge=0)
    max_labels: int = Field(default=20, ge=0)
    max_conditions: int = Field(default=10, ge=0)
    max_string_length: int = Field(default=512, ge=16)
    # Objects listed per namespace-wide list call (pods for Service selectors, ConfigMaps...).
    max_list_items: int = Field(default=500, ge=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> EvidenceLimits:
        return cls(
            max_pods=settings.max_pods,
            max_events=settings.max_events,
            max_log_lines=settings.log_tail_lines,
            max_log_tail_bytes=max(64, settings.log_tail_bytes),
        )
