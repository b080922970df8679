"""Credentials of the local control plane: its PKI (a CA, a serving certificate for
127.0.0.1 signed by it, a ServiceAccount signing key; made with openssl) and the kubeconfig
files that reach it with a bearer token."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def _openssl(pki: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=pki)


def write_pki(pki: Path) -> None:
    """A CA, a serving certificate for 127.0.0.1 signed by it, a ServiceAccount signing key."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(
        pki, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
        "ca.crt", "-days", "2", "-subj", "/CN=kubetriage-local-ca",
    )  # fmt: skip
    _openssl(
        pki, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "serving.key", "-out",
        "serving.csr", "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    (pki / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        pki, "x509", "-req", "-in", "serving.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "serving.crt", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip
    _openssl(pki, "genrsa", "-out", "sa.key", "2048")
    _openssl(pki, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")


def write_kubeconfig(path: Path, server: str, ca_file: Path, token: str) -> None:
    """A kubeconfig (mode 0600) for ``server``, trusting ``ca_file``, authenticating with
    ``token``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": server, "certificate-authority": str(ca_file)},
            }
        ],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "user"}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
