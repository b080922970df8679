"""Checks the way from an Ingress to its controller and what the network rule makes of it:
the pure helpers of ``kubetriage.evidence.summaries.ingress`` (which Ingresses serve the
incident's pods, which IngressClass and controller serve them, which pods are the
controller's) over raw objects as the API returns them, and the routing analyzer's finding
when the backend pods' NetworkPolicies admit no pod of the controller, with the look-alikes
that must not fire (a policy admitting the controller's namespace, a controller whose pods
were not found), an Ingress naming a port its backend Service does not have, and which
Ingress serves the host a probe alert names; the controller's own workload and failing pods
(an OOM-killed controller gets more memory), and a routed Service publishing not-ready pods.

Everything is real: raw objects through ``ObjectIndex``, Evidence models from
``tests.support.evidence``, the flow evaluator and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.summaries.ingress import (
    class_of,
    controller_pod_labels,
    ingress_controllers,
    served_ingresses,
    serving_ingress,
    unknown_ports,
)
from kubetriage.evidence.summaries.network import service_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import IngressControllerEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import rules_of, selector_of
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

NGINX_LABELS = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/component": "controller",
}


def _ingress(
    name: str, backend: str, cls: str | None = "nginx", ns: str = "shop"
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": f"{name}.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": backend, "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    }
    if cls is not None:
        spec["ingressClassName"] = cls
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _class(name: str, controller: str, default: bool = False) -> dict[str, Any]:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"controller": controller},
    }


def _service(name: str, selector: dict[str, str], ns: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def _pod(name: str, ns: str, labels: dict[str, str], ip: str, ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_only_ingresses_whose_backend_selects_the_pods_are_served() -> None:
    pods = [_pod("checkout-1", "shop", {"app": "checkout"}, "10.0.0.5")]
    services = [_service("checkout", {"app": "checkout"}), _service("docs", {"app": "docs"})]
    ingresses = [_ingress("docs", "docs"), _ingress("shop", "checkout"), _ingress("gone", "nope")]
    assert [i["metadata"]["name"] for i in served_ingresses(ingresses, services, pods)] == ["shop"]


def test_an_ingress_without_a_class_is_served_by_the_default_class() -> None:
    classes = [
        _class("traefik", "traefik.io/ingress-controller"),
        _class("nginx", "k8s.io/ingress-nginx", default=True),
    ]
    assert class_of(_ingress("a", "b", cls=None), classes) == classes[1]
    assert class_of(_ingress("a", "b", cls="traefik"), classes) == classes[0]
    assert class_of(_ingress("a", "b", cls="missing"), classes) is None


def test_controller_pod_labels_by_controller_name() -> None:
    assert controller_pod_labels("k8s.io/ingress-nginx") == NGINX_LABELS
    assert controller_pod_labels("traefik.io/ingress-controller") == {
        "app.kubernetes.io/name": "traefik"
    }
    # A cloud load balancer sends to pod IPs from outside the cluster: no pods to find.
    assert controller_pod_labels("ingress.k8s.aws/alb") is None
    assert controller_pod_labels(None) is None


def test_summary_finds_the_controller_pods_in_their_own_namespace() -> None:
    backend = _pod("checkout-1", "shop", {"app": "checkout"}, "10.0.0.5")
    objects = [
        _ingress("shop", "checkout"),
        _service("checkout", {"app": "checkout"}),
        _class("nginx", "k8s.io/ingress-nginx"),
        backend,
        _pod("ingress-nginx-controller-1", "ingress-nginx", NGINX_LABELS, "10.0.9.9"),
        _pod("ingress-nginx-controller-2", "ingress-nginx", NGINX_LABELS, "10.0.9.8", ready=False),
        _pod("unrelated", "ingress-nginx", {"app": "other"}, "10.0.9.7"),
    ]
    found = ingress_controllers(ObjectIndex(objects, Notes()), "shop", [backend], EvidenceLimits())
    assert len(found) == 1
    summary = found[0]
    assert (summary.ingress, summary.ingress_class, summary.controller) == (
        "shop",
        "nginx",
        "k8s.io/ingress-nginx",
    )
    assert summary.namespace == "ingress-nginx"
    assert (summary.pods, summary.ready_pods) == (2, 1)
    assert summary.ips == ["10.0.9.9", "10.0.9.8"]
    assert summary.backends == ["checkout"]


def _policy(name: str, ingress: list[dict[str, Any]]) -> Any:
    spec = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": ingress}
    return make.network_policy(
        name,
        "ingress from pods(*) all ports",
        selector=selector_of(spec["podSelector"]),
        ingress=rules_of(spec, "ingress"),
    )


def _behind_ingress(policy: Any, controller_namespace: str | None = "ingress-nginx") -> Evidence:
    controller = IngressControllerEvidence(
        ingress="shop",
        backends=["checkout"],
        ingress_class="nginx",
        controller="k8s.io/ingress-nginx",
        namespace=controller_namespace,
        labels=NGINX_LABELS if controller_namespace else {},
        pods=1 if controller_namespace else 0,
        ready_pods=1 if controller_namespace else 0,
    )
    return make.checkout_evidence(
        services=[make.service("checkout", ready=1, matching=1)],
        network_policies=[policy],
        ingress_controllers=[controller],
        alerts=[make.alert(alertname="NginxIngressHigh5xxRate", ingress="shop", namespace="shop")],
    )


def test_policy_admitting_only_its_own_namespace_blocks_the_ingress_controller() -> None:
    same_namespace = _policy("deny-from-other-namespaces", [{"from": [{"podSelector": {}}]}])
    finding = assert_leads(
        analyze(_behind_ingress(same_namespace)),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="shop", name="deny-from-other-namespaces"),
    )
    assert any(
        e.source == "ingress/shop/shop" and "ingress-nginx" in e.fact for e in finding.evidence
    )
    assert "ingress-nginx" in finding.summary


def test_policy_admitting_the_controller_namespace_is_innocent() -> None:
    admits = _policy(
        "allow-ingress-controller",
        [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                        }
                    }
                ]
            }
        ],
    )
    result = analyze(_behind_ingress(admits))
    assert not any(e.source == "ingress/shop/shop" for f in result.findings for e in f.evidence)


def test_no_controller_pods_found_means_no_verdict() -> None:
    same_namespace = _policy("deny-from-other-namespaces", [{"from": [{"podSelector": {}}]}])
    result = analyze(_behind_ingress(same_namespace, controller_namespace=None))
    assert not any(e.source == "ingress/shop/shop" for f in result.findings for e in f.evidence)


def _host_network_behind_ingress(*policies: Any, ips: list[str]) -> Evidence:
    """Controller pods on host network (their addresses are their nodes') behind a default
    deny and whatever ``policies`` admit."""
    controller = IngressControllerEvidence(
        ingress="shop",
        backends=["checkout"],
        ingress_class="nginx",
        controller="k8s.io/ingress-nginx",
        namespace="ingress-nginx",
        labels=NGINX_LABELS,
        ips=ips,
        pods=len(ips),
        ready_pods=len(ips),
    )
    deny = _policy("default-deny-ingress", [])
    return make.checkout_evidence(
        services=[make.service("checkout", ready=1, matching=1)],
        network_policies=[deny, *policies],
        ingress_controllers=[controller],
        alerts=[make.alert(alertname="NginxIngressHigh5xxRate", ingress="shop", namespace="shop")],
    )


_NODE_SUBNET = _policy("allow-ingress-nodes", [{"from": [{"ipBlock": {"cidr": "10.40.0.0/20"}}]}])


def test_an_ip_block_admitting_some_controller_pods_is_the_policy_to_widen() -> None:
    result = analyze(_host_network_behind_ingress(_NODE_SUBNET, ips=["10.40.3.71", "10.40.66.23"]))
    finding = assert_leads(
        result,
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="shop", name="allow-ingress-nodes"),
    )
    assert "admits only some of the ingress controller's pods" in finding.summary
    assert finding.narrative is not None
    assert "10.40.66.23" in finding.narrative.because[1].text
    assert "10.40.3.71" not in finding.narrative.because[1].text


def test_an_ip_block_admitting_every_controller_pod_is_innocent() -> None:
    result = analyze(_host_network_behind_ingress(_NODE_SUBNET, ips=["10.40.3.71", "10.40.9.188"]))
    assert not any(e.source == "ingress/shop/shop" for f in result.findings for e in f.evidence)


def test_an_ip_block_admitting_no_controller_pod_is_the_whole_controller_blocked() -> None:
    result = analyze(_host_network_behind_ingress(_NODE_SUBNET, ips=["10.40.66.23", "10.40.70.9"]))
    finding = next(
        f for f in result.findings if any(e.source == "ingress/shop/shop" for e in f.evidence)
    )
    assert "admits only some" not in finding.summary


def _named_port_ingress(port: dict[str, Any]) -> dict[str, Any]:
    ingress = _ingress("web", "storefront", cls="alb")
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = port
    return ingress


def test_unknown_ports_names_a_backend_port_the_service_lacks() -> None:
    svc = _service("storefront", {"app": "storefront"})
    svc["spec"]["ports"] = [{"name": "web", "port": 80, "targetPort": "http"}]
    assert unknown_ports(_named_port_ingress({"name": "https"}), [svc]) == {"storefront": "https"}
    assert unknown_ports(_named_port_ingress({"number": 443}), [svc]) == {"storefront": "443"}
    assert unknown_ports(_named_port_ingress({"name": "web"}), [svc]) == {}
    assert unknown_ports(_named_port_ingress({"number": 80}), [svc]) == {}


def test_ingress_naming_a_missing_service_port_is_fixed_at_the_service() -> None:
    controller = IngressControllerEvidence(
        ingress="web",
        backends=["checkout"],
        ingress_class="alb",
        controller="ingress.k8s.aws/alb",
        unknown_ports={"checkout": "https"},
    )
    ev = make.checkout_evidence(
        services=[
            make.service(
                "checkout", ready=1, matching=1, ports=[make.service_port(80, 8080, "web")]
            )
        ],
        ingress_controllers=[controller],
    )
    finding = assert_leads(
        analyze(ev),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="checkout"),
    )
    assert any(e.source == "ingress/shop/web" and "https" in e.fact for e in finding.evidence)


def test_ingress_whose_ports_all_exist_adds_no_finding() -> None:
    controller = IngressControllerEvidence(
        ingress="web", backends=["checkout"], controller="ingress.k8s.aws/alb"
    )
    ev = make.checkout_evidence(
        services=[make.service("checkout", ready=1, matching=1)], ingress_controllers=[controller]
    )
    assert not any(e.source == "ingress/shop/web" for f in analyze(ev).findings for e in f.evidence)


def _hosted(name: str, namespace: str, rules: list[str], tls: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "rules": [{"host": h} for h in rules],
            "tls": [{"hosts": tls, "secretName": f"{name}-tls"}] if tls else [],
        },
    }


def test_the_ingress_serving_a_probed_host_is_found_by_its_rules_and_tls_hosts() -> None:
    """Exact hosts (a rule's or a TLS section's) before a wildcard, which covers one label."""
    wildcard = _hosted("edge", "edge", ["*.example.com"], [])
    exact = _hosted("api", "api-gw", [], ["api.example.com"])
    assert serving_ingress([wildcard, exact], ["api.example.com"]) == ObjectRef(
        kind="Ingress", namespace="api-gw", name="api", api_version="networking.k8s.io/v1"
    )
    found = serving_ingress([wildcard, exact], ["www.example.com"])
    assert found is not None
    assert (found.namespace, found.name) == ("edge", "edge")
    assert serving_ingress([wildcard], ["a.b.example.com", "example.com"]) is None


def _catch_all(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"defaultBackend": {"service": {"name": name, "port": {"number": 80}}}},
    }


def test_a_probed_host_no_ingress_names_falls_to_the_one_ingress_catching_every_host() -> None:
    """A default backend (or a rule without a host) serves any host: the lead when no Ingress
    names the probed host, but only if it is the only one; a named host still wins."""
    catch_all = _catch_all("storefront", "shop")
    named = _hosted("api", "api-gw", ["api.example.com"], [])
    found = serving_ingress([named, catch_all], ["www.example.com"])
    assert found is not None
    assert (found.namespace, found.name) == ("shop", "storefront")
    exact = serving_ingress([named, catch_all], ["api.example.com"])
    assert exact is not None
    assert exact.name == "api"
    hostless_rule = _hosted("legacy", "ops", [""], [])
    assert serving_ingress([catch_all, hostless_rule], ["www.example.com"]) is None
    assert serving_ingress([catch_all], []) is None


def _oom_killed(pod: dict[str, Any], rs: str, template_hash: str) -> dict[str, Any]:
    """``pod`` as one of ``rs``'s, its container waiting to restart after an OOM kill."""
    pod["metadata"]["labels"] = {**pod["metadata"]["labels"], "pod-template-hash": template_hash}
    pod["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": rs, "controller": True}]
    pod["status"]["containerStatuses"] = [
        {
            "name": "controller",
            "ready": False,
            "restartCount": 6,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
        }
    ]
    return pod


