"""The PromQL templates of a queue behind a backlog alert: consumer lag, messages waiting,
the input rate, the rate the consumers finish, and per-pod CPU when the consumers are not
known up front. A backlog grows when input outruns the consumers: the input rate, the
consumers' rate and their CPU separate "more work" from "slower consumers" (a change, a
dependency). Pure data, the second part of the catalogue (``kubetriage.evidence.queries``);
scoped by namespace only, so the ServiceMonitor/OpenTelemetry rewrites of the workload's
own series (``kubetriage.evidence.query_labels``) do not apply to them.
"""

from __future__ import annotations

from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

_C = Category

QUEUE_TEMPLATES: tuple[QueryTemplate, ...] = (
    QueryTemplate(
        "kafka_consumergroup_lag",
        (_C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        frozenset({"namespace"}),
        'sum by (consumergroup, topic) (kafka_consumergroup_lag{namespace="$namespace"})',
        "consumer lag: growing with steady input means too few or too slow consumers",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "queue_messages_ready",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace"}),
        "sum by (queue) ({__name__=~"
        '"rabbitmq_queue_messages_ready|celery_queue_length|sidekiq_queue_size",'
        'namespace="$namespace"})',
        "messages waiting in each queue (RabbitMQ, Celery, Sidekiq exporters)",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "queue_consumers",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace"}),
        'sum by (queue) (rabbitmq_queue_consumers{namespace="$namespace"})',
        "consumers attached to each queue: none while messages arrive means no one reads it",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "queue_input_rate",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace"}),
        "sum by (queue) (rate(rabbitmq_queue_messages_published_total"
        '{namespace="$namespace"}[5m]))',
        "messages published per second: the demand on the consumers",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "topic_input_rate",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace"}),
        'sum by (topic) (rate(kafka_topic_partition_current_offset{namespace="$namespace"}[5m]))',
        "messages produced per second to each topic",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "queue_consumed_rate",
        (_C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT),
        frozenset({"namespace"}),
        "max by (queue) (rate({__name__=~"
        '"rabbitmq_queue_messages_acked_total|celery_tasks_succeeded_total|'
        'celery_task_succeeded_total",namespace="$namespace"}[5m]))',
        "messages the consumers finish per second: flat while input grows is capacity",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "namespace_pod_cpu_cores",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace", "namespace_wide"}),
        "sum by (pod) (rate(container_cpu_usage_seconds_total"
        '{namespace="$namespace",container!="",container!="POD"}[5m]))',
        "CPU per pod when the consumers are not known up front",
        frozenset({"queue"}),
    ),
)
