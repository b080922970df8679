"""A stopped operator leaves no connection to the API server open: the in-thread operator is
started and stopped against an API server reached over TLS that answers a client's closing of
a connection only after the operator has stopped (what a loaded API server does now and then:
a fresh-clone CI run once found such a connection, one of Kopf's watches closed mid-stream,
unclosed at garbage collection). Kopf's watches are closed when it stops; the operator must
see them closed (or abort them) before its event loop ends, so a garbage collection then
finalises no unclosed transport or socket.
Real: the emulator, Kopf and its aiohttp sessions over TLS (through tests/support/tls_proxy),
the operator (no LLM, no memory) in its thread, as the other operator tests run it."""

from __future__ import annotations

import gc
import tracemalloc
import warnings
from pathlib import Path

from kubetriage.crd import build_incident_crd
from kubetriage.replay.emulator import EmulatorThread
from tests.support.operator import OperatorThread
from tests.support.tls_proxy import SlowClosingTlsProxy

ROUNDS = 2


def _described(caught: list[warnings.WarningMessage]) -> str:
    """Each warning, with where its object was allocated when PYTHONTRACEMALLOC is set."""
    lines = []
    for warning in caught:
        lines.append(f"{warning.category.__name__}: {warning.message}")
        allocated = tracemalloc.get_object_traceback(warning.source) if warning.source else None
        if allocated is not None:
            lines.extend(f"    {line}" for line in allocated.format())
    return "\n".join(lines)


def test_a_stopped_operator_leaves_no_connection_open(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    emulator.emulator.load([build_incident_crd()])
    with SlowClosingTlsProxy(emulator.url, tmp_path) as proxy:
        kubeconfig = proxy.kubeconfig(tmp_path / "proxied.kubeconfig", emulator.emulator.token)
        gc.collect()  # what came before is not this operator's
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            for _ in range(ROUNDS):
                with OperatorThread(kubeconfig) as operator:
                    assert operator.alive
                assert not operator.alive
            gc.collect()
    unclosed = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, _described(unclosed)
