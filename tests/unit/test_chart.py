"""The Helm chart: rendered and linted by Helm's own engine (helm-python-sdk) in every mode,
every manifest validated against the newest Kubernetes schemas kubernetes-validate ships,
values.schema.json, RBAC least privilege, the pod's security context, the Grafana dashboard
and the peering CRDs. Real: Helm's Go template engine and linter, the Kubernetes JSON schemas."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from packaging.version import Version

from kubetriage.remediation.policy import load_policy
from kubetriage.settings import Settings
from kubetriage.tenancy import cluster_scope_namespaces
from tests.support.chart import (
    CHART,
    NAMESPACE,
    REPO,
    chart_crds,
    manifests,
    of_kind,
    render_chart,
    render_notes,
)
from tests.support.rbac import Request, allowed, grants_for

MODES: dict[str, dict[str, Any]] = {
    "default": {},
    "namespace-scoped": {"rbac": {"scope": "namespace"}, "watchNamespaces": ["shop", "payments"]},
    "replicas-2-qdrant-url": {
        "replicas": 2,
        "memory": {"qdrant": {"url": "http://qdrant.memory:6333", "existingSecret": "qdrant"}},
    },
    "existing-secrets": {
        "llm": {"baseUrl": "http://llm:8000/v1", "model": "qwen", "existingSecret": "llm"},
        "webhook": {"existingSecret": "alert-token", "existingSecretKey": "bearer"},
        "prometheus": {"url": "http://prometheus:9090", "existingSecret": "prom"},
    },
    "inline-secrets": {
        "llm": {"baseUrl": "http://llm:8000/v1", "model": "qwen", "apiKey": "sk-test"},
        "webhook": {"token": "t0ken"},
    },
    "service-monitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}}},
    "remediation": {"remediation": {"enabled": True}},
    "remediation-drain": {"remediation": {"enabled": True, "allowDrain": True}},
    "remediation-policy": {
        "remediation": {
            "enabled": True,
            "allowDrain": True,
            "policy": {
                "apiVersion": "kubetriage.io/v1alpha1",
                "kind": "RemediationPolicy",
                "rules": [
                    {
                        "actions": ["rollback", "restart"],
                        "kinds": ["Deployment"],
                        "namespaces": ["shop"],
                    }
                ],
                "drainNode": {"enabled": True, "nodes": ["pool-a-*"]},
            },
        }
    },
    "remediation-namespaced": {
        "rbac": {"scope": "namespace"},
        "watchNamespaces": ["shop"],
        "remediation": {"enabled": True},
    },
    "persistence-off": {"memory": {"persistence": {"enabled": False}}},
    "webhook-off": {"webhook": {"enabled": False}},
    "unauthenticated": {"webhook": {"allowUnauthenticated": True}},
    "standalone": {"peering": {"enabled": False}},
    "otel": {
        "otel": {"endpoint": "http://otel-collector:4318", "resourceAttributes": {"team": "sre"}}
    },
    "llm-cost-controls": {
        "llm": {
            "baseUrl": "http://llm:8000/v1",
            "model": "gpt-x",
            "budget": {
                "callsPerMinute": 20,
                "tokensPerHour": 2_000_000,
                "tokensPerDay": 20_000_000,
                "criticalReserve": 0.25,
            },
            "gating": {
                "severities": ["critical", "warning"],
                "namespaces": ["shop"],
                "skipNamespaces": ["dev"],
                "categories": ["unknown", "network"],
                "belowConfidence": 0.9,
            },
            "prices": {"gpt-x": {"input_per_million": 0.15, "output_per_million": 0.6}},
        }
    },
    "notifications": {
        "notifications": {
            "slack": {"enabled": True, "channel": "C0OPS", "existingSecret": "slack-app"},
            "teams": {"enabled": True, "webhookUrl": "https://example.webhook.office.com/x"},
            "cloudEvents": {"enabled": True, "url": "http://bridge.ops:8080/events"},
            "routes": [{"namespaces": ["prod-*"], "severities": ["critical"]}],
        }
    },
}

# kubernetes-validate knows only built-in kinds. The chart's own CRDs give the schema for the
# peering objects; ServiceMonitor is a prometheus-operator CRD whose schema is not shipped
# here, so it is the one kind checked only by the assertions in its own test.
UNVALIDATED_KINDS = {"ServiceMonitor"}
K8S_VERSION = kubernetes_validate.latest_version()


def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for crd in chart_crds():
        spec = crd["spec"]
        for version in spec["versions"]:
            api_version = f"{spec['group']}/{version['name']}"
            schemas[(api_version, spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return schemas


def _validate(doc: dict[str, Any], crd_schemas: dict[tuple[str, str], dict[str, Any]]) -> None:
    key = (doc["apiVersion"], doc["kind"])
    if key in crd_schemas:
        jsonschema.validate(doc, crd_schemas[key])
        return
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _deployment(values: dict[str, Any] | None = None) -> dict[str, Any]:
    (deployment,) = of_kind(manifests(values), "Deployment")
    return deployment


def _container(values: dict[str, Any] | None = None) -> dict[str, Any]:
    (container,) = _deployment(values)["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env(values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(values)["env"]}


def _rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for d in docs if d["kind"] in ("Role", "ClusterRole") for r in d["rules"]]


@pytest.mark.parametrize("mode", MODES)
def test_chart_lints_clean(mode: str) -> None:
    report = helm.lint(CHART, MODES[mode], strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [], report
    assert problems == [], report


@pytest.mark.parametrize("mode", MODES)
def test_every_rendered_manifest_is_valid_kubernetes(mode: str) -> None:
    crd_schemas = _crd_schemas()
    docs = manifests(MODES[mode])
    assert docs
    validated = 0
    for doc in docs:
        if doc["kind"] in UNVALIDATED_KINDS:
            continue
        _validate(doc, crd_schemas)
        validated += 1
    assert validated >= 6


def test_the_crds_the_chart_installs_are_valid_kubernetes() -> None:
    crds = chart_crds()
    assert {c["metadata"]["name"] for c in crds} == {
        "incidents.kubetriage.io",
        "kopfpeerings.kopf.dev",
        "clusterkopfpeerings.kopf.dev",
    }
    for crd in crds:
        kubernetes_validate.validate(crd, K8S_VERSION, strict=True)


def test_the_newest_shipped_kubernetes_version_is_used() -> None:
    versions = kubernetes_validate.utils.all_versions()
    assert Version(K8S_VERSION) == max(Version(v) for v in versions)


def test_manifest_validation_catches_a_broken_deployment() -> None:
    deployment = _deployment()
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment, _crd_schemas())


def test_replicas_with_embedded_qdrant_fail_with_a_clear_message() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"replicas > 1 needs an external Qdrant"):
        render_chart({"replicas": 2})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rbac": {"scope": "namespace"}}, "rbac.scope=namespace needs watchNamespaces"),
        (
            {"replicas": 2, "peering": {"enabled": False}, "memory": {"enabled": False}},
            "replicas > 1 needs peering.enabled=true",
        ),
        ({"remediation": {"allowDrain": True}}, "remediation.allowDrain needs remediation.enabled"),
        (
            {
                "rbac": {"scope": "namespace"},
                "watchNamespaces": ["shop"],
                "remediation": {"enabled": True, "allowDrain": True},
            },
            "remediation.allowDrain needs rbac.scope=cluster",
        ),
        (
            {
                "remediation": {
                    "enabled": True,
                    "policy": {"drainNode": {"enabled": True}},
                }
            },
            "remediation.policy enables drainNode but remediation.allowDrain is false",
        ),
        (
            {"llm": {"apiKey": "k", "existingSecret": "s"}},
            "either llm.apiKey or llm.existingSecret",
        ),
    ],
)
def test_impossible_combinations_fail_rendering(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=message.replace(".", r"\.")):
        render_chart(values)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"replicas": "two"}, "/replicas"),
        ({"surprise": True}, "surprise"),
        ({"rbac": {"scope": "everything"}}, "/rbac/scope"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"llm": {"baseUrl": "llm:8000"}}, "/llm/baseUrl"),
        ({"memory": {"persistence": {"size": "lots"}}}, "/memory/persistence/size"),
        ({"webhook": {"port": 70000}}, "/webhook/port"),
        ({"otel": {"captureMessageContent": "yes"}}, "/otel/captureMessageContent"),
        ({"remediation": {"enabled": True, "typo": 1}}, "typo"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
        ({"llm": {"budget": {"callsPerMinute": 0}}}, "/llm/budget/callsPerMinute"),
        ({"llm": {"budget": {"criticalReserve": 1}}}, "/llm/budget/criticalReserve"),
        ({"llm": {"gating": {"severities": ["high"]}}}, "/llm/gating/severities/0"),
        ({"llm": {"prices": {"m": {"input": 1}}}}, "/llm/prices/m"),
    ],
)
def test_values_schema_rejects_bad_values(values: dict[str, Any], where: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError) as raised:
        chart.validate_schema(chart.merge_values(values))
    assert where in str(raised.value)


@pytest.mark.parametrize("mode", MODES)
def test_values_schema_accepts_every_mode(mode: str) -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(chart.merge_values(MODES[mode]))


@pytest.mark.parametrize("mode", MODES)
def test_no_role_grants_secrets_or_wildcards(mode: str) -> None:
    docs = manifests(MODES[mode])
    rules = _rules(docs)
    assert rules
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert not any("*" in v for v in rule.get(field) or []), rule
        assert not any(r.split("/")[0] == "secrets" for r in rule["resources"]), rule
    grants = grants_for(docs, NAMESPACE, "kubetriage")
    for verb in ("get", "list", "watch"):
        for namespace in ("", NAMESPACE, "shop"):
            assert not allowed(grants, Request(verb, "", "secrets", namespace=namespace))


def test_cluster_role_grants_the_evidence_reads_and_incident_writes() -> None:
    grants = grants_for(manifests(), NAMESPACE, "kubetriage")
    must = [
        Request("list", "", "pods", namespace="shop"),
        Request("get", "", "pods", "log", namespace="shop"),
        Request("list", "", "configmaps", namespace="shop"),
        Request("get", "", "nodes", name="node-1"),
        Request("list", "apps", "controllerrevisions", namespace="shop"),
        Request("list", "batch", "cronjobs", namespace="shop"),
        Request("list", "cert-manager.io", "certificates", namespace="shop"),
        Request("watch", "apiextensions.k8s.io", "customresourcedefinitions"),
        Request("list", "admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        Request("get", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", name="x"),
        # Why an HPA cannot get its metrics: the APIService serving them.
        Request("list", "apiregistration.k8s.io", "apiservices"),
        Request("get", "apiregistration.k8s.io", "apiservices", name="v1beta1.metrics.k8s.io"),
        Request("watch", "kubetriage.io", "incidents"),
        Request("create", "kubetriage.io", "incidents", namespace=NAMESPACE),
        Request("patch", "kubetriage.io", "incidents", "status", namespace="shop"),
        Request("create", "", "events", namespace="shop"),
        Request("patch", "kopf.dev", "clusterkopfpeerings", name="kubetriage"),
        # Which Service a gateway sends a probed host to, in any namespace.
        Request("list", "gateway.networking.k8s.io", "httproutes"),
        Request("list", "gateway.networking.k8s.io", "grpcroutes", namespace="shop"),
        Request("list", "networking.istio.io", "gateways"),
        # Which Service the sidecars route a called host to (an egress gateway).
        Request("list", "networking.istio.io", "virtualservices", namespace="shop"),
        # Which Service a public host reaches (its callers by that host).
        Request("list", "traefik.io", "ingressroutes", namespace="shop"),
        # Which source a workload's KEDA scaler reads.
        Request("list", "keda.sh", "scaledobjects", namespace="shop"),
        Request("list", "keda.sh", "scaledjobs", namespace="shop"),
        Request("list", "keda.sh", "triggerauthentications", namespace="shop"),
        Request("watch", "keda.sh", "scaledjobs", namespace="shop"),
        Request("get", "keda.sh", "scaledjobs", namespace="shop"),
        # Why a workflow's or pipeline's step has no pod.
        Request("list", "argoproj.io", "workflows", namespace="shop"),
        Request("list", "tekton.dev", "pipelineruns", namespace="shop"),
        Request("list", "tekton.dev", "taskruns", namespace="shop"),
        # Where an Argo CD application alert's objects run (its Application's destination).
        Request("get", "argoproj.io", "applications", namespace="argocd", name="payments"),
        # What a Dapr sidecar loads, and the Secret keys it reads.
        Request("list", "dapr.io", "components", namespace="shop"),
        # The addresses a CloudNativePG Cluster running the incident's pods configures.
        Request("get", "postgresql.cnpg.io", "clusters", namespace="shop", name="orders-pg"),
        # The health of the storage systems storing the incident's claims.
        Request("list", "ceph.rook.io", "cephclusters", namespace="rook-ceph"),
        Request("get", "longhorn.io", "volumes", namespace="longhorn-system", name="pvc-0b6f4e2a"),
        # The namespaces whose Jobs a Kueue ClusterQueue an alert names admits.
        Request("list", "kueue.x-k8s.io", "localqueues"),
        # Why Kueue holds a Job of the incident's namespace.
        Request("list", "kueue.x-k8s.io", "workloads", namespace="shop"),
    ]
    assert [r for r in must if not allowed(grants, r)] == []
    must_not = [
        Request("patch", "apps", "deployments", namespace="shop"),
        Request("delete", "", "pods", namespace="shop"),
        Request("create", "", "pods", "eviction", namespace="shop"),
        Request("patch", "", "nodes", name="node-1"),
        Request("delete", "kubetriage.io", "incidents", namespace="shop"),
        Request("create", "events.k8s.io", "events", namespace="shop"),
        Request("patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        Request("patch", "apiregistration.k8s.io", "apiservices", name="v1beta1.metrics.k8s.io"),
        Request("patch", "gateway.networking.k8s.io", "httproutes", namespace="shop"),
        Request("patch", "keda.sh", "scaledobjects", namespace="shop"),
        Request("patch", "networking.istio.io", "virtualservices", namespace="shop"),
        Request("delete", "keda.sh", "scaledjobs", namespace="shop"),
        Request("patch", "argoproj.io", "workflows", namespace="shop"),
        Request("list", "argoproj.io", "workflowtemplates", namespace="shop"),
        Request("list", "argoproj.io", "applications", namespace="argocd"),
        Request("patch", "argoproj.io", "applications", namespace="argocd", name="payments"),
        Request("delete", "tekton.dev", "taskruns", namespace="shop"),
        Request("patch", "dapr.io", "components", namespace="shop"),
        Request("patch", "kueue.x-k8s.io", "localqueues", namespace="shop"),
        Request("patch", "kueue.x-k8s.io", "workloads", namespace="shop"),
    ]
    assert [r for r in must_not if allowed(grants, r)] == []


def test_cert_manager_access_is_a_toggle() -> None:
    request = Request("list", "cert-manager.io", "certificates", namespace="shop")
    off = grants_for(manifests({"rbac": {"certManager": False}}), NAMESPACE, "kubetriage")
    assert allowed(grants_for(manifests(), NAMESPACE, "kubetriage"), request)
    assert not allowed(off, request)


def test_secret_writer_reads_are_a_toggle_and_crossplane_is_aggregated_in_cluster_scope() -> None:
    reads = [
        Request("list", "kyverno.io", "policies", namespace="shop"),
        Request("list", "kafka.strimzi.io", "kafkausers", namespace="shop"),
        Request("list", "kyverno.io", "clusterpolicies"),
        Request("list", "apiextensions.crossplane.io", "compositeresourcedefinitions"),
    ]
    docs = manifests()
    grants = grants_for(docs, NAMESPACE, "kubetriage")
    assert all(allowed(grants, r) for r in reads)
    # Claims, composites and managed resources are of any group: Crossplane's own view
    # roles (no Secrets) are aggregated into one bound to the operator.
    (view,) = [r for r in of_kind(docs, "ClusterRole") if "aggregationRule" in r]
    selectors = view["aggregationRule"]["clusterRoleSelectors"]
    assert selectors == [{"matchLabels": {"rbac.crossplane.io/aggregate-to-view": "true"}}]
    bound = [b["roleRef"]["name"] for b in of_kind(docs, "ClusterRoleBinding")]
    assert view["metadata"]["name"] in bound
    off = manifests({"rbac": {"secretWriters": False}})
    assert not any(allowed(grants_for(off, NAMESPACE, "kubetriage"), r) for r in reads)
    assert not [r for r in of_kind(off, "ClusterRole") if "aggregationRule" in r]
    namespaced = manifests(MODES["namespace-scoped"])
    assert not [r for r in of_kind(namespaced, "ClusterRole") if "aggregationRule" in r]


def test_namespace_scope_uses_roles_per_watched_namespace() -> None:
    docs = manifests(MODES["namespace-scoped"])
    roles = of_kind(docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["kubetriage", "payments", "shop"]
    assert sorted(b["metadata"]["namespace"] for b in of_kind(docs, "RoleBinding")) == [
        "kubetriage",
        "payments",
        "shop",
    ]
    (cluster_role,) = of_kind(docs, "ClusterRole")
    cluster_resources = {r for rule in cluster_role["rules"] for r in rule["resources"]}
    assert cluster_resources == {
        "customresourcedefinitions",
        "namespaces",
        "nodes",
        "persistentvolumes",
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "apiservices",
        "ingressclasses",
    }
    grants = grants_for(docs, NAMESPACE, "kubetriage")
    assert allowed(grants, Request("list", "", "pods", namespace="shop"))
    assert not allowed(grants, Request("list", "", "pods", namespace="billing"))
    assert not allowed(grants, Request("list", "", "pods"))
    assert allowed(grants, Request("patch", "kopf.dev", "kopfpeerings", namespace="payments"))
    assert not allowed(grants, Request("patch", "kopf.dev", "clusterkopfpeerings"))
    args = _container(MODES["namespace-scoped"])["args"]
    assert args == ["run", "--namespace=shop", "--namespace=payments", "--namespace=kubetriage"]
    env = _env(MODES["namespace-scoped"])
    assert json.loads(env["KUBETRIAGE_NAMESPACES"]) == ["shop", "payments", "kubetriage"]
    assert "KUBETRIAGE_NAMESPACES" not in _env()
    peerings = of_kind(docs, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == [
        "kubetriage",
        "payments",
        "shop",
    ]


def test_namespace_scope_can_drop_node_reads() -> None:
    values = {**MODES["namespace-scoped"], "rbac": {"scope": "namespace", "nodeAccess": False}}
    grants = grants_for(manifests(values), NAMESPACE, "kubetriage")
    assert not allowed(grants, Request("get", "", "nodes", name="node-1"))


def test_remediation_writes_are_opt_in_and_drain_is_separate() -> None:
    patch_deploy = Request("patch", "apps", "deployments", namespace="shop", name="web")
    scale = Request("patch", "apps", "deployments", "scale", namespace="shop", name="web")
    evict = Request("create", "", "pods", "eviction", namespace="shop", name="web-1")
    cordon = Request("patch", "", "nodes", name="node-1")

    def verdicts(mode: str) -> list[bool]:
        grants = grants_for(manifests(MODES[mode]), NAMESPACE, "kubetriage")
        return [allowed(grants, r) for r in (patch_deploy, scale, evict, cordon)]

    assert verdicts("default") == [False, False, False, False]
    assert verdicts("remediation") == [True, True, False, False]
    assert verdicts("remediation-drain") == [True, True, True, True]
    grants = grants_for(manifests(MODES["remediation-namespaced"]), NAMESPACE, "kubetriage")
    assert allowed(grants, patch_deploy)
    assert not allowed(grants, Request("patch", "apps", "deployments", namespace="payments"))


def test_remediation_policy_is_mounted_and_loads_in_the_operator() -> None:
    values = MODES["remediation-policy"]
    (config_map,) = [
        c for c in of_kind(manifests(values), "ConfigMap") if "policy.yaml" in c["data"]
    ]
    policy = load_policy(config_map["data"]["policy.yaml"])
    assert policy.drain_node.enabled
    assert policy.rules[0].namespaces == ["shop"]
    container = _container(values)
    path = _env(values)["KUBETRIAGE_POLICY_FILE"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert path == f"{mounts['remediation-policy']}/policy.yaml"
    # Without remediation.enabled a policy is ignored: nothing may execute.
    off = {"remediation": {**values["remediation"], "enabled": False, "allowDrain": False}}
    assert "KUBETRIAGE_POLICY_FILE" not in _env(off)
    assert not any("policy.yaml" in c["data"] for c in of_kind(manifests(off), "ConfigMap"))
    assert "KUBETRIAGE_POLICY_FILE" not in _env()


def test_deployment_runs_hardened_as_non_root() -> None:
    deployment = _deployment()
    pod = deployment["spec"]["template"]["spec"]
    container = _container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 10001
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert _env()["HOME"] == "/tmp"


def test_probes_use_the_health_and_webhook_ports() -> None:
    container = _container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"webhook": 8080, "metrics": 9090, "health": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "webhook"}
    env = _env()
    assert (env["KUBETRIAGE_HEALTH_PORT"], env["KUBETRIAGE_WEBHOOK_PORT"]) == ("8081", "8080")
    assert env["KUBETRIAGE_METRICS_PORT"] == "9090"
    (service,) = of_kind(manifests(), "Service")
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "webhook": (8080, "webhook"),
        "metrics": (9090, "metrics"),
    }


def test_default_runs_one_replica_with_peering_and_an_embedded_qdrant_on_a_pvc() -> None:
    docs = manifests()
    deployment = _deployment()
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert _container()["args"] == ["run", "--all-namespaces"]
    (peering,) = of_kind(docs, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == _env()["KUBETRIAGE_PEERING_NAME"] == "kubetriage"
    (claim,) = of_kind(docs, "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    env = _env()
    assert env["KUBETRIAGE_QDRANT_PATH"].startswith("/var/lib/kubetriage/")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["memory"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "KUBETRIAGE_LLM_API_KEY" not in env


def test_a_webhook_token_is_generated_when_none_is_given() -> None:
    """The receiver refuses to start without a token, so the default install makes one."""
    (secret,) = of_kind(manifests(), "Secret")
    assert list(secret["data"]) == ["webhook-token"]
    token = base64.b64decode(secret["data"]["webhook-token"]).decode()
    assert len(token) == 40
    assert token.isalnum()
    assert _env()["KUBETRIAGE_WEBHOOK_TOKEN"] == {
        "secretKeyRef": {"name": secret["metadata"]["name"], "key": "webhook-token"}
    }
    assert _env()["KUBETRIAGE_WEBHOOK_ALLOW_UNAUTHENTICATED"] == "false"
    unauthenticated = MODES["unauthenticated"]
    assert of_kind(manifests(unauthenticated), "Secret") == []
    assert "KUBETRIAGE_WEBHOOK_TOKEN" not in _env(unauthenticated)
    assert _env(unauthenticated)["KUBETRIAGE_WEBHOOK_ALLOW_UNAUTHENTICATED"] == "true"


def test_webhook_off_runs_without_the_receiver() -> None:
    values = MODES["webhook-off"]
    container = _container(values)
    assert container["args"] == ["run", "--all-namespaces", "--no-webhook"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert "webhook" not in {p["name"] for p in container["ports"]}
    assert "KUBETRIAGE_WEBHOOK_TOKEN" not in _env(values)
    (service,) = of_kind(manifests(values), "Service")
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]
    assert of_kind(manifests(values), "Secret") == []


def test_two_replicas_peer_and_use_the_external_qdrant() -> None:
    values = MODES["replicas-2-qdrant-url"]
    docs = manifests(values)
    assert _deployment(values)["spec"]["replicas"] == 2
    assert "--standalone" not in _container(values)["args"]
    assert len(of_kind(docs, "ClusterKopfPeering")) == 1
    env = _env(values)
    assert env["KUBETRIAGE_QDRANT_URL"] == "http://qdrant.memory:6333"
    assert env["KUBETRIAGE_QDRANT_API_KEY"] == {
        "secretKeyRef": {"name": "qdrant", "key": "api-key"}
    }
    assert "KUBETRIAGE_QDRANT_PATH" not in env
    assert of_kind(docs, "PersistentVolumeClaim") == []


def test_standalone_only_when_peering_is_off() -> None:
    values = MODES["standalone"]
    assert _container(values)["args"] == ["run", "--all-namespaces", "--standalone"]
    assert of_kind(manifests(values), "ClusterKopfPeering") == []


def test_persistence_off_keeps_memory_on_an_empty_dir() -> None:
    values = MODES["persistence-off"]
    assert of_kind(manifests(values), "PersistentVolumeClaim") == []
    volumes = {v["name"]: v for v in _deployment(values)["spec"]["template"]["spec"]["volumes"]}
    assert volumes["memory"] == {"name": "memory", "emptyDir": {}}


def test_existing_secrets_are_referenced_and_no_secret_is_created() -> None:
    values = MODES["existing-secrets"]
    env = _env(values)
    assert env["KUBETRIAGE_LLM_API_KEY"] == {"secretKeyRef": {"name": "llm", "key": "api-key"}}
    assert env["KUBETRIAGE_WEBHOOK_TOKEN"] == {
        "secretKeyRef": {"name": "alert-token", "key": "bearer"}
    }
    assert env["KUBETRIAGE_PROMETHEUS_AUTH_HEADER"] == {
        "secretKeyRef": {"name": "prom", "key": "auth-header"}
    }
    assert env["KUBETRIAGE_LLM_BASE_URL"] == "http://llm:8000/v1"
    assert env["KUBETRIAGE_LLM_MODEL"] == "qwen"
    assert of_kind(manifests(values), "Secret") == []


def test_inline_secrets_go_into_a_chart_secret() -> None:
    values = MODES["inline-secrets"]
    (secret,) = of_kind(manifests(values), "Secret")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"llm-api-key": "sk-test", "webhook-token": "t0ken"}
    env = _env(values)
    name = secret["metadata"]["name"]
    assert env["KUBETRIAGE_LLM_API_KEY"] == {"secretKeyRef": {"name": name, "key": "llm-api-key"}}
    assert env["KUBETRIAGE_WEBHOOK_TOKEN"] == {
        "secretKeyRef": {"name": name, "key": "webhook-token"}
    }


def test_otel_settings() -> None:
    default = _env()
    assert default["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] == "false"
    assert default["OTEL_SDK_DISABLED"] == "true"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in default
    env = _env(MODES["otel"])
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_SERVICE_NAME"] == "kubetriage"
    assert "team=sre" in env["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    assert "OTEL_SDK_DISABLED" not in env


def test_llm_cost_controls_reach_the_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every budget, gating rule and price in the values arrives in ``Settings`` as given,
    and the budget's ConfigMap may be written in the release namespace only."""
    values = MODES["llm-cost-controls"]
    for name, value in _env(values).items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    settings = Settings()
    llm = values["llm"]
    assert settings.llm_calls_per_minute == 20
    assert settings.llm_tokens_per_hour == 2_000_000
    assert settings.llm_tokens_per_day == 20_000_000
    assert settings.llm_critical_reserve == 0.25
    assert settings.llm_budget_namespace == NAMESPACE
    assert settings.llm_budget_configmap == "kubetriage-llm-budget"
    assert [s.value for s in settings.llm_only_severities] == llm["gating"]["severities"]
    assert settings.llm_only_namespaces == ["shop"]
    assert settings.llm_skip_namespaces == ["dev"]
    assert [c.value for c in settings.llm_only_categories] == ["unknown", "network"]
    assert settings.llm_below_confidence == 0.9
    assert settings.llm_prices["gpt-x"].output_per_million == 0.6
    grants = grants_for(manifests(values), NAMESPACE, "kubetriage")
    name = settings.llm_budget_configmap
    for verb in ("get", "patch", "create"):
        request = Request(verb, "", "configmaps", namespace=NAMESPACE, name=name)
        assert allowed(grants, request), verb
    assert not allowed(grants, Request("patch", "", "configmaps", namespace="shop", name=name))
    assert not allowed(grants, Request("patch", "", "configmaps", namespace=NAMESPACE, name="x"))


