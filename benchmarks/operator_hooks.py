"""Observing the operator from inside: handlers added, after the product's own, to every
registry the real ``handlers.build_registry`` returns while a block runs (Kopf's queueing
settings, a CPU profile of the operator's event-loop thread), and that profile summed by
where the code lives.
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import kopf

from kubetriage import handlers
from kubetriage.reactions.context import OperatorContext


@contextlib.contextmanager
def registry_extended(extend: Callable[[kopf.OperatorRegistry], None]) -> Iterator[None]:
    """While the block runs, every registry the operator builds (the real
    ``handlers.build_registry``) also gets the handlers ``extend`` adds, after its own: how
    a benchmark observes the operator from inside without another code path."""
    original = handlers.build_registry

    def build_registry(ctx: OperatorContext) -> kopf.OperatorRegistry:
        registry = original(ctx)
        extend(registry)
        return registry

    handlers.build_registry = build_registry
    try:
        yield
    finally:
        handlers.build_registry = original


@contextlib.contextmanager
def kopf_queueing(seconds: float | None, seen: dict[str, Any]) -> Iterator[None]:
    """Record (into ``seen``) the Kopf queueing settings the operator runs with and, when
    ``seconds`` is given, override ``settings.queueing.idle_timeout`` first: an experiment
    to compare with what the product configures. Adds one startup handler, after the
    product's own, to the registry the real ``build_registry`` returns, for the block."""

    def extend(registry: kopf.OperatorRegistry) -> None:
        @kopf.on.startup(registry=registry)
        async def observe_queueing(settings: kopf.OperatorSettings, **_: Any) -> None:
            if seconds is not None:
                settings.queueing.idle_timeout = seconds
            seen["idle_timeout"] = settings.queueing.idle_timeout
            seen["worker_limit"] = settings.queueing.worker_limit

    with registry_extended(extend):
        yield


def profile_operator(profile: cProfile.Profile) -> Callable[[kopf.OperatorRegistry], None]:
    """Handlers that profile the operator's event-loop thread from Kopf's startup to its
    cleanup (CPU time when ``profile`` runs on ``time.thread_time``)."""

    def extend(registry: kopf.OperatorRegistry) -> None:
        @kopf.on.startup(registry=registry)
        async def start_profile(**_: Any) -> None:
            profile.enable()

        @kopf.on.cleanup(registry=registry)
        async def stop_profile(**_: Any) -> None:
            profile.disable()

    return extend


# Where the operator thread's CPU time goes: self time of each function, by where the
# function lives (the first matching fragment of its file, or of a built-in's name, wins).
# Anything else (built-ins, the standard library's small helpers) counts for its callers.
CPU_BUCKETS = (
    ("Kopf: watch, causes and diffs, progress, patches, event posting", ("/kopf/",)),
    ("aiohttp (Kopf's HTTP client)", ("/aiohttp/", "/yarl/", "/multidict/", "/frozenlist/")),
    ("copy.deepcopy (Kopf copies every body it hands out)", ("/copy.py", "deepcopy")),
    ("pydantic (validation, dumps)", ("/pydantic/", "pydantic_core")),
    ("evidence: parsing responses, building Evidence", ("/kubetriage/evidence/",)),
    ("analyzers", ("/kubetriage/analyzers/",)),
    ("redaction", ("/kubetriage/redaction/",)),
    ("other kubetriage: pipeline, combine, prose, status", ("/kubetriage/",)),
    ("json (decode, encode)", ("/json/", "json.")),
    ("kubernetes client, urllib3, ssl (loop-thread part)", ("/kubernetes/", "/urllib3/", "ssl")),
    ("asyncio event loop, hand-off to worker threads", ("/asyncio/", "/concurrent/")),
)


def _bucket(function: tuple[str, int, str]) -> str | None:
    file, _, name = function
    where = file if file != "~" else name
    return next((label for label, parts in CPU_BUCKETS if any(p in where for p in parts)), None)


def cpu_buckets(profile: cProfile.Profile) -> list[tuple[str, float]]:
    """(bucket, CPU seconds) of the profiled thread, largest first."""
    totals: defaultdict[str, float] = defaultdict(float)
    stats: dict[tuple[str, int, str], Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for function, (_, _, self_time, _, callers) in stats.items():
        label = _bucket(function)
        if label is not None or not callers:
            totals[label or "other"] += self_time
            continue
        for caller, (_, _, time_from_caller, _) in callers.items():
            totals[_bucket(caller) or "other"] += time_from_caller
    return sorted(totals.items(), key=lambda item: -item[1])
