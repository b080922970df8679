"""Checks the clients a TLS server names by address as they reject its certificate as signed
by an unknown authority, and the untrusting-client rule.

Evidence side (``kubetriage.evidence.refused_clients`` through the real builder): Go's
"TLS handshake error from <ip>: remote error: tls: unknown certificate authority" on the
server's own log maps the address to the client's pod and Deployment, with the pod's
containers (their CA file settings and config mounts) and the last write of the ConfigMaps the
pod mounts; a handshake error for another reason names no client, and such a client is no
client out of connection slots. Analyzer side (``kubetriage.analyzers.untrusting_clients``):
a client whose CA file is a subPath mount of a ConfigMap written after its container started
reads the bundle of its start: restart it; the near misses: the same bundle mounted as a
directory (it follows the ConfigMap: the bundle itself lacks the CA, fix it), or by subPath
but written before the container started (the file is current: fix the bundle); a client
trusting no mounted bundle gets no finding.

Real: raw Pod, ReplicaSet, Deployment and ConfigMap manifests as the API returns them, the
pure builder, Evidence models from ``tests.support.evidence`` and the analyzer registry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.untrusting_clients import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.object_evidence import ConfigMount, ContainerState
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import NOW, analyze

SERVER = ObjectRef(kind="Deployment", namespace="ledger", name="ledger-api")
CLIENT = ObjectRef(kind="Deployment", namespace="billing", name="renderer")
BUNDLE = ObjectRef(kind="ConfigMap", namespace="billing", name="corp-ca")
ADDRESS = "10.40.18.77"
UNTRUSTED = (
    f"2026/11/20 09:20:17 http: TLS handshake error from {ADDRESS}:50412: "
    "remote error: tls: unknown certificate authority"
)


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _client_objects(*, sub_path: bool = True) -> list[dict[str, Any]]:
    labels = {"app": CLIENT.name}
    mount: dict[str, Any] = {"name": "ca", "mountPath": "/etc/ssl/corp/ca.crt", "readOnly": True}
    if sub_path:
        mount["subPath"] = "ca.crt"
    container = {
        "name": "renderer",
        "image": "renderer:4",
        "env": [{"name": "REQUESTS_CA_BUNDLE", "value": "/etc/ssl/corp/ca.crt"}],
        "volumeMounts": [mount],
    }
    spec = {
        "containers": [container],
        "volumes": [{"name": "ca", "configMap": {"name": BUNDLE.name}}],
    }
    owner = {"apiVersion": "apps/v1", "controller": True}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": CLIENT.name, "namespace": CLIENT.namespace},
            "spec": {"selector": {"matchLabels": labels}, "template": {"spec": spec}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{CLIENT.name}-6f8d",
                "namespace": CLIENT.namespace,
                "labels": labels,
                "creationTimestamp": _at(60 * 24 * 17),
                "annotations": {"deployment.kubernetes.io/revision": "7"},
                "ownerReferences": [{**owner, "kind": "Deployment", "name": CLIENT.name}],
            },
            "spec": {"selector": {"matchLabels": labels}, "template": {"spec": spec}},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{CLIENT.name}-6f8d-kq2vd",
                "namespace": CLIENT.namespace,
                "labels": labels,
                "ownerReferences": [{**owner, "kind": "ReplicaSet", "name": f"{CLIENT.name}-6f8d"}],
            },
            "spec": spec,
            "status": {
                "phase": "Running",
                "podIP": ADDRESS,
                "containerStatuses": [
                    {
                        "name": "renderer",
                        "ready": True,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": _at(60 * 24 * 17)}},
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": BUNDLE.name,
                "namespace": BUNDLE.namespace,
                "creationTimestamp": _at(60 * 24 * 400),
                "managedFields": [{"manager": "trust-manager", "time": _at(60 * 24 * 8)}],
            },
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"},
        },
    ]


def _server_log(line: str) -> list[Any]:
    assert SERVER.namespace is not None
    return [make.log("ledger-api-1", "ledger", line, namespace=SERVER.namespace)]


def test_an_untrusting_clients_address_is_mapped_to_its_pod_mounts_and_bundle_write() -> None:
    evidence = built(_client_objects(), SERVER, logs=_server_log(UNTRUSTED))
    [client] = evidence.refused_clients
    assert (client.ref, client.address, client.refusal) == (CLIENT, ADDRESS, "untrusted")
    [container] = client.containers
    assert [(m.path, m.name, m.sub_path) for m in container.config_mounts] == [
        ("/etc/ssl/corp/ca.crt", BUNDLE.name, "ca.crt")
    ]
    assert container.state.started_at is not None
    assert client.config_written[BUNDLE.name] > container.state.started_at


def test_a_handshake_error_for_another_reason_names_no_client() -> None:
    line = f"2026/11/20 09:20:17 http: TLS handshake error from {ADDRESS}:50412: EOF"
    assert built(_client_objects(), SERVER, logs=_server_log(line)).refused_clients == []


# --- the rule ----------------------------------------------------------------------------


def _client(*, sub_path: bool = True, written_minutes_ago: float = 60 * 24 * 8) -> Evidence:
    mount = ConfigMount(
        path="/etc/ssl/corp/ca.crt" if sub_path else "/etc/ssl/corp",
        kind="ConfigMap",
        name=BUNDLE.name,
        sub_path="ca.crt" if sub_path else None,
    )
    container = make.container(
        "renderer",
        env={"REQUESTS_CA_BUNDLE": "/etc/ssl/corp/ca.crt"},
        config_mounts=[mount],
        state=ContainerState(state="running", started_at=NOW - timedelta(days=17)),
    )
    client = RefusedClientEvidence(
        ref=CLIENT,
        address=ADDRESS,
        pod=f"{CLIENT.name}-6f8d-kq2vd",
        line=UNTRUSTED,
        refusal="untrusted",
        containers=[container],
        config_written={BUNDLE.name: NOW - timedelta(minutes=written_minutes_ago)},
    )
    return make.evidence(target=SERVER, logs=_server_log(UNTRUSTED), refused_clients=[client])


def _findings(evidence: Evidence) -> list[Finding]:
    return [f for f in analyze(evidence).findings if f.analyzer == "untrusting-client"]


def test_a_sub_path_bundle_written_after_the_client_started_restarts_the_client() -> None:
    [finding] = _findings(_client())
    assert (finding.category, finding.action, finding.target) == (
        Category.CONFIG_MISSING,
        Action.RESTART,
        CLIENT,
    )
    assert finding.confidence == CONFIDENCE.stale_sub_path
    assert any("unknown certificate authority" in e.fact for e in finding.evidence)


def test_a_bundle_mounted_as_a_directory_is_the_bundle_to_fix() -> None:
    [finding] = _findings(_client(sub_path=False))
    assert (finding.action, finding.target) == (Action.FIX_CONFIG, BUNDLE)
    assert finding.confidence == CONFIDENCE.bundle


def test_a_sub_path_bundle_written_before_the_client_started_is_the_bundle_to_fix() -> None:
    [finding] = _findings(_client(written_minutes_ago=60 * 24 * 30))
    assert (finding.action, finding.target) == (Action.FIX_CONFIG, BUNDLE)


def test_a_client_trusting_no_mounted_bundle_gets_no_finding() -> None:
    evidence = _client()
    client = evidence.refused_clients[0]
    bare = client.model_copy(update={"containers": [make.container("renderer")]})
    assert _findings(evidence.model_copy(update={"refused_clients": [bare]})) == []


def test_a_client_refused_for_lack_of_slots_is_not_an_untrusting_one() -> None:
    evidence = _client()
    slots = evidence.refused_clients[0].model_copy(update={"refusal": "slots"})
    assert _findings(evidence.model_copy(update={"refused_clients": [slots]})) == []