def test_no_budget_no_configmap_writes() -> None:
    env = _env()
    assert "KUBETRIAGE_LLM_CALLS_PER_MINUTE" not in env
    grants = grants_for(manifests(), NAMESPACE, "kubetriage")
    request = Request("create", "", "configmaps", namespace=NAMESPACE)
    assert not allowed(grants, request)


def test_service_monitor_scrapes_the_metrics_port() -> None:
    assert of_kind(manifests(), "ServiceMonitor") == []
    (monitor,) = of_kind(manifests(MODES["service-monitor"]), "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    (service,) = of_kind(manifests(MODES["service-monitor"]), "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )


def test_dashboard_configmap_carries_every_metric() -> None:
    (config_map,) = [
        c for c in of_kind(manifests(), "ConfigMap") if c["metadata"]["name"].endswith("dashboard")
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = config_map["data"].values()
    dashboard = json.loads(text)
    expressions = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets") or [])
    for metric in (
        "kubetriage_incidents",
        "kubetriage_diagnosis_duration_seconds_bucket",
        "kubetriage_llm_calls_total",
        "kubetriage_llm_tokens_total",
        "kubetriage_webhook_requests_total",
        "kubetriage_memory_records",
        "kubetriage_analyzer_hits_total",
        "kubetriage_llm_estimated_cost_total",
        "kubetriage_llm_budget_remaining",
        "kubetriage_llm_skipped_total",
        "gen_ai_client_token_usage_bucket",
        "gen_ai_client_operation_duration_seconds_bucket",
    ):
        assert metric in expressions, metric
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_notes_show_the_alertmanager_receiver() -> None:
    notes = render_notes({"webhook": {"existingSecret": "alert-token"}})
    assert "url: http://kubetriage.kubetriage.svc:8080/alerts" in notes
    assert "credentials_file:" in notes
    assert 'key "token" of Secret alert-token' in notes
    assert "(generated)" in render_notes()
    unauthenticated = render_notes(MODES["unauthenticated"])
    assert "WARNING: webhook.allowUnauthenticated" in unauthenticated
    assert "credentials_file:" not in unauthenticated
    assert "/alerts" not in render_notes(MODES["webhook-off"])


def test_peering_crds_are_identical_in_both_places() -> None:
    # That Kopf really uses these CRDs is shown by tests/integration/test_operator_peering.py
    # (two replicas peer through exactly this file on the API emulator).
    top = REPO / "crds" / "kopf-peering.yaml"
    in_chart = CHART / "crds" / "kopf-peering.yaml"
    assert top.read_text() == in_chart.read_text()
    crds = list(yaml.safe_load_all(top.read_text()))
    served = {
        (c["spec"]["group"], c["spec"]["names"]["plural"], c["spec"]["scope"]) for c in crds if c
    }
    expected = {
        ("kopf.dev", "clusterkopfpeerings", "Cluster"),
        ("kopf.dev", "kopfpeerings", "Namespaced"),
    }
    assert served == expected


def test_chart_metadata() -> None:
    chart_yaml = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart_yaml["apiVersion"] == "v2"
    assert chart_yaml["appVersion"] == "0.1.0"
    assert Path(CHART / "values.schema.json").is_file()


def test_cluster_scope_namespaces_reach_the_operator_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _env({"clusterScopeNamespaces": ["sre", "platform"]})
    assert "KUBETRIAGE_CLUSTER_SCOPE_NAMESPACES" not in _env()
    monkeypatch.setenv(
        "KUBETRIAGE_CLUSTER_SCOPE_NAMESPACES", env["KUBETRIAGE_CLUSTER_SCOPE_NAMESPACES"]
    )
    assert cluster_scope_namespaces(Settings()) == {"sre", "platform"}
