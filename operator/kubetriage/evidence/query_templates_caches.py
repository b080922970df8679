"""The PromQL templates (``QueryTemplate``s) of an HTTP cache's own demand, asked when the
alert is about its hit ratio: the requests its clients send it, in the names of the
well-known caches' exporters (prometheus_varnish_exporter's ``varnish_main_client_req``,
nginx-module-vts' ``nginx_vts_server_requests_total``, nginx-prometheus-exporter's
``nginx_http_requests_total``). A hit ratio that falls while the requests multiply is the
demand changing (new, short-lived objects the cache has not seen yet), not the cache's
configuration; the part of the catalogue ``kubetriage.evidence.queries`` adds to the
workload's own (``query_templates``).
"""

from __future__ import annotations

from kubetriage.evidence.query_labels import POD, POD_SET
from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

_CLIENT_REQUESTS = (
    "varnish_main_client_req",
    "nginx_vts_server_requests_total",
    "nginx_http_requests_total",
)

CACHE_TEMPLATES: tuple[QueryTemplate, ...] = (
    QueryTemplate(
        "cache_request_rate",
        (Category.RESOURCE_SATURATION, Category.BAD_ROLLOUT),
        POD_SET,
        " or ".join(f"sum(rate({name}{{{POD}}}[5m]))" for name in _CLIENT_REQUESTS),
        "traffic into an HTTP cache: the requests its clients sent it",
        frozenset({"cache"}),
    ),
)
