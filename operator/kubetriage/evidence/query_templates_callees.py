"""The PromQL templates (``QueryTemplate``s) of what a called workload's pods have free to take
a call: the workers or pooled connections each pod of a followed dependency has idle, in the
names of the well-known servers' and pools' exporters. A pod whose every worker or pooled
connection is busy queues the calls it gets; the part of the catalogue
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

CALLEE_TEMPLATES: tuple[QueryTemplate, ...] = (
    QueryTemplate(
        "callee_pool_free_slots",
        (Category.RESOURCE_SATURATION,),
        frozenset({"callees"}),
        " or ".join(f"min by (namespace, pod) ({slots})" for slots in _FREE_SLOTS),
        "workers or pooled connections each pod of a called workload has free for a call",
    ),
)
