"""The PromQL templates (``QueryTemplate``s) of what a called workload's pods have free to take
a call: the workers or pooled connections each pod of a followed dependency has idle, in the
names of the well-known servers' and pools' exporters. A pod whose every worker or pooled
connection is busy queues the calls it gets. And what a called store's own exporter says of
its health: the backlog of work it falls behind on before it refuses its callers (a data
store's merges, replication or cluster tasks). The part of the catalogue
``kubetriage.evidence.queries`` adds to the workload's own (``query_templates``).
"""

from __future__ import annotations

from kubetriage.evidence.query_labels import CALLEE_PODS
from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

# Free slots per pod, each exporter as it documents its gauges: Puma's stats
# (yabeda-puma-plugin, puma-metrics: ``pool_capacity``, the threads free to take a request),
# pgx v5's pool (``pgxpool_*``: MaxConns, AcquiredConns), HikariCP (Micrometer) and
# Tomcat's connector threads (Micrometer).
_FREE_SLOTS = (
    f"puma_pool_capacity{{{CALLEE_PODS}}}",
    f"pgxpool_max_conns{{{CALLEE_PODS}}} - pgxpool_acquired_conns{{{CALLEE_PODS}}}",
    f"hikaricp_connections_max{{{CALLEE_PODS}}} - hikaricp_connections_active{{{CALLEE_PODS}}}",
    f"tomcat_threads_config_max_threads{{{CALLEE_PODS}}}"
    f" - tomcat_threads_busy_threads{{{CALLEE_PODS}}}",
)

# A called store's own degradation, each a gauge that is near zero (or at its usual level)
# while the store keeps up and climbs while it falls behind, in the names its exporters
# document, tagged with what it counts (``signal``, read by ``analyzers.store_strain``):
# - ClickHouse's parts in its busiest partition (its built-in Prometheus endpoint, scraped
#   from the server's pod; the Altinity operator's exporter labels its host, not the pod):
#   merges falling behind the inserts, until it delays and then refuses them (TOO_MANY_PARTS);
# - ClickHouse's replicated tables that went read-only (their Keeper session lost);
# - a Kafka broker's under-replicated partitions (the JMX exporter agent, Strimzi's rules);
# - Elasticsearch's pending cluster-state tasks (elasticsearch_exporter as a sidecar): a
#   master that no longer keeps up with mapping and shard updates.
_STORE_STRAIN: tuple[tuple[str, str], ...] = (
    ("parts_per_partition", "ClickHouseAsyncMetrics_MaxPartCountForPartition"),
    ("readonly_replicas", "ClickHouseMetrics_ReadonlyReplica"),
    ("under_replicated_partitions", "kafka_server_replicamanager_underreplicatedpartitions"),
    ("pending_cluster_tasks", "elasticsearch_cluster_health_number_of_pending_tasks"),
)


def _strain(signal: str, name: str) -> str:
    """The highest ``name`` per pod, tagged ``signal="<signal>"``."""
    return (
        f"label_replace(max by (namespace, pod) ({name}{{{CALLEE_PODS}}}),"
        f' "signal", "{signal}", "", "")'
    )


CALLEE_TEMPLATES: tuple[QueryTemplate, ...] = (
    QueryTemplate(
        "callee_pool_free_slots",
        (Category.RESOURCE_SATURATION,),
        frozenset({"callees"}),
        " or ".join(f"min by (namespace, pod) ({slots})" for slots in _FREE_SLOTS),
        "workers or pooled connections each pod of a called workload has free for a call",
    ),
    QueryTemplate(
        "callee_store_strain",
        (Category.DEPENDENCY_FAILURE,),
        frozenset({"callees"}),
        " or ".join(_strain(signal, name) for signal, name in _STORE_STRAIN),
        "what each called store falls behind on (its parts, replicas, partitions, tasks)",
    ),
)
