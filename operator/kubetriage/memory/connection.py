"""Connecting to Qdrant: a server by URL, the embedded on-disk store by path, or a
throwaway in-memory store; and the transport errors any call may raise, with a readable
reason. Every failure to open becomes a ``MemoryUnavailableError``.
"""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import portalocker
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from kubetriage.memory.errors import MemoryUnavailableError

# What a call to Qdrant raises when the server or the storage fails (not our own errors).
TRANSPORT_ERRORS = (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError, OSError)


def connect(
    *,
    path: Path | str | None,
    url: str | None,
    api_key: str | None,
    location: str | None,
    timeout: float,
) -> QdrantClient:
    """A client for the server at ``url``, else the on-disk store at ``path``, else the
    ``location`` (":memory:"). Nothing is called on it yet."""
    try:
        if url is not None:
            return QdrantClient(
                url=url,
                api_key=api_key,
                timeout=max(1, math.ceil(timeout)),
                # The version probe warns instead of failing; the caller's first call fails.
                check_compatibility=False,
            )
        if path is not None:
            _check_not_locked(Path(path))
            # The store's own lock makes cross-thread use safe; SQLite's check would refuse
            # calls from asyncio.to_thread's worker threads.
            return QdrantClient(path=str(path), force_disable_check_same_thread=True)
        return QdrantClient(location=location, force_disable_check_same_thread=True)
    except RuntimeError as exc:  # local mode: storage folder locked by another client
        raise MemoryUnavailableError(
            f"incident memory at {path} is in use by another process ({exc}); "
            "local mode allows one process at a time, use a Qdrant server to share it"
        ) from exc
    except OSError as exc:
        raise MemoryUnavailableError(
            f"incident memory storage {path} cannot be opened: {exc}"
        ) from exc


def _check_not_locked(path: Path) -> None:
    """Fail early when another process holds the local storage's lock.

    qdrant-client detects this too, but leaks its open lock file when it does; probing the
    same ``.lock`` first (lock and release at once) gives the clean error in the common case,
    and the client's own check still covers the race.
    """
    lock_path = path / ".lock"
    if not lock_path.is_file():
        return
    with lock_path.open("r+") as handle:
        try:
            portalocker.lock(
                handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
            )
        except portalocker.exceptions.LockException as exc:
            raise MemoryUnavailableError(
                f"incident memory at {path} is in use by another process; local mode allows "
                "one process at a time, use a Qdrant server to share it"
            ) from exc
        portalocker.unlock(handle)


def reason(exc: BaseException) -> str:
    """A transport error with its cause (the wrapped httpx error), readable in a condition."""
    # ResponseHandlingException wraps the httpx error; its own str() is often empty.
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text
