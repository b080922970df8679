"""Checks three ways of telling probe failures, CPU throttling and saturation apart:

- a probe that times out under throttling is excused by the CPU limit, unless it is an exec
  handler the latest rollout introduced: its command runs inside the container and spends the
  container's own quota, so the probe is the fault (fix-probe), not the limit;
- replicas failing their probes only on one node whose own series say the hypervisor steals
  its CPU (``node_cpu_steal_ratio``) make that node the cause (drain it), and the same split
  without the steal, or steal on a node where nothing fails, does not;
- an autoscaler that scales on memory only and stays below its maximum while the pods' CPU
  climbs to their request, unthrottled, and their liveness probes time out: the pods are short
  of replicas (scale-out); the same with a CPU-scaled autoscaler, or with the usage held at a
  CPU limit, is not this rule's.

Real: the analyzer registry (``run_analyzers``) on Evidence models from the
``tests.support.evidence`` factories, the HPA summary built from raw autoscaling/v1 and v2
objects, and the steal template's PromQL text; no Prometheus (series are summaries).
"""

from __future__ import annotations

from kubetriage.analyzers.node_metrics import CPU_STEAL, stolen_cpu
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.query_templates_cluster import CLUSTER_TEMPLATES
from kubetriage.evidence.summaries.capacity import autoscaler_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    NodeEvidence,
    PodEvidence,
    ProbeSpec,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")

# --- an exec probe the rollout introduced pays for its own throttling ------------------------


EXEC_PROBE = make.exec_probe("liveness", "python manage.py health_check", timeout_seconds=2)
HTTP_PROBE = make.http_probe("liveness", "/up", 8080, timeout_seconds=2)


def _exec_probe_under_throttling(probe: ProbeSpec, *, probe_changed: bool) -> Evidence:
    """Checkout's liveness probe (``probe``) times out and the kubelet restarts it while its
    container is throttled in 70% of its CFS periods under a 500m limit; the rollout 30
    minutes ago changed its probes (``probe_changed``) or its image."""
    app = make.container(
        "app",
        ready=False,
        restarts=3,
        limits={"cpu": "500m", "memory": "1Gi"},
        last_state=make.terminated("Error", 137),
        probes=[probe],
    )
    labels = {"pod": CHECKOUT_POD, "container": "app"}
    return make.checkout_evidence(
        app,
        workload=make.deployment(ready=1),
        events=[
            make.event(
                "Unhealthy",
                'Liveness probe failed: command "python manage.py health_check" timed out'
                if probe.mechanism == "exec"
                else 'Liveness probe failed: Get "http://10.1.2.3:8080/up": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)",
                name=CHECKOUT_POD,
                count=30,
            ),
            make.event(
                "Killing",
                "Container app failed liveness probe, will be restarted",
                name=CHECKOUT_POD,
                count=3,
            ),
        ],
        changes=[
            make.rollout_change(
                CHECKOUT, 33, "probes" if probe_changed else "image", minutes_ago=30
            )
        ],
        metrics=[
            make.metric(
                "container_cpu_cfs_throttled_periods_total",
                first=1000,
                last=1000 + 36000 * 0.7,
                labels=labels,
            ),
            make.metric("container_cpu_cfs_periods_total", first=50000, last=86000, labels=labels),
        ],
    )


def test_an_exec_probe_the_rollout_introduced_is_the_fault_though_the_container_is_throttled() -> (
    None
):
    result = analyze(_exec_probe_under_throttling(EXEC_PROBE, probe_changed=True))
    leader = assert_leads(result, Category.PROBE_FAILURE, Action.FIX_PROBE, CHECKOUT)
    assert any("runs in the container" in e.fact for e in leader.evidence)
    assert any("CFS periods" in e.fact for e in leader.evidence)
    assert by_category(result, Category.CPU_THROTTLING)[0].confidence < leader.confidence
    # More time would not help a probe that slows itself: the fix is a cheaper check.
    assert "cheaper" in leader.summary
    assert "startup probe" not in leader.summary
    assert leader.narrative is not None
    assert any("slows itself" in claim.text for claim in leader.narrative.because)


def test_a_probe_excused_by_throttling_keeps_the_timing_advice() -> None:
    result = analyze(_exec_probe_under_throttling(HTTP_PROBE, probe_changed=False))
    probe = by_category(result, Category.PROBE_FAILURE)[0]
    assert "cheaper" not in probe.summary


def test_an_http_probe_or_an_unchanged_exec_probe_under_throttling_is_the_cpu_limit() -> None:
    # Near misses: the rollout changed the image, not the probe, whether the probe is an
    # HTTP check (no process of its own) or an exec one that ran before without trouble.
    for probe in (HTTP_PROBE, EXEC_PROBE):
        result = analyze(_exec_probe_under_throttling(probe, probe_changed=False))
        assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)


# --- CPU stolen by the hypervisor on the one node where replicas fail ------------------------

NODES = [
    NodeEvidence(name="k8s-worker-03.dc1.internal", ready="True", addresses=["10.20.8.13"]),
    NodeEvidence(name="k8s-worker-05.dc1.internal", ready="True", addresses=["10.20.8.15"]),
]
BAD = NODES[1]


def _replica(suffix: str, node: NodeEvidence, *, failing: bool) -> PodEvidence:
    app = (
        make.container("api", ready=False, restarts=2, last_state=make.terminated("Error", 143))
        if failing
        else make.container("api")
    )
    return make.pod(f"invoice-5d8c7b9f6c-{suffix}", app, node=node.name)


