"""Checks tools/metamorphic.py, the semantics-preserving transforms of a case, and uses them:
no transform may change a diagnosis.

Real: the example cases are transformed on disk, loaded by the strict case model and replayed
offline by the same pipeline the golden tests use (``tests.support.golden.replay_offline``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools.metamorphic import TRANSFORMS, changed_cases, transform_case_set
from tools.metamorphic_additions import NOISE_NS, endpointslices, noise
from tools.metamorphic_names import (
    image_repositories,
    name_mapping,
    rename_text,
    suffix_names,
)
from tools.metamorphic_rewrites import labels_recommended, shuffle

from kubetriage.models.case import Case
from tests.support.cases import EXAMPLES, case_dirs
from tests.support.golden import record, replay_offline


def _pod_template(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels},
        "spec": {
            "containers": [
                {
                    "name": "checkout",
                    "image": "registry.example.com/shop/checkout:1.2",
                    "env": [
                        {"name": "A", "value": "redis.shop.svc.cluster.local:6379"},
                        {"name": "B", "value": "http://payments.billing:8080/charge"},
                    ],
                    "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9090}],
                },
                {"name": "envoy", "image": "envoyproxy/envoy:v1.30"},
            ]
        },
    }


def _case() -> dict[str, Any]:
    labels = {"app": "checkout", "pod-template-hash": "7d9f6c"}
    owner = {"kind": "ReplicaSet", "name": "checkout-7d9f6c", "controller": True}
    return {
        "id": "x",
        "alert": {
            "labels": {
                "alertname": "KubePodCrashLooping",
                "namespace": "shop",
                "pod": "checkout-7d9f6c-x2x9k",
                "container": "checkout",
            },
            "annotations": {"summary": "checkout-7d9f6c-x2x9k in shop restarts"},
        },
        "cluster": [
            {"kind": "Namespace", "metadata": {"name": "shop"}},
            {
                "kind": "Deployment",
                "metadata": {"name": "checkout", "namespace": "shop", "labels": {"app": "x"}},
                "spec": {
                    "selector": {"matchLabels": {"app": "checkout"}},
                    "template": _pod_template(dict(labels)),
                },
            },
            {
                "kind": "ReplicaSet",
                "metadata": {
                    "name": "checkout-7d9f6c",
                    "namespace": "shop",
                    "ownerReferences": [{"kind": "Deployment", "name": "checkout"}],
                },
            },
            {
                "kind": "Pod",
                "metadata": {
                    "name": "checkout-7d9f6c-x2x9k",
                    "namespace": "shop",
                    "labels": dict(labels),
                    "ownerReferences": [owner],
                },
                "spec": _pod_template(labels)["spec"],
            },
            {
                "kind": "Service",
                "metadata": {"name": "redis", "namespace": "shop"},
                "spec": {"selector": {"app.kubernetes.io/name": "redis"}},
            },
            {
                "kind": "NetworkPolicy",
                "metadata": {"name": "deny-egress", "namespace": "shop"},
                "spec": {
                    "podSelector": {
                        "matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]
                    }
                },
            },
            {"kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"}},
            {"kind": "Node", "metadata": {"name": "ip-10-0-1-7.ec2.internal"}},
            {
                "kind": "Endpoints",
                "metadata": {"name": "redis", "namespace": "shop"},
                "subsets": [
                    {
                        "addresses": [{"ip": "10.0.0.5"}],
                        "notReadyAddresses": [{"ip": "10.0.0.6"}],
                        "ports": [{"port": 6379}],
                    }
                ],
            },
        ],
        "logs": {"shop/checkout-7d9f6c-x2x9k/checkout": "dial redis.shop:6379: refused\n"},
        "metrics": {
            "interval": "1m",
            "series": [
                {
                    "series": 'kube_pod_labels{namespace="shop",pod="checkout-7d9f6c-x2x9k",'
                    'container="checkout",label_app="checkout"}',
                    "values": "1x60",
                }
            ],
        },
        "expect": {
            "category": "crash-loop",
            "actions": ["rollback"],
            "target": {"kind": "Deployment", "namespace": "shop", "name": "checkout"},
        },
    }


def test_suffix_names_renames_every_occurrence_and_keeps_shapes_and_shared_names() -> None:
    case = _case()
    out = suffix_names(case, "q7")
    assert case == _case(), "a transform must not change its input"
    mapping = name_mapping(case, "q7")
    assert mapping["checkout-7d9f6c-x2x9k"] == "checkout-q7-7d9f6c-x2x9k"
    assert "kube-dns" not in mapping
    assert "ip-10-0-1-7.ec2.internal" not in mapping
    pod = out["cluster"][3]
    assert pod["metadata"]["name"] == "checkout-q7-7d9f6c-x2x9k"
    assert pod["metadata"]["namespace"] == "shop-q7"
    assert pod["metadata"]["labels"] == {"app": "checkout-q7", "pod-template-hash": "7d9f6c"}
    assert pod["metadata"]["ownerReferences"][0]["name"] == "checkout-q7-7d9f6c"
    container = pod["spec"]["containers"][0]
    assert container["name"] == "checkout", "container names are local, they stay"
    assert container["image"] == "registry.example.com/shop/checkout:1.2"
    assert container["env"][0]["value"] == "redis-q7.shop-q7.svc.cluster.local:6379"
    assert out["alert"]["labels"]["container"] == "checkout"
    assert out["alert"]["labels"]["pod"] == "checkout-q7-7d9f6c-x2x9k"
    assert out["logs"] == {
        "shop-q7/checkout-q7-7d9f6c-x2x9k/checkout": "dial redis-q7.shop-q7:6379: refused\n"
    }
    series = out["metrics"]["series"][0]["series"]
    assert 'namespace="shop-q7"' in series
    assert 'container="checkout"' in series
    assert 'label_app="checkout-q7"' in series
    assert out["expect"]["target"] == {
        "kind": "Deployment",
        "namespace": "shop-q7",
        "name": "checkout-q7",
    }
    assert out["cluster"][6]["metadata"] == {"name": "kube-dns", "namespace": "kube-system"}


def test_common_words_are_renamed_only_as_names_never_inside_prose() -> None:
    mapping = {"redis": "redis-q7", "shop": "shop-q7", "checkout-api": "checkout-api-q7"}
    assert rename_text("redis", mapping) == "redis-q7"
    assert rename_text("redis-cli ping; the redis cache", mapping) == (
        "redis-cli ping; the redis cache"
    )
    assert (
        rename_text("tcp://redis:6379 and x.shop", mapping) == "tcp://redis-q7:6379 and x.shop-q7"
    )
    assert rename_text("checkout-api says checkout-api-v2", mapping) == (
        "checkout-api-q7 says checkout-api-v2"
    )


def test_a_component_named_after_a_kubernetes_word_keeps_the_word_in_messages() -> None:
    said = 'failed calling webhook "p.example": Post "https://webhook.sec.svc:443/v": timeout'
    mapping = {"webhook": "webhook-q7", "sec": "sec-q7"}
    assert rename_text(said, mapping) == (
        'failed calling webhook "p.example": Post "https://webhook-q7.sec-q7.svc:443/v": timeout'
    )


def test_image_repositories_keep_their_names_wherever_text_quotes_them() -> None:
    case = {
        "cluster": [
            {"spec": {"containers": [{"image": "docker.io/acme/ledger-api:2.31.0"}]}},
            {"spec": {"containers": [{"image": "ledger-api:7"}, {"image": "x@sha256:ab"}]}},
            {"spec": {"containers": [{"image": "localhost:5000/tools/ledger-api"}]}},
        ]
    }
    kept = image_repositories(case)
    assert kept == {"acme/ledger-api", "ledger-api:7", "tools/ledger-api", "docker.io"}
    mapping = {"ledger-api": "ledger-api-q7", "acme": "acme-q7"}
    # A pull error and a registry's API path name the image; the Deployment is renamed.
    text = (
        'Failed to pull image "docker.io/acme/ledger-api:2.31.0": HEAD /v2/acme/ledger-api/'
        "manifests/2.31.0 502; Deployment ledger-api; image ledger-api:7"
    )
    assert rename_text(text, mapping, kept) == (
        'Failed to pull image "docker.io/acme/ledger-api:2.31.0": HEAD /v2/acme/ledger-api/'
        "manifests/2.31.0 502; Deployment ledger-api-q7; image ledger-api:7"
    )


def test_an_outside_registry_host_stays_as_its_images_do_and_an_in_cluster_one_is_renamed() -> None:
    case = {
        "cluster": [
            {"spec": {"containers": [{"image": "nexus.corp.example:8443/proxy/keycloak:26"}]}},
            {"spec": {"containers": [{"image": "zot.registry.svc:5000/library/redis:7"}]}},
            {"spec": {"containers": [{"image": "10.96.50.5:5000/library/nginx:1"}]}},
        ]
    }
    kept = image_repositories(case)
    assert "nexus.corp.example" in kept
    assert not any(k.startswith(("zot", "10.96")) for k in kept)
    mapping = {"nexus": "nexus-q7", "zot": "zot-q7"}
    # The image field keeps "nexus.corp.example": so do the events quoting it and the
    # Ingress serving it; a Service's cluster DNS name is renamed with the Service.
    assert rename_text("GET https://nexus.corp.example:8443/v2/ 500", mapping, kept) == (
        "GET https://nexus.corp.example:8443/v2/ 500"
    )
    assert (
        rename_text("dial zot.registry.svc:5000", mapping, kept) == "dial zot-q7.registry.svc:5000"
    )


def test_container_names_ports_and_the_application_label_stay() -> None:
    mapping = {"indexer": "indexer-q7", "pgbouncer": "pgbouncer-q7"}
    assert rename_text("containers with unready status: [sidecar indexer]", mapping) == (
        "containers with unready status: [sidecar indexer]"
    )
    case = {
        "cluster": [
            {
                "kind": "Service",
                "metadata": {
                    "name": "pgbouncer",
                    "namespace": "db",
                    "labels": {"app.kubernetes.io/name": "pgbouncer"},
                },
                "spec": {
                    "selector": {"app.kubernetes.io/instance": "pgbouncer"},
                    "ports": [{"name": "pgbouncer", "port": 6432, "targetPort": "pgbouncer"}],
                },
            }
        ],
        "metrics": {"series": [{"series": 'up{label_app_kubernetes_io_name="pgbouncer"}'}]},
    }
    out = suffix_names(case)
    service = out["cluster"][0]
    assert service["metadata"]["name"] == "pgbouncer-q7"
    assert service["metadata"]["labels"] == {"app.kubernetes.io/name": "pgbouncer"}
    assert service["spec"]["selector"] == {"app.kubernetes.io/instance": "pgbouncer-q7"}
    assert service["spec"]["ports"] == [
        {"name": "pgbouncer", "port": 6432, "targetPort": "pgbouncer"}
    ]
    assert out["metrics"]["series"][0]["series"] == 'up{label_app_kubernetes_io_name="pgbouncer"}'


def test_labels_recommended_swaps_the_app_keys_in_labels_and_selectors_consistently() -> None:
    out = labels_recommended(_case())
    deployment, pod, service, policy = (out["cluster"][i] for i in (1, 3, 4, 5))
    assert deployment["metadata"]["labels"] == {"app.kubernetes.io/name": "x"}
    assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "checkout"}
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "checkout"
    assert service["spec"]["selector"] == {"app": "redis"}
    expression = policy["spec"]["podSelector"]["matchExpressions"][0]
    assert expression["key"] == "app.kubernetes.io/name"
    assert "label_app_kubernetes_io_name=" in out["metrics"]["series"][0]["series"]
    assert labels_recommended(out)["cluster"] == _case()["cluster"]


def test_shuffle_keeps_the_objects_and_reverses_their_lists() -> None:
    case = _case()
    out = shuffle(case)
    dumped = sorted(yaml.safe_dump(o) for o in out["cluster"])
    assert len(dumped) == len(case["cluster"])
    pod = next(o for o in out["cluster"] if o["kind"] == "Pod")
    names = [c["name"] for c in pod["spec"]["containers"]]
    assert names == ["envoy", "checkout"]
    ports = pod["spec"]["containers"][1]["ports"]
    assert [p.get("name") for p in ports] == [None, "http"]
    assert shuffle(case) == out, "the order is seeded"


def test_noise_adds_a_healthy_workload_elsewhere_and_leaves_the_case_alone() -> None:
    case = _case()
    out = noise(case)
    assert out["cluster"][: len(case["cluster"])] == case["cluster"]
    added = out["cluster"][len(case["cluster"]) :]
    assert {o["kind"] for o in added} >= {"Deployment", "ReplicaSet", "Pod", "Service", "Event"}
    assert all(o["metadata"].get("namespace", NOISE_NS) == NOISE_NS for o in added)
    assert len(out["metrics"]["series"]) > len(case["metrics"]["series"])
    assert out["expect"] == case["expect"]


def test_endpointslices_adds_the_slice_the_control_plane_writes() -> None:
    out = endpointslices(_case())
    (added,) = [o for o in out["cluster"] if o["kind"] == "EndpointSlice"]
    assert added["metadata"]["labels"]["kubernetes.io/service-name"] == "redis"
    assert [e["conditions"]["ready"] for e in added["endpoints"]] == [True, False]
    assert added["ports"] == [{"port": 6379}]
    assert len(endpointslices(out)["cluster"]) == len(out["cluster"]), "added once"


def test_changed_cases_ignores_the_suffix_and_reports_real_changes() -> None:
    base = {
        "cases": [
            {"id": "a", "category": "c", "action": "x", "target": {"name": "n"}, "correct": True},
            {"id": "b", "category": "c", "action": "x", "target": {"name": "n"}, "correct": True},
        ]
    }
    copy_run = copy.deepcopy(base)
    copy_run["cases"][0]["target"] = {"name": "n-q7"}
    copy_run["cases"][1]["category"] = "d"
    assert changed_cases(base, copy_run) == ["b"]


@pytest.fixture(scope="module")
def originals() -> dict[str, dict[str, Any]]:
    return {d.name: record(replay_offline(d)) for d in case_dirs(EXAMPLES)}


@pytest.mark.parametrize("transform", sorted(set(TRANSFORMS) - {"identity"}))
def test_a_transformed_example_is_diagnosed_as_the_original(
    transform: str, tmp_path: Path, originals: dict[str, dict[str, Any]]
) -> None:
    for written in transform_case_set(transform, EXAMPLES, tmp_path):
        Case.model_validate(yaml.safe_load(written.read_text()))
        got = record(replay_offline(written.parent))
        want = originals[written.parent.name]
        assert (got["category"], got["action"]) == (want["category"], want["action"])
        assert str(got["target"]).replace("-q7", "") == str(want["target"])


def test_suffix_names_follows_the_names_controllers_build_from_names() -> None:
    case: dict[str, Any] = {
        "cluster": [
            {
                "kind": "Service",
                "metadata": {"name": "product-api", "namespace": "catalog"},
                "spec": {"ports": [{"name": "http", "port": 80}]},
            },
            {"kind": "ConfigMap", "metadata": {"name": "rules-config", "namespace": "catalog"}},
            {"kind": "Kafka", "metadata": {"name": "events", "namespace": "catalog"}},
            {"kind": "Deployment", "metadata": {"name": "events-operator", "namespace": "catalog"}},
            {
                "kind": "Pod",
                "metadata": {
                    "name": "product-api-5ww5bw855w-lhng4",
                    "namespace": "catalog",
                    "generateName": "product-api-5ww5bw855w-",
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "product-api-5ww5bw855w"}],
                },
                "spec": {
                    "containers": [
                        {
                            "name": "product-api",
                            "env": [{"name": "STAKATER_RULES_CONFIG_CONFIGMAP", "value": "ab12"}],
                        }
                    ]
                },
            },
            {
                "kind": "Event",
                "metadata": {"name": "product-api-5ww5bw855w-lhng4.1", "namespace": "catalog"},
                "involvedObject": {"fieldPath": "spec.containers{product-api}"},
                "message": 'Container product-api failed liveness probe; pods "product-api-'
                '5ww5bw855w-" is forbidden',
            },
            {"kind": "ScaledObject", "metadata": {"name": "x-scaler", "namespace": "catalog"}},
        ],
        "alert": {"labels": {"envoy_cluster_name": "catalog_product-api_80_da39a3ee5e"}},
    }
    case["cluster"][-1]["spec"] = {"triggers": [{"type": "kafka"}]}
    case["cluster"].append({"kind": "Namespace", "metadata": {"name": "kafka"}})
    out = suffix_names(case, "q7")
    pod, event = out["cluster"][4], out["cluster"][5]
    assert pod["metadata"]["generateName"] == "product-api-q7-5ww5bw855w-"
    container = pod["spec"]["containers"][0]
    assert container["env"][0]["name"] == "STAKATER_RULES_CONFIG_Q7_CONFIGMAP"
    assert event["involvedObject"]["fieldPath"] == "spec.containers{product-api}"
    assert event["message"] == (
        'Container product-api failed liveness probe; pods "product-api-q7-5ww5bw855w-" is '
        "forbidden"
    )
    assert out["alert"]["labels"]["envoy_cluster_name"] == "catalog-q7_product-api-q7_80_da39a3ee5e"
    # A name built on another's keeps its shape; a trigger type is no name.
    assert out["cluster"][3]["metadata"]["name"] == "events-q7-operator"
    assert out["cluster"][6]["spec"]["triggers"] == [{"type": "kafka"}]


def test_suffix_names_renames_the_series_of_an_old_revision_s_pods_with_their_replica_set() -> None:
    # The old revision's pods are gone from the snapshot; only its ReplicaSet and their
    # series remain. A cluster names them after the ReplicaSet, so they are renamed with it;
    # a pod of no ReplicaSet the case holds, or of another shape, keeps its name.
    case: dict[str, Any] = {
        "cluster": [
            {"kind": "Deployment", "metadata": {"name": "pricing-api", "namespace": "pricing"}},
            {
                "kind": "ReplicaSet",
                "metadata": {
                    "name": "pricing-api-5d8b7c9f64",
                    "namespace": "pricing",
                    "ownerReferences": [{"kind": "Deployment", "name": "pricing-api"}],
                },
            },
        ],
        "metrics": {
            "series": [
                {"series": 'rate{namespace="pricing",pod="pricing-api-5d8b7c9f64-d2kfw"}'},
                {"series": 'rate{namespace="pricing",pod="pricing-api-6e9c8d0a75-k3lmn"}'},
                {"series": 'rate{namespace="pricing",pod="pricing-api-5d8b7c9f64-0"}'},
            ]
        },
    }
    out = suffix_names(case, "q7")
    assert [s["series"] for s in out["metrics"]["series"]] == [
        'rate{namespace="pricing-q7",pod="pricing-q7-api-5d8b7c9f64-d2kfw"}',
        'rate{namespace="pricing-q7",pod="pricing-api-6e9c8d0a75-k3lmn"}',
        'rate{namespace="pricing-q7",pod="pricing-api-5d8b7c9f64-0"}',
    ]
