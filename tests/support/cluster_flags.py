"""The command lines of the local control plane's processes: etcd, kube-apiserver (RBAC,
static tokens, ServiceAccount keys, a JSON audit log), kube-controller-manager,
kube-scheduler and kwok (the Stages in tests/k8s/stages), all on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tests.support.cases import REPO

STAGES = REPO / "tests" / "k8s" / "stages"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"


def etcd_flags(data_dir: Path, client_url: str, peer_port: int) -> list[str]:
    return [
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def apiserver_flags(
    *,
    etcd_url: str,
    port: int,
    pki: Path,
    ca_file: Path,
    tokens_file: Path,
    audit_policy_file: Path,
    audit_log: Path,
) -> list[str]:
    return [
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={pki / 'serving.crt'}",
        f"--tls-private-key-file={pki / 'serving.key'}",
        f"--client-ca-file={ca_file}",
        f"--token-auth-file={tokens_file}",
        "--authorization-mode=RBAC",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--audit-policy-file={audit_policy_file}",
        f"--audit-log-path={audit_log}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
        # 127.0.0.1 cannot be an Endpoints address: no reconciler for "kubernetes".
        "--endpoint-reconciler-type=none",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        f"--cert-dir={pki}",
    ]


def controller_manager_flags(kubeconfig: Path, port: int, pki: Path, ca_file: Path) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--leader-elect=false",
        f"--root-ca-file={ca_file}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--cluster-cidr={POD_CIDR}",
        "--allocate-node-cidrs=false",
        "--profiling=false",
    ]


def scheduler_flags(kubeconfig: Path, port: int) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def kwok_flags(kubeconfig: Path, port: int, pki: Path) -> list[str]:
    configs = sorted(STAGES.glob("*.yaml"))
    return [
        f"--kubeconfig={kubeconfig}",
        *(f"--config={c}" for c in configs),
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--node-ip=127.0.0.1",
        f"--node-port={port}",
        f"--server-address=127.0.0.1:{port}",
        # Renew each node's Lease like a kubelet; without it (kwok's default is 0) the
        # node lifecycle controller marks the nodes NotReady after its grace period.
        "--node-lease-duration-seconds=40",
        f"--tls-cert-file={pki / 'serving.crt'}",
        f"--tls-private-key-file={pki / 'serving.key'}",
        f"--cidr={POD_CIDR.replace('.0.0/16', '.0.1/16')}",
        # Pod logs come from Logs objects that set_logs() creates per pod.
        "--enable-crds=Logs,ClusterLogs",
    ]