def _steal(on: NodeEvidence, share: float) -> object:
    return make.metric(
        'sum by (instance) (rate(node_cpu_seconds_total{mode="steal"}[5m])) / ... > 0.1',
        name=CPU_STEAL,
        labels={"instance": f"{on.addresses[0]}:9100"},
        first=share,
        last=share,
        changed_minutes_ago=35,
    )


def _split(*metrics: object) -> Evidence:
    """Two replicas on worker-05 time out their probes and restart; one on worker-03 runs."""
    pods = [
        _replica("aaaaa", NODES[0], failing=False),
        _replica("bbbbb", BAD, failing=True),
        _replica("ccccc", BAD, failing=True),
    ]
    events = [
        make.event(
            "Unhealthy",
            'Liveness probe failed: Get "http://10.0.0.9:8080/livez": context deadline exceeded',
            name=p.name,
            count=20,
        )
        for p in pods[1:]
    ]
    return make.evidence(pods=pods, nodes=NODES, events=events, metrics=list(metrics))


def test_replicas_failing_only_on_a_node_whose_cpu_is_stolen_drain_that_node() -> None:
    finding = assert_leads(
        analyze(_split(_steal(BAD, 0.42))),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=BAD.name),
    )
    assert any("42% of its CPU time stolen by the hypervisor" in e.fact for e in finding.evidence)


def test_the_split_without_steal_or_steal_elsewhere_does_not_blame_the_node() -> None:
    for ev in (_split(), _split(_steal(NODES[0], 0.3))):
        assert not [f for f in analyze(ev).findings if f.category is Category.NODE_FAILURE]
    assert stolen_cpu(_split(_steal(NODES[0], 0.3)), BAD) == []


def test_the_steal_template_asks_only_for_nodes_past_its_threshold() -> None:
    (template,) = [t for t in CLUSTER_TEMPLATES if t.name == CPU_STEAL]
    assert 'mode="steal"' in template.promql
    assert template.promql.endswith("> 0.1")
    assert not template.requires
    assert not template.families


# --- an autoscaler on memory only, blind to the CPU load -------------------------------------

FARE = ObjectRef(kind="Deployment", namespace="shop", name="fare")
FARE_POD = "fare-6f7b9d5c8d-m2cxs"


def _hpa(*metrics: str, current: int = 3, maximum: int = 20) -> AutoscalerEvidence:
    return autoscalers.hpa(FARE, current=current, minimum=3, maximum=maximum, metrics=metrics)


def _busy_fare(hpa: AutoscalerEvidence, *, cpu_limit: str | None = None) -> Evidence:
    """fare's pods use 0.98 cores of a 1-core request (0.34 an hour ago) and their liveness
    probe times out; ``hpa`` scales it."""
    limits = {"memory": "1Gi", **({"cpu": cpu_limit} if cpu_limit else {})}
    requests = {"cpu": "1", "memory": "1Gi"}
    app = make.container(
        "web",
        ready=False,
        restarts=4,
        last_state=make.terminated("Error", 143),
        probes=[make.http_probe("liveness", "/healthz", 8000, timeout_seconds=1)],
        requests=requests,
        limits=limits,
    )
    return make.evidence(
        workload=make.deployment(
            "fare",
            replicas=3,
            ready=1,
            containers=[make.container("web", requests=requests, limits=limits)],
        ),
        pods=[make.app_pod(FARE_POD, app)],
        autoscalers=[hpa],
        events=[
            make.event(
                "Unhealthy",
                'Liveness probe failed: Get "http://10.84.2.18:8000/healthz": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)",
                name=FARE_POD,
                count=40,
            ),
            make.event(
                "Killing",
                "Container web failed liveness probe, will be restarted",
                name=FARE_POD,
                count=4,
            ),
        ],
        metrics=[
            make.metric(
                'sum by (pod, container) ((rate(container_cpu_usage_seconds_total{pod=~"fare-.*"}'
                "[5m])))",
                name="cpu_usage_cores",
                labels={"pod": FARE_POD, "container": "web"},
                first=0.34,
                last=0.98,
                trend="rising",
            )
        ],
    )


def test_a_memory_only_autoscaler_below_its_maximum_while_cpu_overwhelms_the_pods_scales_out() -> (
    None
):
    result = analyze(_busy_fare(_hpa("memory")))
    leader = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, FARE)
    assert leader.params["hpa"] == "fare"
    assert any("scales on memory only" in e.fact for e in leader.evidence)
    assert by_category(result, Category.PROBE_FAILURE)[0].confidence < leader.confidence


def test_a_cpu_scaled_autoscaler_a_maxed_one_or_a_cpu_limit_is_not_this_rule() -> None:
    # Near misses: the autoscaler watches CPU too; it has no room left (the maxed-out rule's);
    # the usage sits at a CPU limit (the throttling rule's).
    for ev in (
        _busy_fare(_hpa("memory", "cpu")),
        _busy_fare(_hpa("memory", current=20, maximum=20)),
        _busy_fare(_hpa("memory"), cpu_limit="1"),
    ):
        found = [f for f in analyze(ev).findings if "watches memory only" in f.summary]
        assert found == []


def test_the_autoscaler_summary_names_what_it_scales_on() -> None:
    limits = EvidenceLimits()
    v2 = {
        "metadata": {"name": "fare", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "fare"},
            "maxReplicas": 20,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory"}},
                {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"}}},
                {"type": "External", "external": {"metric": {"name": "sqs_messages"}}},
            ],
        },
    }
    assert autoscaler_summary(v2, limits).metrics == [
        "memory",
        "pods:http_requests_per_second",
        "external:sqs_messages",
    ]
    v1 = {"metadata": {"name": "fare"}, "spec": {"targetCPUUtilizationPercentage": 80}}
    assert autoscaler_summary(v1, limits).metrics == ["cpu"]
