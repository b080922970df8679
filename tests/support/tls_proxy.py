"""A TLS front for a local plain-HTTP server (the Kubernetes API emulator) that answers a
client's closing of a connection only when the proxy itself stops: what a loaded API server
does at random (its reply to a TLS close comes late) made certain. A client that stops
without waiting for those closes to finish leaves their sockets open.

One thread per connection relays both ways (``select``; the TLS socket is only ever used
from that thread). The certificate is self-signed for 127.0.0.1 (``openssl``)."""

from __future__ import annotations

import select
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import yaml

from kubetriage.lifecycle import StartStop


class SlowClosingTlsProxy(StartStop):
    def __init__(self, upstream_url: str, workdir: Path) -> None:
        """``upstream_url``: http://host:port of the plain server behind."""
        upstream = urlsplit(upstream_url)
        self.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 80)
        self.certificate = workdir / "proxy.crt"
        self._key = workdir / "proxy.key"
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._listener = socket.socket()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.port = 0

    def start(self) -> Self:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(self._key), "-out", str(self.certificate),
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
        self._context.load_cert_chain(self.certificate, self._key)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept)
        return self

    def kubeconfig(self, path: Path, token: str) -> Path:
        """A kubeconfig that reaches the upstream through this proxy, with ``token``."""
        cluster = {
            "server": f"https://127.0.0.1:{self.port}",
            "certificate-authority": str(self.certificate),
        }
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "proxied", "cluster": cluster}],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [{"name": "proxied", "context": {"cluster": "proxied", "user": "user"}}],
            "current-context": "proxied",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._listener.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._spawn(self._relay, client)

    def _relay(self, client: socket.socket) -> None:
        client.settimeout(10)
        with socket.create_connection(self.upstream) as upstream:
            try:
                tls = self._context.wrap_socket(client, server_side=True)
            except OSError:
                client.close()
                return
            with tls:
                if self._relayed_until_the_client_closed(tls, upstream):
                    # Answer the client's close (by closing too) only when the proxy stops.
                    self._stopping.wait()

    def _relayed_until_the_client_closed(self, tls: ssl.SSLSocket, upstream: socket.socket) -> bool:
        """Relay both ways; True when the client closed its side (a TLS close or the end of
        its stream), False when the upstream did or the proxy stops."""
        while not self._stopping.is_set():
            readable = [tls] if tls.pending() else select.select([tls, upstream], [], [], 0.2)[0]
            for source in readable:
                try:
                    data = source.recv(65536)
                    if data:
                        (upstream if source is tls else tls).sendall(data)
                except OSError:  # ssl.SSLError is one; a reset ends the relay as a close does
                    data = b""
                if not data:
                    return source is tls
        return False
