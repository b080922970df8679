"""Starting and stopping what a test runs beside it: one context-manager shape for every
started thing (``with Thing(...) as thing:`` calls ``start()`` and then ``stop()``) and one
way to end a child process (SIGTERM, then SIGKILL after a grace period).

Used by the local servers, the Alertmanager and receiver fixtures, the operator thread and
process, and the local control plane.
"""

from __future__ import annotations

import os
import signal
import subprocess
from abc import ABC, abstractmethod
from typing import Any, Self


class Started(ABC):
    """A context manager over ``start()`` (by default: nothing to start) and ``stop()``.

    The same shape as ``kubetriage.lifecycle.StartStop`` on main; one replaces the other."""

    def start(self) -> Self:
        return self

    @abstractmethod
    def stop(self) -> None:
        """Release what ``start()`` or the constructor took; safe when ``start`` failed."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def terminate(
    process: subprocess.Popen[Any], *, grace: float = 15, process_group: bool = False
) -> None:
    """End ``process``: SIGTERM, and SIGKILL if it has not exited within ``grace`` seconds.
    With ``process_group`` the signals go to its whole group (it was started in its own
    session). Nothing is sent to a process that has already exited; it is still reaped."""

    def send(sig: signal.Signals) -> None:
        if process_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)

    if process.poll() is None:
        send(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=15)
