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
from typing import Any, Self


class Started:
    """Base of a thing that is started and stopped: ``with`` it to do both.

    ``start`` returns the started thing; ``stop`` must be safe to call when ``start`` did not
    finish, as ``__exit__`` of a failed ``__enter__`` never runs and a subclass may call it."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def stopped(self, *, clean: bool) -> None:
        """Called by ``__exit__`` once stopped; ``clean``: the ``with`` block raised nothing.
        A subclass raises here what went wrong in the background meanwhile."""

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.stop()
        self.stopped(clean=exc_type is None)


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
