"""The PromQL template of how a Deployment's load is spread over its replicas when the alert
names one pod: the CPU each pod of the pod's Deployment uses. A throttling alert on one
replica asks whether the others carry the same load (the limit is too tight for it) or idle
beside it (the calls are pinned to some pods, ``analyzers.caller_pinning``); the part of the
catalogue ``kubetriage.evidence.queries`` adds to the workload's own (``query_templates``).
"""

from __future__ import annotations

from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

# The pods of the Deployment ("<name>-<pod-template-hash>-<suffix>"), every container.
_REPLICA_CONTAINERS = (
    'namespace="$namespace",pod=~"$deployment-[a-z0-9]{1,10}-[a-z0-9]{5}",'
    'container!="",container!="POD"'
)

REPLICA_TEMPLATES: tuple[QueryTemplate, ...] = (
    QueryTemplate(
        "replica_cpu_usage_cores",
        (Category.CPU_THROTTLING, Category.BAD_ROLLOUT),
        frozenset({"namespace", "deployment"}),
        f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{_REPLICA_CONTAINERS}}}[5m]))",
        "CPU each replica of the Deployment uses: whether its pods share the load evenly",
        frozenset({"throttling"}),
    ),
)
