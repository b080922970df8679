"""Checks where the pod network's MTU is read from, the cluster-wide tunnel-MTU query, and
the overlay-MTU rule.

Evidence side (``kubetriage.evidence.overlay_mtu`` through the real builder): the MTU env vars
of the DaemonSets (from a ConfigMap key or a literal), only when the incident's own lines say a
response stalled mid-transfer. Query side: the template compares each node's tunnel devices
with its own interfaces and answers only under 20 bytes of headroom. Analyzer side
(``kubetriage.analyzers.overlay_mtu``): a tunnel without headroom on the incident's nodes,
stalled responses and one ConfigMap the CNI agent takes its MTU from: fix that ConfigMap,
above the callee's dependency-failure read from the same timeouts; and the near misses: the
tunnel is short on a node that runs none of the incident's pods, nothing stalls, the MTU is a
literal in the DaemonSet, two ConfigMaps set it.

Real: raw DaemonSet manifests as the API returns them, the pure builder, the real template
table, Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.overlay_mtu import CONFIDENCE, METRIC
from kubetriage.evidence.query_templates_cluster import CLUSTER_TEMPLATES
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import OverlayMtuEvidence
from kubetriage.models.object_evidence import LogTail, MetricSummary, NodeEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads

OWN = ObjectRef(kind="Deployment", namespace="shop", name="catalog-api")
AGENT = ObjectRef(kind="DaemonSet", namespace="kube-system", name="cni-agent")
CONFIG = ObjectRef(kind="ConfigMap", namespace="kube-system", name="cni-settings")
STALLED = (
    "2026-11-20T09:58:41.402Z WARN 1 --- [nio-8080-exec-4] o.a.c.c.C.[.[.[/].[dispatcherServlet]"
    " : Servlet.service() failed: org.apache.catalina.connector.ClientAbortException: "
    "java.io.IOException: Broken pipe"
)
QUIET = "2026-11-20T09:58:11.306Z INFO 1 --- [nio-8080-exec-4] GET /api/items -> 200 in 36 ms"


def _daemonset(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": AGENT.name, "namespace": AGENT.namespace},
        "spec": {
            "selector": {"matchLabels": {"app": AGENT.name}},
            "template": {
                "metadata": {"labels": {"app": AGENT.name}},
                "spec": {
                    "hostNetwork": True,
                    "initContainers": [{"name": "install-cni", "image": "cni:1", "env": env[:1]}],
                    "containers": [{"name": "agent", "image": "agent:1", "env": env}],
                },
            },
        },
    }


def _from_config(env: str, key: str = "veth_mtu") -> dict[str, Any]:
    return {"name": env, "valueFrom": {"configMapKeyRef": {"name": CONFIG.name, "key": key}}}


def _own_log(text: str) -> LogTail:
    return make.log("catalog-api-7f9c-x2mfq", "app", text)


def test_the_mtu_settings_of_the_daemonsets_are_read_when_a_response_stalls() -> None:
    objects = [
        _daemonset(
            [
                _from_config("CNI_MTU"),
                _from_config("FELIX_VXLANMTU"),
                {"name": "FELIX_HEALTHENABLED", "value": "true"},
                {"name": "MTU", "value": "1400"},
            ]
        )
    ]
    settings = built(objects, OWN, logs=[_own_log(STALLED)]).overlay_mtu
    assert settings == [
        OverlayMtuEvidence(ref=AGENT, env="CNI_MTU", config_map=CONFIG.name, key="veth_mtu"),
        OverlayMtuEvidence(ref=AGENT, env="FELIX_VXLANMTU", config_map=CONFIG.name, key="veth_mtu"),
        OverlayMtuEvidence(ref=AGENT, env="MTU", value="1400"),
    ]


def test_no_mtu_settings_are_read_while_nothing_stalls() -> None:
    objects = [_daemonset([_from_config("CNI_MTU")])]
    assert built(objects, OWN, logs=[_own_log(QUIET)]).overlay_mtu == []


def test_the_tunnel_query_compares_tunnels_with_the_nodes_own_interfaces() -> None:
    template = next(t for t in CLUSTER_TEMPLATES if t.name == METRIC)
    assert not template.requires
    assert Category.NETWORK in template.categories
    tunnel, _, interface = template.promql.partition(" - on (instance) group_left ")
    assert 'node_network_mtu_bytes{device=~"vxlan.*|' in tunnel
    assert 'node_network_mtu_bytes{device!~"lo|veth.*|' in interface
    assert template.promql.endswith("> -20")


def _node(name: str) -> NodeEvidence:
    return NodeEvidence(name=name, ready="True", addresses=["10.10.20.11"])


def _tunnel(node: str, excess: float) -> MetricSummary:
    return make.metric(
        f"{METRIC}-query",
        name=METRIC,
        last=excess,
        labels={"instance": node, "device": "vxlan.calico"},
    )


def _evidence(
    *,
    tunnel_node: str = "worker-1",
    logs: str = STALLED,
    settings: list[OverlayMtuEvidence] | None = None,
) -> Evidence:
    return make.app_evidence(
        "catalog-api-7f9c-x2mfq",
        logs=logs,
        nodes=[_node("worker-1")],
        metrics=[_tunnel(tunnel_node, 0)],
        overlay_mtu=settings
        if settings is not None
        else [
            OverlayMtuEvidence(ref=AGENT, env="CNI_MTU", config_map=CONFIG.name, key="veth_mtu"),
            OverlayMtuEvidence(
                ref=AGENT, env="FELIX_VXLANMTU", config_map=CONFIG.name, key="veth_mtu"
            ),
        ],
    )


def test_a_tunnel_without_headroom_fixes_the_configmap_the_cni_agent_reads() -> None:
    leader = assert_leads(analyze(_evidence()), Category.NETWORK, Action.FIX_CONFIG, CONFIG)
    assert leader.analyzer == "overlay-mtu"
    assert leader.confidence == CONFIDENCE.tunnel_without_headroom
    facts = " ".join(e.fact for e in leader.evidence)
    assert "vxlan.calico MTU equal to the node's interface MTU" in facts
    assert "ClientAbortException" in facts
    assert "veth_mtu" in leader.summary


def _overlay_findings(ev: Evidence) -> list[str]:
    return [f.analyzer for f in analyze(ev).findings if f.analyzer == "overlay-mtu"]


def test_a_tunnel_short_only_on_a_node_without_the_incidents_pods_is_not_this_finding() -> None:
    assert _overlay_findings(_evidence(tunnel_node="worker-9")) == []


def test_a_short_tunnel_while_no_response_stalls_is_not_this_finding() -> None:
    assert _overlay_findings(_evidence(logs=QUIET)) == []


def test_an_mtu_written_as_a_literal_in_the_daemonset_is_not_this_finding() -> None:
    literal = [OverlayMtuEvidence(ref=AGENT, env="FELIX_VXLANMTU", value="1450")]
    assert _overlay_findings(_evidence(settings=literal)) == []


def test_two_configmaps_setting_the_mtu_name_no_one_object_to_fix() -> None:
    other = ObjectRef(kind="DaemonSet", namespace="kube-flannel", name="kube-flannel-ds")
    settings = [
        OverlayMtuEvidence(ref=AGENT, env="CNI_MTU", config_map=CONFIG.name, key="veth_mtu"),
        OverlayMtuEvidence(ref=other, env="FLANNEL_MTU", config_map="kube-flannel-cfg", key="mtu"),
    ]
    assert _overlay_findings(_evidence(settings=settings)) == []
