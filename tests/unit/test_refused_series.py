"""Checks the scrape targets a metrics server's remote store refuses series of, and the
refused-series rule.

Evidence side (``kubetriage.evidence.refused_clients``, refusal "series", through the real
builder): Prometheus' remote-write "non-recoverable error" answered with a 4xx quotes the
refused series; its ``instance`` address is mapped to the pod, its Deployment and that
Deployment's rollouts. A recoverable 5xx, or a refusal whose series names no instance, names
no exporter. Analyzer side (``kubetriage.analyzers.refused_series``): exactly one exporter of
refused series rolled out a change of what it exports within the onset window while the
server did not change: that exporter is rolled back; near misses: it rolled out long before,
the server itself changed, the alerted workload is no metrics server.

Real: raw Pod, ReplicaSet and Deployment manifests as the API returns them, the pure builder,
Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the lines
follow Prometheus' remote-write wording and Mimir's refusal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.refused_series import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.object_evidence import ChangeEvidence, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import NOW, ago, analyze, assert_leads

SERVER = ObjectRef(kind="StatefulSet", namespace="monitoring", name="prometheus-k8s")
EXPORTER = ObjectRef(kind="Deployment", namespace="monitoring", name="state-exporter")
SERVER_POD = "prometheus-k8s-0"


def _refusal(address: str, status: str = "400 Bad Request") -> str:
    return (
        "ts=2026-11-20T09:25:41.772Z caller=dedupe.go:112 component=remote level=error "
        'remote_name=store msg="non-recoverable error" failedSampleCount=2000 '
        f'err="server returned HTTP status {status}: received a series whose number of labels '
        "exceeds the limit (actual: 38, limit: 30) series: 'kube_pod_labels{"
        f'instance=\\"{address}:8080\\", job=\\"state-exporter\\", label_team=\\"a\\"'
        "' (err-max-label-names-per-series)\""
    )


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _template(args: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": EXPORTER.name}},
        "spec": {"containers": [{"name": "exporter", "image": "e:2", "args": args}]},
    }


def _exporter_objects() -> list[dict[str, Any]]:
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": EXPORTER.name}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": EXPORTER.name, "namespace": EXPORTER.namespace},
        "spec": {
            "selector": {"matchLabels": {"app": EXPORTER.name}},
            "template": _template(["--labels=*"]),
        },
    }

    def replica_set(suffix: str, revision: int, args: list[str], created: float) -> Any:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{EXPORTER.name}-{suffix}",
                "namespace": EXPORTER.namespace,
                "labels": {"app": EXPORTER.name},
                "creationTimestamp": _at(created),
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [{**owner, "controller": True}],
            },
            "spec": {
                "selector": {"matchLabels": {"app": EXPORTER.name}},
                "template": _template(args),
            },
        }

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{EXPORTER.name}-new-x1",
            "namespace": EXPORTER.namespace,
            "labels": {"app": EXPORTER.name},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{EXPORTER.name}-new",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "exporter", "image": "e:2"}]},
        "status": {"phase": "Running", "podIP": "10.244.2.77"},
    }
    return [
        deployment,
        replica_set("old", 8, ["--labels=team"], 60 * 24 * 30),
        replica_set("new", 9, ["--labels=*"], 36),
        pod,
    ]


def _server_log(line: str) -> Any:
    return make.log(SERVER_POD, "prometheus", line, namespace="monitoring")


def test_the_refused_series_instance_is_mapped_to_its_deployment_and_rollouts() -> None:
    evidence = built(_exporter_objects(), SERVER, logs=[_server_log(_refusal("10.244.2.77"))])
    [exporter] = evidence.refused_clients
    assert (exporter.refusal, exporter.ref, exporter.pod) == (
        "series",
        EXPORTER,
        "state-exporter-new-x1",
    )
    assert [c.aspects for c in exporter.changes] == [["args"]]


def test_a_recoverable_error_or_a_series_without_instance_names_no_exporter() -> None:
    retried = _refusal("10.244.2.77", "503 Service Unavailable")
    bare = _refusal("10.244.2.77").replace("instance=", "address=")
    for line in (retried, bare):
        assert built(_exporter_objects(), SERVER, logs=[_server_log(line)]).refused_clients == []


# --- the rule ----------------------------------------------------------------------------


def _exporter(minutes_ago: float = 36) -> RefusedClientEvidence:
    return RefusedClientEvidence(
        ref=EXPORTER,
        address="10.244.2.77",
        pod="state-exporter-new-x1",
        line=_refusal("10.244.2.77"),
        changes=[make.rollout_change(EXPORTER, 8, "args", minutes_ago=minutes_ago)],
        refusal="series",
    )


def _evidence(
    *,
    image: str = "quay.io/prometheus/prometheus:v2.54.1",
    exporter: RefusedClientEvidence | None = None,
    own_changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    server = make.pod(
        SERVER_POD,
        make.container("prometheus", image),
        namespace="monitoring",
        replica_set=None,
    )
    return make.evidence(
        target=SERVER,
        workload=WorkloadEvidence(ref=SERVER, desired_replicas=1, ready_replicas=1),
        pods=[server],
        alerts=[
            AlertEvidence(
                labels={"alertname": "PrometheusRemoteStorageFailures", "namespace": "monitoring"},
                starts_at=ago(20),
                status="firing",
            )
        ],
        logs=[_server_log(_refusal("10.244.2.77"))],
        changes=own_changes or [],
        refused_clients=[exporter or _exporter()],
    )


def _refused(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "refused-series"]


def test_the_one_exporter_of_refused_series_that_rolled_out_is_rolled_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, EXPORTER)
    assert finding.analyzer == "refused-series"
    assert finding.confidence == CONFIDENCE
    assert any("exceeds the limit" in e.fact for e in finding.evidence)


def test_silent_when_the_exporter_rolled_out_long_before_the_onset() -> None:
    assert not _refused(_evidence(exporter=_exporter(minutes_ago=60 * 6)))


def test_silent_when_the_server_itself_rolled_out() -> None:
    own = make.rollout_change(SERVER, 3, "args", minutes_ago=25)
    assert not _refused(_evidence(own_changes=[own]))


def test_silent_when_the_alerted_workload_is_no_metrics_server() -> None:
    assert not _refused(_evidence(image="ghcr.io/example/shipper:1.0"))
