"""Helper processes and scratch directories of the local tooling that do not outlive it.

``kubetriage demo`` (and the replay tooling) start a local Prometheus and a local model
server and keep their data in temporary directories. A ``kill -9`` of kubetriage runs no
cleanup, which used to leave both behind. Two measures:

- ``die_with_parent()``: a ``preexec_fn`` for ``subprocess.Popen`` that asks Linux to send
  the child SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``). Linux ties this to
  the *thread* that forked, so it is only used when the child is started from the main
  thread (whose end is the process's end); elsewhere, and off Linux, it is None.
- ``exit_with_parent()``: the initializer of ``kubetriage eval``'s spawned worker
  processes, which ends a worker as soon as the process that spawned it is gone (a worker
  busy with its batch would otherwise replay it for nobody, holding its memory; seen:
  workers of a killed eval still running half an hour later), and its helper processes
  with it: a worker leads its own process group, which goes as one (a replay starts its
  Prometheus from a thread, where ``die_with_parent`` cannot promise anything; seen: the
  Prometheus servers of a killed eval's workers still running).
- ``owned_tempdir(prefix)``: a temporary directory that records its owner's pid, and
  ``sweep_stale(prefixes)``, run at the next start, which removes such directories whose
  owner is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

OWNER_FILE = "kubetriage-owner.pid"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with this process, or None where that
    cannot be promised (not Linux, not the main thread, no libc)."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl  # resolved before the fork
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def exit_with_parent() -> None:
    """In a ``multiprocessing`` child: end this process (SIGKILL) when its parent process
    ends, however it ends, and every helper process it started with it (the child leads its
    own process group, which they inherit). A daemon thread waits on the parent's sentinel
    (the end of a pipe only the parent holds), so it costs no polling. Nothing happens in a
    process that was not started by ``multiprocessing``."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel
    # Its own process group, which its helper processes (started from any thread) inherit.
    os.setpgid(0, 0)

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os.killpg(os.getpid(), signal.SIGKILL)  # this worker and every helper it started

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def owned_tempdir(prefix: str) -> Path:
    """``tempfile.mkdtemp(prefix=prefix)`` that ``sweep_stale`` can clean once we are gone."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep_stale(prefixes: Iterable[str], root: Path | None = None) -> list[Path]:
    """Remove the ``owned_tempdir`` directories under ``root`` (the temp directory) with one
    of ``prefixes`` whose owner process no longer exists; returns what was removed."""
    base = root if root is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    for prefix in prefixes:
        for path in base.glob(f"{prefix}*"):
            owner = path / OWNER_FILE
            if not path.is_dir() or not owner.is_file():
                continue
            with contextlib.suppress(ValueError, OSError):
                if not _alive(int(owner.read_text(encoding="utf-8").strip())):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
    return removed
