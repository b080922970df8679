"""A thread-backed emulator for synchronous callers: the CLI (``kubetriage diagnose``,
``eval``, ``demo``) and synchronous tests.

The server runs on its own event loop in a daemon thread; ``KubeEmulator``'s public
methods detect calls from other threads and marshal them onto that loop, so objects
loaded from the caller's thread reach open watches exactly like API writes do.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path
from typing import Self

from kubetriage.lifecycle import StartStop

from .server import KubeEmulator


class EmulatorThread(StartStop):
    """``with EmulatorThread() as running: running.url, running.emulator,
    running.kubeconfig_path``."""

    def __init__(
        self,
        emulator: KubeEmulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig_path: str | Path | None = None,
    ) -> None:
        self.emulator = emulator or KubeEmulator()
        self._host, self._port = host, port
        self._requested_kubeconfig = Path(kubeconfig_path) if kubeconfig_path else None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.url = ""
        self.kubeconfig_path = Path()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the Kubernetes API emulator did not start within 30s")
        if self._error is not None:
            raise RuntimeError("the Kubernetes API emulator failed to start") from self._error
        if self._requested_kubeconfig is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="kube-emulator-")
            self._requested_kubeconfig = Path(self._tmpdir.name) / "kubeconfig"
        self.kubeconfig_path = self.emulator.write_kubeconfig(self._requested_kubeconfig)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self.url = loop.run_until_complete(self.emulator.start(self._host, self._port))
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.emulator.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
