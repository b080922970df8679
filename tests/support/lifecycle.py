"""Ending what a test started: one way to end a child process (SIGTERM, then SIGKILL after a
grace period). The start/stop context-manager shape is ``kubetriage.lifecycle.StartStop``.

Used by the local servers, the Alertmanager and receiver fixtures, the operator thread and
process, and the local control plane.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any


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