def test_summary_names_the_controller_workload_and_its_failing_pods() -> None:
    """The ReplicaSet is not read: the Deployment is its name without the pod-template-hash."""
    backend = _pod("checkout-1", "shop", {"app": "checkout"}, "10.0.0.5")
    killed = _pod(
        "ingress-nginx-controller-5d9-x", "ingress-nginx", NGINX_LABELS, "10.0.9.9", False
    )
    objects = [
        _ingress("shop", "checkout"),
        _service("checkout", {"app": "checkout"}),
        _class("nginx", "k8s.io/ingress-nginx"),
        backend,
        _oom_killed(killed, "ingress-nginx-controller-5d9", "5d9"),
    ]
    summary = ingress_controllers(
        ObjectIndex(objects, Notes()), "shop", [backend], EvidenceLimits()
    )[0]
    assert summary.workload == ObjectRef(
        kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller"
    )
    assert [(p.pod, p.waiting, p.last_terminated) for p in summary.failing_pods] == [
        ("ingress-nginx-controller-5d9-x", "CrashLoopBackOff", "OOMKilled")
    ]


def _controller_killed(ready_pods: int, last: str | None = "OOMKilled") -> Evidence:
    controller = IngressControllerEvidence(
        ingress="shop",
        backends=["checkout"],
        ingress_class="nginx",
        controller="k8s.io/ingress-nginx",
        namespace="ingress-nginx",
        labels=NGINX_LABELS,
        pods=2,
        ready_pods=ready_pods,
        workload=ObjectRef(
            kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller"
        ),
        failing_pods=[
            PodTrouble(
                pod="ingress-nginx-controller-5d9-x",
                container="controller",
                waiting="CrashLoopBackOff",
                restarts=6,
                last_terminated=last,
            )
        ],
    )
    return make.checkout_evidence(
        services=[make.service("checkout", ready=1, matching=1)],
        ingress_controllers=[controller],
        alerts=[make.alert(alertname="BlackboxProbeFailed", instance="https://shop.example.com/")],
    )


