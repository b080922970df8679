"""Qdrant's local storage held by another process (a second operator, a stale one): a real
child process that opens the storage with its file lock and keeps it until released."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def storage_held_by_another_process(path: Path) -> Iterator[None]:
    """While inside, ``path`` is open (and locked) by a separate Python process."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from qdrant_client import QdrantClient; "
            f"c = QdrantClient(path={str(path)!r}); print('ready', flush=True); "
            "sys.stdin.read(); c.close()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.communicate(input="", timeout=30)
