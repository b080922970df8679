"""Following Incidents' phases while a benchmark runs: a watch over HTTP that timestamps
each Incident's first Investigating and terminal phase and counts the peak in flight, and
what did not end Diagnosed (with the failure condition's reason).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubetriage.models.incident import GROUP, PLURAL, VERSION

DONE_PHASES = frozenset({"Diagnosed", "Failed"})


def _failure(incident: dict[str, Any]) -> str:
    """The "reason: message" of a Failed Incident's failure condition (False, with a reason)."""
    for condition in (incident.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason"):
            return f"{condition['reason']}: {str(condition.get('message') or '')[:200]}"
    return "no failure condition"


class PhaseWatcher:
    """Watches Incidents over HTTP in a thread and timestamps, per Incident, the first
    Investigating and the first terminal phase it saw; counts Investigating Incidents in the
    order the API server serialised the writes, and remembers the peak. An Incident seen
    Investigating again after a terminal phase was diagnosed a second time: it is kept in
    ``again`` (that is never meant to happen: each generation is diagnosed once)."""

    def __init__(self, url: str, token: str, context: ssl.SSLContext | None = None) -> None:
        self._url = urllib.parse.urlsplit(url)
        self._token = token
        self._context = context
        self._lock = threading.Lock()
        self.investigating_at: dict[str, float] = {}
        self.done_at: dict[str, float] = {}
        self.phases: dict[str, str] = {}
        # Why an Incident ended Failed: its failure condition's "reason: message".
        self.failures: dict[str, str] = {}
        self.again: set[str] = set()
        self._in_flight: set[str] = set()
        self.peak_in_flight = 0
        self._connected = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="phase-watcher", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> PhaseWatcher:
        self._thread.start()
        if not self._connected.wait(timeout=30):
            raise RuntimeError(f"the Incident watch did not connect: {self.error}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None and self._conn.sock is not None:
            with contextlib.suppress(OSError):
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        host, port = self._url.hostname or "127.0.0.1", self._url.port or 80
        conn = (
            http.client.HTTPSConnection(host, port, timeout=None, context=self._context)
            if self._url.scheme == "https"
            else http.client.HTTPConnection(host, port, timeout=None)
        )
        self._conn = conn
        path = f"/apis/{GROUP}/{VERSION}/{PLURAL}?watch=true&timeoutSeconds=3600"
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self._token}"})
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"watch answered {response.status}")
            self._connected.set()
            while True:
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    self._observe(json.loads(line))
        except (OSError, http.client.HTTPException, ValueError, RuntimeError) as error:
            self.error = error
        finally:
            self._connected.set()
            conn.close()

    def _observe(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        phase = (obj.get("status") or {}).get("phase")
        now = time.monotonic()
        with self._lock:
            if phase:
                self.phases[key] = phase
            if phase == "Failed":
                self.failures[key] = _failure(obj)
            if phase == "Investigating" and key in self.done_at:
                self.again.add(key)
            if phase == "Investigating" and key not in self.investigating_at:
                self.investigating_at[key] = now
                self._in_flight.add(key)
                self.peak_in_flight = max(self.peak_in_flight, len(self._in_flight))
            elif phase in DONE_PHASES and key not in self.done_at:
                self.done_at[key] = now
                self._in_flight.discard(key)

    def wait_done(self, keys: Sequence[str], *, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if all(k in self.done_at for k in keys):
                    return True
            time.sleep(0.02)
        return False


def not_diagnosed(watcher: PhaseWatcher, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Each of ``keys`` the watch did not see Diagnosed: the phase it last saw and, for a
    Failed one, its failure condition ("reason: message")."""
    return [
        {
            "incident": key,
            "phase": watcher.phases.get(key),
            "failure": watcher.failures.get(key, ""),
        }
        for key in keys
        if watcher.phases.get(key) != "Diagnosed"
    ]


class PhaseWatch:
    """``kubectl get incidents --watch`` in one process, as a person would follow a burst:
    each line it prints is an Incident's name and phase. (Polling with a new ``kubectl get``
    every 0.25 s, as this benchmark did until 2026-12-02, listed every Incident's full body
    four times a second and started a process each time, on the two cores the operator and
    the apiserver share.)"""

    def __init__(self, kubectl: str, kubeconfig: Path, namespace: str) -> None:
        self.process = subprocess.Popen(
            [
                kubectl,
                f"--kubeconfig={kubeconfig}",
                "get",
                "incidents",
                "-n",
                namespace,
                "--watch",
                "--no-headers",
                "-o",
                "custom-columns=NAME:.metadata.name,PHASE:.status.phase",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until_done(self, count: int, deadline: float) -> Counter[str]:
        """The phases once ``count`` Incidents are Diagnosed or Failed (or at ``deadline``)."""
        phases: dict[str, str] = {}
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            name, _, phase = line.strip().partition(" ")
            phases[name] = phase.strip()
            if sum(p in DONE_PHASES for p in phases.values()) == count:
                break
        return Counter(phases.values())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
