"""The base of the local HTTP servers tests run beside the code under test (scripted Slack
and OpenAI-compatible APIs, webhook and OTLP capture): aiohttp on its own event loop in a
daemon thread, on a free port of 127.0.0.1 (or ``host``), so it serves the operator's thread
and the test alike. A subclass adds its ``routes``; ``with Server() as server:`` starts it
and waits until it listens, and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Self

from aiohttp import web

from kubetriage.lifecycle import StartStop


class ThreadedServer(StartStop):
    name = "local-server"

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError(f"{self.name} did not start within 10s")
        if self._error is not None:
            raise RuntimeError(f"{self.name} failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as failure:  # reported to start(), never lost in the thread
            self._error = failure
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        self.routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            # Binding the socket ourselves tells us the free port the OS picked.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((self.host, 0))
            await web.SockSite(runner, sock).start()
            self.port = sock.getsockname()[1]
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()
