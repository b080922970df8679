"""Build the one ``kubernetes`` API client the process uses: from a kubeconfig path when
given, from the in-cluster service account when running in a pod, else from the default
kubeconfig. Called once at startup by the CLI; the client is passed down from there. And the
one way adapters read a response raw (``raw_body``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config


def api_client(
    kubeconfig: str | Path | None = None, *, context: str | None = None
) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    if kubeconfig is not None:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), context=context, client_configuration=configuration
        )
    elif os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        k8s_config.load_kube_config(context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]
    return k8s.ApiClient(configuration)


def raw_body(method: Callable[..., Any], *args: Any, timeout: float, **kwargs: Any) -> bytes:
    """The body of one API call (a ``kubernetes`` client method) as the server sent it,
    skipping the client's model decoding; the connection goes back to the pool after."""
    response = method(*args, _preload_content=False, _request_timeout=timeout, **kwargs)
    try:
        data: bytes = response.data
    finally:
        response.release_conn()
    return data
