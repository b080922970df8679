"""``kubetriage run`` as a real, separate process for the fault suite: started with a
kubeconfig and ``KUBETRIAGE_*`` settings in its environment, ready once it watches
Incidents on the API emulator, and killable with SIGKILL (no shutdown handlers, no flush),
as the kernel's OOM killer or a node loss would. Used by ``test_faults.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Self

from kubetriage.lifecycle import StartStop
from kubetriage.replay.emulator import EmulatorThread
from tests.support.lifecycle import terminate
from tests.support.polling import wait_for

KUBETRIAGE = Path(sys.executable).parent / "kubetriage"


class OperatorProcess(StartStop):
    def __init__(
        self,
        emulator: EmulatorThread,
        log_path: Path,
        settings_env: dict[str, str],
        *,
        args: tuple[str, ...] = ("--all-namespaces", "--no-webhook"),
    ) -> None:
        self._emulator = emulator
        self._args = args
        self.log_path = log_path
        # Only our settings: an OTEL_* or KUBETRIAGE_* variable of the developer's shell must
        # not change what the test runs.
        self._env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("KUBETRIAGE_", "OTEL_"))
        }
        self._env.update(settings_env)
        self._process: subprocess.Popen[bytes] | None = None

    def _incident_watches(self) -> int:
        return sum(
            1
            for record in self._emulator.emulator.audit
            if record.resource == "incidents" and record.verb == "watch"
        )

    def start(self, timeout: float = 60) -> Self:
        watches_before = self._incident_watches()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    str(KUBETRIAGE),
                    "run",
                    "--kubeconfig",
                    str(self._emulator.kubeconfig_path),
                    "--standalone",
                    *self._args,
                ],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        process = self._process

        def watching() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"kubetriage run exited early:\n{self.log_tail()}")
            return self._incident_watches() > watches_before

        try:
            wait_for(
                watching,
                what="kubetriage run to watch Incidents",
                within=timeout,
                show=lambda _: f"its log:\n{self.log_tail()}",
            )
        except AssertionError:
            self.kill()
            raise
        return self

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process)
