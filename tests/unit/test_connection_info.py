"""Kopf logs in with the credentials the ``kubernetes`` client was configured with
(``handlers.connection_info``): a kubeconfig's token and the in-cluster service account's token
(whose loader writes a lower-case "bearer" scheme) both become one bare Bearer token.

Real: the ``kubernetes`` client's own kubeconfig and in-cluster loaders, run on files written
here (a kubeconfig; a service-account token, CA and the in-cluster environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.incluster_config import InClusterConfigLoader

from kubetriage.handlers import connection_info

TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VydmljZS1hY2NvdW50.c2lnbmF0dXJl"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    return path


def test_in_cluster_service_account_token(tmp_path: Path, ca_file: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    configuration = k8s.Configuration()
    # The kubernetes client's config loaders carry no annotations (as in kubeclient.py).
    InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(token_file),
        cert_filename=str(ca_file),
        environ={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"},
    ).load_and_set(configuration)
    info = connection_info(k8s.ApiClient(configuration))
    assert info.scheme == "Bearer"
    assert info.token == TOKEN
    assert info.server == "https://127.0.0.1:6443"
    assert info.ca_path == str(ca_file)


def test_kubeconfig_token(tmp_path: Path, ca_file: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": "https://127.0.0.1:6443",
                            "certificate-authority": str(ca_file),
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    configuration = k8s.Configuration()
    # The kubernetes client's config loaders carry no annotations (as in kubeclient.py).
    k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    info = connection_info(k8s.ApiClient(configuration))
    assert (info.scheme, info.token) == ("Bearer", TOKEN)
