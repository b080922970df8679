"""The PromQL templates (``QueryTemplate``s) of a service mesh's view of the incident's Service
from its callers' side: Istio's source-reported ``istio_requests_total`` per calling workload,
with the destination workload the proxy reached and the response flags it logged. One caller
whose proxies fail to connect to addresses no workload owns, while the others reach the same
Service, holds stale endpoints (``kubetriage.analyzers.stale_callers``); the part of the
catalogue ``kubetriage.evidence.queries`` adds to the workload's own (``query_templates``).
"""

from __future__ import annotations

from typing import Final

from kubetriage.evidence.query_labels import JOB_SET
from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

# The name the analyzers read these series by.
REQUESTS_BY_SOURCE: Final = "istio_requests_by_source"

MESH_TEMPLATES: tuple[QueryTemplate, ...] = (
    QueryTemplate(
        REQUESTS_BY_SOURCE,
        (Category.NETWORK, Category.BAD_ROLLOUT),
        JOB_SET,
        "sum by (source_workload, source_workload_namespace, destination_workload, "
        'response_code, response_flags) (rate(istio_requests_total{reporter="source",'
        'destination_service=~"($job_regex)[.]$namespace[.].*"}[5m]))',
        "requests to the Service per calling workload, as the callers' sidecars count them",
        frozenset({"latency", "errors"}),
    ),
)
