"""One shape for what kubetriage starts and stops: ``with thing:`` calls ``thing.start()``
(which returns the thing) and, on the way out, ``thing.stop()``.

Used by the servers the replay starts (the emulator thread, the local model server, local
Prometheus), the incident memory's client and the tests' operator process and Alertmanager, so
none of them repeats the protocol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
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

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