def test_an_oom_killed_ingress_controller_is_given_more_memory() -> None:
    finding = assert_leads(
        analyze(_controller_killed(ready_pods=0)),
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        ObjectRef(kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller"),
    )
    assert finding.analyzer == "ingress-controller-oom-killed"
    assert any("OOMKilled" in e.fact for e in finding.evidence)


def test_a_controller_that_is_ready_again_or_not_oom_killed_is_not_blamed() -> None:
    for evidence in (_controller_killed(ready_pods=2), _controller_killed(0, last="Error")):
        assert not any(
            f.analyzer == "ingress-controller-oom-killed" for f in analyze(evidence).findings
        )


def _published(publish: bool, ready: tuple[bool, ...], routed: bool = True) -> Evidence:
    pods = [
        make.pod(f"wiki-{i}", make.container("wiki", ready=r), labels={"app": "wiki"})
        for i, r in enumerate(ready)
    ]
    controller = IngressControllerEvidence(
        ingress="wiki", backends=["wiki"] if routed else ["docs"], controller="traefik.io/x"
    )
    return make.evidence(
        pods=pods,
        services=[make.service("wiki", ready=len(ready), matching=3, publish_not_ready=publish)],
        ingress_controllers=[controller],
    )


def test_summary_reads_publish_not_ready_addresses() -> None:
    svc = _service("wiki", {"app": "wiki"})
    svc["spec"]["publishNotReadyAddresses"] = True
    plain = _service("docs", {"app": "docs"})
    index = ObjectIndex([svc, plain], Notes())
    assert service_summary(index, svc, (), EvidenceLimits()).publish_not_ready
    assert not service_summary(index, plain, (), EvidenceLimits()).publish_not_ready


def test_a_service_publishing_an_unready_pod_behind_an_ingress_is_fixed() -> None:
    finding = assert_leads(
        analyze(_published(True, (True, True, False))),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="wiki"),
    )
    assert any("publishNotReadyAddresses" in e.fact for e in finding.evidence)


def test_publishing_is_harmless_when_all_ready_none_ready_unrouted_or_not_set() -> None:
    for evidence in (
        _published(True, (True, True, True)),
        _published(True, (False, False, False)),
        _published(True, (True, False, True), routed=False),
        _published(False, (True, False, True)),
    ):
        assert not any(
            "publishNotReadyAddresses" in e.fact
            for f in analyze(evidence).findings
            for e in f.evidence
        )
