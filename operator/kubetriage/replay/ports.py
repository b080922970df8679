"""A free TCP port on 127.0.0.1 for the local services replay starts (Prometheus, the local
model server, the operator's /metrics). Used by ``replay.promtool``, ``replay.local_llm`` and
``replay.session``."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
