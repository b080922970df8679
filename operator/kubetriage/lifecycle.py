"""One shape for what kubetriage starts and stops: ``with thing:`` calls ``thing.start()``
(which returns the thing) and, on the way out, ``thing.stop()``.

Used by the servers the replay starts (the emulator thread, the local model server, local
Prometheus) and by the incident memory's client, so none of them repeats the protocol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class StartStop(ABC):
    """A context manager over ``start()`` (by default: nothing to start) and ``stop()``."""

    def start(self) -> Self:
        return self

    @abstractmethod
    def stop(self) -> None:
        """Release what ``start()`` or the constructor took."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
